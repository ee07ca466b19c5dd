package client

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/seqwin"
)

// script is what the fake server does after the handshake: it gets the connection and a
// function that sends a frame with the next seq (or with the seq given, when seq > 0).
type script func(ws *websocket.Conn, send func(typ string, seq uint64, extra, payload string))

// fakeServer serves one scripted connection per dial.
func fakeServer(t *testing.T, sc script) string {
	t.Helper()
	srv := httptest.NewServer(fakeHandler(sc))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + Path
}

// fakeServerTLS is fakeServer behind TLS: a wss:// URL, and the client's TLS settings that
// trust its certificate.
func fakeServerTLS(t *testing.T, sc script) (string, *tls.Config) {
	t.Helper()
	srv := httptest.NewTLSServer(fakeHandler(sc))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return "ws" + strings.TrimPrefix(srv.URL, "http") + Path, &tls.Config{RootCAs: roots}
}

// fakeHandler upgrades each request, sends the welcome and plays sc.
func fakeHandler(sc script) http.Handler {
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var seq uint64
		send := func(typ string, at uint64, extra, payload string) {
			seq++
			if at > 0 {
				seq = at
			}
			frame := `{"type":"` + typ + `","seq":` + itoa(seq) + `,"ts":1` + extra + `,"payload":` + payload + `}`
			_ = ws.WriteMessage(websocket.TextMessage, []byte(frame))
		}
		send(TypeWelcome, 0, "", `{"protocol":"v1","userID":"u","timing":{"heartbeatIntervalMs":60000,"heartbeatTimeoutMs":120000}}`)
		sc(ws, send)
	})
}

// welcomeServer serves one connection per dial: a welcome with these heartbeat timings,
// then then.
func welcomeServer(t *testing.T, intervalMs, timeoutMs int, then func(ws *websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		timing := `{"heartbeatIntervalMs":` + strconv.Itoa(intervalMs) + `,"heartbeatTimeoutMs":` + strconv.Itoa(timeoutMs) + `}`
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","seq":1,"ts":1,"payload":{"protocol":"v1","userID":"u","timing":`+timing+`}}`))
		then(ws)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + Path
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// readRequest reads one client frame and returns its type and id.
func readRequest(ws *websocket.Conn) (typ, id string) {
	_, data, err := ws.ReadMessage()
	if err != nil {
		return "", ""
	}
	var r struct{ Type, ID string }
	_ = json.Unmarshal(data, &r)
	return r.Type, r.ID
}

// testDirectRead makes every dial of these tests set DirectRead (TestWithDirectRead).
var testDirectRead bool

// TestWithDirectRead runs fourteen of the client's tests again with the frames read by
// internal/wsread instead of gorilla: the client must record, answer and call back the same.
func TestWithDirectRead(t *testing.T) {
	testDirectRead = true
	defer func() { testDirectRead = false }()
	for _, test := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"ViolationsAreRecorded", TestViolationsAreRecorded},
		{"CallsAndEvents", TestCallsAndEvents},
		{"HandshakeRefusal", TestHandshakeRefusal},
		{"CloseCodeIsRecorded", TestCloseCodeIsRecorded},
		{"SendCloseSaysNormalClosureAndWaits", TestSendCloseSaysNormalClosureAndWaits},
		{"TranscriptKeepsTheLatestFrames", TestTranscriptKeepsTheLatestFrames},
		{"GoCallsBackOnReplyAndOnClose", TestGoCallsBackOnReplyAndOnClose},
		{"GoWhileClosingCallsBack", TestGoWhileClosingCallsBack},
		{"IdleConnectionHoldsNoCallMaps", TestIdleConnectionHoldsNoCallMaps},
		{"SeqStatsCountMissingAndDisorderedFrames", TestSeqStatsCountMissingAndDisorderedFrames},
		{"HeartbeatsKeepTheirScheduleWithoutReplies", TestHeartbeatsKeepTheirScheduleWithoutReplies},
		{"ReusedBuffersKeepWhatOutlivesTheRead", TestReusedBuffersKeepWhatOutlivesTheRead},
		{"ReusedBuffersReadLargeFramesWhole", TestReusedBuffersReadLargeFramesWhole},
		{"ACallAfterTheCloseSaysHowItClosed", TestACallAfterTheCloseSaysHowItClosed},
	} {
		t.Run(test.name, test.run)
	}
}

