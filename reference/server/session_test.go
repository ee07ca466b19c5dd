package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/protocol"
)

// The history replays from lastSeq exactly when it holds every frame after it (RESUME-003,
// RESUME-004): bounded in frames and in bytes, the oldest let go first.
func TestHistoryAfter(t *testing.T) {
	frame := func(size int) *outFrame { return frameOfSize(size) }
	for _, tt := range []struct {
		name      string
		maxFrames int
		maxBytes  int64
		sizes     []int // frames numbered 1, 2, ... with these sizes
		lastSeq   uint64
		want      []uint64 // the seqs replayed
		recovered bool
	}{
		{"nothing missed", 4, 10000, []int{100, 100}, 2, nil, true},
		{"every frame kept", 4, 10000, []int{100, 100, 100}, 0, []uint64{1, 2, 3}, true},
		{"at the frame bound", 3, 10000, []int{100, 100, 100}, 0, []uint64{1, 2, 3}, true},
		{"one over the frame bound", 3, 10000, []int{100, 100, 100, 100}, 0, nil, false},
		{"over the bound, the kept part asked", 3, 10000, []int{100, 100, 100, 100}, 1, []uint64{2, 3, 4}, true},
		{"at the byte bound", 10, 300, []int{100, 100, 100}, 0, []uint64{1, 2, 3}, true},
		{"one byte over the byte bound", 10, 300, []int{100, 100, 101}, 0, nil, false},
		{"one byte over, the kept part asked", 10, 300, []int{100, 100, 101}, 1, []uint64{2, 3}, true},
		{"a frame as large as the bound, alone", 10, 300, []int{100, 300}, 1, []uint64{2}, true},
		{"a frame larger than the bound", 10, 300, []int{100, 301, 100}, 1, nil, false},
		{"after a frame larger than the bound", 10, 300, []int{100, 301, 100}, 2, []uint64{3}, true},
		{"last of many", 2, 10000, []int{100, 100, 100, 100, 100}, 4, []uint64{5}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &session{hist: history{maxFrames: tt.maxFrames, maxBytes: tt.maxBytes}}
			for _, n := range tt.sizes {
				s.number(frame(n))
			}
			got, ok := s.hist.after(tt.lastSeq, s.seq)
			var seqs []uint64
			for _, n := range got {
				seqs = append(seqs, n.seq)
			}
			if ok != tt.recovered || fmt.Sprint(seqs) != fmt.Sprint(tt.want) {
				t.Fatalf("after(%d) = %v, %v; want %v, %v", tt.lastSeq, seqs, ok, tt.want, tt.recovered)
			}
		})
	}
}

// A history that lets go of frames for a long time keeps a bounded slice.
func TestHistoryStaysBounded(t *testing.T) {
	s := &session{hist: history{maxFrames: 8, maxBytes: 1 << 20}}
	for i := 0; i < 10000; i++ {
		s.number(frameOfSize(200))
	}
	if n, c := s.hist.len(), cap(s.hist.frames); n != 8 || c > 64 {
		t.Fatalf("history holds %d frames in a slice of capacity %d; want 8 in at most 64", n, c)
	}
}

// resumeClient dials user resuming with token and lastSeq; it returns the connection and the
// welcome, or the error of a refused one.
func resumeClient(t *testing.T, base, user, token string, lastSeq uint64) (*rawClient, protocol.Welcome, error) {
	t.Helper()
	u := wsURL(t, base, user, "") + "&" + url.Values{"resume": {token}, "lastseq": {fmt.Sprint(lastSeq)}}.Encode()
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil {
		return nil, protocol.Welcome{}, err
	}
	var f protocol.Frame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != protocol.TypeWelcome || f.Seq != 0 {
		t.Fatalf("first frame of a resume %s; want a welcome with seq 0", data)
	}
	var w protocol.Welcome
	if err := json.Unmarshal(f.Payload, &w); err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, ws: ws, seq: w.NextSeq - 1}, w, nil
}

// welcomeOf dials user (dial) and returns its welcome too.
func welcomeOf(t *testing.T, base, user string) (*rawClient, protocol.Welcome) {
	t.Helper()
	c := dial(t, base, user)
	var w protocol.Welcome
	if err := json.Unmarshal(c.welcome.Payload, &w); err != nil {
		t.Fatal(err)
	}
	return c, w
}

