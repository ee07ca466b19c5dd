package bare

import (
	"github.com/gorilla/websocket"

	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	if r.Frames() < conns*perConn || r.Invalid() != 0 || s.Dropped() != 0 {
		t.Fatalf("frames %d (want %d), invalid %d, dropped %d", r.Frames(), conns*perConn, r.Invalid(), s.Dropped())
	}
	tot := rec.Finish(time.Now())
	all := tot.Histogram(Metric, metrics.Corrected)
	if all == nil || all.TotalCount() < conns*perConn {
		t.Fatalf("recorded %v samples of %s; want at least %d", all, Metric, conns*perConn)
	}
	// One first arrival a frame: each frame reached at most conns readers.
	first := tot.Histogram(MetricFirst, metrics.Corrected)
	if first == nil || first.TotalCount()*conns < all.TotalCount() || first.TotalCount() > all.TotalCount()/conns+conns {
		t.Fatalf("%v samples of %s beside %d of %s; want one a frame of the %d readers", first, MetricFirst, all.TotalCount(), Metric, conns)
	}
	if first.Min() != all.Min() || first.Max() > all.Max() {
		t.Errorf("%s min %d max %d µs, %s min %d max %d; want no first arrival after the last", MetricFirst, first.Min(), first.Max(), Metric, all.Min(), all.Max())
	}
}

// TestFirstIsTheLatestDue: a frame's first reader is the first to see a due time later than
// any seen, whatever order the readers report in.
func TestFirstIsTheLatestDue(t *testing.T) {
	var r Reader
	at := func(ms int64) time.Time { return time.UnixMilli(1_000_000 + ms) }
	for i, step := range []struct {
		due   int64
		first bool
	}{
		{3, true}, {3, false}, {1, false}, {5, true}, {4, false}, {5, false}, {6, true},
	} {
		if got := r.first(at(step.due)); got != step.first {
			t.Errorf("step %d: first(due %d) = %v; want %v", i, step.due, got, step.first)
		}
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