func dialFake(t *testing.T, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", DirectRead: testDirectRead})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if testDirectRead && c.direct == nil {
		t.Fatal("DirectRead: gorilla still reads")
	}
	t.Cleanup(c.Close)
	return c
}

func TestViolationsAreRecorded(t *testing.T) {
	for _, tt := range []struct {
		name string
		sc   script
		want string // a substring of the one violation expected
	}{
		// A frame numbered 3 right after the welcome (1): frame 2 is missing.
		{"seq gap", func(ws *websocket.Conn, send func(string, uint64, string, string)) {
			send(EvLiveEnded, 3, "", `{}`)
		}, "seq 3 after 1; want 2 (TRANS-005)"},
		// A reply nobody asked for.
		{"unrequested reply", func(ws *websocket.Conn, send func(string, uint64, string, string)) {
			send(TypeReply, 0, `,"id":"zz","code":0,"message":""`, `{}`)
		}, `id "zz"`},
		// An event must not carry an id or a code.
		{"event with id", func(ws *websocket.Conn, send func(string, uint64, string, string)) {
			send(EvLiveEnded, 0, `,"id":"x"`, `{}`)
		}, "carries id or code"},
		// A reply must carry id, code and message.
		{"reply without code", func(ws *websocket.Conn, send func(string, uint64, string, string)) {
			send(TypeReply, 0, `,"id":"x"`, `{}`)
		}, "lacks id, code or message"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
				tt.sc(ws, send)
				// Answer one heartbeat so the test can wait for the frame above to be read.
				_, id := readRequest(ws)
				send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{}`)
				<-done
			})
			c := dialFake(t, url)
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Sync(ctx) // its reply's seq may itself be off after a gap; only the log matters
			v := c.Violations()
			if len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tt.want) {
				t.Errorf("violations = %q; want one containing %q", v, tt.want)
			}
		})
	}
}

func TestCallsAndEvents(t *testing.T) {
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		send(EvSeatListChanged, 0, "", `{"liveID":"r","seatList":[]}`)
		send(EvLiveEnded, 0, "", `{"liveID":"r","reason":1,"message":""}`)
		send(EvSeatListChanged, 0, "", `{"liveID":"r2","seatList":[]}`)
		for {
			typ, id := readRequest(ws)
			switch typ {
			case "":
				return
			case ReqJoinLive:
				send(TypeReply, 0, `,"id":"`+id+`","code":100004,"message":"room does not exist"`, `{}`)
			default:
				send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{}`)
			}
		}
	})
	c := dialFake(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := c.JoinLive(ctx, "r")
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeLiveNotExist || CodeOf(err) != CodeLiveNotExist {
		t.Fatalf("JoinLive error = %v; want code %d", err, CodeLiveNotExist)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := len(c.Unread("")); got != 3 {
		t.Errorf("Unread(\"\") has %d events; want 3", got)
	}
	first, err := NextAs[SeatListChanged](ctx, c, EvSeatListChanged)
	if err != nil || first.LiveID != "r" {
		t.Fatalf("first Next = %+v, %v; want liveID r", first, err)
	}
	if got := c.Unread(EvSeatListChanged); len(got) != 1 || got[0].Seq != 4 {
		t.Errorf("Unread(%s) after one Next = %v; want the second (seq 4)", EvSeatListChanged, got)
	}
	if got := c.Unread(EvLiveEnded); len(got) != 1 || got[0].Type != EvLiveEnded {
		t.Errorf("Unread(%s) = %v; want the one onLiveEnded", EvLiveEnded, got)
	}
	second, err := NextAs[SeatListChanged](ctx, c, EvSeatListChanged)
	if err != nil || second.LiveID != "r2" {
		t.Fatalf("second Next = %+v, %v; want liveID r2", second, err)
	}
	if got := c.Unread(""); len(got) != 1 || got[0].Type != EvLiveEnded {
		t.Errorf("Unread after two Next = %v; want the onLiveEnded", got)
	}
	c.Skip()
	if got := c.Unread(""); len(got) != 0 {
		t.Errorf("Unread after Skip = %v; want none", got)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.Next(short, EvSeatListChanged); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with nothing left = %v; want a deadline error", err)
	}
	if v := c.Violations(); len(v) != 0 {
		t.Errorf("violations %q; want none", v)
	}
}

func TestHandshakeRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":70001,"message":"UserSig expired"}`)
	}))
	defer srv.Close()
	_, err := Dial(context.Background(), Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + Path, UserID: "u", Secret: "s", DirectRead: testDirectRead})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 401 || he.Code != 70001 || he.Message != "UserSig expired" {
		t.Fatalf("Dial = %v; want HandshakeError 401/70001", err)
	}
}

