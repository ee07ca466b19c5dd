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

// MetricFirst has one sample a frame: its arrival at the first connection to read it (as
// score_fanout_first is to score_fanout). Frames go out in the order they were due and each
// connection reads its own in order, so a frame's first reader is the first to record a due
// time later than every one recorded before.
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
	on      atomic.Bool  // recording
	latest  atomic.Int64 // the latest due time recorded (Unix ns), for MetricFirst
}

// Dial opens the reader's connections, 64 at a time, and starts reading them; frames are
// recorded once Record is called.
func Dial(ctx context.Context, cfg ReadConfig) (*Reader, error) {
	r := &Reader{cfg: cfg, conns: make([]*websocket.Conn, cfg.Connections), direct: make([]*wsread.Reader, cfg.Connections)}
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
		go r.read(i, d)
	}
	return r, nil
}

// read reads one connection's frames, each whole, and records each.
func (r *Reader) read(i int, d *wsread.Reader) {
	defer r.wg.Done()
	_ = d.Run(func(_ int, frame []byte) bool {
		at := time.Now()
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
		if r.first(due) {
			r.cfg.Recorder.Record(MetricFirst, i, due, due, at)
		}
		return true
	})
}

// first reports whether due is later than every due time recorded before, and records it.
func (r *Reader) first(due time.Time) bool {
	d := due.UnixNano()
	for {
		last := r.latest.Load()
		if d <= last {
			return false
		}
		if r.latest.CompareAndSwap(last, d) {
			return true
		}
	}
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