// A host whose socket drops resumes its session: its room lives on, the viewer hears nothing
// of the gap, the frames it missed come again with their seqs; the token it used is then
// refused, and so is another user's resume (RESUME-002, -003, -005, -006).
func TestResumeEndToEnd(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = time.Minute })
	host, w := welcomeOf(t, base, "host")
	if w.ResumeToken == "" || w.Limits.ResumeWindowMs != 60000 || w.NextSeq != 2 {
		t.Fatalf("welcome: token %q, window %d, nextSeq %d", w.ResumeToken, w.Limits.ResumeWindowMs, w.NextSeq)
	}
	if f := host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"}); *f.Code != 0 {
		t.Fatalf("createLive: %s", *f.Message)
	}
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	lastSeq := host.seq
	_ = host.ws.NetConn().Close() // no close frame: the session waits
	inGrace := func(want float64) {
		t.Helper()
		waitFor(t, func() error {
			return checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, want}})
		})
	}
	inGrace(1)
	// Frames made while the host is away: seat changes of its room.
	viewer.call(protocol.ReqTakeSeat, map[string]any{"liveID": "r", "seatIndex": 1})
	viewer.call(protocol.ReqLeaveSeat, map[string]any{"liveID": "r"})

	if _, _, err := resumeClient(t, base, "viewer", w.ResumeToken, lastSeq); !refused(err) {
		t.Fatalf("another user's resume: %v; want close 4010", err)
	}
	if _, _, err := resumeClient(t, base, "host", w.ResumeToken, lastSeq+100); !refused(err) {
		t.Fatalf("a lastseq ahead of the session: %v; want close 4010", err)
	}
	back, w2, err := resumeClient(t, base, "host", w.ResumeToken, lastSeq)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if !w2.Resumed || !w2.Recovered || w2.SessionID != w.SessionID || w2.NextSeq != lastSeq+1 || w2.ResumeToken == w.ResumeToken {
		t.Fatalf("resumed welcome %+v", w2)
	}
	inGrace(0)
	// Two seat changes (take, leave) come again, numbered on from lastSeq.
	for i := 0; i < 2; i++ {
		if f := back.read(); f.Type != protocol.EvSeatListChanged {
			t.Fatalf("replayed frame %d: %s; want %s", i, f.Type, protocol.EvSeatListChanged)
		}
	}
	if f := back.call(protocol.ReqFetchLiveInfo, map[string]string{"liveID": "r"}); *f.Code != 0 {
		t.Fatalf("the room is gone: %s", *f.Message)
	}
	// The viewer heard nothing of the gap: its next frame is its own heartbeat's reply.
	if f := viewer.call(protocol.ReqHeartbeat, nil); f.Type != protocol.TypeReply {
		t.Fatalf("viewer got %s", f.Type)
	}
	if _, _, err := resumeClient(t, base, "host", w.ResumeToken, lastSeq); !refused(err) {
		t.Fatalf("a used token: %v; want close 4010", err)
	}
}

// Past the window the session ends as a loss: the viewer gets onLiveEnded no sooner than the
// window, and the token is refused (RESUME-005, RESUME-006).
func TestResumeWindowEnds(t *testing.T) {
	const window = 300 * time.Millisecond
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = window })
	host, w := welcomeOf(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	dropped := time.Now()
	_ = host.ws.NetConn().Close()
	if f := viewer.read(); f.Type != protocol.EvLiveEnded {
		t.Fatalf("viewer got %s; want %s", f.Type, protocol.EvLiveEnded)
	}
	if d := time.Since(dropped); d < window {
		t.Fatalf("the loss came %v after the drop; want no sooner than %v", d, window)
	}
	if _, _, err := resumeClient(t, base, "host", w.ResumeToken, host.seq); !refused(err) {
		t.Fatalf("a resume after the window: %v; want close 4010", err)
	}
}

