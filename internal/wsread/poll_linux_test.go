package wsread

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/tcptest"
)

// registered reports whether r's socket is in its poller's map and in its epoll set (the
// set's targets are listed in /proc/self/fdinfo of the epoll descriptor, one "tfd:" line each).
func registered(t *testing.T, r *Reader) (inMap, inSet bool) {
	t.Helper()
	p := r.poll.p
	p.mu.Lock()
	inMap = p.readers[r.poll.fd] == r
	p.mu.Unlock()
	info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(p.epfd))
	if err != nil {
		t.Fatal(err)
	}
	want := "tfd: " + strconv.Itoa(int(r.poll.fd)) + " "
	for _, line := range strings.Split(string(info), "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " ")+" ", want) {
			inSet = true
		}
	}
	return inMap, inSet
}

// TestPollerServesManyConnections: many Readers on the shared pollers, each server sending
// its own numbered frames in writes of several frames, some larger than a lent buffer; every
// Reader gets exactly its own frames, in order, and the server's close.
func TestPollerServesManyConnections(t *testing.T) {
	const conns, frames = 200, 30
	srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
		id := r.URL.Query().Get("id")
		var batch []byte
		for i := range frames {
			msg := id + ":" + strconv.Itoa(i)
			if i%7 == 3 { // larger than a lent buffer (bufferSize)
				msg += ":" + strings.Repeat("x", 3*bufferSize)
			}
			batch = append(batch, text(msg)...)
			if i%4 == 3 || i == frames-1 {
				if _, err := ws.NetConn().Write(batch); err != nil {
					return
				}
				batch = batch[:0]
			}
		}
		_, _ = ws.NetConn().Write(closeF(websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")))
		_, _ = io.Copy(io.Discard, ws.NetConn())
	})
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		ws, r := dialRaw(t, url+"?id="+strconv.Itoa(c))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.Close()
			hung := time.AfterFunc(20*time.Second, func() { ws.Close() })
			defer hung.Stop()
			n := 0
			err := r.Run(func(_ int, data []byte) bool {
				if f := strings.Split(string(data), ":"); len(f) < 2 || f[0] != strconv.Itoa(c) || f[1] != strconv.Itoa(n) {
					errs <- fmt.Errorf("connection %d frame %d: %.40q", c, n, data)
				}
				n++
				return true
			})
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || n != frames {
				errs <- fmt.Errorf("connection %d: Run = %v after %d of %d frames; want close 1000 after all", c, err, n, frames)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPollerForgetsAReaderThatEnded: however Run ends (the handler stops it, the server
// closes, the stream ends, the connection is closed here), the socket leaves its poller's
// map and its epoll set; while Run waits it is in both.
func TestPollerForgetsAReaderThatEnded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write []byte // after "first", once the Reader is registered
		stop  bool   // the handler returns false at "second"
		close bool   // the test closes the connection
		want  func(error) bool
	}{
		{"the handler stops", text("second"), true, false, func(err error) bool { return err == nil }},
		{"a close frame", closeF(websocket.FormatCloseMessage(websocket.CloseGoingAway, "")), false, false, func(err error) bool {
			var ce *websocket.CloseError
			return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
		}},
		{"the end of the stream", nil, false, false, func(err error) bool { return errors.Is(err, errUnexpectedEOF) }},
		{"closed here", nil, false, true, func(err error) bool { return errors.Is(err, net.ErrClosed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := make(chan struct{})
			srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
				_, _ = ws.NetConn().Write(text("first"))
				<-next
				if tc.close {
					_, _ = io.Copy(io.Discard, ws.NetConn())
					return
				}
				if tc.write != nil {
					_, _ = ws.NetConn().Write(tc.write)
				}
				if !tc.stop {
					_ = ws.NetConn().(*net.TCPConn).CloseWrite()
				}
				_, _ = io.Copy(io.Discard, ws.NetConn())
			})
			defer srv.Close()
			ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
			defer ws.Close()
			first := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- r.Run(func(_ int, data []byte) bool {
					if string(data) == "first" {
						close(first)
					}
					return !tc.stop || string(data) != "second"
				})
			}()
			<-first
			// The handler of "first" has returned once the poller marks r idle again.
			for end := time.Now().Add(10 * time.Second); r.poll.state.Load() != stateIdle; time.Sleep(time.Millisecond) {
				if time.Now().After(end) {
					t.Fatal("the poller did not finish with the first frame")
				}
			}
			if inMap, inSet := registered(t, r); !inMap || !inSet {
				t.Fatalf("while Run waits: in the map %v, in the epoll set %v; want both", inMap, inSet)
			}
			close(next)
			if tc.close {
				ws.Close()
			}
			select {
			case err := <-done:
				if !tc.want(err) {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s")
			}
			if inMap, inSet := registered(t, r); inMap || inSet {
				t.Errorf("after Run: in the map %v, in the epoll set %v; want neither", inMap, inSet)
			}
		})
	}
}

