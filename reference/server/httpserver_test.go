package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/reference/protocol"
)

// startRunning serves a server the way pkarena-server does (NewHTTPServer on Listen).
func startRunning(t testing.TB, mutate func(*Config)) *Running {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = quietLogger()
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// idleKeepAlive opens a connection that asks for a page that does not exist, reads the
// answer and then stays silent, as the sockets of the attack in issue 13 did.
func idleKeepAlive(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nothing-here: %d", resp.StatusCode)
	}
	return c, br
}

// closedByServer reports whether the server has closed c (a read gives EOF or a reset
// before wait passes).
func closedByServer(c net.Conn, br *bufio.Reader, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	// Bytes before the end (a server may answer a request it cuts, 408 or 400) are read
	// through: only the end of the connection, or the wait running out, answers.
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// Sockets that send one request and then stay silent cannot hold the server: over
// MaxHTTPConns the oldest idle ones are closed, and a genuine client still connects.
// Without the bound, the 40 sockets all stay open.
func TestIdleHTTPConnectionsAreEvicted(t *testing.T) {
	const bound, attackers = 16, 40
	r := startRunning(t, func(c *Config) { c.MaxHTTPConns = bound })
	type sock struct {
		c  net.Conn
		br *bufio.Reader
	}
	var socks []sock
	for range attackers {
		c, br := idleKeepAlive(t, r.Addr)
		socks = append(socks, sock{c, br})
		// The server marks a connection idle just after the answer leaves; wait for it, so
		// that which socket goes is the rule's choice and not the scheduler's.
		waitFor(t, func() error {
			if n := r.admission.count(http.StateActive); n > 0 {
				return fmt.Errorf("%d connections still in a request", n)
			}
			return nil
		})
	}
	// The oldest attackers-bound were closed, oldest first; the newest bound-1 remain (the
	// last one's arrival made room by closing another).
	for i, s := range socks {
		evicted := i < attackers-bound
		if i == attackers-1 {
			break // itself in StateIdle or still active: not judged
		}
		wait := 100 * time.Millisecond
		if evicted {
			wait = waitTimeout
		}
		if got := closedByServer(s.c, s.br, wait); got != evicted {
			t.Errorf("socket %d of %d: closed %v; want %v (bound %d)", i, attackers, got, evicted, bound)
		}
	}
	c := dial(t, r.URL, "genuine") // a WebSocket still gets in, and leaves the bound
	if f := c.call(protocol.ReqCreateLive, map[string]any{"liveID": "r1"}); *f.Code != 0 {
		t.Fatalf("createLive: %d", *f.Code)
	}
	fams := scrape(t, r.URL)
	if got := value(fams, "pkarena_http_connections_evicted_total", "reason=idle"); got < attackers-bound {
		t.Errorf("evicted (idle) = %v; want at least %d", got, attackers-bound)
	}
	if got := value(fams, "pkarena_http_connections"); got > bound {
		t.Errorf("http_connections = %v; want at most %d", got, bound)
	}
}

// Requests that never authenticate cannot hold every slot by trickling their bodies (net/http
// keeps such a connection in its request until HTTPReadTimeout): a genuine client evicts the
// oldest of them. Before, a newcomer found every slot in a request and was refused.
func TestTricklersCannotShutOutGenuineClients(t *testing.T) {
	const bound = 4
	r := startRunning(t, func(c *Config) { c.MaxHTTPConns = bound })
	for range bound {
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "POST /nothing-here HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n "); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() error {
		if n := r.admission.count(http.StateActive); n < bound {
			return fmt.Errorf("%d of %d tricklers in a request", n, bound)
		}
		return nil
	})
	c := dial(t, r.URL, "genuine")
	if f := c.call(protocol.ReqCreateLive, map[string]any{"liveID": "r1"}); *f.Code != 0 {
		t.Fatalf("createLive: %d", *f.Code)
	}
	if got := value(scrape(t, r.URL), "pkarena_http_connections_evicted_total", "reason=unauthenticated request"); got < 1 {
		t.Errorf("evicted (unauthenticated request) = %v; want at least 1", got)
	}
}

// A keep-alive connection silent between requests is closed after HTTPIdleTimeout: not
// before it, and not long after.
func TestIdleKeepAliveIsClosedAfterItsTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	r := startRunning(t, func(c *Config) { c.HTTPIdleTimeout = idle })
	asked := time.Now() // the server's idle time can only start after this
	c, br := idleKeepAlive(t, r.Addr)
	answered := time.Now()
	if closedByServer(c, br, idle*3/4) {
		t.Fatalf("closed %v after its answer; the idle timeout is %v", time.Since(answered), idle)
	}
	if !closedByServer(c, br, waitTimeout) {
		t.Fatalf("still open %v after its answer; the idle timeout is %v", time.Since(answered), idle)
	}
	if took := time.Since(asked); took < idle {
		t.Fatalf("closed %v after the request was sent; the idle timeout is %v", took, idle)
	}
}

