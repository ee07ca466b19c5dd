package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// gotHook is one webhook POST a fakeReceiver saw.
type gotHook struct {
	command, event string
}

// fakeReceiver is a webhook receiver under the test's control: it reports every POST on got
// and answers it with status(command), 200 when status is nil. With hold set, each POST
// first waits until hold is closed.
type fakeReceiver struct {
	status func(command string) int
	hold   chan struct{}
	got    chan gotHook

	mu        sync.Mutex
	clientIPs map[string]string // the ClientIP of each EventId's last POST
}

func (f *fakeReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cmd := r.URL.Query().Get("CallbackCommand")
	if f.hold != nil {
		<-f.hold
	}
	f.mu.Lock()
	f.clientIPs[r.Header.Get(HeaderEventID)] = r.URL.Query().Get("ClientIP")
	f.mu.Unlock()
	f.got <- gotHook{cmd, r.Header.Get(HeaderEventID)}
	if f.status != nil {
		w.WriteHeader(f.status(cmd))
	}
}

// newFakeReceiver serves a fakeReceiver for the test's duration and returns it with its URL;
// hold may be nil. The test must read what it gets: 256 POSTs unread block the receiver.
func newFakeReceiver(t testing.TB, status func(string) int, hold chan struct{}) (*fakeReceiver, string) {
	t.Helper()
	f := &fakeReceiver{status: status, hold: hold, got: make(chan gotHook, 256), clientIPs: map[string]string{}}
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	return f, hs.URL
}

// next returns the next POST the receiver sees, failing the test after waitTimeout.
func (f *fakeReceiver) next(t testing.TB, what string) gotHook {
	t.Helper()
	select {
	case h := <-f.got:
		return h
	case <-time.After(waitTimeout):
		t.Fatalf("no webhook after %v: want %s", waitTimeout, what)
		return gotHook{}
	}
}

// clientIP is the ClientIP of the webhook with EventId event, as last posted.
func (f *fakeReceiver) clientIP(event string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clientIPs[event]
}

// failEnd answers 503 to the end webhook and 200 to the others.
func failEnd(cmd string) int {
	if cmd == protocol.HookEndBattle {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// durableHooks configures a server on dir that POSTs its webhooks to url and gives up what
// it could not deliver at once on Close.
func durableHooks(dir, url string) func(*Config) {
	return func(c *Config) {
		c.StateDir, c.WebhookURL = dir, url
		c.WebhookBackoff = 20 * time.Millisecond
		c.ShutdownWebhookWait = 0
	}
}

// waitMetric waits until the server's metric name (with labels) has the value want.
func waitMetric(t testing.TB, base string, want float64, name string, labels ...string) {
	t.Helper()
	waitFor(t, func() error {
		if got := value(scrape(t, base), name, labels...); got != want {
			return fmt.Errorf("%s%v = %v; want %v", name, labels, got, want)
		}
		return nil
	})
}

// waitPending waits until the server's outbox holds want webhooks not yet acknowledged.
func waitPending(t testing.TB, base string, want float64) {
	t.Helper()
	waitMetric(t, base, want, "pkarena_webhook_outbox_pending")
}

// twoRooms connects hosts of rooms from and to and returns them.
func twoRooms(t *testing.T, base, from, to string) {
	t.Helper()
	for _, room := range []string{from, to} {
		if f := dial(t, base, "h-"+room).call(protocol.ReqCreateLive, map[string]any{"liveID": room}); *f.Code != 0 {
			t.Fatalf("createLive %s: %d", room, *f.Code)
		}
	}
}

// restBattle creates a battle of duration ms from room from against room to over REST.
func restBattle(t *testing.T, base, from, to string, ms int) string {
	t.Helper()
	code, resp := restPost(t, base, protocol.APICreateBattle, fmt.Sprintf(`{"FromRoomId":%q,"ToRoomIdList":[%q],"Duration":%d}`, from, to, ms))
	if code != 0 {
		t.Fatalf("create_battle: %d", code)
	}
	return resp["BattleId"].(string)
}

// expect reads the receiver's next POSTs and checks they are want, in order.
func (f *fakeReceiver) expect(t testing.TB, want ...gotHook) {
	t.Helper()
	for i, w := range want {
		if got := f.next(t, w.command+" "+w.event); got != w {
			t.Fatalf("webhook %d: %+v; want %+v", i+1, got, w)
		}
	}
}

// quiet checks the receiver has seen nothing more.
func (f *fakeReceiver) quiet(t testing.TB, why string) {
	t.Helper()
	select { // a webhook already on its way arrives within a short window
	case extra := <-f.got:
		t.Errorf("unexpected webhook %+v: %s", extra, why)
	case <-time.After(200 * time.Millisecond):
	}
}

// A battle that ended by time-up while the receiver answered 503 gets its end webhook after
// a crash and restart, with the same EventId, whether the crash came while the webhook was
// retried or after its attempts ran out; the webhooks the receiver acknowledged before the
// crash are not sent again (issue 13, point 4a).
func TestEndWebhookOfATimeUpSurvivesACrash(t *testing.T) {
	for _, tt := range []struct {
		name   string
		giveUp bool
	}{
		// The crash comes while the end webhook is being retried.
		{"crash while retrying", false},
		// The end webhook ran out of attempts before the crash: kept, counted as deferred.
		{"given up before the crash", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			down, downURL := newFakeReceiver(t, failEnd, nil)
			_, base := newTestServer(t, func(c *Config) {
				durableHooks(dir, downURL)(c)
				if tt.giveUp {
					c.WebhookAttempts, c.WebhookBackoff = 5, time.Millisecond
				}
			})
			twoRooms(t, base, "ra", "rb")
			id := restBattle(t, base, "ra", "rb", 1000) // ends by time-up a second later
			down.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"},
				gotHook{protocol.HookEndBattle, id + "-end"})
			if tt.giveUp {
				waitMetric(t, base, 1, "pkarena_webhook_deliveries_total", "outcome=deferred")
			}
			waitPending(t, base, 1) // create and start acknowledged, the end not

			up, upURL := newFakeReceiver(t, nil, nil)
			_, after := newTestServer(t, durableHooks(crashImage(t, dir), upURL)) // the crash
			up.expect(t, gotHook{protocol.HookEndBattle, id + "-end"})
			waitPending(t, after, 0)
			up.quiet(t, "create and start were acknowledged before the crash")
		})
	}
}