// With resume off, a resume is refused and a drop ends the room at once; the welcome gives
// no token and a window of 0 (WELCOME-001: the resume fields as "" and 0, or absent).
func TestResumeOff(t *testing.T) {
	_, base := newTestServer(t, nil)
	if _, w := welcomeOf(t, base, "someone"); w.ResumeToken != "" || w.Limits.ResumeWindowMs != 0 || w.Resumed {
		t.Fatalf("welcome with resume off: token %q, window %d, resumed %v; want \"\", 0, false", w.ResumeToken, w.Limits.ResumeWindowMs, w.Resumed)
	}
	if _, _, err := resumeClient(t, base, "host", "r1.x", 1); !refused(err) || !strings.Contains(err.Error(), refusedOff) {
		t.Fatalf("resume with resume off: %v; want close 4010 (%s)", err, refusedOff)
	}
	// A dropped host's session is not kept: its room ends at once, without a window passing.
	host := dial(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	_ = host.ws.NetConn().Close()
	if f := viewer.read(); f.Type != protocol.EvLiveEnded {
		t.Fatalf("viewer got %s; want %s", f.Type, protocol.EvLiveEnded)
	}
	if err := checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_grace_expired_total", nil, 0}}); err != nil {
		t.Errorf("with resume off: %v", err)
	}
}

// Only a connection that ends without a close handshake (1006) or for silence (4000) keeps its
// session for the window (RESUME-001): one closed with a close frame ends it at once, and its
// room with it.
func TestClosedConnectionEndsItsSessionAtOnce(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = time.Minute })
	host := dial(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	_ = host.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	if f := viewer.read(); f.Type != protocol.EvLiveEnded { // read waits 5 s, not the minute
		t.Fatalf("viewer got %s; want %s", f.Type, protocol.EvLiveEnded)
	}
	if err := checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, 0}}); err != nil {
		t.Error(err)
	}
}

func refused(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == protocol.CloseResumeRefused
}

// A resume while the server still holds the earlier connection open takes the session over:
// the earlier connection gets 4009 and nobody sees a loss (RESUME-002).
func TestResumeTakesOverAnOpenConnection(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = time.Minute })
	host, w := welcomeOf(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	back, w2, err := resumeClient(t, base, "host", w.ResumeToken, host.seq)
	if err != nil || !w2.Recovered {
		t.Fatalf("resume over an open connection: %v, %+v", err, w2)
	}
	_ = host.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err = host.ws.ReadMessage()
	if ce := (*websocket.CloseError)(nil); !errors.As(err, &ce) || ce.Code != protocol.CloseReplaced {
		t.Fatalf("the earlier connection ended with %v; want close 4009", err)
	}
	if f := back.call(protocol.ReqFetchLiveInfo, map[string]string{"liveID": "r"}); *f.Code != 0 {
		t.Fatalf("the room is gone: %s", *f.Message)
	}
	if f := viewer.call(protocol.ReqHeartbeat, nil); f.Type != protocol.TypeReply {
		t.Fatalf("viewer got %s; want nothing but its reply", f.Type)
	}
}

// More frames missed than the history holds: the session resumes with recovered false, its
// state, and the numbering going on past the frames let go (RESUME-004).
func TestResumeBeyondHistory(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = time.Minute; c.ResumeHistoryFrames = 2 })
	host, w := welcomeOf(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	lastSeq := host.seq
	_ = host.ws.NetConn().Close()
	viewer.call(protocol.ReqTakeSeat, map[string]any{"liveID": "r", "seatIndex": 1})
	viewer.call(protocol.ReqLeaveSeat, map[string]any{"liveID": "r"})
	viewer.call(protocol.ReqTakeSeat, map[string]any{"liveID": "r", "seatIndex": 2})
	back, w2, err := resumeClient(t, base, "host", w.ResumeToken, lastSeq)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if !w2.Resumed || w2.Recovered || w2.State == nil || w2.State.Room == nil || !w2.State.Host || w2.NextSeq != lastSeq+4 {
		t.Fatalf("resumed welcome %+v; want recovered false with the state, nextSeq %d", w2, lastSeq+4)
	}
	if got := w2.State.Room.SeatList[2].UserInfo.UserID; got != "viewer" {
		t.Fatalf("state: seat 2 holds %q; want viewer", got)
	}
	if f := back.call(protocol.ReqHeartbeat, nil); f.Seq != lastSeq+4 { // read checks the seq too
		t.Fatalf("first frame after the welcome: seq %d; want %d", f.Seq, lastSeq+4)
	}
}

