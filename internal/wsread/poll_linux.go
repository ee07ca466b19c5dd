//go:build linux

package wsread

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pkarena/pkarena/internal/rxtime"
)

// On Linux the Readers of a process share a few epoll instances, pollers, pollersPerProc a
// processor (GOMAXPROCS when the first Reader is made), each read by one goroutine. A poller's
// goroutine waits in the runtime's netpoller on the epoll instance itself (an epoll
// descriptor is readable when one of its sockets is), takes every ready socket at once
// (epoll_wait without waiting) and reads each once, handing over its whole frames.
//
// A goroutine a connection waiting in the netpoller, as the net package and gorilla do, costs
// a frame two reads (the one that returns it and the one that finds the socket empty) and a
// wake-up of its goroutine. Here the sockets are watched level-triggered: one read a frame
// is enough, for a socket with more to read (a frame larger than the buffer, an end of
// stream behind the data) is reported again; and the frames of a fan-out arriving together
// are read by one goroutine woken once.
//
// The handler of every Reader of a poller runs on its goroutine: a handler that waits holds
// up the other connections of its poller (their frames wait in their sockets, none is lost).
// The load generator's handlers do not wait; the pongs and closes a Reader writes back are
// bounded by controlWait.

// poller is one epoll instance and the Readers it watches.
type poller struct {
	epfd int
	file *os.File // the instance as the os package holds it; closing it ends the poller

	mu      sync.Mutex        // guards readers and err
	readers map[int32]*Reader // by their socket's descriptor; nil once the poller failed
	err     error             // why the poller failed

	// rx is the recvmsg of every read (readOnce): the loop's goroutine's alone, which reads
	// one socket at a time, rather than a Reader's (136 bytes a connection).
	rx rxtime.Msg
}

// pollState is a Reader's part in its poller. The fields from fn on are the poller
// goroutine's while the Reader is registered, start's before and whoever ends it after.
type pollState struct {
	p     *poller
	sc    syscall.RawConn // the socket's
	fd    int32
	state atomic.Int32 // new, idle, serving, closeAsked, closedEarly or ended

	fn   func(int, []byte) bool
	end  func(error)   // told Run's result, once, when the state becomes ended
	read func(uintptr) // r.readOnce, bound once: no allocation a read
	buf  *[]byte       // lent by buffers while a frame is half read or bytes are being read
	have int           // bytes at the start of *buf not yet taken by a frame
	got  int           // bytes the last read added
	stop bool          // fn asked to stop
	err  error         // why the connection cannot go on

	arrived time.Time // the kernel's receive time of the bytes the last read returned; zero: none
}

// The states of a Reader (pollState.state).
const (
	stateNew         int32 = iota // not started
	stateIdle                     // waiting for its socket
	stateServing                  // its poller is reading it or in its handler
	stateCloseAsked               // closed while being served: the poller ends it after
	stateClosedEarly              // closed before it started: start ends it
	stateEnded                    // Run's result is told (end)
)

var (
	pollersOnce sync.Once
	pollers     []*poller
	pollersErr  error
	nextPoller  atomic.Uint32
)

// batchSize is the most sockets a poller takes from epoll at once, between two chances for the
// other goroutines to run (about half a millisecond of the load generator's work).
const batchSize = 64

// pollersPerProc is how many pollers a processor has. With one, a thread the system set
// aside (the machine's other processes, the server among them, want the same cores) held up
// every connection of its poller until it ran again, where goroutines a connection would have
// been run by another processor: the fan-out's p99 at 50,000 frames a second was 21–57 ms in
// eight runs, against 12–21 before the pollers; with two or four a processor, 15–24 ms in four.
// Fewer pollers read more sockets a wake-up (measurements/fanout.md).
const pollersPerProc = 2

// sharedPoller returns a poller for a new Reader, the pollers in turn; they are made, and
// their goroutines started, on the first call.
func sharedPoller() (*poller, error) {
	pollersOnce.Do(func() {
		for range pollersPerProc * runtime.GOMAXPROCS(0) {
			p, err := newPoller()
			if err != nil {
				pollersErr = err
				return
			}
			pollers = append(pollers, p)
		}
	})
	if pollersErr != nil {
		return nil, pollersErr
	}
	return pollers[int(nextPoller.Add(1))%len(pollers)], nil
}

// newPoller makes an epoll instance and starts its goroutine. The instance is made
// non-blocking and handed to the os package, which registers it with the runtime's netpoller.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "wsread-epoll")
	sc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &poller{epfd: epfd, file: f, readers: make(map[int32]*Reader)}
	go p.loop(f, sc)
	return p, nil
}

