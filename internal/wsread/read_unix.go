//go:build unix && !linux

package wsread

import (
	"net"
	"os"
	"syscall"
	"time"
)

// pollState is empty here: each Reader reads on the goroutine that runs it (poll_linux.go
// says what Linux does instead).
type pollState struct{}

// attach has nothing to ready here.
func (r *Reader) attach() bool { return true }

// closeConn closes r's connection; the netpoller wakes Run, which ends with net.ErrClosed.
func (r *Reader) closeConn() error { return r.conn.Close() }

// rawReadable reports whether conn's socket can be read with a system call of our own.
func rawReadable(conn net.Conn) bool {
	_, ok := conn.(*net.TCPConn)
	return ok
}

// start runs the Reader on a goroutine of its own.
func (r *Reader) start(fn func(int, []byte) bool, end func(error)) {
	go func() { end(r.run(fn)) }()
}

// run reads conn inside one syscall.RawConn.Read: its callback reads until the socket is
// empty (EAGAIN), handing over every whole frame, gives the buffer back if no frame is half
// read, and returns false to wait for the netpoller.
//
// It does not stop at a read that left room in the buffer, though the socket was empty then:
// an end of stream (FIN) or a reset that arrived with the data wakes the netpoller once for
// both, and the read that returns the data says nothing of it; waiting then would wait for
// ever. TestReaderSeesTheEndBehindTheData holds that.
func (r *Reader) run(fn func(int, []byte) bool) error {
	sc, err := r.conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var (
		buf  *[]byte // lent by buffers while a frame is half read or bytes are being read
		have int     // bytes at the start of *buf not yet taken by a frame
		stop bool
		ferr error // why the connection cannot go on
	)
	defer func() { putBuffer(buf) }()
	// take hands the bytes held to r.frames and keeps the rest of a half-read frame; it
	// reports whether reading should go on.
	take := func() bool {
		used, s, err := r.frames((*buf)[:have], fn)
		stop, ferr = s, err
		if stop || ferr != nil {
			return false
		}
		have = copy(*buf, (*buf)[used:have])
		if have == 0 {
			putBuffer(buf)
			buf = nil
		}
		return true
	}
	if len(r.pending) > 0 {
		b := make([]byte, max(bufferSize, len(r.pending)))
		buf, have, r.pending = &b, copy(b, r.pending), nil
		if !take() {
			return ferr
		}
	}
	rerr := sc.Read(func(fd uintptr) bool {
		for {
			if buf == nil {
				buf = buffers.Get().(*[]byte)
			}
			if have == len(*buf) { // a frame larger than the buffer: grow it
				b := append((*buf)[:have], make([]byte, have)...)
				buf = &b
			}
			n, err := syscall.Read(int(fd), (*buf)[have:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				if have == 0 {
					putBuffer(buf)
					buf = nil
				}
				return false
			case err != nil:
				ferr = os.NewSyscallError("read", err)
				return true
			case n == 0:
				ferr = errUnexpectedEOF
				return true
			}
			have += n
			if !take() {
				return true
			}
		}
	})
	if stop {
		return nil
	}
	if ferr != nil {
		return ferr
	}
	return rerr
}

// arrived is the time of the call: the kernel's receive time is read on Linux only.
func (r *Reader) arrived() time.Time { return time.Now() }