// The resume settings are checked at start: a window in whole milliseconds up to an hour,
// and a history within the send queue's bounds, so that a replay always fits.
func TestResumeConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*Config)
		ok   bool
	}{
		{"off", func(c *Config) {}, true},
		{"on", func(c *Config) { c.ResumeWindow = 5 * time.Second }, true},
		{"negative", func(c *Config) { c.ResumeWindow = -time.Second }, false},
		{"not whole ms", func(c *Config) { c.ResumeWindow = 1500 * time.Microsecond }, false},
		{"an hour", func(c *Config) { c.ResumeWindow = time.Hour }, true},
		{"over an hour", func(c *Config) { c.ResumeWindow = time.Hour + time.Millisecond }, false},
		{"history at half the queue", func(c *Config) { c.ResumeWindow = time.Second; c.ResumeHistoryFrames = c.SendQueueFrames / 2 }, true},
		{"history over half the queue", func(c *Config) { c.ResumeWindow = time.Second; c.ResumeHistoryFrames = c.SendQueueFrames/2 + 1 }, false},
		{"no history", func(c *Config) { c.ResumeWindow = time.Second; c.ResumeHistoryFrames = 0 }, false},
		{"bytes at half the queue", func(c *Config) { c.ResumeWindow = time.Second; c.ResumeHistoryBytes = c.SendQueueBytes / 2 }, true},
		{"bytes over half the queue", func(c *Config) { c.ResumeWindow = time.Second; c.ResumeHistoryBytes = c.SendQueueBytes/2 + 1 }, false},
		{"history unchecked when off", func(c *Config) { c.ResumeHistoryFrames = 0 }, true},
	} {
		cfg := DefaultConfig()
		tt.set(&cfg)
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
}

// A replay of a full history fits in the new connection's queue: the smallest send queue
// the settings allow takes the welcome and every frame kept, without a cut-off (RESUME-004).
func TestFullReplayFitsTheQueue(t *testing.T) {
	const history = 4
	_, base := newTestServer(t, func(c *Config) {
		c.ResumeWindow = time.Minute
		c.SendQueueFrames, c.ResumeHistoryFrames = 2*history, history
	})
	host, w := welcomeOf(t, base, "host")
	host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"})
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	lastSeq := host.seq
	_ = host.ws.NetConn().Close()
	for i := 0; i < history/2; i++ { // two seat lists each
		viewer.call(protocol.ReqTakeSeat, map[string]any{"liveID": "r", "seatIndex": 1})
		viewer.call(protocol.ReqLeaveSeat, map[string]any{"liveID": "r"})
	}
	back, w2, err := resumeClient(t, base, "host", w.ResumeToken, lastSeq)
	if err != nil || !w2.Recovered {
		t.Fatalf("resume: %v, recovered %v", err, w2.Recovered)
	}
	for i := 0; i < history; i++ {
		if f := back.read(); f.Type != protocol.EvSeatListChanged {
			t.Fatalf("replayed frame %d: %s", i, f.Type)
		}
	}
	if f := back.call(protocol.ReqHeartbeat, nil); *f.Code != 0 {
		t.Fatalf("heartbeat after the replay: %d", *f.Code)
	}
}