// TestCloseFromTheHandler: the handler closes its own connection (as a client does that gives
// up on a frame) while the poller serves it; Run ends with net.ErrClosed once the frames of
// that read are handed over (as before the pollers), and nothing is read after the close.
func TestCloseFromTheHandler(t *testing.T) {
	start := make(chan struct{})
	srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
		<-start
		_, _ = ws.NetConn().Write(cat(text("one"), text("two"), text("three")))
		_, _ = io.Copy(io.Discard, ws.NetConn())
	})
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	var msgs []string
	done := make(chan error, 1)
	go func() {
		done <- r.Run(func(_ int, data []byte) bool {
			msgs = append(msgs, string(data))
			if len(msgs) == 1 {
				ws.Close()
			}
			return true
		})
	}()
	// The frames go out once the socket is the poller's: its goroutine calls the handler.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if inMap, _ := registered(t, r); inMap {
			break
		}
		if time.Now().After(end) {
			t.Fatal("Run did not register the socket within 10 s")
		}
	}
	close(start)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of the close")
	}
	if !errors.Is(err, net.ErrClosed) || len(msgs) == 0 || msgs[0] != "one" {
		t.Errorf("Run = %v with %q; want net.ErrClosed after \"one\"", err, msgs)
	}
	if len(msgs) > 1 && !reflect.DeepEqual(msgs, []string{"one", "two", "three"}) {
		t.Errorf("handed over %q: after the close, more than the rest of one read", msgs)
	}
}

// TestForgetTakesOutOnlyItsOwnReader: a Reader that ended may be forgotten after its
// socket's number went to another connection's socket; the other Reader stays.
func TestForgetTakesOutOnlyItsOwnReader(t *testing.T) {
	older, newer := &Reader{}, &Reader{}
	older.poll.fd, newer.poll.fd = 7, 7
	p := &poller{readers: map[int32]*Reader{7: newer}}
	p.forget(older)
	if p.readers[7] != newer {
		t.Fatal("forgetting an ended Reader took out the Reader now holding its socket's number")
	}
	p.forget(newer)
	if _, ok := p.readers[7]; ok {
		t.Fatal("forget left its own Reader")
	}
}

// TestCloseBeforeRun: a connection closed before Run (a client that gave up waiting for its
// welcome) ends Run at once with net.ErrClosed, with frames sent with the handshake or not.
func TestCloseBeforeRun(t *testing.T) {
	for _, withHandshake := range []bool{false, true} {
		t.Run(fmt.Sprint("frames with the handshake ", withHandshake), func(t *testing.T) {
			url := serveWithHandshake(t, text("early"))
			if !withHandshake {
				url = newScript(t, nil, 0).url() // sends nothing
			}
			ws, r := dialRaw(t, url)
			if (len(r.pending) > 0) != withHandshake {
				t.Fatalf("%d bytes read with the handshake", len(r.pending))
			}
			ws.Close()
			done := make(chan error, 1)
			var msgs []string
			go func() {
				done <- r.Run(func(_ int, data []byte) bool { msgs = append(msgs, string(data)); return true })
			}()
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) || len(msgs) > 0 {
					t.Errorf("Run = %v with %q; want net.ErrClosed and no frame", err, msgs)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s")
			}
		})
	}
}