// A battle interrupted by a crash gets its end webhook even when the server restarted after
// the crash crashes too before the receiver acknowledged it (issue 13, point 4b).
func TestEndWebhookSurvivesTwoCrashes(t *testing.T) {
	dir := t.TempDir()
	ok, okURL := newFakeReceiver(t, nil, nil)
	_, base := newTestServer(t, durableHooks(dir, okURL))
	twoRooms(t, base, "ra", "rb")
	id := restBattle(t, base, "ra", "rb", 300000)
	ok.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"})
	waitPending(t, base, 0)

	down, downURL := newFakeReceiver(t, failEnd, nil)
	first := crashImage(t, dir) // the first crash
	_, second := newTestServer(t, durableHooks(first, downURL))
	down.expect(t, gotHook{protocol.HookEndBattle, id + "-end"})
	waitPending(t, second, 1)

	up, upURL := newFakeReceiver(t, nil, nil)
	_, third := newTestServer(t, durableHooks(crashImage(t, first), upURL)) // the second crash
	up.expect(t, gotHook{protocol.HookEndBattle, id + "-end"})
	waitPending(t, third, 0)
	up.quiet(t, "only the end webhook was left")
}

// After a crash, the webhooks left in the outbox go out in the order they happened, before
// the end webhooks of the battles the crash interrupted (HOOK-006): a start the receiver
// refused before the crash comes before its battle's end.
func TestRestartSendsOlderWebhooksFirst(t *testing.T) {
	dir := t.TempDir()
	down, downURL := newFakeReceiver(t, func(cmd string) int {
		if cmd == protocol.HookStartBattle {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}, nil)
	_, base := newTestServer(t, durableHooks(dir, downURL))
	twoRooms(t, base, "ra", "rb")
	id := restBattle(t, base, "ra", "rb", 300000)
	down.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"})
	waitPending(t, base, 1) // the create acknowledged, the start not

	up, upURL := newFakeReceiver(t, nil, nil)
	_, after := newTestServer(t, durableHooks(crashImage(t, dir), upURL)) // the crash
	up.expect(t, gotHook{protocol.HookStartBattle, id + "-start"}, gotHook{protocol.HookEndBattle, id + "-end"})
	waitPending(t, after, 0)
}

// logLines is a slog destination the test reads: one text line per record.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count is how many lines hold every one of parts.
func (l *logLines) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.buf.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// With a state directory a full webhook queue drops nothing: what does not fit waits in the
// outbox and is delivered in order once the receiver answers again. Without one, what does
// not fit is dropped, counted and logged at error, each event by its EventId.
func TestFullWebhookQueue(t *testing.T) {
	for _, tt := range []struct {
		name    string
		durable bool
	}{
		// The outbox keeps what the queue has no room for.
		{"state dir", true},
		// Memory only: the two events that do not fit are dropped.
		{"memory", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hold, holdURL := newFakeReceiver(t, nil, make(chan struct{}))
			logs := &logLines{}
			_, base := newTestServer(t, func(c *Config) {
				c.WebhookURL, c.WebhookQueue = holdURL, 1 // one POST held, one queued
				if tt.durable {
					durableHooks(t.TempDir(), holdURL)(c)
				}
				c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			})
			twoRooms(t, base, "ra", "rb")
			twoRooms(t, base, "rc", "rd")
			b1 := restBattle(t, base, "ra", "rb", 300000)
			b2 := restBattle(t, base, "rc", "rd", 300000)
			all := []gotHook{{protocol.HookCreateBattle, b1 + "-create"}, {protocol.HookStartBattle, b1 + "-start"},
				{protocol.HookCreateBattle, b2 + "-create"}, {protocol.HookStartBattle, b2 + "-start"}}
			want, dropped := all, 0.0
			if tt.durable {
				waitPending(t, base, 4) // two of them in the outbox only
			} else {
				want, dropped = all[:2], 2
				waitMetric(t, base, 2, "pkarena_webhook_deliveries_total", "outcome=dropped")
			}
			close(hold.hold)
			hold.expect(t, want...)
			waitPending(t, base, 0)
			hold.quiet(t, "nothing else was made")
			if got := value(scrape(t, base), "pkarena_webhook_deliveries_total", "outcome=dropped"); got != dropped {
				t.Errorf("webhooks dropped: %v; want %v", got, dropped)
			}
			for _, h := range all[2:] {
				if n := logs.count("level=ERROR", "event="+h.event); n != int(dropped/2) {
					t.Errorf("error lines naming %s: %d; want %v", h.event, n, dropped/2)
				}
			}
		})
	}
}