// TestCloseCodeIsRecorded: the client answers a ping with its payload and the server's close
// with the same code, and records the close (gorilla's reader does; DirectRead must too).
func TestCloseCodeIsRecorded(t *testing.T) {
	pong, echo := make(chan string, 1), make(chan int, 1)
	url := fakeServer(t, func(ws *websocket.Conn, _ func(string, uint64, string, string)) {
		ws.SetPongHandler(func(data string) error {
			pong <- data
			return ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseReplaced, "replaced"), time.Now().Add(time.Second))
		})
		ws.SetCloseHandler(func(code int, _ string) error { echo <- code; return nil })
		_ = ws.WriteControl(websocket.PingMessage, []byte("still there?"), time.Now().Add(time.Second))
		// Keep the socket until the client answers the close frame, so it reads ours first.
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	c := dialFake(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := c.WaitClosed(ctx)
	if err != nil || code != CloseReplaced {
		t.Fatalf("WaitClosed = %d, %v; want %d", code, err, CloseReplaced)
	}
	if err := c.Heartbeat(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Heartbeat after close = %v; want ErrClosed", err)
	}
	if got := <-pong; got != "still there?" { // sent: the close came from the pong handler
		t.Errorf("pong %q; want the ping's payload", got)
	}
	select {
	case got := <-echo:
		if got != CloseReplaced {
			t.Errorf("the client answered close %d; want %d", got, CloseReplaced)
		}
	case <-time.After(5 * time.Second):
		t.Error("the client did not answer the close")
	}
}

// SendClose tells the server the session is over with 1000 and returns without its answer,
// leaving the connection open: against a server that answers, the connection then ends by
// itself with 1000; against one that never answers, it stays open until Kill. A write past
// its deadline is an error, and no frame is sent.
func TestSendCloseSaysNormalClosureAndWaits(t *testing.T) {
	hold := make(chan struct{}) // the silent server keeps its socket open until the test ends
	defer close(hold)
	for _, answers := range []bool{true, false} {
		got := make(chan int, 1)
		url := fakeServer(t, func(ws *websocket.Conn, _ func(string, uint64, string, string)) {
			if !answers {
				ws.SetCloseHandler(func(code int, _ string) error { got <- code; return nil }) // no close frame back
			} else {
				ws.SetCloseHandler(func(code int, _ string) error {
					got <- code
					return ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
				})
			}
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					if !answers {
						<-hold
					}
					return
				}
			}
		})
		c := dialFake(t, url)
		if err := c.SendClose(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatalf("answers %v: SendClose = %v", answers, err)
		}
		select {
		case code := <-got:
			if code != CloseNormal {
				t.Errorf("answers %v: the server got close code %d; want %d", answers, code, CloseNormal)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("answers %v: the server got no close frame", answers)
		}
		if answers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			code, err := c.WaitClosed(ctx)
			cancel()
			if err != nil || code != CloseNormal {
				t.Errorf("after the server's answer: closed with %d, %v; want %d", code, err, CloseNormal)
			}
			continue
		}
		select {
		case <-c.Done():
			t.Errorf("the connection ended though the server never answered nor closed")
		case <-time.After(200 * time.Millisecond):
		}
		killed := make(chan struct{})
		go func() { c.Kill(); close(killed) }()
		select {
		case <-killed:
		case <-time.After(5 * time.Second):
			t.Fatal("Kill after SendClose did not return")
		}
	}
	// A deadline already past: the write is refused and says so.
	c := dialFake(t, fakeServer(t, func(ws *websocket.Conn, _ func(string, uint64, string, string)) {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer c.Kill()
	if err := c.SendClose(time.Now().Add(-time.Second)); err == nil {
		t.Error("SendClose with a deadline past = nil; want the write's timeout")
	}
}

// The signer follows the documented algorithm (SPEC AUTH-002): unpack the token and recompute
// the HMAC here, independently of both the client and the reference server.
func TestSignUserSig(t *testing.T) {
	issued := time.Unix(1_700_000_000, 0)
	sig, err := SignUserSig("secret", 1400000001, "alice", 2*time.Hour, issued)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(sig, "+/=") {
		t.Errorf("token %q contains + / or =; they must be replaced by * - _", sig)
	}
	tok := unpackUserSig(t, sig)
	mac := hmac.New(sha256.New, []byte("secret"))
	io.WriteString(mac, "TLS.identifier:alice\nTLS.sdkappid:1400000001\nTLS.time:1700000000\nTLS.expire:7200\n")
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for k, v := range map[string]any{"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 1400000001.0, "TLS.time": 1700000000.0, "TLS.expire": 7200.0, "TLS.sig": want} {
		if tok[k] != v {
			t.Errorf("%s = %v; want %v", k, tok[k], v)
		}
	}
}

// unpackUserSig undoes a UserSig's packing (SPEC AUTH-002: URL-safe base64 of zlib of JSON)
// and returns its fields.
func unpackUserSig(t *testing.T, sig string) map[string]any {
	t.Helper()
	b64 := strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(sig)
	packed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatalf("zlib: %v", err)
	}
	raw, _ := io.ReadAll(zr)
	var tok map[string]any
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatalf("json: %v", err)
	}
	return tok
}