// TestStopOnAFrameSentWithTheHandshake: a handler that stops Run at a frame read with the
// handshake (before the poller has the socket) ends Run with nil, and the socket is never
// registered: the frames after it stay unread.
func TestStopOnAFrameSentWithTheHandshake(t *testing.T) {
	ws, r := dialRaw(t, serveWithHandshake(t, text("early"), text("later")))
	defer ws.Close()
	if len(r.pending) == 0 {
		t.Fatal("no frame read with the handshake")
	}
	var msgs []string
	done := make(chan error, 1)
	go func() {
		done <- r.Run(func(_ int, data []byte) bool { msgs = append(msgs, string(data)); return false })
	}()
	select {
	case err := <-done:
		if err != nil || !reflect.DeepEqual(msgs, []string{"early"}) {
			t.Errorf("Run = %v with %q; want nil after \"early\"", err, msgs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s")
	}
	if inMap, inSet := registered(t, r); inMap || inSet {
		t.Errorf("after Run: in the map %v, in the epoll set %v; want neither", inMap, inSet)
	}
}

// TestArrivedIsTheKernelsReceiveTime: a frame's Arrived lies between the moments just before
// and just after the server wrote it, though its handler runs more than a millisecond after
// the write. Warm-up frames go first, one at a time, until one carries the kernel's time: the
// first socket of the machine to ask for the times turns them on a little later (the kernel
// defers it to a worker).
func TestArrivedIsTheKernelsReceiveTime(t *testing.T) {
	again, measure := make(chan bool), make(chan struct{})
	written := make(chan [2]time.Time, 1)
	srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
		conn := ws.NetConn()
		for {
			if _, err := conn.Write(text("warm")); err != nil {
				return
			}
			if !<-again {
				break
			}
		}
		<-measure
		before := time.Now()
		_, _ = conn.Write(text("measured"))
		written <- [2]time.Time{before, time.Now()}
		_, _ = io.Copy(io.Discard, conn)
	})
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	hung := time.AfterFunc(10*time.Second, func() { ws.Close() })
	defer hung.Stop()
	var w [2]time.Time
	var arrived, handled time.Time
	err := r.Run(func(_ int, data []byte) bool {
		switch string(data) {
		case "warm":
			if r.poll.got == 0 || r.poll.arrived.IsZero() { // handed over with the handshake, or not stamped yet
				again <- true
				return true
			}
			again <- false
			close(measure)
			w = <-written
			for !time.Now().After(w[1].Add(time.Millisecond)) { // the frame waits in the socket
			}
			return true
		default:
			arrived, handled = r.Arrived(), time.Now()
			return false
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if arrived.Before(w[0]) || arrived.After(w[1]) {
		t.Errorf("Arrived %v; want between %v and %v, the write's start and end (handled at %v)",
			arrived.Format(time.RFC3339Nano), w[0].Format(time.RFC3339Nano), w[1].Format(time.RFC3339Nano), handled.Format(time.RFC3339Nano))
	}
}

// TestFramesWithTheHandshakeArriveWithIt: a frame the server wrote in one write with its 101
// response, read with the handshake, arrived when the handshake's bytes did (the kernel's
// receive time), though it is handed over later. Connections are made until one has the
// kernel's time (the machine's first socket to ask for the times gets them a little later),
// each open until the next is, so that the times stay on.
func TestFramesWithTheHandshakeArriveWithIt(t *testing.T) {
	written := make(chan [2]time.Time, 1)
	addr := tcptest.Serve(t, func(c net.Conn) {
		resp, ok := upgradeResponse(c)
		if !ok {
			return
		}
		before := time.Now()
		_, _ = c.Write(cat(resp, text("with the handshake")))
		written <- [2]time.Time{before, time.Now()}
		_, _ = io.Copy(io.Discard, c)
	})
	var last *websocket.Conn // open till the next is: the times stay on
	t.Cleanup(func() {
		if last != nil {
			last.Close()
		}
	})
	arrival := func() (at time.Time, w [2]time.Time) {
		ws, r := dialRaw(t, "ws://"+addr)
		if last != nil {
			last.Close()
		}
		last = ws
		w = <-written // the handover comes after the write ended
		if err := r.Run(func(int, []byte) bool { at = r.Arrived(); return false }); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return at, w
	}
	tcptest.ArrivesWithinWrite(t, arrival)
}

// TestAFailedPollerEndsItsReaders: when a poller's epoll instance fails (here: closed under
// its goroutine), the Reader waiting on it ends with the poller's error, and a Reader run on
// it afterwards ends at once with the same error, never waiting on a poller that is gone.
func TestAFailedPollerEndsItsReaders(t *testing.T) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	srv := wsServer(func(ws *websocket.Conn, _ *http.Request) { _, _ = io.Copy(io.Discard, ws.NetConn()) })
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") // sends nothing: the Readers wait
	run := func(r *Reader) <-chan error {
		r.poll.p = p // this poller, not the shared ones
		done := make(chan error, 1)
		go func() { done <- r.Run(func(int, []byte) bool { return true }) }()
		return done
	}
	wait := func(done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10 s")
			return nil
		}
	}

	ws1, r1 := dialRaw(t, url)
	defer ws1.Close()
	done1 := run(r1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if inMap, inSet := registered(t, r1); inMap && inSet {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Reader was not registered within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.file.Close(); err != nil {
		t.Fatal(err)
	}
	err1 := wait(done1)
	p.mu.Lock()
	perr, readers := p.err, p.readers
	p.mu.Unlock()
	if err1 == nil || err1 != perr || !strings.Contains(err1.Error(), "closed") || readers != nil {
		t.Fatalf("Run = %v, the poller's error %v, %d readers left; want the poller's error (its instance closed) and none", err1, perr, len(readers))
	}

	ws2, r2 := dialRaw(t, url)
	defer ws2.Close()
	if err2 := wait(run(r2)); err2 != perr {
		t.Errorf("Run on the failed poller = %v; want its error %v", err2, perr)
	}
}

// TestARefusedRegistrationEndsRun: when epoll refuses the socket (here: it is in the set
// already, EEXIST), Run ends at once with that error and leaves the Reader out of the
// poller's map, rather than waiting for a socket the poller will never report.
func TestARefusedRegistrationEndsRun(t *testing.T) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.file.Close()
	srv := wsServer(func(ws *websocket.Conn, _ *http.Request) { _, _ = io.Copy(io.Discard, ws.NetConn()) })
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	r.poll.p = p
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: r.poll.fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(r.poll.fd), &ev); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(func(int, []byte) bool { return true }) }()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "epoll_ctl") {
			t.Errorf("Run = %v; want epoll_ctl's EEXIST", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of a refused registration")
	}
	p.mu.Lock()
	_, inMap := p.readers[r.poll.fd]
	p.mu.Unlock()
	if inMap {
		t.Error("the Reader whose registration was refused is still in the poller's map")
	}
}

