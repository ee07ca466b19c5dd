package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/fixtures"
	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/protocol"
)

// fakeClock is the request rate limiters' clock in tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A connection over its request rate gets 100012 with the request's id, the request changes
// nothing, the connection stays open, other connections are not limited, and the bucket
// refills at the configured rate (RATE-001). The limiters' clock is a fake one: no waiting.
func TestConnRequestRateLimit(t *testing.T) {
	clock := newFakeClock()
	_, base := newTestServer(t, func(c *Config) {
		c.ConnRequestRate, c.ConnRequestBurst = 10, 5 // a token every 100 ms, 5 at most
		c.now = clock.Now
	})
	a, b, watcher := dial(t, base, "a"), dial(t, base, "b"), dial(t, base, "watcher")
	const (
		ok      = 0
		limited = 100012
	)
	heartbeat := `{"type":"heartbeat","id":"%s"}`
	refused := 0
	for _, step := range []struct {
		name    string
		advance time.Duration // the clock moves first
		from    *rawClient
		frames  []string // sent back to back, each with its id formatted in
		want    []int    // the reply codes, in order
	}{
		{"the burst passes", 0, a, repeat(heartbeat, 5), []int{ok, ok, ok, ok, ok}},
		{"the next request is refused", 0, a, repeat(heartbeat, 1), []int{limited}},
		{"a refused request changes nothing", 0, a, []string{`{"type":"createLive","id":"%s","payload":{"liveID":"r-limited"}}`}, []int{limited}},
		{"malformed frames count too", 0, a, []string{`{"type":"heartbeat","id":""}`}, []int{limited}},
		{"another connection has a bucket of its own", 0, b, repeat(heartbeat, 5), []int{ok, ok, ok, ok, ok}},
		{"100 ms refill one request", 100 * time.Millisecond, a, repeat(heartbeat, 2), []int{ok, limited}},
		{"a second refills the burst, no more", time.Second, a, repeat(heartbeat, 6), []int{ok, ok, ok, ok, ok, limited}},
		{"after a refill the refused createLive works", 100 * time.Millisecond, a, []string{`{"type":"createLive","id":"%s","payload":{"liveID":"r-limited"}}`}, []int{ok}},
	} {
		clock.Advance(step.advance)
		var ids []string
		for i, frame := range step.frames {
			id := fmt.Sprintf("%s-%d", strings.ReplaceAll(step.name, " ", "-"), i)
			if len(id) > maxRequestIDBytes {
				id = id[len(id)-maxRequestIDBytes:]
			}
			if strings.Contains(frame, "%s") {
				frame = fmt.Sprintf(frame, id)
			} else {
				id = ""
			}
			ids = append(ids, id)
			if err := step.from.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
				t.Fatalf("%s: write: %v", step.name, err)
			}
		}
		for i, want := range step.want {
			f := step.from.read()
			for f.Type != protocol.TypeReply { // events of earlier steps
				f = step.from.read()
			}
			if *f.ID != ids[i] || *f.Code != want {
				t.Errorf("%s: reply %d = id %q code %d (%s); want id %q code %d", step.name, i, *f.ID, *f.Code, *f.Message, ids[i], want)
			}
			if want == limited {
				refused++
				if !strings.Contains(*f.Message, "requests per second") || string(f.Payload) != "{}" {
					t.Errorf("%s: refusal message %q payload %s; want the limit named and {}", step.name, *f.Message, f.Payload)
				}
			}
		}
		if step.name == "a refused request changes nothing" {
			var list protocol.FetchLiveListReply
			f := watcher.call(protocol.ReqFetchLiveList, map[string]any{"cursor": "", "count": 10})
			if err := json.Unmarshal(f.Payload, &list); err != nil || len(list.LiveInfoList) != 0 {
				t.Errorf("after a refused createLive the room list is %s (%v); want empty", f.Payload, err)
			}
		}
	}
	if got := value(scrape(t, base), "pkarena_requests_rate_limited_total"); got != float64(refused) {
		t.Errorf("pkarena_requests_rate_limited_total = %v; want %d", got, refused)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// The welcome advertises the request limit and the send queue's byte bound, and still
// matches its JSON Schema (WELCOME-001, RATE-001, CLOSE-002).
func TestWelcomeAdvertisesLimits(t *testing.T) {
	v, err := fixtures.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   protocol.Limits // the fields checked
	}{
		{"defaults", nil, protocol.Limits{SendQueueBytes: 4 << 20, MaxRequestsPerSecond: defaultConnRequestRate, RequestBurst: defaultConnRequestBurst}},
		{"configured", func(c *Config) { c.SendQueueBytes, c.ConnRequestRate, c.ConnRequestBurst = 1<<20, 20, 40 }, protocol.Limits{SendQueueBytes: 1 << 20, MaxRequestsPerSecond: 20, RequestBurst: 40}},
		{"no request limit: 0 and 0", func(c *Config) { c.ConnRequestRate = 0 }, protocol.Limits{SendQueueBytes: 4 << 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newTestServer(t, tt.mutate)
			ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, "w", ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
			_, raw, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.ValidateFrame(raw, ""); err != nil {
				t.Errorf("welcome does not match its schema: %v\n%s", err, raw)
			}
			var f struct {
				Payload protocol.Welcome `json:"payload"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			got := f.Payload.Limits
			if got.SendQueueBytes != tt.want.SendQueueBytes || got.MaxRequestsPerSecond != tt.want.MaxRequestsPerSecond || got.RequestBurst != tt.want.RequestBurst {
				t.Errorf("limits sendQueueBytes %d maxRequestsPerSecond %d requestBurst %d; want %d %d %d",
					got.SendQueueBytes, got.MaxRequestsPerSecond, got.RequestBurst, tt.want.SendQueueBytes, tt.want.MaxRequestsPerSecond, tt.want.RequestBurst)
			}
			for _, key := range []string{`"sendQueueBytes":`, `"maxRequestsPerSecond":`, `"requestBurst":`} {
				if !bytes.Contains(raw, []byte(key)) {
					t.Errorf("welcome has no %s", key)
				}
			}
		})
	}
}

// counterValue reads a counter without a scrape.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// frameOfSize is an event frame whose size() is n bytes.
func frameOfSize(n int) *outFrame {
	f := &outFrame{typ: "x"}
	f.payload = bytes.Repeat([]byte("p"), n-int(f.size()))
	return f
}

// newHubForQueueTests is a hub without sockets: conns are queues nobody writes out, and
// "take" stands for the writer taking a frame out.
func newHubForQueueTests(cfg Config) *hub {
	s := &Server{cfg: cfg, log: quietLogger(), metrics: newMetrics()}
	return newHub(s, core.New(core.Config{MaxConnectedRooms: 9, MaxUsersPerRoom: 50, MaxSeatCount: 16}, realClock{}))
}

// The hub cuts a connection off when a frame would take its queued bytes over SendQueueBytes
// (CLOSE-002), or when its queue holds SendQueueFrames frames (CLOSE-001); frames the writer
// has written no longer count.
func TestSendQueueBounds(t *testing.T) {
	const bound = 1000
	for _, tt := range []struct {
		name   string
		frames int      // SendQueueFrames
		ops    []string // "q<size>": the hub queues a frame; "take": the writer takes the oldest
		cutAt  int      // index of the op that cuts the connection off; -1: none
		bound  string   // the bound that cut it
	}{
		// Up to the byte bound exactly is allowed.
		{"bytes fill exactly", 10, []string{"q400", "q400", "q200"}, -1, ""},
		// One byte over is not.
		{"one byte over", 10, []string{"q400", "q400", "q201"}, 2, boundBytes},
		// A frame larger than the whole bound cuts even an empty queue off.
		{"a frame larger than the bound", 10, []string{"q1001"}, 0, boundBytes},
		// Taken frames free their bytes.
		{"taken bytes are free", 10, []string{"q600", "take", "q600", "take", "q1000"}, -1, ""},
		// Taking frees only what was taken.
		{"only the taken frame is free", 10, []string{"q300", "q600", "take", "q400", "q101"}, 4, boundBytes},
		// The frame bound applies with bytes to spare.
		{"frames full first", 2, []string{"q100", "q100", "q100"}, 2, boundFrames},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SendQueueBytes = bound
			h := newHubForQueueTests(cfg)
			c := &conn{id: 1, queue: newSendQueue(tt.frames, int64(cfg.SendQueueBytes))}
			sess := &session{id: c.id, conn: c}
			c.sess = sess
			h.sessions[sess.id], h.connected = sess, 1
			cut := -1
			for i, op := range tt.ops {
				if op == "take" { // the writer takes the oldest frame and writes it
					b := c.queue.take(nil, 1)
					c.queue.written(1, b[0].f.size())
					continue
				}
				var size int
				fmt.Sscanf(op, "q%d", &size)
				h.enqueue(sess, frameOfSize(size))
				if h.sessions[sess.id] == nil {
					cut = i
					break
				}
			}
			if cut != tt.cutAt {
				t.Fatalf("ops %v with %d bytes, %d frames: cut off at op %d; want %d", tt.ops, bound, tt.frames, cut, tt.cutAt)
			}
			if cut < 0 {
				return
			}
			if c.closeCode != closeSlowConsumer {
				t.Errorf("close code %d; want %d", c.closeCode, closeSlowConsumer)
			}
			for _, b := range []string{boundBytes, boundFrames} {
				want := 0.0
				if b == tt.bound {
					want = 1
				}
				if got := counterValue(h.s.metrics.cutoffs.WithLabelValues(b)); got != want {
					t.Errorf("cutoffs{bound=%s} = %v; want %v", b, got, want)
				}
			}
		})
	}
}

// A client that stops reading is cut off with 4008 by the byte bound, with a frame bound it
// never reaches, while another member of the room keeps getting every frame (CLOSE-002).
func TestByteBoundCutsANonReader(t *testing.T) {
	// 4 KB kernel send buffers: the non-reader's queue fills after tens of seat changes, not
	// thousands, and it has kilobytes to drain before its close frame rather than megabytes.
	_, base := newTestServerSending(t, func(c *Config) {
		c.SendQueueFrames = 1 << 16 // never reached: about 3 KB a frame
		c.SendQueueBytes = minSendQueueBytes
		c.ConnRequestRate = 0
		c.WriteTimeout = time.Minute // the cut-off writer waits for the drain below
		// The two members never send a frame: on a saturated machine the toggles below take
		// longer than the default 15 s, and a heartbeat timeout (4000) must not end them first.
		c.HeartbeatTimeout = 10 * time.Minute
	}, 4096)
	host := dial(t, base, "host")
	if f := host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r", "maxSeatCount": 16}); *f.Code != 0 {
		t.Fatalf("createLive: %s", *f.Message)
	}
	fast := dial(t, base, "fast")
	fast.call(protocol.ReqJoinLive, map[string]string{"liveID": "r"})
	slow := dialNonReader(t, base, "slow", "r")
	// The host's own barrier: slow has joined once its joinLive is counted.
	waitFor(t, func() error {
		if n := value(scrape(t, base), "pkarena_client_frames_received_total", "type=joinLive"); n != 2 {
			return fmt.Errorf("joinLive frames received = %v; want 2", n)
		}
		return nil
	})

	var seatLists atomic.Int64         // seat lists the fast member read, in order; -1: a seq gap
	read := make(chan struct{}, 1<<15) // one token per seat list the fast member read
	readerDone := make(chan struct{})
	go func() { // the fast member reads everything, checking seq, and counts seat lists
		defer close(readerDone)
		for {
			_ = fast.ws.SetReadDeadline(time.Now().Add(waitTimeout))
			_, data, err := fast.ws.ReadMessage()
			if err != nil {
				return
			}
			var f protocol.Frame
			if json.Unmarshal(data, &f) != nil || f.Seq != fast.seq+1 {
				seatLists.Store(-1)
				return
			}
			fast.seq = f.Seq
			if f.Type == protocol.EvSeatListChanged {
				seatLists.Add(1)
				read <- struct{}{}
			}
		}
	}()
	// Each change waits until the reading member has read it, so that only the non-reader
	// falls behind, however starved of CPU the test's own reader is.
	toggles := toggleEach(t, host, 20000, func() bool {
		return value(scrape(t, base), "pkarena_slow_consumer_cutoffs_total", "bound=bytes") == 1
	}, func(int) {
		select {
		case <-read:
		case <-time.After(waitTimeout):
			t.Fatalf("the reading member read no seat list for %v (%d read)", waitTimeout, seatLists.Load())
		}
	})
	if code := closeCodeOf(t, slow); code != closeSlowConsumer {
		t.Errorf("the non-reader's connection ended with %d; want %d", code, closeSlowConsumer)
	}
	fams := scrape(t, base)
	if err := checkMetrics(fams, []metricWant{
		{"pkarena_slow_consumer_cutoffs_total", []string{"bound=bytes"}, 1},
		{"pkarena_slow_consumer_cutoffs_total", []string{"bound=frames"}, 0},
		{"pkarena_connections_closed_total", []string{"code=4008"}, 1},
		{"pkarena_connections_open", nil, 2},
	}); err != nil {
		t.Error(err)
	}
	// The fast member gets every seat list, in order.
	waitFor(t, func() error {
		if n := seatLists.Load(); n != int64(toggles) {
			return fmt.Errorf("the reading member got %d seat lists; want %d (every one, seq without gaps; -1: a gap)", n, toggles)
		}
		return nil
	})
	fast.ws.Close()
	<-readerDone
}

// The new settings are validated, and bound to flags and PKARENA_* variables.
func TestLimitSettings(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring of Validate's error; "" valid
		check   func(Config) bool
	}{
		{"defaults", nil, nil, "", func(c Config) bool {
			return c.SendQueueBytes == 4<<20 && c.ConnRequestRate == defaultConnRequestRate && c.ConnRequestBurst == defaultConnRequestBurst && c.PprofListen == ""
		}},
		{"flags", []string{"-send-queue-bytes", "1048576", "-conn-request-rate", "7", "-conn-request-burst", "9"}, nil, "", func(c Config) bool {
			return c.SendQueueBytes == 1<<20 && c.ConnRequestRate == 7 && c.ConnRequestBurst == 9
		}},
		{"environment", nil, map[string]string{"PKARENA_SEND_QUEUE_BYTES": "2097152", "PKARENA_CONN_REQUEST_RATE": "3", "PKARENA_CONN_REQUEST_BURST": "4"}, "", func(c Config) bool {
			return c.SendQueueBytes == 2<<20 && c.ConnRequestRate == 3 && c.ConnRequestBurst == 4
		}},
		{"flags override the environment", []string{"-conn-request-rate", "8"}, map[string]string{"PKARENA_CONN_REQUEST_RATE": "3"}, "", func(c Config) bool { return c.ConnRequestRate == 8 }},
		{"rate 0 switches the limit off", []string{"-conn-request-rate", "0", "-conn-request-burst", "0"}, nil, "", nil},
		{"admins: blanks trimmed, empty entries dropped", []string{"-admins", " ops , ,admin2,"}, nil, "", func(c Config) bool {
			return slices.Equal(c.AdminIdentifiers, []string{"ops", "admin2"})
		}},
		{"admins from the environment", nil, map[string]string{"PKARENA_ADMINS": "root"}, "", func(c Config) bool {
			return slices.Equal(c.AdminIdentifiers, []string{"root"})
		}},
		{"a byte bound under 64 KiB", []string{"-send-queue-bytes", "65535"}, nil, "send queue bytes", nil},
		{"a negative rate", []string{"-conn-request-rate", "-1"}, nil, "connection request rate", nil},
		{"a rate without a burst", []string{"-conn-request-burst", "0"}, nil, "connection request burst", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := configFrom(t, tt.args, tt.env)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v; want an error about %s", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(cfg) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

// configFrom is the configuration the flags args and the environment env give, as the binary
// builds it, and the flag set.
func configFrom(t *testing.T, args []string, env map[string]string) (Config, *flag.FlagSet) {
	t.Helper()
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if err := cfg.BindFlags(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg.Finish()
	return cfg, fs
}
