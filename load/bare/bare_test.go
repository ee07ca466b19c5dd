package bare

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/load/metrics"
)

func TestFrameCarriesItsStamp(t *testing.T) {
	due := time.Unix(1_765_000_000, 123_456_789)
	f := Frame(due)
	if len(f) != FrameBytes {
		t.Errorf("len(Frame) = %d; want %d", len(f), FrameBytes)
	}
	got, err := Stamp(f)
	if err != nil || !got.Equal(due) {
		t.Errorf("Stamp(Frame(%v)) = %v, %v", due, got, err)
	}
	for _, bad := range []string{"", `{"type":"bare","t":}`, `{"type":"other","t":1}`, `{"type":"bare","t":12345678901234567890}`} {
		if _, err := Stamp([]byte(bad)); err == nil {
			t.Errorf("Stamp(%q) accepted", bad)
		}
	}
}

// Every connection gets every publication, stamped, and the reader records each.
func TestBroadcastReachesEveryReader(t *testing.T) {
	const conns, perConn = 5, 20
	s := NewServer(0)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	rec := metrics.NewRecorder(metrics.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Dial(ctx, ReadConfig{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + Path, Connections: conns, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for s.Conns() < conns && ctx.Err() == nil {
		time.Sleep(time.Millisecond) // the server registers each connection after the handshake
	}
	r.Record(true)
	pub, stop := context.WithCancel(ctx)
	go s.Publish(pub, 200)
	for r.Frames() < conns*perConn && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	r.Close() // nothing is recorded after: a frame is counted whole, or in r.firsts
	if r.Frames() < conns*perConn || r.Invalid() != 0 || s.Dropped() != 0 {
		t.Fatalf("frames %d (want %d), invalid %d, dropped %d", r.Frames(), conns*perConn, r.Invalid(), s.Dropped())
	}
	var partial int64 // arrivals of the frames some reader had not read when they stopped
	for _, a := range r.firsts {
		partial += int64(a.got)
	}
	tot := rec.Finish(time.Now())
	all := tot.Histogram(Metric, metrics.Corrected)
	if all == nil || all.TotalCount() < conns*perConn {
		t.Fatalf("recorded %v samples of %s; want at least %d", all, Metric, conns*perConn)
	}
	// One first arrival a frame: each frame reached at most conns readers.
	first := tot.Histogram(MetricFirst, metrics.Corrected)
	if first == nil || first.TotalCount()*conns+partial != all.TotalCount() {
		var n int64
		if first != nil {
			n = first.TotalCount()
		}
		t.Fatalf("%d samples of %s beside %d of %s, %d of them of frames some reader had not read; want one a frame every one of the %d readers read",
			n, MetricFirst, all.TotalCount(), Metric, partial, conns)
	}
	if first.Min() != all.Min() || first.Max() > all.Max() {
		t.Errorf("%s min %d max %d µs, %s min %d max %d; want no first arrival after the last", MetricFirst, first.Min(), first.Max(), Metric, all.Min(), all.Max())
	}
}

// TestFirstIsTheEarliestArrival: a frame's first arrival is the earliest of its connections',
// told once all of them have it, whatever order they are handed over in; a frame some
// connection never got is told, with the arrivals it had, once a frame due more than
// staleAfter later has reached them all.
func TestFirstIsTheEarliestArrival(t *testing.T) {
	r := Reader{cfg: ReadConfig{Connections: 3}, firsts: map[int64]*arrival{}}
	due := func(ms int64) time.Time { return time.UnixMilli(1_000_000 + ms) }
	at := func(ms int64) time.Time { return due(ms).Add(5 * time.Millisecond) }
	for i, step := range []struct {
		due, at int64   // ms
		want    []int64 // the frames told (their due times), each with its earliest arrival below
		first   []int64
	}{
		{3, 3, nil, nil},
		{1, 2, nil, nil}, // a connection's frame 1 dropped: only two of three get it
		{5, 6, nil, nil},
		{3, 1, nil, nil}, // handed over later, arrived earlier
		{3, 2, []int64{3}, []int64{1}},
		{1, 1, nil, nil},
		{5, 5, nil, nil},
		{5, 7, []int64{5}, []int64{5}}, // frame 1 is only 4 ms older: not yet stale
		{1001, 1001, nil, nil},
		{1001, 1001, nil, nil},
		{1001, 1001, []int64{1001}, []int64{1001}}, // frame 1 is staleAfter older exactly: not yet
		{1002, 1002, nil, nil},
		{1002, 1002, nil, nil},
		{1002, 1003, []int64{1002, 1}, []int64{1002, 1}}, // a millisecond more: stale, told as it stands
	} {
		got := r.arrived(due(step.due), at(step.at))
		if len(got) != len(step.want) {
			t.Fatalf("step %d: arrived(due %d, at %d) told %v; want frames %v", i, step.due, step.at, got, step.want)
		}
		for k, f := range got {
			if !f.due.Equal(due(step.want[k])) || !f.first.Equal(at(step.first[k])) {
				t.Errorf("step %d: told %v; want frame %d first at %d", i, f, step.want[k], step.first[k])
			}
		}
	}
	if len(r.firsts) != 0 {
		t.Errorf("%d frames left untold; want none", len(r.firsts))
	}
}

// TestReadersLeavingWhilePublishing: connections that end while frames go out leave the
// broadcaster publishing to the others (it once sent on a leaving connection's closed queue
// and crashed).
func TestReadersLeavingWhilePublishing(t *testing.T) {
	const leaving = 300
	s := NewServer(4)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + Path
	dial := func() *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	stay := dial()
	defer stay.Close()
	var gone []*websocket.Conn
	for range leaving {
		gone = append(gone, dial())
	}
	for s.Conns() < leaving+1 {
		time.Sleep(time.Millisecond) // the server registers each connection after the handshake
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.Publish(ctx, 20000) // a publication every 50 µs: one is under way as each leaves
	time.Sleep(10 * time.Millisecond)
	for _, ws := range gone {
		ws.Close()
	}
	for s.Conns() > 1 {
		time.Sleep(time.Millisecond)
	}
	_ = stay.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 100; i++ { // frames still reach the connection that stayed
		if _, _, err := stay.ReadMessage(); err != nil {
			t.Fatalf("frame %d after the others left: %v", i, err)
		}
	}
}

// TestNothingToPublish: a rate of nothing (0 or below) publishes nothing and returns at once
// rather than dividing by it; a queue of 0 or below is DefaultQueue.
func TestNothingToPublish(t *testing.T) {
	for _, rate := range []float64{0, -1} {
		done := make(chan struct{})
		go func() { NewServer(0).Publish(context.Background(), rate); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Publish at rate %v did not return within 10 s", rate)
		}
	}
	for _, q := range []int{0, -3} {
		if got := NewServer(q).queue; got != DefaultQueue {
			t.Errorf("NewServer(%d) queues %d; want DefaultQueue (%d)", q, got, DefaultQueue)
		}
	}
	if got := NewServer(5).queue; got != 5 {
		t.Errorf("NewServer(5) queues %d; want 5", got)
	}
}

// TestDialTakesSourceAddressesInTurn: connection i dials from SourceIPs[i mod n], so that
// more connections than one address has ports for spread evenly over all of them.
func TestDialTakesSourceAddressesInTurn(t *testing.T) {
	sources := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	for _, ip := range sources {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Skipf("cannot bind %s here (%v): loopback has one address", ip, err)
		}
		l.Close()
	}
	var mu sync.Mutex
	from := map[string]int{}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host, _, _ := net.SplitHostPort(req.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
		if ws, err := up.Upgrade(w, req, nil); err == nil {
			t.Cleanup(func() { ws.Close() })
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const conns = 7
	r, err := Dial(ctx, ReadConfig{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + Path, Connections: conns, SourceIPs: sources,
		Recorder: metrics.NewRecorder(metrics.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"127.0.0.2": 3, "127.0.0.3": 2, "127.0.0.4": 2}
	if !maps.Equal(from, want) {
		t.Errorf("connections by source address %v; want %v", from, want)
	}
}
