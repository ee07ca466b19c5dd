package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Listen listens on addr (TCP, "127.0.0.1:0" picks a free port) for the server's WebSocket
// and REST traffic. Serve its Handler on the listener it returns: its connections give a
// frame that arrived in time its due even when the server is too busy to notice it before
// the read deadline (liveConn).
func (s *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return liveListener{ln, s.eager}, nil
}

// liveListener hands out liveConns, sharing its eager reads among them.
type liveListener struct {
	net.Listener
	eager *eagerPool // nil: none
}

// Accept waits for the next connection.
func (l liveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &liveConn{Conn: c, eager: l.eager}, nil
}

// liveConn is a connection whose reads look at the socket once more before reporting that
// the read deadline passed.
//
// The heartbeat timeout (LIVE-020) is a read deadline. On a starved process the runtime runs
// the deadline's timer before its network poller notices a frame already in the socket: a
// conformance run beside two CPU burners had a client dropped with 4000 while 37 bytes of its
// heartbeat waited in the kernel, the timer having fired 164 ms late. A client must not be
// dropped for the server's own slowness, so a read whose deadline passed tries the socket once
// more with a wait of probeWait; only if nothing is there does the timeout stand. When
// something is, the frame arrived in time, and the read deadline moves on by the window it was
// set with, so that the rest of the frame may follow.
//
// A deadline set in the past (net/http aborting a background read) is not a timeout: no
// second look. The deadline is kept in atomics because net/http sets it from one goroutine
// while another reads.
type liveConn struct {
	net.Conn
	deadline atomic.Int64 // the read deadline last set, Unix nanoseconds; 0: none
	window   atomic.Int64 // how far ahead it was when set, nanoseconds

	// Eager reads (eagerPool): a REST caller's connection waits for its next request in a
	// ppoll of its own while idle. eager is the listener's pool (nil: none); restCaller and
	// idle are set from the handlers' and net/http's goroutines.
	eager      *eagerPool
	restCaller atomic.Bool
	idle       atomic.Bool
	waiting    atomic.Bool // a read waits in ppoll now (Close ends it)

	// Corked writes (cork, uncork): the connection's writer gathers a batch of frames into
	// one write. wmu owns the fields below; it is taken by the writer and, for pongs, by the
	// reader, and held across the flush so that frames leave in the order written.
	wmu       sync.Mutex
	corked    bool
	pending   *[]byte   // the held writes, in a buffer lent from pendingBuffers while corked
	writeDead time.Time // the write deadline set while corked, for the flush
	// writeSet is the write deadline the socket has. gorilla/websocket sets the connection's
	// write deadline before every frame, most often to the value it already has; setting it
	// again costs a timer update in the runtime (about 3% of the server's CPU in a fan-out),
	// so an unchanged deadline is not set again. The zero value is a new socket's: none.
	writeSet time.Time
	// closeSent: a close frame was written (or held): WriteFrame then refuses data frames, as
	// gorilla's own writer refuses them once its WriteControl sent a close (RFC 6455 §5.5.1).
	// The reader's goroutine writes close frames too (gorilla echoes a client's close and
	// answers a frame over the read limit with 1009), so the writer cannot know it otherwise.
	closeSent bool
	// closeCode is the code of the first close frame written (1005 when it carries none):
	// the reader's way to tell a broken frame gorilla answered with 1002, an error that is
	// otherwise a plain one, from a dropped socket (sentClose).
	closeCode int
	// writeErr is the first error writing to the socket. Nothing is written after it, as
	// gorilla's writer wrote nothing after one: a frame cut short by a write deadline leaves
	// the stream unframed, and a close frame after it would be read as part of that frame.
	writeErr error

	// The client's frames, followed through what Read returns once following is set (at the
	// upgrade: followFrames), by the goroutine that reads: the connection's reader, then the
	// linger's.
	following bool
	frames    closeWatch
}

// pendingBuffers lends corked connections the buffers their held writes gather in.
var pendingBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxKeptPending is the largest corked-write buffer given back to pendingBuffers.
const maxKeptPending = 64 << 10

// cork holds the writes that follow until uncork sends them in one write.
func (c *liveConn) cork() {
	c.wmu.Lock()
	c.corked = true
	c.wmu.Unlock()
}

// uncork writes what was held, under the last write deadline set, and stops holding.
func (c *liveConn) uncork() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.corked = false
	if c.pending == nil {
		return nil
	}
	var err error
	if b := *c.pending; len(b) > 0 {
		if err = c.setWriteLocked(c.writeDead); err == nil {
			_, err = c.socketWrite(b)
		}
	}
	if cap(*c.pending) <= maxKeptPending {
		*c.pending = (*c.pending)[:0]
		pendingBuffers.Put(c.pending)
	}
	c.pending = nil
	return err
}