// A server shut down gracefully records the acknowledgements of the webhooks it delivered
// while it stopped: started again on its directory, it sends none of them again.
func TestGracefulRestartSendsNoAcknowledgedWebhookAgain(t *testing.T) {
	dir := t.TempDir()
	ok, okURL := newFakeReceiver(t, nil, nil)
	srv, base := newTestServer(t, func(c *Config) {
		durableHooks(dir, okURL)(c)
		c.ShutdownWebhookWait = waitTimeout
	})
	twoRooms(t, base, "ra", "rb")
	id := restBattle(t, base, "ra", "rb", 300000)
	srv.Close() // ends the battle: its end webhook is delivered while the server stops
	ok.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"},
		gotHook{protocol.HookEndBattle, id + "-end"})

	again, againURL := newFakeReceiver(t, nil, nil)
	_, after := newTestServer(t, durableHooks(dir, againURL))
	// A REST answer comes after the hub's first offer of what the restart restored, so the
	// pending gauge below is the restored outbox's, not the value it starts with.
	if code, _ := restPost(t, after, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id)); code != 0 {
		t.Fatalf("get_battle_info after the restart: %d", code)
	}
	waitPending(t, after, 0)
	again.quiet(t, "every webhook was acknowledged before the shutdown")
}

// A durable webhook whose attempts ran out is not parked until the next start: after a
// cool-down it is offered again, and delivered once the receiver answers (review of issue 13:
// a receiver down for minutes had its events wait for a restart).
func TestGivenUpWebhookIsSentAgainWithoutARestart(t *testing.T) {
	var ends atomic.Int64
	rcv, url := newFakeReceiver(t, func(cmd string) int {
		if cmd == protocol.HookEndBattle && ends.Add(1) <= 5 {
			return http.StatusServiceUnavailable // every attempt of the first round
		}
		return http.StatusOK
	}, nil)
	_, base := newTestServer(t, func(c *Config) {
		durableHooks(t.TempDir(), url)(c)
		c.WebhookAttempts, c.WebhookBackoff = 5, time.Millisecond
		c.hookRetryAfter = 100 * time.Millisecond
	})
	twoRooms(t, base, "ra", "rb")
	id := restBattle(t, base, "ra", "rb", 1000) // ends by time-up a second later
	end := gotHook{protocol.HookEndBattle, id + "-end"}
	rcv.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"},
		end, end, end, end, end) // five attempts, all refused: given up for now
	waitMetric(t, base, 1, "pkarena_webhook_deliveries_total", "outcome=deferred")
	rcv.expect(t, end) // offered again after the cool-down: delivered
	waitPending(t, base, 0)
}

