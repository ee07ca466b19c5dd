package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/protocol"
)

// Close sends every client the 1001 close frame before it returns (SPEC §2).
func TestCloseSendsGoingAway(t *testing.T) {
	srv, base := newTestServer(t, nil)
	var clients []*rawClient
	for i := 0; i < 20; i++ {
		clients = append(clients, dial(t, base, "u"+strings.Repeat("x", i)))
	}
	srv.Close()
	for i, c := range clients {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
		var err error
		for err == nil {
			_, _, err = c.ws.ReadMessage()
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Errorf("client %d: connection ended with %v; want close 1001", i, err)
		}
	}
}

// A WebSocket ping counts as a frame for liveness (HEART-001).
func TestPingsKeepAConnectionAlive(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
	})
	c := dial(t, base, "pinger")
	done := make(chan error, 1)
	go func() { // the reader answers nothing but must run for pongs to be processed
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	for i := 0; i < 20; i++ { // 20 × 50 ms = three heartbeat timeouts
		if err := c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		select {
		case err := <-done:
			t.Fatalf("connection closed after %d pings: %v", i, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestParseRequest(t *testing.T) {
	for _, tt := range []struct {
		frame  string
		id     string // the id the reply must carry
		code   int    // 0: parsed
		reqTyp string
	}{
		// A well-formed request.
		{`{"type":"heartbeat","id":"a"}`, "a", 0, "heartbeat"},
		// Not an object: 100901, no id.
		{`[1]`, "", 100901, ""},
		// No type: 100901, but the id is echoed.
		{`{"id":"b"}`, "b", 100901, ""},
		// No type and an id that is not a string: 100901 (the envelope is malformed first).
		{`{"id":5}`, "", 100901, ""},
		// No type and a 100-byte id: 100901 with id "" (never an id the schema refuses).
		{`{"id":"` + strings.Repeat("i", 100) + `"}`, "", 100901, ""},
		// A type and a bad id: 100002 with id "".
		{`{"type":"heartbeat","id":""}`, "", 100002, "heartbeat"},
		{`{"type":"heartbeat","id":7}`, "", 100002, "heartbeat"},
		{`{"type":"heartbeat"}`, "", 100002, "heartbeat"},
		{`{"type":"heartbeat","id":"` + strings.Repeat("i", 65) + `"}`, "", 100002, "heartbeat"},
		// Exactly 64 bytes is fine.
		{`{"type":"heartbeat","id":"` + strings.Repeat("i", 64) + `"}`, strings.Repeat("i", 64), 0, "heartbeat"},
	} {
		req, err := parseRequest([]byte(tt.frame))
		code := 0
		if err != nil {
			code = err.Code
		}
		if code != tt.code || req.ID != tt.id || req.Type != tt.reqTyp {
			t.Errorf("parseRequest(%.40s) = type %q id %q code %d; want type %q id %q code %d", tt.frame, req.Type, req.ID, code, tt.reqTyp, tt.id, tt.code)
		}
	}
}

// On Close the server ends every room and battle as if their hosts had left: the members get
// the end events before their 1001, and the end webhook is delivered before Close returns.
func TestCloseEndsBattlesAndDeliversTheirWebhooks(t *testing.T) {
	hooks := make(chan string, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks <- r.URL.Query().Get("CallbackCommand")
	}))
	defer receiver.Close()
	srv, base := newTestServer(t, func(c *Config) { c.WebhookURL = receiver.URL })
	h, g, a := dial(t, base, "h"), dial(t, base, "g"), dial(t, base, "a")
	callAll(t,
		request{h, protocol.ReqCreateLive, map[string]any{"liveID": "rh"}},
		request{g, protocol.ReqCreateLive, map[string]any{"liveID": "rg"}},
		request{a, protocol.ReqJoinLive, map[string]any{"liveID": "rh"}},
		request{h, protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"rg"}, "timeout": 0}},
		request{g, protocol.ReqAcceptConnection, map[string]any{"liveID": "rh"}},
		request{h, protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"g"}, "config": map[string]any{"duration": 300}}},
	)
	srv.Close()

	for _, tc := range []struct {
		name string
		c    *rawClient
		want string
	}{
		{"host g", g, protocol.EvBattleEnded},
		{"viewer a", a, protocol.EvLiveEnded},
	} {
		seen, code := untilClosed(tc.c)
		if !seen[tc.want] || code != websocket.CloseGoingAway {
			t.Errorf("%s: events %v, close %d; want %s, then 1001", tc.name, seen, code, tc.want)
		}
	}
	var got []string
	for len(hooks) > 0 {
		got = append(got, <-hooks)
	}
	if !slices.Contains(got, protocol.HookEndBattle) {
		t.Errorf("webhooks delivered before Close returned: %v; want %s among them", got, protocol.HookEndBattle)
	}
}