// A REST caller that trickles its body is cut at HTTPReadTimeout, whatever it does after.
func TestTricklingRESTBodyIsCut(t *testing.T) {
	const read = 500 * time.Millisecond
	r := startRunning(t, func(c *Config) { c.HTTPReadTimeout = read })
	c, stop := trickleREST(t, r.Addr)
	defer stop()
	start := time.Now()
	br := bufio.NewReader(c)
	if closedByServer(c, br, read*3/4) {
		t.Fatalf("cut after %v; the read timeout is %v", time.Since(start), read)
	}
	if !closedByServer(c, br, waitTimeout) {
		t.Fatalf("still open after %v; the read timeout is %v", time.Since(start), read)
	}
}

// trickleREST starts a set_battle_score call whose body comes one byte every 100 ms and
// never ends; stop ends the trickle.
func trickleREST(t testing.TB, addr string) (net.Conn, func()) {
	t.Helper()
	q := restQuery(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST " + protocol.RESTPrefix + protocol.APISetBattleScore + "?" + q.Encode() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	return c, func() { close(quit) }
}

// Shutdown keeps one deadline with everything that can hold it up at once: a webhook
// receiver that never answers, a member that has stopped reading with frames queued, and a
// REST caller trickling its body. Before, each waited its own turn: 13 s against
// `docker stop`'s 10.
func TestStopKeepsOneDeadline(t *testing.T) {
	const deadline = 2 * time.Second
	hang := make(chan struct{})
	receiver := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer close(hang)
	r := startRunning(t, func(c *Config) {
		c.WebhookURL = receiver
		c.ShutdownWebhookWait = 5 * time.Second // longer than the deadline: the deadline wins
		c.ShutdownTimeout = deadline
		c.ConnRequestRate = 0
	})
	// A battle, so that webhooks are queued (and hang) and the shutdown ends it.
	h, _, _ := journalScene(t, r.URL)
	// A member that stops reading: a viewer with a tiny receive buffer, with frames queued
	// for it as the host toggles a seat (the host reads its replies, so only the viewer
	// falls behind).
	dialNonReader(t, r.URL, "v", "ra")
	for i := range 200 {
		typ := protocol.ReqLockSeat
		if i%2 == 1 {
			typ = protocol.ReqUnlockSeat
		}
		if f := h.call(typ, map[string]int{"seatIndex": 5}); *f.Code != 0 {
			t.Fatalf("%s: %d", typ, *f.Code)
		}
	}
	trickler, stopTrickle := trickleREST(t, r.Addr)
	defer stopTrickle()
	waitFor(t, func() error { // the trickle's request has reached its handler
		if n := r.admission.count(http.StateActive); n == 0 {
			return errors.New("no HTTP request in progress")
		}
		return nil
	})

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := r.Stop(ctx, r.hs) // as r.Close does, keeping the error
	took := time.Since(start)
	// The bound: the deadline, plus what the machine may add to the last steps.
	if limit := deadline + 1500*time.Millisecond; took > limit {
		t.Fatalf("shutdown took %v; its deadline is %v (limit with tolerance %v)", took, deadline, limit)
	}
	t.Logf("shutdown took %v with deadline %v", took, deadline)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop() = %v; want the deadline's error: it had to cut things", err)
	}
	// The trickling request was cut, not left to its read timeout (10 s).
	if !closedByServer(trickler, bufio.NewReader(trickler), time.Second) {
		t.Errorf("the trickling REST request was still open a second after Stop returned")
	}
	r.Close() // a second Stop, and the listener's end
}