// A durable webhook leaves the server only once the record of the change that made it is
// synced (RELIABILITY.md, SPEC §20): while the sync of a REST battle's creation is held, the
// receiver gets nothing; once the sync returns, the create and the start follow. A webhook
// posted first would, after a crash in between, be sent again under its EventId with another
// body.
func TestWebhooksWaitForTheirSync(t *testing.T) {
	gate := newGatedSync()
	rcv, url := newFakeReceiver(t, nil, nil)
	_, base := newTestServer(t, func(c *Config) { durableHooks(t.TempDir(), url)(c); c.journalSync = gate.sync })
	twoRooms(t, base, "ra", "rb")
	gate.armed.Store(true)
	created := make(chan string, 1)
	go func() {
		code, resp := restPost(t, base, protocol.APICreateBattle, `{"FromRoomId":"ra","ToRoomIdList":["rb"],"Duration":60000}`)
		id, _ := resp["BattleId"].(string)
		if code != 0 {
			id = ""
		}
		created <- id
	}()
	<-gate.entered // the hub is inside the commit of the battle's record, until release
	select {
	case h := <-rcv.got:
		t.Errorf("webhook %v POSTed while the record that made it was being synced", h)
	case <-time.After(200 * time.Millisecond):
	}
	gate.armed.Store(false)
	close(gate.release)
	id := <-created
	if id == "" {
		t.Fatal("create_battle failed")
	}
	rcv.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"}, gotHook{protocol.HookStartBattle, id + "-start"})
}

// A retry round that finds the webhook queue full offers the rest of the given-up webhooks
// at the next cool-down, not at the next give-up (which may never come): four webhooks are
// given up, then the receiver holds the first POST of the retry round, so that the queue of
// one is full while the round offers the others.
func TestGivenUpWebhooksLeftOverByAFullQueueAreRetried(t *testing.T) {
	const hooks, attempts = 4, 5
	var posts atomic.Int64
	arrived, release := make(chan struct{}), make(chan struct{})
	_, url := newFakeReceiver(t, func(string) int {
		switch n := posts.Add(1); {
		case n <= hooks*attempts:
			return http.StatusServiceUnavailable // the first round: every hook given up
		case n == hooks*attempts+1:
			close(arrived)
			<-release // the sender waits here, holding one hook; the queue holds another
		}
		return http.StatusOK
	}, nil)
	_, base := newTestServer(t, func(c *Config) {
		durableHooks(t.TempDir(), url)(c)
		c.WebhookQueue, c.WebhookAttempts, c.WebhookBackoff = 1, attempts, time.Millisecond
		c.hookRetryAfter = time.Second // the first round ends well before the retry
	})
	twoRooms(t, base, "ra", "rb")
	twoRooms(t, base, "rc", "rd")
	restBattle(t, base, "ra", "rb", 300000)
	restBattle(t, base, "rc", "rd", 300000) // a create and a start webhook each
	waitMetric(t, base, hooks, "pkarena_webhook_deliveries_total", "outcome=deferred")
	select {
	case <-arrived:
	case <-time.After(waitTimeout):
		t.Fatal("no retry round")
	}
	close(release)
	waitPending(t, base, 0) // the hooks the full queue refused went at the next cool-down
	if got := value(scrape(t, base), "pkarena_webhook_deliveries_total", "outcome=delivered"); got != hooks {
		t.Errorf("webhooks delivered: %v; want %d", got, hooks)
	}
}