func TestTranscriptKeepsTheLatestFrames(t *testing.T) {
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		for {
			typ, id := readRequest(ws)
			if typ == "" {
				return
			}
			send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{}`)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", Transcript: 4, NoHeartbeat: true, DirectRead: testDirectRead})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		if err := c.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	frames, dropped := c.Transcript()
	// welcome + 3 × (request, reply) = 7 frames; the ring keeps 4.
	if len(frames) != 4 || dropped != 3 {
		t.Fatalf("transcript has %d frames, %d dropped; want 4 and 3", len(frames), dropped)
	}
	if !frames[0].Sent || frames[3].Sent || !strings.Contains(frames[3].Text, `"reply"`) {
		t.Errorf("transcript = %+v; want sent, received, sent, received ending with a reply", frames)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].At.Before(frames[i-1].At) {
			t.Errorf("frame %d is older than frame %d: oldest first", i, i-1)
		}
	}
}

func TestGoCallsBackOnReplyAndOnClose(t *testing.T) {
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		typ, id := readRequest(ws)
		if typ == ReqJoinLive {
			send(TypeReply, 0, `,"id":"`+id+`","code":100004,"message":"no room"`, `{}`)
		}
		readRequest(ws) // the second request gets no answer: the server closes
	})
	c := dialFake(t, url)
	got := make(chan error, 2)
	c.Go(ReqJoinLive, map[string]string{"liveID": "r"}, func(f Frame, err error) { got <- err })
	if err := <-got; CodeOf(err) != CodeLiveNotExist {
		t.Fatalf("first callback err = %v; want code %d", err, CodeLiveNotExist)
	}
	c.Go(ReqHeartbeat, nil, func(f Frame, err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("callback of a call the server never answered = %v; want ErrClosed when it closes", err)
	}
	// A call on a closed client calls back at once.
	c.Go(ReqHeartbeat, nil, func(f Frame, err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closed client = %v; want ErrClosed", err)
	}
}

// A call made while the client is failing its pending calls, here from one of their
// callbacks, fails at once too. (Before, such a call was registered after the pending calls
// were taken and never called back: TestGoCallsBackOnReplyAndOnClose hung 1 run in 3 when
// its third call fell in that moment.)
func TestGoWhileClosingCallsBack(t *testing.T) {
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		readRequest(ws) // no answer: the server closes
	})
	c := dialFake(t, url)
	got := make(chan error, 1)
	c.Go(ReqHeartbeat, nil, func(f Frame, err error) {
		c.Go(ReqHeartbeat, nil, func(f Frame, err error) { got <- err })
	})
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("a call made while the client closed = %v; want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call made while the client closed was never called back")
	}
}

func TestSeqStatsCountMissingAndDisorderedFrames(t *testing.T) {
	done := make(chan struct{})
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		send(EvLiveEnded, 5, "", `{}`) // 2, 3 and 4 are missing
		send(EvLiveEnded, 4, "", `{}`) // back in time: out of order, and no longer missing
		send(EvLiveEnded, 6, "", `{}`) // next after 5, the highest: in order
		for i := 0; i < maxViolations+10; i++ {
			send(EvLiveEnded, 6, "", `{}`) // repeats: each one out of order
		}
		_, id := readRequest(ws)
		send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{}`)
		<-done
	})
	c := dialFake(t, url)
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Sync(ctx)
	missing, disordered := c.SeqStats()
	if missing != 2 || disordered != 1+maxViolations+10 {
		t.Errorf("SeqStats = %d missing, %d out of order; want 2 and %d", missing, disordered, 1+maxViolations+10)
	}
	if n, kept := c.ViolationCount(), len(c.Violations()); n < 2+maxViolations+10 || kept != maxViolations {
		t.Errorf("ViolationCount = %d, Violations kept %d; want at least %d counted and %d kept", n, kept, 2+maxViolations+10, maxViolations)
	}
}

