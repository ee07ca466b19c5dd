package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/sockopt"
	"github.com/pkarena/pkarena/reference/protocol"
	"github.com/pkarena/pkarena/reference/usersig"
)

var testLogOut io.Writer = io.Discard

func newTestServer(t testing.TB, mutate func(*Config)) (*Server, string) {
	t.Helper()
	return newTestServerSending(t, mutate, 0)
}

// newTestServerSending is newTestServer with the kernel's send buffer of every connection
// set to sendBuffer bytes (0: the kernel's own, which on loopback grows to megabytes). The
// connections inherit it from the listening socket. A small one makes the server's writes to
// a client that stops reading block after a few frames rather than thousands, so a test of
// what a blocked writer does floods a few dozen frames, and the reader then has kilobytes to
// drain rather than megabytes (which a starved machine took more than 30 s to read).
func newTestServerSending(t testing.TB, mutate func(*Config), sendBuffer int) (*Server, string) {
	t.Helper()
	return newTestServerOn(t, mutate, func(ln net.Listener) net.Listener {
		if sendBuffer > 0 {
			setSendBuffer(t, ln, sendBuffer)
		}
		return ln
	})
}

// newTestServerOn is newTestServer serving on what wrap makes of the server's own listener.
func newTestServerOn(t testing.TB, mutate func(*Config), wrap func(net.Listener) net.Listener) (*Server, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(testLogOut, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// On the server's own listener, as the binary and the suite serve it: its connections
	// are liveConns, whose writes the writer takes (WriteFrame, corked batches).
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = wrap(ln)
	hs.Start()
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + protocol.Path
}

// setSendBuffer sets SO_SNDBUF on the socket under ln, a listener of Listen.
func setSendBuffer(t testing.TB, ln net.Listener, bytes int) {
	t.Helper()
	rc, err := ln.(liveListener).Listener.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := sockopt.SetSendBuffer(rc, bytes); err != nil {
		t.Fatal(err)
	}
}

// wsURL builds a handshake URL for user signed with sig (or a fresh valid UserSig if sig is "").
func wsURL(t testing.TB, base, user, sig string) string {
	t.Helper()
	if sig == "" {
		var err error
		sig, err = usersig.Sign(DefaultConfig().Secret, DefaultConfig().SDKAppID, user, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	q := url.Values{"sdkappid": {fmt.Sprint(DefaultConfig().SDKAppID)}, "userid": {user}, "usersig": {sig}}
	return base + "?" + q.Encode()
}

type rawClient struct {
	t       testing.TB
	ws      *websocket.Conn
	seq     uint64
	next    int
	welcome protocol.Frame // the connection's first frame (dial)
}

func dial(t testing.TB, base, user string) *rawClient {
	t.Helper()
	return dialFrom(t, base, user, "")
}

// dialFrom is dial from the loopback address ip ("": the system's choice).
func dialFrom(t testing.TB, base, user, ip string) *rawClient {
	t.Helper()
	dialer := websocket.DefaultDialer
	if ip != "" {
		dialer = &websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	}
	ws, _, err := dialer.Dial(wsURL(t, base, user, ""), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	if c.welcome = c.read(); c.welcome.Type != protocol.TypeWelcome {
		t.Fatalf("first frame %q; want welcome", c.welcome.Type)
	}
	return c
}

// dialLiving is dial with a token that expires life from now (0: an hour).
func dialLiving(t *testing.T, base, user string, life time.Duration) *rawClient {
	t.Helper()
	if life == 0 {
		return dial(t, base, user)
	}
	cfg := DefaultConfig()
	sig, err := usersig.Sign(cfg.Secret, cfg.SDKAppID, user, life, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, user, sig), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	if f := c.read(); f.Type != protocol.TypeWelcome {
		t.Fatalf("first frame %q; want welcome", f.Type)
	}
	return c
}

// keepPinging pings on ws every period until a ping cannot be written or the function it
// returns is called, which waits for the pinging to end.
func keepPinging(ws *websocket.Conn, period time.Duration) (stop func()) {
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stopped:
				return
			case <-time.After(period):
			}
			if ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)) != nil {
				return
			}
		}
	}()
	return func() { close(stopped); <-done }
}