// loop waits for ready sockets and serves them, for ever: the pollers live as long as the
// process. Should the epoll instance fail, every Reader of the poller ends with the error.
func (p *poller) loop(f *os.File, sc syscall.RawConn) {
	defer runtime.KeepAlive(f) // its finalizer would close the instance
	events := make([]syscall.EpollEvent, batchSize)
	var werr error
	err := sc.Read(func(epfd uintptr) bool {
		for {
			n, err := epollWaitNow(epfd, events)
			switch {
			case err == syscall.EINTR:
				continue
			case err != nil:
				werr = os.NewSyscallError("epoll_wait", err)
				return true
			case n == 0:
				return false // wait for the netpoller
			}
			for _, ev := range events[:n] {
				p.serve(ev.Fd)
			}
			// Let the process's other goroutines in between batches: under a steady stream
			// this loop never waits, and the runtime would leave them queued behind it for a
			// time slice (10 ms), the load generator's sender of requests among them.
			runtime.Gosched()
		}
	})
	if werr == nil {
		werr = err
	}
	p.mu.Lock()
	readers := p.readers
	p.readers, p.err = nil, werr
	p.mu.Unlock()
	for _, r := range readers {
		r.endIdle(werr)
	}
}

// serve reads the socket fd once, if a Reader still holds it and is not being closed.
func (p *poller) serve(fd int32) {
	p.mu.Lock()
	r := p.readers[fd]
	p.mu.Unlock()
	if r == nil || !r.poll.state.CompareAndSwap(stateIdle, stateServing) {
		return
	}
	ps := &r.poll
	ps.got = 0
	if ps.sc.Control(ps.read) != nil { // closed before the read: end as a close does
		ps.err = r.closedErr()
	}
	if ps.got > 0 {
		// The frames are handed over outside Control: a handler may close its connection,
		// and a close waits until no Control holds the descriptor.
		r.take()
	}
	if ps.stop || ps.err != nil {
		// The registration goes now, while the descriptor is still the socket's (a failed
		// Control: it is closed, and its registration with it).
		_ = ps.sc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
		p.forget(r)
	}
	r.settle()
}

// settle ends with its poller's or Run's serving of r: r waits for its socket again, or ends
// if fn stopped it, the connection cannot go on, or it was closed meanwhile. It reports
// whether r ended.
func (r *Reader) settle() bool {
	ps := &r.poll
	if !ps.stop && ps.err == nil {
		if ps.state.CompareAndSwap(stateServing, stateIdle) {
			return false
		}
		ps.err = r.closedErr() // closeConn asked meanwhile
	}
	ps.state.Store(stateEnded)
	r.ended()
	return true
}

// endIdle ends r with err if it is waiting for its socket (not served, not ended); it reports
// whether it did.
func (r *Reader) endIdle(err error) bool {
	if !r.poll.state.CompareAndSwap(stateIdle, stateEnded) {
		return false
	}
	r.poll.err = err
	r.ended()
	return true
}

// forget takes r out of the poller's map (the socket's registration goes with its close, or
// serve deletes it).
func (p *poller) forget(r *Reader) {
	p.mu.Lock()
	if p.readers[r.poll.fd] == r {
		delete(p.readers, r.poll.fd)
	}
	p.mu.Unlock()
}

// rawReadable reports whether conn's socket can be read with a system call of our own.
func rawReadable(conn net.Conn) bool {
	_, ok := conn.(*net.TCPConn)
	return ok
}

// attach readies r for its poller; false when there is none (epoll refused) or the socket's
// descriptor cannot be had.
func (r *Reader) attach() bool {
	p, err := sharedPoller()
	if err != nil {
		return false
	}
	sc, err := r.conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false
	}
	fd := int32(-1)
	if sc.Control(func(s uintptr) { fd = int32(s) }) != nil || fd < 0 {
		return false
	}
	r.poll = pollState{p: p, sc: sc, fd: fd}
	r.poll.read = r.readOnce
	// The kernel stamps what the socket receives; without the stamp (refused) a frame's
	// arrival is the moment it is handed over.
	_ = rxtime.Enable(sc)
	return true
}

// arrived is when the kernel received the bytes that completed the frame being handed over,
// or now where it gave no time.
func (r *Reader) arrived() time.Time {
	if t := r.poll.arrived; !t.IsZero() {
		return t
	}
	return time.Now()
}