// TestHeartbeatsKeepTheirScheduleWithoutReplies: a server that never answers a heartbeat
// still gets one every interval. A client that waited for each reply before the next would
// fall silent behind a slow server and be dropped for it (LIVE-020).
func TestHeartbeatsKeepTheirScheduleWithoutReplies(t *testing.T) {
	const want = 5
	got := make(chan time.Time, 64)
	// A heartbeat interval of 20 ms and a timeout of a minute: the reply's wait is long.
	url := welcomeServer(t, 20, 60000, func(ws *websocket.Conn) {
		for {
			typ, _ := readRequest(ws)
			if typ == "" {
				return
			}
			if typ == ReqHeartbeat {
				select {
				case got <- time.Now():
				default:
				}
			}
		}
	})
	c := dialFake(t, url)
	deadline := time.After(10 * time.Second)
	for n := 0; n < want; n++ {
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("%d heartbeats arrived in 10 s with none answered; want %d (one every 20 ms)", n, want)
		}
	}
	c.StopHeartbeat()
}

// With ReuseBuffers, frames read later do not overwrite what Call returned or what the
// event log holds, and OnEvent sees each frame whole.
func TestReusedBuffersKeepWhatOutlivesTheRead(t *testing.T) {
	for _, onEvent := range []bool{false, true} {
		t.Run(map[bool]string{false: "event log", true: "OnEvent"}[onEvent], func(t *testing.T) {
			url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
				send(EvSeatListChanged, 0, "", `{"liveID":"first","seatList":[]}`)
				for {
					typ, id := readRequest(ws)
					if typ == "" {
						return
					}
					send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{"liveInfo":{"liveID":"asked-`+id+`"}}`)
					for i := 0; i < 20; i++ { // overwrite the buffer many times over
						send(EvSeatListChanged, 0, "", `{"liveID":"later-xxxxxxxxxxxxxxxxxxxxxxxx","seatList":[]}`)
					}
				}
			})
			var mu sync.Mutex
			var seen []string
			cfg := Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", ReuseBuffers: true, DirectRead: testDirectRead}
			if onEvent {
				cfg.OnEvent = func(ev Event) {
					var p SeatListChanged
					if err := ev.Decode(&p); err != nil {
						t.Errorf("OnEvent: %v (%q)", err, ev.Raw)
					}
					mu.Lock()
					seen = append(seen, p.LiveID)
					mu.Unlock()
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var out struct {
				LiveInfo struct{ LiveID string } `json:"liveInfo"`
			}
			if err := c.Call(ctx, ReqFetchLiveInfo, map[string]string{"liveID": "x"}, &out); err != nil {
				t.Fatal(err)
			}
			if err := c.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.LiveInfo.LiveID, "asked-") {
				t.Errorf("Call's reply payload read %q; want asked-<id>", out.LiveInfo.LiveID)
			}
			if onEvent {
				mu.Lock()
				defer mu.Unlock()
				if len(seen) < 21 || seen[0] != "first" {
					t.Errorf("OnEvent saw %d events, the first %q; want 21 or more, the first \"first\"", len(seen), seen)
				}
				return
			}
			first, err := NextAs[SeatListChanged](ctx, c, EvSeatListChanged)
			if err != nil || first.LiveID != "first" {
				t.Errorf("the event log's first event: %+v, %v; want liveID first", first, err)
			}
		})
	}
}

// TestCheckSeqCountsWhatNeverCame: frames skipped count missing until they come; a frame at
// or below the highest seq read counts out of order, once each time, and no longer missing if
// it was; the highest seq read is LastSeq. Only the 63 seqs below the highest are followed:
// one further back that comes late stays counted missing.
func TestCheckSeqCountsWhatNeverCame(t *testing.T) {
	for _, tt := range []struct {
		name                      string
		seqs                      []uint64
		wantMissing, wantDisorder uint64
		wantLast                  uint64
		wantViolations            int
	}{
		{"in order", []uint64{1, 2, 3, 4}, 0, 0, 4, 0},
		{"two swapped", []uint64{1, 3, 2, 4}, 0, 1, 4, 2},
		{"one never came", []uint64{1, 3, 4}, 1, 0, 4, 1},
		{"a gap filled in reverse", []uint64{1, 5, 4, 3, 2, 6}, 0, 3, 6, 4},
		{"a repeat is no gap filled", []uint64{1, 3, 3, 1}, 1, 2, 3, 3},
		{"63 back is followed", []uint64{1, 65, 2}, 62, 1, 65, 2},
		{"64 back is not", []uint64{1, 66, 2}, 64, 1, 66, 2},
		{"the first frame late", []uint64{2, 1}, 0, 1, 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{}
			var seqs seqwin.Window
			for _, s := range tt.seqs {
				c.checkSeq(Frame{Type: EvLiveEnded, Seq: s}, &seqs)
			}
			missing, disordered := c.SeqStats()
			if missing != tt.wantMissing || disordered != tt.wantDisorder {
				t.Errorf("SeqStats = %d missing, %d out of order; want %d and %d", missing, disordered, tt.wantMissing, tt.wantDisorder)
			}
			if seqs.High() != tt.wantLast || c.LastSeq() != tt.wantLast {
				t.Errorf("highest %d, LastSeq %d; want %d", seqs.High(), c.LastSeq(), tt.wantLast)
			}
			if n := c.ViolationCount(); n != tt.wantViolations {
				t.Errorf("%d violations (%q); want %d", n, c.Violations(), tt.wantViolations)
			}
		})
	}
}

// TestAWelcomeWithoutAHeartbeatInterval: a welcome whose heartbeatIntervalMs is not positive
// (0, or below) is a violation, and the client then sends no heartbeats at all rather than
// one after another without a pause.
func TestAWelcomeWithoutAHeartbeatInterval(t *testing.T) {
	for _, ms := range []int{0, -5} {
		t.Run(strconv.Itoa(ms), func(t *testing.T) {
			beats := make(chan int, 1)
			url := welcomeServer(t, ms, 120000, func(ws *websocket.Conn) {
				n := 0
				_ = ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				for {
					typ, _ := readRequest(ws)
					if typ == "" {
						break
					}
					if typ == ReqHeartbeat {
						n++
					}
				}
				beats <- n
			})
			c := dialFake(t, url)
			if v := strings.Join(c.Violations(), "\n"); !strings.Contains(v, "heartbeatIntervalMs "+strconv.Itoa(ms)+" is not positive") {
				t.Errorf("violations %q; want one saying heartbeatIntervalMs %d is not positive", v, ms)
			}
			select {
			case n := <-beats:
				if n != 0 {
					t.Errorf("%d heartbeats sent in 300 ms; want none", n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not finish reading within 10 s")
			}
		})
	}
}

// TestDialFromLocalAddr: LocalAddr is the source address of the connection, whoever reads
// its frames (gorilla or DirectRead); a LocalAddr that is no IP address is refused with the
// reason, before anything is dialed.
func TestDialFromLocalAddr(t *testing.T) {
	if l, err := net.Listen("tcp", "127.0.0.3:0"); err != nil {
		t.Skipf("cannot bind 127.0.0.3 here (%v): loopback has one address", err)
	} else {
		l.Close()
	}
	from := make(chan string, 2)
	url := welcomeServer(t, 60000, 120000, func(ws *websocket.Conn) {
		host, _, _ := net.SplitHostPort(ws.RemoteAddr().String())
		from <- host
		_, _, _ = ws.ReadMessage() // until the client closes
	})
	for _, direct := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", DirectRead: direct, LocalAddr: "127.0.0.3"})
		cancel()
		if err != nil {
			t.Fatalf("DirectRead %v: Dial: %v", direct, err)
		}
		c.Close()
		if got := <-from; got != "127.0.0.3" {
			t.Errorf("DirectRead %v: the server saw the connection from %s; want 127.0.0.3", direct, got)
		}
	}
	_, err := Dial(context.Background(), Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", LocalAddr: "127.0.0.300"})
	if err == nil || !strings.Contains(err.Error(), `LocalAddr "127.0.0.300" is not an IP address`) {
		t.Errorf("Dial from 127.0.0.300: %v; want it refused as no IP address", err)
	}
	select {
	case got := <-from:
		t.Errorf("a refused LocalAddr still dialed (the server saw %s)", got)
	default:
	}
}

// TestDirectReadKeepsNoGoroutineAConnection: on Linux a DirectRead connection is read by the
// shared pollers, and keeps no goroutine (and no stack) of its own while it waits; the server's
// side here keeps one a connection (its handler).
func TestDirectReadKeepsNoGoroutineAConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a goroutine reads each connection on " + runtime.GOOS)
	}
	const conns = 32
	hold := make(chan struct{})
	url := welcomeServer(t, 60000, 120000, func(*websocket.Conn) { <-hold })
	defer close(hold)
	before := runtime.NumGoroutine()
	clients := make([]*Client, conns)
	for i := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", DirectRead: true, NoHeartbeat: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Kill()
		clients[i] = c
	}
	if added := runtime.NumGoroutine() - before; added >= conns*3/2 {
		t.Errorf("%d goroutines more with %d connections open (the server's handlers %d of them); want none of the client's", added, conns, conns)
	}
}

// TestIdleConnectionHoldsNoCallMaps: the maps of calls in flight and of calls given up exist
// only while they hold something (a load generator's idle connections hold neither), and a
// reply to a call given up, arriving late, is still dropped quietly.
func TestIdleConnectionHoldsNoCallMaps(t *testing.T) {
	ids, answer := make(chan string, 4), make(chan string)
	url := welcomeServer(t, 60000, 120000, func(ws *websocket.Conn) {
		go func() {
			for {
				typ, id := readRequest(ws)
				if typ == "" {
					close(ids)
					return
				}
				ids <- id
			}
		}()
		for seq := uint64(2); ; seq++ {
			id, ok := <-answer
			if !ok {
				return
			}
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"reply","seq":`+itoa(seq)+`,"ts":1,"id":"`+id+`","code":0,"message":"ok","payload":{}}`))
		}
	})
	defer close(answer)
	c := dialFake(t, url)
	maps := func() (pending, abandoned int, pendingNil, abandonedNil bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending), len(c.abandoned), c.pending == nil, c.abandoned == nil
	}
	answered := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.Call(ctx, ReqHeartbeat, struct{}{}, nil) }()
		answer <- <-ids
		return <-done
	}

	if err := answered(); err != nil {
		t.Fatal(err)
	}
	if _, _, pn, an := maps(); !pn || !an {
		t.Errorf("after an answered call: pending nil %v, abandoned nil %v; want both nil", pn, an)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := c.Call(ctx, ReqHeartbeat, struct{}{}, nil)
	cancel()
	if err == nil {
		t.Fatal("a call with no answer returned no error")
	}
	late := <-ids
	if p, a, pn, _ := maps(); !pn || a != 1 {
		t.Errorf("after a call given up: %d pending (nil %v), %d abandoned; want none pending (nil), 1 abandoned", p, pn, a)
	}

	answer <- late // the reply comes after all; the next call's reply comes after it
	if err := answered(); err != nil {
		t.Fatal(err)
	}
	if _, _, pn, an := maps(); !pn || !an {
		t.Errorf("after the late reply: pending nil %v, abandoned nil %v; want both nil", pn, an)
	}
	for _, v := range c.Violations() {
		if strings.Contains(v, "no request is waiting") {
			t.Errorf("the late reply was recorded as unrequested: %s", v)
		}
	}
}