// Random bounds and frame sizes: whatever history keeps, a replay it agrees to is every frame
// after lastSeq, in order, and one it refuses really lacks lastSeq+1; the bounds hold.
func TestHistoryProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		maxFrames := 1 + rng.IntN(20)
		maxBytes := int64(200 + rng.IntN(3000))
		s := &session{hist: history{maxFrames: maxFrames, maxBytes: maxBytes}}
		var sizes []int64 // by seq-1
		for n := rng.IntN(60); n > 0; n-- {
			f := frameOfSize(100 + rng.IntN(400))
			sizes = append(sizes, f.size())
			s.number(f)
			var sum int64
			for _, k := range s.hist.frames[s.hist.head:] {
				sum += k.f.size()
			}
			if s.hist.len() > maxFrames || s.hist.bytes > maxBytes || sum != s.hist.bytes {
				t.Fatalf("trial %d: %d frames, %d bytes (counted %d); bounds %d, %d", trial, s.hist.len(), sum, s.hist.bytes, maxFrames, maxBytes)
			}
		}
		for lastSeq := uint64(0); lastSeq <= s.seq; lastSeq++ {
			got, ok := s.hist.after(lastSeq, s.seq)
			if !ok {
				if held := s.hist.frames[s.hist.head:]; len(held) > 0 && held[0].seq <= lastSeq+1 {
					t.Fatalf("trial %d: refused lastSeq %d though frame %d is held", trial, lastSeq, held[0].seq)
				}
				continue
			}
			if uint64(len(got)) != s.seq-lastSeq {
				t.Fatalf("trial %d: lastSeq %d of %d replays %d frames", trial, lastSeq, s.seq, len(got))
			}
			for i, k := range got {
				if k.seq != lastSeq+1+uint64(i) || k.f.size() != sizes[k.seq-1] {
					t.Fatalf("trial %d: lastSeq %d: frame %d has seq %d", trial, lastSeq, i, k.seq)
				}
			}
		}
	}
}

// The welcome advertises the configured timings, and the resume history's bounds exactly when
// resume is on (WELCOME-001: with resume off they are 0 or absent).
func TestWelcomeAdvertisesTheConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name   string
		window time.Duration
	}{{"resume off", 0}, {"resume on", 90 * time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newTestServer(t, func(c *Config) {
				c.ResumeWindow, c.ResumeHistoryFrames, c.ResumeHistoryBytes = tt.window, 77, 5000
				c.HeartbeatInterval, c.HeartbeatTimeout = 4*time.Second, 11*time.Second
				c.DefaultInviteTimeout, c.DefaultBattleDuration = 45*time.Second, 7*time.Minute
			})
			_, w := welcomeOf(t, base, "u")
			if got, want := w.Timing, (protocol.Timing{HeartbeatIntervalMs: 4000, HeartbeatTimeoutMs: 11000, DefaultInviteTimeoutS: 45, DefaultBattleDurationS: 420}); got != want {
				t.Errorf("timing %+v; want %+v", got, want)
			}
			frames, bytes := 0, 0
			if tt.window > 0 {
				frames, bytes = 77, 5000
			}
			if l := w.Limits; l.ResumeWindowMs != tt.window.Milliseconds() || l.ResumeHistoryFrames != frames || l.ResumeHistoryBytes != bytes {
				t.Errorf("resume limits: window %d, history %d frames and %d bytes; want %d, %d, %d", l.ResumeWindowMs, l.ResumeHistoryFrames, l.ResumeHistoryBytes, tt.window.Milliseconds(), frames, bytes)
			}
		})
	}
}

// The sessions_in_grace gauge comes back to 0 once every window has ended, resumed sessions'
// entries included: host a drops and resumes, then host b drops and is lost; when b's room
// ends, a's entry (due first) has long left the queue.
func TestGraceGaugeAfterAResumedEntryExpires(t *testing.T) {
	const window = 2 * time.Second // ample for the scrapes between a's drop and its resume
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = window })
	a, wa := welcomeOf(t, base, "a")
	b := dial(t, base, "b")
	callAll(t,
		request{a, protocol.ReqCreateLive, map[string]any{"liveID": "ra"}},
		request{b, protocol.ReqCreateLive, map[string]any{"liveID": "rb"}},
	)
	viewer := dial(t, base, "viewer")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "rb"})
	inGrace := func(want float64) {
		t.Helper()
		waitFor(t, func() error {
			return checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, want}})
		})
	}
	_ = a.ws.NetConn().Close()
	inGrace(1) // a waits in grace (a resume before the drop is seen takes the open connection over)
	if _, _, err := resumeClient(t, base, "a", wa.ResumeToken, a.seq); err != nil {
		t.Fatalf("a's resume: %v", err)
	}
	_ = b.ws.NetConn().Close() // after a's resume: b's window ends after a's entry is due
	if f := viewer.read(); f.Type != protocol.EvLiveEnded {
		t.Fatalf("viewer got %s; want %s", f.Type, protocol.EvLiveEnded)
	}
	// The hub set the gauge as it ended b, before it answers this heartbeat.
	viewer.call(protocol.ReqHeartbeat, nil)
	if err := checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, 0}}); err != nil {
		t.Error(err)
	}
}

