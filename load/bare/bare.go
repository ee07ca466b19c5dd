// Package bare is the physical limit pkarena's fan-out is measured against: a WebSocket
// broadcaster made of gorilla/websocket and nothing else, and a reader that does nothing
// but timestamp the frames it gets, read straight from the socket as the load generator
// reads its (internal/wsread).
//
// The broadcaster keeps, per connection, one writer goroutine and a bounded queue; it
// publishes frames of FrameBytes, about the size of an onBattleScoreChanged of a two-room
// battle, to every connection at a given rate, each stamped with the moment it was due
// (open model: a late publication is sent late, never skipped). The reader records, per
// frame, the time from that moment to its arrival. No protocol, no checks, no JSON decoding:
// whatever pkarena's stack costs beyond this is the cost of the protocol and its checks.
//
// pkarena-load bench-fanout runs both sides, each in a process of its own, beside the
// reference server and the load generator at the same delivery rate.
package bare

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/load/internal/pace"
)

// FrameBytes is the default size of the frames the broadcaster sends; MinFrameBytes the
// smallest that holds a stamp.
const (
	FrameBytes    = 200
	MinFrameBytes = 64
)

// Path is where the broadcaster serves WebSocket connections.
const Path = "/bare"

// DefaultQueue is the frames a connection's queue holds before a publication skips it.
const DefaultQueue = 1024

// Server is the broadcaster. Its methods are safe for concurrent use.
type Server struct {
	// FrameBytes is the size of every frame Publish sends (FrameBytes by default); set it
	// before Publish.
	FrameBytes int

	queue   int
	up      websocket.Upgrader
	mu      sync.Mutex
	conns   map[*conn]struct{}
	list    atomic.Pointer[[]*conn] // a copy of conns for the publisher, replaced on change
	dropped atomic.Int64
	sent    atomic.Int64
}

// conn is one connection: its writer goroutine takes frames from send until gone closes.
// send is never closed: the publisher may still hold a list with a connection that has left.
type conn struct {
	ws   *websocket.Conn
	send chan []byte
	gone chan struct{} // closed by the reader when the connection ends
}

// NewServer returns a broadcaster whose connections queue up to queue frames (0:
// DefaultQueue).
func NewServer(queue int) *Server {
	if queue <= 0 {
		queue = DefaultQueue
	}
	s := &Server{FrameBytes: FrameBytes, queue: queue, conns: map[*conn]struct{}{}}
	s.list.Store(&[]*conn{})
	return s
}

// ServeHTTP upgrades a connection and serves it until it closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, send: make(chan []byte, s.queue), gone: make(chan struct{})}
	s.change(func() { s.conns[c] = struct{}{} })
	go func() {
		defer ws.Close() // a failed write ends the reader too
		for {
			select {
			case f := <-c.send:
				if ws.WriteMessage(websocket.TextMessage, f) != nil {
					return
				}
				s.sent.Add(1)
			case <-c.gone:
				return
			}
		}
	}()
	for { // the reader: control frames and the end of the connection
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	s.change(func() { delete(s.conns, c) })
	close(c.gone)
}

// change applies f to the connection set and publishes a fresh copy of it.
func (s *Server) change(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.list.Store(&list)
}

// Conns is the number of connections open.
func (s *Server) Conns() int { return len(*s.list.Load()) }

// Sent counts the frames written; Dropped the frames a full queue refused.
func (s *Server) Sent() int64    { return s.sent.Load() }
func (s *Server) Dropped() int64 { return s.dropped.Load() }

// Publish sends one frame to every connection rate times a second until ctx ends, each
// stamped with the moment it was due.
func (s *Server) Publish(ctx context.Context, rate float64) {
	if rate <= 0 {
		return
	}
	period := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for {
		next = next.Add(period)
		if !pace.Until(ctx, next) {
			return
		}
		f := FrameOf(next, s.FrameBytes)
		for _, c := range *s.list.Load() {
			select {
			case c.send <- f:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

// stampKey starts every frame; the stamp (Unix nanoseconds) follows it.
const stampKey = `{"type":"bare","t":`

// Frame returns a frame of FrameBytes stamped with due.
func Frame(due time.Time) []byte { return FrameOf(due, FrameBytes) }

// FrameOf returns a frame of size bytes (at least MinFrameBytes) stamped with due.
func FrameOf(due time.Time, size int) []byte {
	size = max(size, MinFrameBytes)
	f := make([]byte, 0, size)
	f = append(f, stampKey...)
	f = strconv.AppendInt(f, due.UnixNano(), 10)
	f = append(f, `,"pad":"`...)
	for len(f) < size-2 {
		f = append(f, 'x')
	}
	return append(f, `"}`...)
}

// Stamp returns the moment a frame was due, read without decoding the frame.
func Stamp(f []byte) (time.Time, error) {
	if len(f) < len(stampKey) || string(f[:len(stampKey)]) != stampKey {
		return time.Time{}, errors.New("bare: not a broadcaster frame")
	}
	var ns int64
	digits := 0
	for _, b := range f[len(stampKey):] {
		if b < '0' || b > '9' {
			break
		}
		ns = ns*10 + int64(b-'0')
		digits++
	}
	if digits == 0 || digits > 19 {
		return time.Time{}, errors.New("bare: a frame without its stamp")
	}
	return time.Unix(0, ns), nil
}

// Listen serves the broadcaster on addr until ctx ends; ready receives its address.
func (s *Server) Listen(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(Path, s)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if ready != nil {
		ready(ln.Addr())
	}
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