// read returns the next frame, checking seq contiguity (TRANS-005).
func (c *rawClient) read() protocol.Frame {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout)) // a frame that must come: only a bound
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f protocol.Frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame %s: %v", data, err)
	}
	if f.Seq != c.seq+1 {
		c.t.Fatalf("seq %d after %d", f.Seq, c.seq)
	}
	c.seq = f.Seq
	return f
}

func (c *rawClient) send(typ string, payload any) string {
	c.t.Helper()
	c.next++
	id := fmt.Sprint("q", c.next)
	p, _ := json.Marshal(payload)
	if err := c.ws.WriteJSON(protocol.Request{Type: typ, ID: id, Payload: p}); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return id
}

// request is a request a test's client makes, which must succeed (code 0).
type request struct {
	c       *rawClient
	typ     string
	payload any
}

// callAll makes the requests in order, each waiting for its reply.
func callAll(t testing.TB, reqs ...request) {
	t.Helper()
	for _, r := range reqs {
		if f := r.c.call(r.typ, r.payload); *f.Code != 0 {
			t.Fatalf("%s: code %d %s", r.typ, *f.Code, *f.Message)
		}
	}
}

// call sends a request and skips events until its reply.
func (c *rawClient) call(typ string, payload any) protocol.Frame {
	c.t.Helper()
	id := c.send(typ, payload)
	for {
		if f := c.read(); f.Type == protocol.TypeReply && *f.ID == id {
			return f
		}
	}
}

func TestHandshakeRefusals(t *testing.T) {
	_, base := newTestServer(t, nil)
	cfg := DefaultConfig()
	other, _ := usersig.Sign(cfg.Secret, cfg.SDKAppID, "bob", time.Hour, time.Now())
	expired, _ := usersig.Sign(cfg.Secret, cfg.SDKAppID, "al", time.Second, time.Now().Add(-time.Hour))
	wrongKey, _ := usersig.Sign("not-the-secret", cfg.SDKAppID, "al", time.Hour, time.Now())
	otherApp, _ := usersig.Sign(cfg.Secret, 42, "al", time.Hour, time.Now())
	for _, tt := range []struct {
		name   string
		url    string
		status int
		code   int
	}{
		{"garbage token", wsURL(t, base, "al", "garbage"), 401, 70003},
		{"wrong key", wsURL(t, base, "al", wrongKey), 401, 70003},
		{"expired", wsURL(t, base, "al", expired), 401, 70001},
		{"other user", wsURL(t, base, "al", other), 401, 70013},
		{"other app", wsURL(t, base, "al", otherApp), 401, 70014},
		{"no userid", base + "?sdkappid=1400000001&usersig=x", 400, 100002},
	} {
		_, resp, err := websocket.DefaultDialer.Dial(tt.url, nil)
		if err == nil || resp == nil {
			t.Errorf("%s: handshake succeeded", tt.name)
			continue
		}
		var body handshakeError
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || body.Code != tt.code {
			t.Errorf("%s: HTTP %d code %d (%s); want %d code %d", tt.name, resp.StatusCode, body.Code, body.Message, tt.status, tt.code)
		}
	}
}

func TestCloseCodes(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
	})
	for _, tt := range []struct {
		name string
		act  func(c *rawClient)
		code int
	}{
		{"binary frame", func(c *rawClient) { _ = c.ws.WriteMessage(websocket.BinaryMessage, []byte("{}")) }, 1003},
		{"oversized frame", func(c *rawClient) {
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat(" ", DefaultConfig().MaxFrameBytes+1)))
		}, 1009},
		{"silence", func(*rawClient) {}, closeHeartbeatTimeout},
		{"replaced", func(c *rawClient) { dial(t, base, "u-replaced") }, closeReplaced},
	} {
		c := dial(t, base, "u-"+strings.ReplaceAll(tt.name, " ", "-"))
		tt.act(c)
		_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
		var err error
		for err == nil {
			_, _, err = c.ws.ReadMessage()
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != tt.code {
			t.Errorf("%s: read ended with %v; want close %d", tt.name, err, tt.code)
		}
	}
}