// Once 64 or more resumed sessions make most of the grace queue, their entries are dropped
// from it; the sessions still waiting keep theirs and end on time. Host early drops; then 64
// users drop and resume, their entries due after early's; then host late drops. When early's
// window ends the queue is compacted to late's entry alone, which must still end late's room
// on time, and the gauge must come back to 0.
func TestGraceCompactionKeepsTheSessionsStillWaiting(t *testing.T) {
	const window, resumed = 4 * time.Second, 64
	_, base := newTestServer(t, func(c *Config) { c.ResumeWindow = window })
	early, late := dial(t, base, "early"), dial(t, base, "late")
	callAll(t,
		request{early, protocol.ReqCreateLive, map[string]any{"liveID": "re"}},
		request{late, protocol.ReqCreateLive, map[string]any{"liveID": "rl"}},
	)
	viewerE, viewerL := dial(t, base, "viewer-e"), dial(t, base, "viewer-l")
	callAll(t,
		request{viewerE, protocol.ReqJoinLive, map[string]string{"liveID": "re"}},
		request{viewerL, protocol.ReqJoinLive, map[string]string{"liveID": "rl"}},
	)
	users := make([]*rawClient, resumed)
	tokens := make([]string, resumed)
	for i := range users {
		var w protocol.Welcome
		users[i], w = welcomeOf(t, base, fmt.Sprintf("u%d", i))
		tokens[i] = w.ResumeToken
	}
	inGrace := func(want float64) {
		t.Helper()
		waitFor(t, func() error {
			return checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, want}})
		})
	}
	earlyDropped := time.Now()
	_ = early.ws.NetConn().Close()
	inGrace(1)
	// The users' entries must fall due well after early's, or early's end would take them
	// out of the queue one by one before any compaction.
	time.Sleep(250 * time.Millisecond)
	for _, u := range users {
		_ = u.ws.NetConn().Close()
	}
	inGrace(1 + resumed) // every drop seen: each resume below leaves grace
	for i, u := range users {
		if _, _, err := resumeClient(t, base, fmt.Sprintf("u%d", i), tokens[i], u.seq); err != nil {
			t.Fatalf("u%d's resume: %v", i, err)
		}
	}
	_ = late.ws.NetConn().Close()
	inGrace(2)
	if d := time.Since(earlyDropped); d >= window {
		t.Fatalf("the drops and resumes took %v, longer than the window (%v): early's end came before late's drop", d, window)
	}
	for _, v := range []*rawClient{viewerE, viewerL} { // early's window ends first (the compaction), then late's
		if f := v.read(); f.Type != protocol.EvLiveEnded {
			t.Fatalf("viewer got %s; want %s", f.Type, protocol.EvLiveEnded)
		}
	}
	viewerL.call(protocol.ReqHeartbeat, nil) // the hub set the gauge as it ended late, before this reply
	if err := checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, 0}}); err != nil {
		t.Error(err)
	}
}

// A resume token from before a restart is refused (RESUME-006), even when the user logs in
// again first and the restarted server gives it the same session number.
func TestResumeTokenFromBeforeARestartIsRefused(t *testing.T) {
	resumeOn := func(c *Config) { c.ResumeWindow = 2 * time.Second; c.ResumeHistoryFrames = 64 }
	_, before := newTestServer(t, resumeOn)
	_, w := welcomeOf(t, before, "host")
	_, after := newTestServer(t, resumeOn) // the restarted server: the same secret, fresh state
	_, w2 := welcomeOf(t, after, "host")   // the user logs in again first: the same session number
	if w2.SessionID != w.SessionID {
		t.Logf("session %s before the restart, %s after: the token check below is weaker", w.SessionID, w2.SessionID)
	}
	if _, back, err := resumeClient(t, after, "host", w.ResumeToken, 0); !refused(err) {
		t.Fatalf("a token from before the restart resumed session %s (%v); want close 4010", back.SessionID, err)
	}
}
