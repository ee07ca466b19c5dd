//go:build linux

package rxtime

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Enable asks the kernel to stamp what the socket of sc receives; false if it refused.
func Enable(sc syscall.RawConn) bool {
	var serr error
	if err := sc.Control(func(s uintptr) { serr = unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) }); err != nil {
		return false
	}
	return serr == nil
}

// Msg is one socket's recvmsg(2): the buffer of a read, and room for the kernel's receive
// time (SCM_TIMESTAMPNS), which a read(2) would not return. A Msg is for one goroutine at a
// time.
type Msg struct {
	hdr unix.Msghdr
	iov unix.Iovec
	oob [8]uint64 // the control data; words, so that its headers are aligned
}

// Recv is one raw recvmsg of the non-blocking socket fd into b (not empty), keeping the
// control data for Stamp. The call never waits, so it is made without telling the scheduler
// (syscall.RawSyscall). Unlike syscall.Read it does not tell the race detector of the bytes
// the kernel wrote: b must be the caller's alone meanwhile.
func (m *Msg) Recv(fd uintptr, b []byte) (int, error) {
	m.iov.Base = &b[0]
	m.iov.SetLen(len(b))
	m.hdr.Iov = &m.iov
	m.hdr.SetIovlen(1)
	m.hdr.Control = (*byte)(unsafe.Pointer(&m.oob[0]))
	m.hdr.SetControllen(int(unsafe.Sizeof(m.oob)))
	n, _, errno := syscall.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&m.hdr)), 0)
	m.iov.Base = nil // b may go back to a pool: keep no pointer to it
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// Stamp is the receive time in the control data of the last Recv, or the zero Time when it
// has none.
func (m *Msg) Stamp() time.Time {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&m.oob[0])), min(int(m.hdr.Controllen), int(unsafe.Sizeof(m.oob))))
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		end := int(h.Len)
		if end < unix.CmsgLen(0) || end > len(oob) {
			return time.Time{}
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && end >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			if ts.Sec == 0 && ts.Nsec == 0 { // received before the socket was stamped
				return time.Time{}
			}
			return time.Unix(ts.Unix())
		}
		oob = oob[min(unix.CmsgSpace(end-unix.CmsgLen(0)), len(oob)):]
	}
	return time.Time{}
}

// socket is a Conn's way to its socket: nil sc, the connection's own Read.
type socket struct {
	sc   syscall.RawConn
	rx   Msg
	recv func(uintptr) bool // s.recvOnce, bound once: no allocation a read

	// The read being made (one at a time): its buffer, then what recvmsg returned.
	b   []byte
	n   int
	err error
}

// attach takes c's socket when c is TCP and the kernel stamps it.
func (s *socket) attach(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if sc, err := tc.SyscallConn(); err == nil && Enable(sc) {
		s.sc, s.recv = sc, s.recvOnce
	}
}

// recvOnce is the RawConn's read of s.b: false while the socket is empty.
func (s *socket) recvOnce(fd uintptr) bool {
	for {
		s.n, s.err = s.rx.Recv(fd, s.b)
		switch s.err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until the socket is readable
		}
		return true
	}
}

// read is one Read of c: a recvmsg, waiting in the runtime's network poller (and keeping the
// connection's deadlines) while the socket is empty.
func (s *socket) read(c net.Conn, b []byte) (n int, at time.Time, err error) {
	if s.sc == nil || len(b) == 0 {
		n, err = c.Read(b)
		return n, time.Time{}, err
	}
	s.b, s.n, s.err = b, 0, nil
	err = s.sc.Read(s.recv)
	n, rerr := s.n, s.err
	s.b = nil // the caller's again
	switch {
	case err != nil: // closed, or past the deadline: the RawConn's error is a "raw-read" OpError
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return 0, time.Time{}, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case rerr != nil:
		return 0, time.Time{}, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", rerr)}
	case n == 0:
		return 0, time.Time{}, io.EOF
	}
	return n, s.rx.Stamp(), nil
}