// Close gives up webhooks a receiver keeps failing once ShutdownWebhookWait has passed,
// rather than retrying them through their whole backoff.
func TestCloseGivesUpWebhooksAfterItsWait(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer receiver.Close()
	srv, base := newTestServer(t, func(c *Config) {
		c.WebhookURL = receiver.URL
		c.WebhookBackoff = 2 * time.Second // five attempts: 30 s of retries without the bound
		c.ShutdownWebhookWait = 50 * time.Millisecond
	})
	h, g := dial(t, base, "h"), dial(t, base, "g")
	h.call(protocol.ReqCreateLive, map[string]any{"liveID": "rh"})
	g.call(protocol.ReqCreateLive, map[string]any{"liveID": "rg"})
	h.call(protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"rg"}, "timeout": 0})
	g.call(protocol.ReqAcceptConnection, map[string]any{"liveID": "rh"})
	if f := h.call(protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"g"}}); *f.Code != 0 {
		t.Fatalf("requestBattle: %d %s", *f.Code, *f.Message)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still retrying webhooks after 10 s; ShutdownWebhookWait is 50 ms")
	}
}

// untilClosed reads c until its connection ends and returns the frame types it read, and the
// close code (-1: it ended without a close frame, or waitTimeout passed).
func untilClosed(c *rawClient) (seen map[string]bool, code int) {
	seen = map[string]bool{}
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, data, err := c.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return seen, ce.Code
		}
		if err != nil {
			return seen, -1
		}
		var f protocol.Frame
		_ = json.Unmarshal(data, &f)
		seen[f.Type] = true
	}
}

// A host whose network dropped, its session waiting for its resume (RESUME-001), when the
// server is told to stop: its room ends all the same, and the viewer still connected hears
// it before its 1001 (FAULT-004).
func TestCloseEndsTheRoomOfASessionWaitingForItsResume(t *testing.T) {
	srv, base := newTestServer(t, func(c *Config) { c.ResumeWindow = 5 * time.Second; c.ResumeHistoryFrames = 64 })
	h, v := dial(t, base, "h"), dial(t, base, "v")
	callAll(t,
		request{h, protocol.ReqCreateLive, map[string]any{"liveID": "rh"}},
		request{v, protocol.ReqJoinLive, map[string]any{"liveID": "rh"}},
	)
	_ = h.ws.NetConn().Close() // 1006: the session waits for its resume
	waitFor(t, func() error {
		return checkMetrics(scrape(t, base), []metricWant{{"pkarena_sessions_in_grace", nil, 1}})
	})
	srv.Close()
	if seen, code := untilClosed(v); !seen[protocol.EvLiveEnded] || code != websocket.CloseGoingAway {
		t.Errorf("viewer: events %v, close %d; want %s, then 1001", seen, code, protocol.EvLiveEnded)
	}
}

// With a state directory, Close keeps its deadline however the receiver answers: the webhooks
// still undelivered stay in the outbox for the next start rather than hold up the exit
// (FAULT-004: exit by itself within 10 s).
func TestDurableCloseKeepsItsDeadlineWithAFailingReceiver(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer receiver.Close()
	srv, base := newTestServer(t, func(c *Config) {
		c.StateDir = t.TempDir()
		c.WebhookURL = receiver.URL
		c.WebhookBackoff = time.Second
		c.ShutdownWebhookWait = time.Second
		c.ShutdownTimeout = 2 * time.Second
	})
	journalScene(t, base) // a battle: its create and start webhooks, failing
	start := time.Now()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Close took %v; want at most the 2 s ShutdownTimeout", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting for webhooks after 10 s; ShutdownTimeout is 2 s")
	}
}