// A second Stop, for an http.Server the first one did not know, waits for that server's
// requests within its own deadline and reports the cut when one is still running.
func TestSecondStopReportsItsServersCut(t *testing.T) {
	r := startRunning(t, nil)
	other := r.NewHTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = other.Serve(ln) }()
	t.Cleanup(func() { _ = other.Close() })
	_, stopTrickle := trickleREST(t, ln.Addr().String())
	defer stopTrickle()
	waitFor(t, func() error { // the trickle's request has reached its handler
		if n := r.admission.count(http.StateActive); n == 0 {
			return errors.New("no HTTP request in progress")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Stop(ctx, r.hs); err != nil {
		t.Fatalf("the first Stop, with nothing of its own to cut: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	if err := r.Stop(short, other); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the second Stop, its server's request still trickling: %v; want the deadline's error", err)
	}
	r.Close()
}

// Stop returns nil when everything ended within the deadline, and the deadline's error when
// it had to cut something, even when the HTTP requests were all done in time: here a member
// that stopped reading with frames queued, its writer cut at the deadline.
func TestStopReportsWhatItCut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reader bool // the member reads its frames
		want   error
	}{
		{"everything ends in time", true, nil},
		{"a member's writer is cut", false, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startRunning(t, func(c *Config) {
				c.ConnRequestRate = 0
				c.WriteTimeout = time.Minute // the writer is cut by the deadline, not its own
				// 3,000 seat changes may outlast the default 15 s of silence on a starved machine.
				c.HeartbeatInterval, c.HeartbeatTimeout = 5*time.Minute, 10*time.Minute
			})
			h := dial(t, r.URL, "h")
			if f := h.call(protocol.ReqCreateLive, map[string]any{"liveID": "ra", "maxSeatCount": 16}); *f.Code != 0 {
				t.Fatalf("createLive: %d", *f.Code)
			}
			if !tt.reader {
				dialNonReader(t, r.URL, "v", "ra")
				for i := range 3000 { // far more than the viewer's socket buffers hold
					typ := protocol.ReqLockSeat
					if i%2 == 1 {
						typ = protocol.ReqUnlockSeat
					}
					if f := h.call(typ, map[string]int{"seatIndex": 5}); *f.Code != 0 {
						t.Fatalf("%s: %d", typ, *f.Code)
					}
				}
			}
			go func() { // the host reads to the end: its writer finishes
				for {
					if _, _, err := h.ws.ReadMessage(); err != nil {
						return
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := r.Stop(ctx, r.hs); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Stop() = %v; want %v", err, tt.want)
			}
			r.Close()
		})
	}
}

// httptestServer serves h on a loopback port until the test ends and returns its URL.
func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// A scrape never waits for the hub: while the hub is held inside a journal commit, /metrics
// still answers, on the public listener and on a listener of its own.
func TestScrapesDoNotWaitForTheHub(t *testing.T) {
	gate := newGatedSync()
	r := startRunning(t, func(c *Config) {
		c.StateDir = t.TempDir()
		c.journalSync = gate.sync
		c.MetricsListen = "127.0.0.1:0"
	})
	_, _, id := journalScene(t, r.URL)
	waitFor(t, func() error { // the gauges have caught up with the battle
		return checkMetrics(scrape(t, "ws://"+r.MetricsAddr+protocol.Path), []metricWant{{"pkarena_battles_running", nil, 1}})
	})
	gate.armed.Store(true)
	answered := make(chan int, 1)
	go func() {
		code, _ := restPost(t, r.URL, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5))
		answered <- code
	}()
	<-gate.entered // the hub waits inside the commit until release
	defer func() {
		gate.armed.Store(false)
		close(gate.release)
		<-answered
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + r.MetricsAddr + MetricsPath)
	if err != nil {
		t.Fatalf("scrape while the hub is busy: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "pkarena_battles_running 1") {
		t.Fatalf("scrape: %d; want 200 with pkarena_battles_running 1", resp.StatusCode)
	}
	// With a listener of its own, the public one serves no metrics.
	if got := httpStatus(t, "http://"+r.Addr+MetricsPath); got != http.StatusNotFound {
		t.Errorf("public %s with -metrics-listen: %d; want 404", MetricsPath, got)
	}
}

// fakeConn is a net.Conn that only records whether it was closed.
type fakeConn struct {
	net.Conn
	name   string
	closed bool
}

func (c *fakeConn) Close() error         { c.closed = true; return nil }
func (c *fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// The admission rule, step by step: over MaxHTTPConns a newcomer closes the oldest idle
// connection, else the oldest without a request yet, else the oldest in a request that has
// not authenticated; an authenticated connection in a request is never closed, but one
// whose request is done (idle again) is; with nothing to close, the newcomer goes.
func TestAdmissionEvictsByKindThenAge(t *testing.T) {
	type step struct {
		conn  string
		state http.ConnState // -1: the request on conn authenticated
	}
	const authed = http.ConnState(-1)
	for _, tt := range []struct {
		name   string
		max    int
		steps  []step
		victim string
		reason string // the eviction's label in pkarena_http_connections_evicted_total
	}{
		{"the oldest of the new ones", 2, []step{{"a", http.StateNew}, {"b", http.StateNew}, {"c", http.StateNew}}, "a", "no request yet"},
		{"the oldest of the new ones, the older one arriving second", 2,
			[]step{{"b", http.StateNew}, {"a", http.StateNew}, {"c", http.StateNew}}, "b", "no request yet"},
		{"idle before new, however recent", 2,
			[]step{{"a", http.StateNew}, {"b", http.StateNew}, {"b", http.StateActive}, {"b", http.StateIdle}, {"c", http.StateNew}}, "b", "idle"},
		{"the oldest idle one: idle since longest", 3,
			[]step{{"a", http.StateNew}, {"b", http.StateNew}, {"b", http.StateActive}, {"a", http.StateActive}, {"b", http.StateIdle}, {"a", http.StateIdle}, {"c", http.StateNew}, {"d", http.StateNew}}, "b", "idle"},
		{"an authenticated request is never cut; an older unauthenticated one is", 2,
			[]step{{"a", http.StateNew}, {"a", http.StateActive}, {"b", http.StateNew}, {"b", http.StateActive}, {"b", authed}, {"c", http.StateNew}}, "a", "unauthenticated request"},
		{"an authenticated request is never cut, even the oldest", 2,
			[]step{{"a", http.StateNew}, {"a", http.StateActive}, {"a", authed}, {"b", http.StateNew}, {"b", http.StateActive}, {"c", http.StateNew}}, "b", "unauthenticated request"},
		{"authenticated, then idle: closed like any idle one", 2,
			[]step{{"a", http.StateNew}, {"a", http.StateActive}, {"a", authed}, {"a", http.StateIdle}, {"b", http.StateNew}, {"c", http.StateNew}}, "a", "idle"},
		{"a new request authenticates again", 2,
			[]step{{"a", http.StateNew}, {"a", http.StateActive}, {"a", authed}, {"a", http.StateIdle}, {"a", http.StateActive}, {"b", http.StateNew}, {"b", http.StateActive}, {"b", authed}, {"c", http.StateNew}}, "a", "unauthenticated request"},
		{"every other one authenticated in a request: the newcomer", 2,
			[]step{{"a", http.StateNew}, {"a", http.StateActive}, {"a", authed}, {"b", http.StateNew}, {"b", http.StateActive}, {"b", authed}, {"c", http.StateNew}}, "c", "refused"},
		{"closed and hijacked ones leave room", 2,
			[]step{{"a", http.StateNew}, {"b", http.StateNew}, {"a", http.StateClosed}, {"b", http.StateHijacked}, {"c", http.StateNew}, {"d", http.StateNew}}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdmission(tt.max, newMetrics(), quietLogger())
			conns := map[string]*fakeConn{}
			for _, s := range tt.steps {
				c := conns[s.conn]
				if c == nil {
					c = &fakeConn{name: s.conn}
					conns[s.conn] = c
				}
				if s.state == authed {
					r := httptest.NewRequest(http.MethodPost, "/", nil)
					a.authenticate(r.WithContext(withConn(r.Context(), c)))
					continue
				}
				a.track(c, s.state)
			}
			var closed []string
			for name, c := range conns {
				if c.closed {
					closed = append(closed, name)
				}
			}
			want := []string{tt.victim}
			if tt.victim == "" {
				want = nil
			}
			if !slices.Equal(closed, want) {
				t.Errorf("closed %v; want %v", closed, want)
			}
			for _, reason := range []string{"idle", "no request yet", "unauthenticated request", "refused"} {
				want := 0.0
				if reason == tt.reason {
					want = 1
				}
				var m dto.Metric
				if err := a.metrics.httpEvicted.WithLabelValues(reason).Write(&m); err != nil {
					t.Fatal(err)
				}
				if got := m.GetCounter().GetValue(); got != want {
					t.Errorf("evictions counted as %q: %v; want %v", reason, got, want)
				}
			}
		})
	}
}

// Start that fails after listening (here: the metrics' address is taken) returns the error and
// closes what it opened, whether pprof was asked for or not.
func TestStartFailsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, pprof := range []string{"", "127.0.0.1:0"} {
		cfg := DefaultConfig()
		cfg.Logger = quietLogger()
		cfg.PprofListen, cfg.MetricsListen = pprof, taken.Addr().String()
		r, err := Start(cfg, "127.0.0.1:0")
		if err == nil {
			r.Close()
			t.Fatalf("pprof %q: Start with the metrics' address taken succeeded", pprof)
		}
	}
}