// The cool-down before given-up webhooks are offered again is webhookRetryAfter unless a test
// shortens it; zero is no setting, not a cool-down of nothing.
func TestHookRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		set, want time.Duration
	}{
		{0, webhookRetryAfter},
		{time.Nanosecond, time.Nanosecond},
		{100 * time.Millisecond, 100 * time.Millisecond},
	} {
		cfg := DefaultConfig()
		cfg.hookRetryAfter = tt.set
		if got := (&hub{s: &Server{cfg: cfg}}).hookRetryAfter(); got != tt.want {
			t.Errorf("hookRetryAfter with %v set = %v; want %v", tt.set, got, tt.want)
		}
	}
}

// A battle requested over the WebSocket makes its create webhook before the battle has a
// journal record of its own (it starts when accepted): durable, that webhook is journaled and
// delivered all the same, and the start's follows the acceptance.
func TestDurableWebhookOfABattleRequestIsDelivered(t *testing.T) {
	rcv, url := newFakeReceiver(t, nil, nil)
	_, base := newTestServer(t, durableHooks(t.TempDir(), url))
	h, g := dial(t, base, "h"), dial(t, base, "g")
	id := requestBattle(t, h, g, 300)
	rcv.expect(t, gotHook{protocol.HookCreateBattle, id + "-create"})
	if f := g.call(protocol.ReqAcceptBattle, map[string]any{"battleID": id}); *f.Code != 0 {
		t.Fatalf("acceptBattle: code %d %s", *f.Code, *f.Message)
	}
	rcv.expect(t, gotHook{protocol.HookStartBattle, id + "-start"})
}

// requestBattle has host h (user "h", room "rh") connect g's room ("rg") and request a battle
// of durationS seconds with it, which g must accept; it returns the battle's ID.
func requestBattle(t *testing.T, h, g *rawClient, durationS int) string {
	t.Helper()
	callAll(t,
		request{h, protocol.ReqCreateLive, map[string]any{"liveID": "rh"}},
		request{g, protocol.ReqCreateLive, map[string]any{"liveID": "rg"}},
		request{h, protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"rg"}, "timeout": 0}},
		request{g, protocol.ReqAcceptConnection, map[string]any{"liveID": "rh"}},
	)
	f := h.call(protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"g"}, "config": map[string]any{"duration": durationS, "needResponse": true}})
	var reply protocol.RequestBattleReply
	if *f.Code != 0 || json.Unmarshal(f.Payload, &reply) != nil {
		t.Fatalf("requestBattle: code %d %s", *f.Code, f.Payload)
	}
	return reply.BattleInfo.BattleID
}

// Each webhook's ClientIP is the address of the client whose request made it (HOOK-001): the
// REST caller's for a battle created over REST, the inviting host's for the creation and the
// accepting host's for the start of one requested over the WebSocket, and empty for an end
// the battle's timer or a lost connection made; kept through the outbox when webhooks are
// durable. Each client connects from a loopback address of its own.
func TestWebhooksCarryTheCallersAddress(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no loopback address but 127.0.0.1 here: %v", err) // macOS, the BSDs
	} else {
		ln.Close()
	}
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable %v", durable), func(t *testing.T) {
			rcv, url := newFakeReceiver(t, nil, nil)
			mutate := func(c *Config) { c.WebhookURL = url }
			if durable {
				mutate = durableHooks(t.TempDir(), url)
			}
			_, base := newTestServer(t, mutate)
			h, g := dialFrom(t, base, "h", "127.0.0.3"), dialFrom(t, base, "g", "127.0.0.4")
			ws := requestBattle(t, h, g, 1)
			rcv.expect(t, gotHook{protocol.HookCreateBattle, ws + "-create"})
			if f := g.call(protocol.ReqAcceptBattle, map[string]any{"battleID": ws}); *f.Code != 0 {
				t.Fatalf("acceptBattle: code %d %s", *f.Code, *f.Message)
			}
			rcv.expect(t, gotHook{protocol.HookStartBattle, ws + "-start"}, gotHook{protocol.HookEndBattle, ws + "-end"})

			x := dialFrom(t, base, "x", "127.0.0.5")
			x.call(protocol.ReqCreateLive, map[string]any{"liveID": "rx"})
			dialFrom(t, base, "y", "127.0.0.5").call(protocol.ReqCreateLive, map[string]any{"liveID": "ry"})
			code, resp := restPostFrom(t, base, protocol.APICreateBattle, `{"FromRoomId":"rx","ToRoomIdList":["ry"],"Duration":300000}`, "127.0.0.2")
			rest, _ := resp["BattleId"].(string)
			if code != 0 || rest == "" {
				t.Fatalf("create_battle: code %d %v", code, resp)
			}
			rcv.expect(t, gotHook{protocol.HookCreateBattle, rest + "-create"}, gotHook{protocol.HookStartBattle, rest + "-start"})
			x.ws.Close() // its host's connection lost: the battle ends
			rcv.expect(t, gotHook{protocol.HookEndBattle, rest + "-end"})

			for event, want := range map[string]string{
				ws + "-create": "127.0.0.3", ws + "-start": "127.0.0.4", ws + "-end": "",
				rest + "-create": "127.0.0.2", rest + "-start": "127.0.0.2", rest + "-end": "",
			} {
				if got := rcv.clientIP(event); got != want {
					t.Errorf("%s: ClientIP %q; want %q", event, got, want)
				}
			}
		})
	}
}