// Write writes p, or holds it while corked. gorilla writes each control frame with one Write,
// header first: one that starts a close frame marks the connection closeSent.
func (c *liveConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) <= maxControlFrame && len(p) > 0 && p[0] == startOfCloseFrame {
		if !c.closeSent {
			c.closeCode = websocket.CloseNoStatusReceived
			if len(p) >= 4 && p[1]&0x7f >= 2 { // a server's frame is not masked
				c.closeCode = int(p[2])<<8 | int(p[3])
			}
		}
		c.closeSent = true
	}
	return c.writeLocked(p)
}

// sentClose is the code of the close frame written on the connection, written out or held
// by a cork, whether or not its write succeeded; 0 when none was.
func (c *liveConn) sentClose() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closeCode
}

// WriteFrame writes p, one whole WebSocket data frame, under the write deadline, or holds it
// while corked; after a close frame it writes nothing and fails with websocket.ErrCloseSent.
func (c *liveConn) WriteFrame(p []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return websocket.ErrCloseSent
	}
	if c.corked {
		c.writeDead = deadline
	} else if err := c.setWriteLocked(deadline); err != nil {
		return err
	}
	_, err := c.writeLocked(p)
	return err
}

// writeLocked writes p, or holds it while corked. wmu is held.
func (c *liveConn) writeLocked(p []byte) (int, error) {
	if c.corked {
		if c.pending == nil {
			c.pending = pendingBuffers.Get().(*[]byte)
		}
		*c.pending = append(*c.pending, p...)
		return len(p), nil
	}
	return c.socketWrite(p)
}

// socketWrite writes p to the socket, keeping the first error (writeErr). wmu is held.
func (c *liveConn) socketWrite(p []byte) (int, error) {
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.writeErr = err
	}
	return n, err
}

// startOfCloseFrame is the first byte of a close frame (FIN, opcode 8); maxControlFrame the
// longest control frame a server writes (two header bytes, at most 125 of payload).
const (
	startOfCloseFrame = 0x80 | websocket.CloseMessage
	maxControlFrame   = 2 + 125
)

// closeWritten reports whether a close frame went out on the connection: one was written, not
// held by a cork, and no write failed (nothing is written after a failure, and a close frame
// whose write failed is not there for the client to answer).
func (c *liveConn) closeWritten() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closeSent && !c.corked && c.writeErr == nil
}

// SetWriteDeadline sets the write deadline, or keeps it for the flush while corked.
func (c *liveConn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.corked {
		c.writeDead = t
		return nil
	}
	return c.setWriteLocked(t)
}

// setWriteLocked gives the socket the write deadline t, unless it has it already. wmu is held.
func (c *liveConn) setWriteLocked(t time.Time) error {
	if t.Equal(c.writeSet) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.writeSet = t
	return nil
}

// probeWait is how long the second look at the socket may wait. Data already in the socket
// comes back at once; the wait only bounds the look.
const probeWait = time.Millisecond

// Read reads, giving data that arrived before the deadline its due (see liveConn), and follows
// the client's frames through what it returns (followFrames). Its own frame is small: a
// connection's reader waits in it, and the smaller the frames it waits in, the smaller its
// stack can shrink.
func (c *liveConn) Read(p []byte) (int, error) {
	if c.eager != nil && c.idle.Load() { // a WebSocket's reads never are idle: one load a read
		if n, ok, err := c.readEagerly(p); ok {
			return n, err
		}
	}
	n, err := c.Conn.Read(p)
	if n == 0 && err != nil {
		n, err = c.lookAgain(p, err)
	}
	if c.following && n > 0 {
		c.frames.feed(p[:n])
	}
	return n, err
}

// lookAgain is Read's second look at the socket after err, when err is the reader's own
// deadline passing.
//
//go:noinline
func (c *liveConn) lookAgain(p []byte, err error) (int, error) {
	window := time.Duration(c.window.Load())
	if window <= 0 || c.deadline.Load() == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, err
	}
	if c.Conn.SetReadDeadline(time.Now().Add(probeWait)) != nil {
		return 0, err
	}
	n, err2 := c.Conn.Read(p)
	if n == 0 {
		_ = c.Conn.SetReadDeadline(time.Unix(0, c.deadline.Load()))
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(window))
	return n, err2
}

// SetReadDeadline sets the read deadline and remembers it.
func (c *liveConn) SetReadDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines and remembers them.
func (c *liveConn) SetDeadline(t time.Time) error {
	c.remember(t)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.writeSet = t
	return nil
}

func (c *liveConn) remember(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
		c.window.Store(0)
		return
	}
	c.deadline.Store(t.UnixNano())
	c.window.Store(int64(time.Until(t)))
}

// CloseWrite shuts the sending side down when the connection can (net/http uses it to end
// a response cleanly).
func (c *liveConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
