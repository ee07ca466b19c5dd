package bare

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/wsread"
	"github.com/pkarena/pkarena/load/metrics"
)

// Metric is the name the reader records its latencies under: from the moment a frame was due
// at the broadcaster to its arrival.
const Metric = "bare_fanout"

// MetricFirst has one sample a frame: its earliest arrival at any connection (as
// score_fanout_first is to score_fanout), recorded once every connection has it. The frames
// of many connections are handed over in no particular order, so the first handed over
// need not be the first to arrive.
const MetricFirst = "bare_fanout_first"

// ReadConfig says what the reader connects to and how long it measures.
type ReadConfig struct {
	URL         string   // the broadcaster, ws://host:port/bare
	Connections int      // connections to hold
	SourceIPs   []string // local addresses to dial from, in turn (empty: the system's choice)
	Recorder    *metrics.Recorder
}

// Reader holds the connections of a ReadConfig and records every frame they get.
type Reader struct {
	cfg     ReadConfig
	conns   []*websocket.Conn
	direct  []*wsread.Reader // the reader of each connection's socket
	wg      sync.WaitGroup
	frames  atomic.Int64
	invalid atomic.Int64
	on      atomic.Bool // recording

	mu     sync.Mutex         // guards firsts
	firsts map[int64]*arrival // the frames not every connection has yet, by due time (Unix ns)
}

// arrival is how far one frame has reached the connections.
type arrival struct {
	got   int       // connections that have it
	first time.Time // the earliest of their arrivals
}

// staleAfter is how long after a later frame has reached every connection an earlier one
// that has not (a connection's queue was full) is recorded with the arrivals it had.
const staleAfter = time.Second

// Dial opens the reader's connections, 64 at a time, and starts reading them; frames are
// recorded once Record is called.
func Dial(ctx context.Context, cfg ReadConfig) (*Reader, error) {
	r := &Reader{cfg: cfg, conns: make([]*websocket.Conn, cfg.Connections), direct: make([]*wsread.Reader, cfg.Connections), firsts: map[int64]*arrival{}}
	work := make(chan int)
	errs := make(chan error, cfg.Connections)
	var dials sync.WaitGroup
	for w := 0; w < 64; w++ {
		dials.Add(1)
		go func() {
			defer dials.Done()
			for i := range work {
				// Frames are read as the load generator reads them (internal/wsread, buffers of
				// 2 KB): both read a frame of the same size in as many system calls.
				nd := &net.Dialer{}
				if n := len(cfg.SourceIPs); n > 0 {
					nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.SourceIPs[i%n])}
				}
				d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 512, NetDialContext: nd.DialContext}
				ws, rd, _, err := wsread.Dial(ctx, d, cfg.URL)
				if err != nil {
					errs <- fmt.Errorf("bare: dial %s: %w", cfg.URL, err)
					continue
				}
				r.conns[i], r.direct[i] = ws, rd
				if rd == nil {
					errs <- fmt.Errorf("bare: %s: the connection's socket cannot be read directly", cfg.URL)
				}
			}
		}()
	}
	for i := range r.conns {
		work <- i
	}
	close(work)
	dials.Wait()
	close(errs)
	if err := <-errs; err != nil {
		r.Close()
		return nil, err
	}
	for i, d := range r.direct {
		r.wg.Add(1)
		r.read(i, d)
	}
	return r, nil
}

// read starts reading one connection's frames, each whole, recording each, on no goroutine of
// the connection's own, as the load generator's client does (wsread.Reader.Start).
func (r *Reader) read(i int, d *wsread.Reader) {
	d.Start(func(_ int, frame []byte) bool {
		at := d.Arrived()
		if !r.on.Load() {
			return true
		}
		due, err := Stamp(frame)
		if err != nil {
			r.invalid.Add(1)
			return true
		}
		r.frames.Add(1)
		r.cfg.Recorder.Record(Metric, i, due, due, at)
		for _, f := range r.arrived(due, at) {
			r.cfg.Recorder.Record(MetricFirst, i, f.due, f.due, f.first)
		}
		return true
	}, func(error) { r.wg.Done() })
}

// firstArrival is a frame's due time and its earliest arrival.
type firstArrival struct{ due, first time.Time }

// arrived counts the frame due at due as arrived at one more connection, at at, and returns
// the first arrivals now known: the frame's once every connection has it, with those of
// earlier frames some connection never got (staleAfter).
func (r *Reader) arrived(due, at time.Time) []firstArrival {
	d := due.UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.firsts[d]
	if a == nil {
		a = &arrival{first: at}
		r.firsts[d] = a
	}
	a.got++
	if at.Before(a.first) {
		a.first = at
	}
	if a.got < r.cfg.Connections {
		return nil
	}
	out := []firstArrival{{due, a.first}}
	delete(r.firsts, d)
	for od, oa := range r.firsts {
		if od < d-int64(staleAfter) {
			out = append(out, firstArrival{time.Unix(0, od), oa.first})
			delete(r.firsts, od)
		}
	}
	return out
}

// Record starts (true) or stops (false) counting and recording frames.
func (r *Reader) Record(on bool) { r.on.Store(on) }

// Frames counts the frames recorded; Invalid those that were not the broadcaster's.
func (r *Reader) Frames() int64  { return r.frames.Load() }
func (r *Reader) Invalid() int64 { return r.invalid.Load() }

// Close closes every connection and waits for the readers.
func (r *Reader) Close() {
	for _, ws := range r.conns {
		if ws != nil {
			ws.Close()
		}
	}
	r.wg.Wait()
}