// A webhook's ClientIP is an IP or nothing: the port goes, an address that names no IP (a
// Unix socket's) gives "".
func TestHostOf(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.2:5000": "127.0.0.2", "[::1]:80": "::1", "10.1.2.3": "10.1.2.3",
		"@": "", "": "", "host.example:80": "",
	} {
		if got := hostOf(addr); got != want {
			t.Errorf("hostOf(%q) = %q; want %q", addr, got, want)
		}
	}
}

// With a webhook secret every POST carries a timestamp and its HMAC signature (HOOK-004);
// without one, neither header.
func TestWebhookSignature(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		t.Run(fmt.Sprintf("secret %q", secret), func(t *testing.T) {
			type post struct {
				ts, sig string
				body    []byte
			}
			got := make(chan post, 16)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- post{r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body}
			}))
			defer rcv.Close()
			_, base := newTestServer(t, func(c *Config) { c.WebhookURL, c.WebhookSecret, c.ShutdownWebhookWait = rcv.URL, secret, 0 })
			twoRooms(t, base, "ra", "rb")
			restBattle(t, base, "ra", "rb", 60000)
			var p post
			select {
			case p = <-got:
			case <-time.After(waitTimeout):
				t.Fatal("no webhook")
			}
			if secret == "" {
				if p.ts != "" || p.sig != "" {
					t.Errorf("without a secret: timestamp %q, signature %q; want neither", p.ts, p.sig)
				}
				return
			}
			ts, err := strconv.ParseInt(p.ts, 10, 64)
			if err != nil || p.sig != SignWebhook(secret, ts, p.body) || !strings.HasPrefix(p.sig, "v1=") {
				t.Errorf("timestamp %q, signature %q; want v1=HMAC(secret, timestamp.body)", p.ts, p.sig)
			}
		})
	}
}

// The end webhook of a battle created over REST that a crash interrupted says OptPlatform
// RESTAPI (HOOK-001) when the restarted server sends it: the restore keeps where it came from.
func TestRestoredEndWebhookOfARESTBattleSaysRESTAPI(t *testing.T) {
	dir := t.TempDir()
	_, base := newTestServer(t, func(c *Config) { c.StateDir = dir })
	_, _, id := journalScene(t, base)
	if code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 10)); code != 0 {
		t.Fatalf("set_battle_score: %d", code)
	}
	platforms := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("CallbackCommand") == protocol.HookEndBattle {
			platforms <- r.URL.Query().Get("OptPlatform")
		}
	}))
	defer receiver.Close()
	newTestServer(t, func(c *Config) { c.StateDir = crashImage(t, dir); c.WebhookURL = receiver.URL })
	select {
	case p := <-platforms:
		if p != "RESTAPI" {
			t.Errorf("end webhook of a REST battle after the restart: OptPlatform %q; want RESTAPI", p)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no end webhook after the restart")
	}
}

// A battle made after a restart never takes the ID of one made before it (a battle that never
// started is not journaled, so the restarted server cannot know it): its webhooks' EventIds
// would repeat one a receiver already saw (HOOK-003), and a client's old battleID would name
// it (FAULT-002: a lost battle is unknown).
func TestBattleIDsDoNotRepeatAcrossRestarts(t *testing.T) {
	ids := map[string]bool{}
	for range 2 {
		_, base := newTestServer(t, nil) // the same binary started again: nothing kept
		_, _, id := journalScene(t, base)
		if ids[id] {
			t.Fatalf("the server started again gave its first battle the ID %q of the first server's", id)
		}
		ids[id] = true
	}
}