// start hands the frames read with the handshake to fn and registers the socket with the
// poller, whose goroutine then reads it and calls fn; end is told the result.
func (r *Reader) start(fn func(int, []byte) bool, end func(error)) {
	ps := &r.poll
	ps.fn, ps.end = fn, end
	if !ps.state.CompareAndSwap(stateNew, stateIdle) { // closed before: nothing to read
		ps.err = r.closedErr()
		ps.state.Store(stateEnded)
		r.ended()
		return
	}
	if len(r.pending) > 0 {
		if !ps.state.CompareAndSwap(stateIdle, stateServing) {
			return // closed meanwhile: told already
		}
		b := make([]byte, max(bufferSize, len(r.pending)))
		ps.buf, ps.have, r.pending = &b, copy(b, r.pending), nil
		ps.arrived = r.pendingAt
		r.take()
		if r.settle() {
			return
		}
	}
	p := ps.p
	p.mu.Lock()
	if p.readers == nil {
		err := p.err
		p.mu.Unlock()
		r.endIdle(err)
		return
	}
	p.readers[ps.fd] = r
	p.mu.Unlock()
	var cerr error
	err := ps.sc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: ps.fd}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil && cerr != nil {
		err = os.NewSyscallError("epoll_ctl", cerr)
	}
	if err != nil {
		p.forget(r)
		r.endIdle(err) // unless closeConn has
	}
}

// readOnce reads the socket fd once into the Reader's buffer (got: the bytes read); on the
// poller's goroutine (its recvmsg is the poller's), inside the socket's Control, so fd stays
// the socket's.
func (r *Reader) readOnce(fd uintptr) {
	ps := &r.poll
	if ps.buf == nil {
		ps.buf = buffers.Get().(*[]byte)
	}
	if ps.have == len(*ps.buf) { // a frame larger than the buffer: grow it
		b := append((*ps.buf)[:ps.have], make([]byte, ps.have)...)
		ps.buf = &b
	}
	n, err := ps.p.rx.Recv(fd, (*ps.buf)[ps.have:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR: // reported again if there is more
		if ps.have == 0 {
			putBuffer(ps.buf)
			ps.buf = nil
		}
	case err != nil:
		ps.err = os.NewSyscallError("read", err)
	case n == 0:
		ps.err = errUnexpectedEOF
	default:
		ps.have += n
		ps.got = n
		ps.arrived = ps.p.rx.Stamp()
	}
}

// take hands the bytes held to r.frames and keeps the rest of a half-read frame.
func (r *Reader) take() {
	ps := &r.poll
	used, stop, err := r.frames((*ps.buf)[:ps.have], ps.fn)
	if ps.stop, ps.err = stop, err; stop || err != nil {
		return
	}
	ps.have = copy(*ps.buf, (*ps.buf)[used:ps.have])
	if ps.have == 0 {
		putBuffer(ps.buf)
		ps.buf = nil
	}
}

// ended gives back the buffer and tells Run's result: nil when fn stopped it. The state is
// already stateEnded, set by whoever called (settle, endIdle).
func (r *Reader) ended() {
	ps := &r.poll
	putBuffer(ps.buf)
	ps.buf = nil
	if ps.stop {
		ps.end(nil)
		return
	}
	ps.end(ps.err)
}

// closedErr is the error the socket's RawConn gives once it is closed: what Run returned
// when the connection was closed under it before the pollers (net.ErrClosed).
func (r *Reader) closedErr() error {
	err := r.poll.sc.Read(func(uintptr) bool { return true })
	if err == nil {
		err = net.ErrClosed
	}
	return err
}

// closeConn closes r's connection for its owner (the gorilla connection's Close) and ends Run
// with closedErr, at once if the poller is not serving r, else once it has (before Start,
// Start ends it). The socket's
// registration goes with the descriptor; r leaves the map first, so an event of the socket
// still in a batch finds no Reader.
func (r *Reader) closeConn() error {
	ps := &r.poll
	ps.p.forget(r)
	err := r.conn.Close()
	for {
		switch ps.state.Load() {
		case stateNew:
			if ps.state.CompareAndSwap(stateNew, stateClosedEarly) {
				return err
			}
		case stateIdle:
			if r.endIdle(r.closedErr()) {
				return err
			}
		case stateServing:
			if ps.state.CompareAndSwap(stateServing, stateCloseAsked) {
				return err
			}
		default:
			return err
		}
	}
}

// The pollers' two system calls never wait (a non-blocking socket, an epoll_wait with no
// timeout), so they are made raw, without telling the scheduler: its bookkeeping around a
// call that might block (and the wake-up of its monitor thread that the first such call
// after an idle spell costs) is then not paid for every frame. The load generator spends
// about 4% less CPU a frame at 10,000 frames a second, and the bare reader's fan-out p99 at
// 50,000 is shorter; the generator's is no worse (measurements/fanout.md, 2026-12-06). The
// read is a recvmsg(2), which also returns the kernel's receive time (rxtime.Msg).

// epollWaitNow is syscall.EpollWait with no timeout, made raw (epoll_pwait with no signal
// mask: every Linux port has it).
func epollWaitNow(epfd uintptr, events []syscall.EpollEvent) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
