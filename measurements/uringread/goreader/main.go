//go:build linux

// Command goreader is the Go half of measurements/uringread: a reader of WebSocket frames on
// one goroutine locked to its thread, reading every socket through epoll and recvmsg(2), or
// through an io_uring with a multishot recvmsg a socket, so that the two ways of reading can
// be told apart from the rest of the load generator's work (its pollers in the runtime's
// netpoller, handlers, timers). It asks each socket for the kernel's receive time, as the
// load generator does, and checks it got frames and times; run.sh measures its CPU.
//
//	goreader epoll|uring HOST:PORT PATH CONNECTIONS SECONDS
package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: goreader epoll|uring HOST:PORT PATH CONNECTIONS SECONDS")
		os.Exit(2)
	}
	addr, err := netip.ParseAddrPort(os.Args[2])
	n, nerr := strconv.Atoi(os.Args[4])
	secs, serr := strconv.ParseFloat(os.Args[5], 64)
	if err != nil || nerr != nil || serr != nil || n < 1 || !addr.Addr().Is4() {
		fmt.Fprintln(os.Stderr, "goreader: bad arguments")
		os.Exit(2)
	}
	runtime.LockOSThread() // an io_uring set up for one issuer takes calls from its thread only
	conns := make([]conn, n)
	for i := range conns {
		if conns[i].fd, err = dial(addr, os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "goreader:", err)
			os.Exit(3)
		}
	}
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	switch os.Args[1] {
	case "epoll":
		err = readEpoll(conns, end)
	case "uring":
		err = readUring(conns, end)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err == nil && (frames == 0 || stamps == 0) {
		err = fmt.Errorf("%d frames, %d receive times", frames, stamps)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "goreader:", err)
		os.Exit(1)
	}
	fmt.Printf("goreader %s: %d frames, %d receive times\n", os.Args[1], frames, stamps)
}

var frames, stamps int64

// conn is one connection and its place in its frame stream: the header bytes seen of the
// next frame, or the payload bytes still to skip.
type conn struct {
	fd         int
	hdr        [10]byte
	have, skip int
}

// consume counts the frames that end in p (server frames: unmasked, no extensions).
func (c *conn) consume(p []byte) {
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(len(p), c.skip)
			c.skip -= k
			p = p[k:]
			if c.skip == 0 {
				frames++
			}
			continue
		}
		c.hdr[c.have] = p[0]
		c.have++
		p = p[1:]
		want, size := 2, int(c.hdr[1]&127)
		switch size {
		case 126:
			want = 4
		case 127:
			want = 10
		}
		if c.have < want {
			continue
		}
		switch size {
		case 126:
			size = int(binary.BigEndian.Uint16(c.hdr[2:4]))
		case 127:
			size = int(binary.BigEndian.Uint64(c.hdr[2:10]))
		}
		c.have, c.skip = 0, size
		if size == 0 {
			frames++
		}
	}
}

// stamp takes the kernel's receive time from a message's control data.
func stamp(ctl []byte) {
	for len(ctl) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		if h.Len < syscall.SizeofCmsghdr || int(h.Len) > len(ctl) {
			return
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && int(h.Len) >= syscall.SizeofCmsghdr+16 {
			stamps++
		}
		ctl = ctl[(int(h.Len)+7)&^7:]
	}
}

// dial opens a WebSocket connection, leaving its first frame in the socket.
func dial(addr netip.AddrPort, path string) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		return -1, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr.String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := syscall.Write(fd, []byte(req)); err != nil {
		return -1, err
	}
	var got []byte
	b := make([]byte, 1)
	for len(got) < 4 || string(got[len(got)-4:]) != "\r\n\r\n" { // a byte at a time
		if k, err := syscall.Read(fd, b); err != nil || k != 1 || len(got) > 4096 {
			return -1, fmt.Errorf("handshake: %v", err)
		}
		got = append(got, b[0])
	}
	if len(got) < 12 || string(got[:12]) != "HTTP/1.1 101" {
		return -1, fmt.Errorf("handshake refused: %q", got)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return -1, err
	}
	return fd, syscall.SetNonblock(fd, true)
}