// TestReusedBuffersReadLargeFramesWhole: with ReuseBuffers a frame larger than the lent buffer
// (1 KB) and than the reader's own buffer is read whole, over several reads, and the frames
// after it too (a 9-room score change is larger than 1 KB).
func TestReusedBuffersReadLargeFramesWhole(t *testing.T) {
	long := strings.Repeat("x", 6000)
	url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
		send(EvSeatListChanged, 0, "", `{"liveID":"`+long+`","seatList":[]}`)
		send(EvSeatListChanged, 0, "", `{"liveID":"after","seatList":[]}`)
		_, _ = readRequest(ws) // until the client goes
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, SDKAppID: 1, Secret: "s", UserID: "u", ReuseBuffers: true, DirectRead: testDirectRead})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, want := range []string{long, "after"} {
		ev, err := NextAs[SeatListChanged](ctx, c, EvSeatListChanged)
		if err != nil || ev.LiveID != want {
			t.Fatalf("event: liveID of %d bytes, %v; want %d bytes", len(ev.LiveID), err, len(want))
		}
	}
	if v := c.Violations(); len(v) > 0 {
		t.Errorf("violations %q; want none", v)
	}
}

// TestACallAfterTheCloseSaysHowItClosed: a call on a connection the server closed fails with
// ErrClosed and the server's close code and reason, and none when the connection merely
// dropped (no close frame: 1006, as gorilla reports).
func TestACallAfterTheCloseSaysHowItClosed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		close func(ws *websocket.Conn)
		want  string
	}{
		{"a close frame", func(ws *websocket.Conn) {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
		}, `: close 4001 "bye"`},
		{"a dropped connection", func(ws *websocket.Conn) { ws.NetConn().Close() }, `: close 1006 "unexpected EOF"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := welcomeServer(t, 60000, 120000, func(ws *websocket.Conn) {
				tt.close(ws)
				_, _, _ = ws.ReadMessage()
			})
			c := dialFake(t, url)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := c.WaitClosed(ctx); err != nil {
				t.Fatal(err)
			}
			err := c.Call(ctx, ReqHeartbeat, struct{}{}, nil)
			if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Call after the close: %v; want ErrClosed with %q", err, tt.want)
			}
		})
	}
}

// TestSendAnyTakesTheReplyToEitherID: SendAny returns the reply to whichever of its ids the
// server answers; a second reply, to the other id, is unrequested (one reply per request).
func TestSendAnyTakesTheReplyToEitherID(t *testing.T) {
	for _, answer := range []string{"a1", ""} {
		t.Run("answered "+strconv.Quote(answer), func(t *testing.T) {
			done := make(chan struct{})
			url := fakeServer(t, func(ws *websocket.Conn, send func(string, uint64, string, string)) {
				_, _, _ = ws.ReadMessage()
				send(TypeReply, 0, `,"id":"`+answer+`","code":7,"message":"m"`, `{}`)
				other := "a1"
				if answer == "a1" {
					other = ""
				}
				send(TypeReply, 0, `,"id":"`+other+`","code":7,"message":"m"`, `{}`)
				_, id := readRequest(ws)
				send(TypeReply, 0, `,"id":"`+id+`","code":0,"message":""`, `{}`)
				<-done
			})
			c := dialFake(t, url)
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f, err := c.SendAny(ctx, []string{"a1", ""}, "", []byte(`{}`))
			if err != nil || *f.ID != answer || *f.Code != 7 {
				t.Fatalf("SendAny = %+v, %v; want the reply to %q", f, err, answer)
			}
			_ = c.Sync(ctx)
			if v := c.Violations(); len(v) != 1 || !strings.Contains(v[0], "which no request is waiting for") {
				t.Errorf("violations %q; want the second reply as unrequested", v)
			}
		})
	}
}