// TestStartKeepsNoGoroutineAConnection: Readers started (not Run) add no goroutine each: the
// pollers' goroutines read them all, so a load generator holding many connections keeps no
// stack for each.
func TestStartKeepsNoGoroutineAConnection(t *testing.T) {
	const conns = 64
	drop := make(chan struct{})
	srv := wsServer(func(*websocket.Conn, *http.Request) { <-drop })
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	readers := make([]*Reader, conns)
	for i := range readers {
		ws, r := dialRaw(t, url)
		defer ws.Close()
		readers[i] = r
	}
	var wg sync.WaitGroup
	before := runtime.NumGoroutine()
	for _, r := range readers {
		wg.Add(1)
		r.Start(func(int, []byte) bool { return true }, func(error) { wg.Done() })
	}
	if added := runtime.NumGoroutine() - before; added >= conns/2 {
		t.Errorf("%d goroutines more after starting %d Readers; want none a Reader", added, conns)
	}
	for _, r := range readers {
		if inMap, inSet := registered(t, r); !inMap || !inSet {
			t.Fatalf("a started Reader: in the map %v, in the epoll set %v; want both", inMap, inSet)
		}
	}
	close(drop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not every Reader's end was told within 10 s of the server dropping them")
	}
}

// TestReaderStaysInItsSizeClass: a load agent holds one Reader a connection; it fits the
// 240-byte size class (384 while each held its own recvmsg header, now its poller's).
func TestReaderStaysInItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Reader{}); n > 240 {
		t.Errorf("Reader is %d bytes; want at most 240", n)
	}
}
