// Package rxtime reads sockets with the kernel's receive time of what each read returns, so
// that a latency can end when the bytes reached the machine rather than when a busy process
// got round to reading them.
//
// On Linux a socket asks for the times with SO_TIMESTAMPNS (Enable) and is read with
// recvmsg(2) (Msg), whose control data carries the receive time of the last segment the read
// took. Elsewhere, and for sockets that are not TCP, there is no such time: Conn.Arrived is
// then when the read returned.
//
// A machine's first socket to ask for the times turns them on a little later (the kernel
// defers it to a worker): what it received before has no time. Segments the kernel merged in
// the socket's queue before a read (a later one's bytes, or the peer's FIN) carry the later
// one's time.
package rxtime

import (
	"net"
	"sync/atomic"
	"time"
)

// Conn is a net.Conn whose reads keep the time their bytes arrived. Its Read is for one
// goroutine at a time (as bufio and crypto/tls read), Arrived for any; the rest is the
// wrapped connection's.
type Conn struct {
	net.Conn
	sock    socket       // the kernel's way, when the connection has it
	arrived atomic.Int64 // of the last Read that returned bytes, in Unix nanoseconds; 0: none
}

// NewConn wraps c. A *net.TCPConn on Linux is read with recvmsg(2) and its receive times;
// any other connection with its own Read.
func NewConn(c net.Conn) *Conn {
	rc := &Conn{Conn: c}
	rc.sock.attach(c)
	return rc
}

// Read reads as the wrapped connection's Read does (io.EOF at the end of the stream).
func (c *Conn) Read(b []byte) (int, error) {
	n, at, err := c.sock.read(c.Conn, b)
	if n > 0 {
		if at.IsZero() {
			at = time.Now()
		}
		c.arrived.Store(at.UnixNano())
	}
	return n, err
}

// Arrived is the kernel's receive time of the bytes the last Read returned (of the last
// segment, when they came in several), or the time that Read returned where the kernel gave
// none; the zero Time before any bytes were read. It is the wall clock's time (it carries no
// monotonic reading).
func (c *Conn) Arrived() time.Time {
	if ns := c.arrived.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
