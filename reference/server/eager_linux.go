package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// eagerSupported: Linux has ppoll.
const eagerSupported = true

// ppollRead waits in ppoll(2) until rc's socket is readable or until passes, then reads into
// p. ok is false when nothing came in time or the socket could not be used (closed): the
// caller then reads through the poller, which reports a deadline or a close as usual. The
// wait runs inside rc.Read, which holds the descriptor: it is not closed (nor its number
// reused) under the wait.
func ppollRead(rc syscall.RawConn, p []byte, until time.Time) (n int, ok bool, err error) {
	rerr := rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			wait := time.Until(until)
			if wait <= 0 {
				return true
			}
			ts := unix.NsecToTimespec(int64(wait))
			ready, perr := unix.Ppoll(fds, &ts, nil)
			switch {
			case perr == unix.EINTR:
				continue
			case perr != nil || ready == 0:
				return true // the window ended
			}
			m, rerr := unix.Read(int(fd), p)
			switch {
			case rerr == unix.EINTR || rerr == unix.EAGAIN:
				continue // readiness without data: wait again
			case rerr != nil:
				n, ok, err = 0, true, os.NewSyscallError("read", rerr)
			case m == 0:
				n, ok, err = 0, true, io.EOF
			default:
				n, ok = m, true
			}
			return true
		}
	})
	if rerr != nil {
		return 0, false, nil
	}
	return n, ok, err
}

// interruptEager ends a ppollRead waiting on conn's socket: shutting the reading side down
// wakes the wait (it then reads the end of the stream). Nothing else is read from a socket
// about to be closed.
func interruptEager(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) })
}