// A client that stops reading is cut off without holding up anyone else (CLOSE-001).
func TestSlowConsumerIsCutOff(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) {
		// Deep and patient enough that a reading client never lags this far behind, even on a
		// machine busy with other tests; the slow one still fills it (10,000 frames).
		c.SendQueueFrames = 1024
		c.WriteTimeout = time.Second
		c.ConnRequestRate = 0 // the host floods: 10,000 requests back to back
		// The audience sends no heartbeats, and on a busy machine the flood outlasts the
		// default timeout: only the slow consumer's bound may cut anyone off.
		c.HeartbeatTimeout = 10 * time.Minute
	})
	host := dial(t, base, "host")
	if f := host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r", "maxSeatCount": 16}); *f.Code != 0 {
		t.Fatalf("createLive: %s", *f.Message)
	}
	slow := dial(t, base, "slow")
	slow.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	fast := dial(t, base, "fast")
	fast.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})

	// Enough frames (about 2 KB each) to fill the slow client's socket buffers and its queue.
	// The fast audience reads everything, and the host waits for it every quarter of a queue:
	// on a machine too busy to run its reader, a consumer that keeps up is one the producer
	// waits for, so it never lags a queue behind and is never the one cut off.
	const toggles, batch = 10000, 256
	var fastFrames atomic.Int64
	_ = fast.ws.SetReadDeadline(time.Time{}) // read's 5 s deadline would end the reader mid-flood
	go func() {
		for {
			if _, _, err := fast.ws.ReadMessage(); err != nil {
				return
			}
			fastFrames.Add(1)
		}
	}()
	before := fastFrames.Load()
	for i := 0; i < toggles; i++ {
		typ := protocol.ReqLockSeat
		if i%2 == 1 {
			typ = protocol.ReqUnlockSeat
		}
		if f := host.call(typ, map[string]int{"seatIndex": 5}); *f.Code != 0 {
			t.Fatalf("%s: %s", typ, *f.Message)
		}
		if (i+1)%batch == 0 {
			// Each toggle sends every member one onSeatListChanged.
			deadline := time.Now().Add(30 * time.Second)
			for fastFrames.Load() < before+int64(i+1) {
				if time.Now().After(deadline) {
					t.Fatalf("after %d toggles the fast audience read %d frames in 30 s; want %d", i+1, fastFrames.Load()-before, i+1)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	var info protocol.FetchLiveInfoReply
	f := host.call(protocol.ReqFetchLiveInfo, map[string]string{"liveID": "r"})
	if err := json.Unmarshal(f.Payload, &info); err != nil {
		t.Fatal(err)
	}
	if info.LiveInfo.CurrentUserCount != 2 {
		t.Errorf("users in room after a slow consumer = %d; want 2 (host and the fast audience)", info.LiveInfo.CurrentUserCount)
	}
}

func TestHandlerRefusesAfterClose(t *testing.T) {
	srv, base := newTestServer(t, nil)
	srv.Close()
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(t, base, "late", ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: err %v, resp %v; want 503", err, resp)
	}
}

// In a storm of connections of the same users, each replacing the last (AUTH-006), every
// connection's first frame is its welcome (WELCOME-001), even one closed with 4009 before
// the welcome was written (issue 13: 16 of 1,000 got the close first).
func TestReplacedConnectionsGetTheirWelcomeFirst(t *testing.T) {
	_, base := newTestServer(t, nil)
	const users, each = 20, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for u := 0; u < users; u++ {
		url := wsURL(t, base, fmt.Sprintf("storm-%d", u), "")
		for i := 0; i < each; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					return // refused or reset: no frame at all is no wrong first frame
				}
				defer ws.Close()
				_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := ws.ReadMessage()
				var f protocol.Frame
				switch {
				case err != nil:
					mu.Lock()
					bad = append(bad, "closed before any frame: "+err.Error())
					mu.Unlock()
				case json.Unmarshal(data, &f) != nil || f.Type != protocol.TypeWelcome:
					mu.Lock()
					bad = append(bad, fmt.Sprintf("first frame %.80s", data))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d of %d connections did not get their welcome first, e.g. %s", len(bad), users*each, bad[0])
	}
}

// A client whose token expires is closed with 4001 at expiry even if it keeps sending
// WebSocket pings, and a request it sends after expiry does not run (AUTHZ-003; issue 13:
// pings kept such a host connected 45 s past expiry, and its lockSeat was executed).
func TestExpiredTokenEndsTheConnectionPingsOrNot(t *testing.T) {
	_, base := newTestServer(t, nil)
	const life = 2 * time.Second
	expires := time.Now().Add(life)
	host := dialLiving(t, base, "pinger", life)
	ws := host.ws
	if f := host.call(protocol.ReqCreateLive, map[string]any{"liveID": "rx", "maxSeatCount": 4}); *f.Code != 0 {
		t.Fatalf("createLive: %s", *f.Message)
	}
	viewer := dial(t, base, "watcher")
	viewer.call(protocol.ReqJoinLive, map[string]string{"liveID": "rx"})

	// Pings only, every 100 ms, from before expiry until well after.
	stopPinging := keepPinging(ws, 100*time.Millisecond)
	// Right after expiry, a request that must not run.
	time.Sleep(time.Until(expires) + 50*time.Millisecond)
	_ = ws.WriteJSON(protocol.Request{Type: protocol.ReqLockSeat, ID: "late", Payload: json.RawMessage(`{"seatIndex":2}`)})
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closed error
	for closed == nil {
		if _, data, err := ws.ReadMessage(); err != nil {
			closed = err
		} else if strings.Contains(string(data), `"id":"late"`) {
			t.Errorf("the request sent after expiry was answered: %s", data)
		}
	}
	stopPinging()
	var ce *websocket.CloseError
	if !errors.As(closed, &ce) || ce.Code != 4001 {
		t.Fatalf("the connection ended with %v; want close 4001", closed)
	}
	if late := time.Since(expires); late > 5*time.Second {
		t.Errorf("closed %v after expiry; want at expiry (pings must not keep it open)", late)
	}
	// The viewer saw the room end (the host is gone), and never the seat locked.
	for {
		f := viewer.read()
		if f.Type == protocol.EvSeatListChanged && strings.Contains(string(f.Payload), `"isLocked":true`) {
			t.Fatalf("the viewer saw the seat locked by a request sent after expiry: %s", f.Payload)
		}
		if f.Type == protocol.EvLiveEnded {
			break
		}
	}
}

// With a journal, a connection opened and replaced while the hub holds outputs for a commit
// still gets its welcome first: the welcome is never held (issue 13 review: it was, and the
// replaced connection's held welcome was let go, so 4009 came first).
func TestReplacedWhileAJournalCommitWaitsGetsItsWelcomeFirst(t *testing.T) {
	gate := newGatedSync()
	srv, base := newTestServer(t, func(c *Config) { c.StateDir = t.TempDir(); c.journalSync = gate.sync })
	_, _, id := journalScene(t, base)
	gate.armed.Store(true)
	answered := make(chan int, 2)
	go func() {
		code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5))
		answered <- code
	}()
	<-gate.entered // the hub is inside the commit of k1's record until release
	go func() {
		code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k2", "ra", 5))
		answered <- code
	}()
	first := make(chan string, 2)
	url := wsURL(t, base, "dup", "")
	for range 2 {
		go func() {
			ws, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				first <- "dial: " + err.Error()
				return
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
			_, data, err := ws.ReadMessage()
			var f protocol.Frame
			switch {
			case err != nil:
				first <- "closed before any frame: " + err.Error()
			case json.Unmarshal(data, &f) != nil || f.Type != protocol.TypeWelcome:
				first <- fmt.Sprintf("first frame %.80s", data)
			default:
				first <- ""
			}
		}()
	}
	waitFor(t, func() error { // k2 and both handshakes wait in the inbox
		if n := len(srv.inbox); n < 3 {
			return fmt.Errorf("%d messages waiting", n)
		}
		return nil
	})
	gate.armed.Store(false)
	close(gate.release)
	for range 2 {
		if got := <-first; got != "" {
			t.Error(got)
		}
	}
	<-answered
	<-answered
}

// On a listener other than Listen's the connections are not liveConns: the writer then goes
// through gorilla's message writer, and the frames still arrive whole, in order, numbered.
func TestFramesOnAPlainListener(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(testLogOut, nil))
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	c := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http")+protocol.Path, "plain") // the welcome, seq 1
	if f := c.call(protocol.ReqCreateLive, map[string]any{"liveID": "r1"}); f.Code == nil || *f.Code != 0 {
		t.Fatalf("createLive: %+v", f)
	}
	if f := c.call(protocol.ReqFetchLiveInfo, map[string]any{"liveID": "r1"}); f.Code == nil || *f.Code != 0 || !strings.Contains(string(f.Payload), `"r1"`) {
		t.Fatalf("fetchLiveInfo: %+v, payload %s", f, f.Payload)
	}
}