// readEpoll waits in epoll_wait and reads each ready socket once with recvmsg.
func readEpoll(conns []conn, end time.Time) error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	for i := range conns {
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, conns[i].fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}); err != nil {
			return err
		}
	}
	buf, oob := make([]byte, 65536), make([]byte, 128)
	events := make([]syscall.EpollEvent, 256)
	for time.Now().Before(end) {
		k, err := syscall.EpollWait(ep, events, 100)
		if err == syscall.EINTR {
			continue
		} else if err != nil {
			return err
		}
		for _, ev := range events[:k] {
			c := &conns[ev.Fd]
			r, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, 0)
			if err == nil && r > 0 {
				stamp(oob[:oobn])
				c.consume(buf[:r])
			}
		}
	}
	return nil
}

// The io_uring ABI (linux/io_uring.h) as far as readUring uses it.
const (
	sysIOUringSetup    = 425
	sysIOUringEnter    = 426
	sysIOUringRegister = 427

	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	featSingleMmap    = 1 << 0
	offSQRing         = 0
	offCQRing         = 0x8000000
	offSQEs           = 0x10000000
	opRecvmsg         = 10
	recvMultishot     = 1 << 1
	sqeBufferSelect   = 1 << 5
	enterGetevents    = 1 << 0
	enterExtArg       = 1 << 3
	cqeBuffer         = 1 << 0
	cqeMore           = 1 << 1
	cqeBufferShift    = 16
	registerPbufRing  = 22
)

type sqOffsets struct {
	Head, Tail, Mask, Entries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                uint64
}

type cqOffsets struct {
	Head, Tail, Mask, Entries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                uint64
}

type uringParams struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFd uint32
	Resv                                                                   [3]uint32
	SQ                                                                     sqOffsets
	CQ                                                                     cqOffsets
}

type uringSQE struct {
	Opcode, Flags  uint8
	Ioprio         uint16
	Fd             int32
	Off, Addr      uint64
	Len, MsgFlags  uint32
	UserData       uint64
	BufGroup       uint16
	Personality    uint16
	SpliceFdIn     int32
	Addr3, Padding uint64
}

type uringCQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

type bufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Flags       uint16
	Resv        [3]uint64
}

type getEventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	MinWait   uint32
	Ts        uint64
}

// ring is an io_uring set up for one issuer with deferred task work: the receives a socket's
// data starts run when this thread asks for completions, all of them in one call.
type ring struct {
	fd          int
	sqTail      *uint32
	sqMask      uint32
	sqArray     []uint32
	sqes        []uringSQE
	cqHead      *uint32
	cqTail      *uint32
	cqMask      uint32
	cqes        []uringCQE
	toSubmit    uint32
	bufRing     []byte // the provided buffers' ring: 16 bytes an entry, its tail in the first's last two
	bufs        []byte
	bufTail     uint16
	msg         syscall.Msghdr // what every receive is told: the room kept for control data
	timeout     syscall.Timespec
	wait        getEventsArg // enter's: on the heap, where the kernel's pointers stay put
	ctlRoom     int
	nbuf, bsize int
}

func mmap(fd int, off int64, size int) ([]byte, error) {
	return syscall.Mmap(fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
}

func newRing(entries uint32) (*ring, error) {
	p := uringParams{Flags: setupSingleIssuer | setupDeferTaskrun}
	fd, _, errno := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	r := &ring{fd: int(fd), nbuf: 4096, bsize: 4096, ctlRoom: 64}
	sqSize := int(p.SQ.Array + p.SQEntries*4)
	cqSize := int(p.CQ.Cqes + p.CQEntries*uint32(unsafe.Sizeof(uringCQE{})))
	sq, err := mmap(r.fd, offSQRing, max(sqSize, cqSize))
	if err != nil {
		return nil, err
	}
	cq := sq
	if p.Features&featSingleMmap == 0 {
		if cq, err = mmap(r.fd, offCQRing, cqSize); err != nil {
			return nil, err
		}
	}
	sqes, err := mmap(r.fd, offSQEs, int(p.SQEntries)*int(unsafe.Sizeof(uringSQE{})))
	if err != nil {
		return nil, err
	}
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.SQ.Tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&sq[p.SQ.Mask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.SQ.Array])), p.SQEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&sqes[0])), p.SQEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.CQ.Head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.CQ.Tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.CQ.Mask]))
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&cq[p.CQ.Cqes])), p.CQEntries)

	anon := func(size int) ([]byte, error) {
		return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	}
	if r.bufRing, err = anon(r.nbuf * 16); err != nil {
		return nil, err
	}
	if r.bufs, err = anon(r.nbuf * r.bsize); err != nil {
		return nil, err
	}
	reg := bufReg{RingAddr: uint64(uintptr(unsafe.Pointer(&r.bufRing[0]))), RingEntries: uint32(r.nbuf), Bgid: 1}
	if _, _, errno := syscall.Syscall6(sysIOUringRegister, fd, registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); errno != 0 {
		return nil, os.NewSyscallError("io_uring_register", errno)
	}
	for bid := range r.nbuf {
		r.giveBack(bid)
	}
	r.publishBuffers()
	r.msg.Controllen = uint64(r.ctlRoom)
	return r, nil
}

// giveBack puts buffer bid in the provided ring again (seen by the kernel once published).
func (r *ring) giveBack(bid int) {
	e := r.bufRing[int(r.bufTail)%r.nbuf*16:]
	binary.NativeEndian.PutUint64(e, uint64(uintptr(unsafe.Pointer(&r.bufs[bid*r.bsize]))))
	binary.NativeEndian.PutUint32(e[8:], uint32(r.bsize))
	binary.NativeEndian.PutUint16(e[12:], uint16(bid))
	r.bufTail++
}

func (r *ring) publishBuffers() {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&r.bufRing[12])),
		uint32(binary.NativeEndian.Uint16(r.bufRing[12:]))|uint32(r.bufTail)<<16)
}

// recvMultishot queues a multishot recvmsg of connection i's socket.
func (r *ring) recvMultishot(fd, i int) {
	t := atomic.LoadUint32(r.sqTail)
	k := t & r.sqMask
	r.sqes[k] = uringSQE{Opcode: opRecvmsg, Flags: sqeBufferSelect, Ioprio: recvMultishot, Fd: int32(fd),
		Addr: uint64(uintptr(unsafe.Pointer(&r.msg))), Len: 1, UserData: uint64(i), BufGroup: 1}
	r.sqArray[k] = k
	atomic.StoreUint32(r.sqTail, t+1)
	r.toSubmit++
}

// enter submits what is queued and waits up to 100 ms for a completion.
func (r *ring) enter() error {
	r.timeout = syscall.NsecToTimespec(int64(100 * time.Millisecond))
	r.wait = getEventsArg{Ts: uint64(uintptr(unsafe.Pointer(&r.timeout)))}
	_, _, errno := syscall.Syscall6(sysIOUringEnter, uintptr(r.fd), uintptr(r.toSubmit), 1,
		enterGetevents|enterExtArg, uintptr(unsafe.Pointer(&r.wait)), unsafe.Sizeof(r.wait))
	r.toSubmit = 0
	if errno != 0 && errno != syscall.ETIME && errno != syscall.EINTR {
		return os.NewSyscallError("io_uring_enter", errno)
	}
	return nil
}

// readUring arms a multishot recvmsg a socket and reaps their completions.
func readUring(conns []conn, end time.Time) error {
	r, err := newRing(4096)
	if err != nil {
		return err
	}
	for i := range conns {
		r.recvMultishot(conns[i].fd, i)
	}
	for time.Now().Before(end) {
		if err := r.enter(); err != nil {
			return err
		}
		h, t := *r.cqHead, atomic.LoadUint32(r.cqTail)
		for ; h != t; h++ {
			cqe := &r.cqes[h&r.cqMask]
			i := int(cqe.UserData)
			switch {
			case cqe.Res > 0 && cqe.Flags&cqeBuffer != 0:
				bid := int(cqe.Flags >> cqeBufferShift)
				b := r.bufs[bid*r.bsize : bid*r.bsize+int(cqe.Res)]
				// io_uring_recvmsg_out: name, control and payload lengths, then the name's
				// room (none asked for), the control data's room, the payload.
				ctl := int(binary.NativeEndian.Uint32(b[4:]))
				payload := int(binary.NativeEndian.Uint32(b[8:]))
				if payload == 0 { // a multishot recvmsg's end of stream: a header, no payload
					return fmt.Errorf("connection %d ended", i)
				}
				stamp(b[16 : 16+ctl])
				conns[i].consume(b[16+r.ctlRoom : 16+r.ctlRoom+payload])
				r.giveBack(bid)
			case cqe.Res < 0 && cqe.Res != -int32(syscall.ENOBUFS):
				return fmt.Errorf("recvmsg of connection %d: %w", i, syscall.Errno(-cqe.Res))
			}
			if cqe.Flags&cqeMore == 0 { // the kernel stopped this receive (out of buffers): again
				r.recvMultishot(conns[i].fd, i)
			}
		}
		atomic.StoreUint32(r.cqHead, h)
		r.publishBuffers()
	}
	return nil
}
