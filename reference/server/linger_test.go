package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/fixtures/hostile"
	"github.com/pkarena/pkarena/reference/protocol"
)

// A connection the server closes with a close frame stays open for the client's answer (RFC
// 6455 §7.1.1): the client reads the close frame and then the end of the stream, never a
// reset, even with frames of its own still unread by the server; the server closes its socket
// once the client answered, not before. The rows are the ways a server closes: at a frame
// its reader refuses (the reader stops; the frames behind it are unread), at silence and at
// the token's expiry, and from the hub while the reader still reads.
//
// The client answers with its close frame and waits for the server to close first, as RFC
// 6455 lets it; where the server can follow the client's frames (closeEnds) it must close at
// that close frame; where it cannot (it stopped inside a frame or past a broken one), the
// close frame's bytes may be the rest of a payload, and it must close at the client's end of
// the stream, which the client then sends, not before.
//
// The linger is a minute, twice the test's wait: a server that closed at the bound rather
// than at the answer fails. Closing at once (as before the linger) fails every row: the
// socket is closed before the client answered, and where frames were unread the client
// reads a reset instead of the end of the stream.
func TestServerCloseWaitsForTheClient(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		life   time.Duration // the token's; 0: an hour
		act    func(t *testing.T, c *rawClient, base string)
		code   int
		// closeEnds: the server reads on to the client's close frame (its reader, or the
		// linger's reading from where the reader stopped), so that close frame alone is the
		// client's answer; else (past a broken frame, or where the client stopped inside a
		// frame, whose rest its close frame's bytes are) the answer is the end of its stream.
		closeEnds bool
	}{
		{"binary frame, frames behind it", nil, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, append(wire(t, websocket.BinaryMessage, "{}"), textFrames(t, 32<<10)...))
		}, protocol.CloseUnsupportedData, true},
		{"text not UTF-8, frames behind it", nil, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, append(wire(t, websocket.TextMessage, "%FF%FE"), textFrames(t, 32<<10)...))
		}, protocol.CloseInvalidData, true},
		// gorilla's reader answers these two itself (1002, 1009): the server's writer learns
		// of the close frame from the socket (liveConn.closeWritten).
		{"unmasked frame, frames behind it", nil, 0, func(t *testing.T, c *rawClient, _ string) {
			raw, err := hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Payload: "{}", Unmasked: true}.Bytes([4]byte{})
			if err != nil {
				t.Fatal(err)
			}
			writeRaw(t, c, append(raw, textFrames(t, 32<<10)...))
		}, protocol.CloseProtocolError, false},
		// The server reads the header and answers 1009 (gorilla does): the whole payload is
		// still to come.
		{"frame over the limit", nil, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, wire(t, websocket.TextMessage, strings.Repeat("x", DefaultConfig().MaxFrameBytes+1)))
		}, protocol.CloseMessageTooBig, true},
		{"silence", func(c *Config) {
			c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
		}, 0, func(*testing.T, *rawClient, string) {}, protocol.CloseHeartbeatTimeout, true},
		// Silent in the middle of a frame's payload: what the client sends next is, for all the
		// server knows, the rest of that payload.
		{"silence inside a message", func(c *Config) {
			c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
		}, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, wire(t, websocket.TextMessage, strings.Repeat("x", 100))[:2+4+10])
		}, protocol.CloseHeartbeatTimeout, false},
		{"silence inside a frame's length", func(c *Config) {
			c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
		}, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, wire(t, websocket.TextMessage, strings.Repeat("x", 1000))[:3])
		}, protocol.CloseHeartbeatTimeout, false},
		{"silence inside a ping", func(c *Config) {
			c.HeartbeatInterval, c.HeartbeatTimeout = 50*time.Millisecond, 300*time.Millisecond
		}, 0, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, wire(t, websocket.PingMessage, strings.Repeat("p", 100))[:2+4+10])
		}, protocol.CloseHeartbeatTimeout, false},
		// The token's expiry is the reader's deadline; a heartbeat before it.
		{"token expired", nil, 2 * time.Second, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, textFrames(t, 1))
		}, protocol.CloseTokenExpired, true},
		{"replaced", nil, 0, func(t *testing.T, _ *rawClient, base string) { dial(t, base, "u") }, protocol.CloseReplaced, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gates := &gateListener{}
			_, base := newTestServerOn(t, func(c *Config) {
				c.CloseLinger = 2 * waitTimeout
				if tt.mutate != nil {
					tt.mutate(c)
				}
			}, gates.wrap)
			c := dialLiving(t, base, "u", tt.life)
			sock := gates.of(t, c.ws.LocalAddr())
			tt.act(t, c, base)

			expectClose(t, c, tt.code)
			expectEnd(t, c.ws.NetConn())
			select {
			case <-sock.closed:
				t.Fatal("the server closed its socket before the client answered its close frame")
			default:
			}
			if err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tt.code, ""), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if tt.closeEnds {
				select {
				case <-sock.closed:
				case <-time.After(waitTimeout):
					t.Fatal("the server's socket was still open after the client's close frame")
				}
			} else { // the close frame's bytes may be a payload's: not an answer
				select {
				case <-sock.closed:
					t.Fatal("the server closed its socket at bytes it cannot tell from a payload's")
				case <-time.After(200 * time.Millisecond):
				}
			}
			if err := c.ws.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sock.closed:
			case <-time.After(waitTimeout):
				t.Fatal("the server's socket was still open after the client's close frame and end")
			}
			if err := checkLingers(scrape(t, base), 1, 0, 0, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkLingers checks close_lingers_total by outcome.
func checkLingers(fams map[string]*dto.MetricFamily, answered, timedOut, flooded, cut float64) error {
	return checkMetrics(fams, []metricWant{
		{"pkarena_close_lingers_total", []string{"outcome=" + lingerAnswered}, answered},
		{"pkarena_close_lingers_total", []string{"outcome=" + lingerTimedOut}, timedOut},
		{"pkarena_close_lingers_total", []string{"outcome=" + lingerFlooded}, flooded},
		{"pkarena_close_lingers_total", []string{"outcome=" + lingerCut}, cut},
	})
}

// A client that never answers the close frame holds the socket open for CloseLinger and no
// longer: not before (the server's timer starts after the close frame, which comes after
// the test's start) and not long after. With a linger of 0 the socket is closed at once.
func TestServerCloseLingersForItsBound(t *testing.T) {
	for _, tt := range []struct {
		name   string
		linger time.Duration
		act    func(t *testing.T, c *rawClient, base string)
		code   int
	}{
		{"reader stopped", 300 * time.Millisecond, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, append(wire(t, websocket.BinaryMessage, "{}"), textFrames(t, 4<<10)...))
		}, protocol.CloseUnsupportedData},
		// The pings go on until the test ends: they must neither be answered nor move the
		// linger's end (the reader's ping handler would put it off by the heartbeat timeout).
		{"reader stopped, the client pinging", 300 * time.Millisecond, func(t *testing.T, c *rawClient, _ string) {
			writeRaw(t, c, wire(t, websocket.BinaryMessage, "{}"))
			t.Cleanup(keepPinging(c.ws, 20*time.Millisecond))
		}, protocol.CloseUnsupportedData},
		// A byte every 100 µs: the server's second look at a socket whose read deadline passed
		// (liveConn) would find one each time and put the linger's end off again and again.
		{"reader stopped, the client trickling", 300 * time.Millisecond, func(t *testing.T, c *rawClient, _ string) {
			long := wire(t, websocket.TextMessage, strings.Repeat("x", 60000))
			writeRaw(t, c, append(wire(t, websocket.BinaryMessage, "{}"), long[:8]...))
			t.Cleanup(trickle(c, long[8:]))
		}, protocol.CloseUnsupportedData},
		{"frame over the limit, the client trickling", 300 * time.Millisecond, func(t *testing.T, c *rawClient, _ string) {
			long := wire(t, websocket.TextMessage, strings.Repeat("x", DefaultConfig().MaxFrameBytes+1))
			writeRaw(t, c, long[:14])
			t.Cleanup(trickle(c, long[14:]))
		}, protocol.CloseMessageTooBig},
		{"reader reading", 300 * time.Millisecond, func(t *testing.T, _ *rawClient, base string) { dial(t, base, "u") }, protocol.CloseReplaced},
		{"no linger", 0, func(t *testing.T, _ *rawClient, base string) { dial(t, base, "u") }, protocol.CloseReplaced},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gates := &gateListener{}
			_, base := newTestServerOn(t, func(c *Config) { c.CloseLinger = tt.linger }, gates.wrap)
			c := dial(t, base, "u")
			sock := gates.of(t, c.ws.LocalAddr())
			start := time.Now()
			tt.act(t, c, base)
			expectClose(t, c, tt.code)
			select {
			case <-sock.closed:
			case <-time.After(tt.linger + lingerSlack):
				t.Fatalf("the server's socket was still open %v after the close frame", tt.linger+lingerSlack)
			}
			if took := time.Since(start); took < tt.linger {
				t.Errorf("the server closed its socket %v after the start; want not before the linger, %v", took, tt.linger)
			}
			expectEnd(t, c.ws.NetConn())
			timedOut := 1.0
			if tt.linger == 0 {
				timedOut = 0 // closed at once: no linger to count
			}
			if err := checkLingers(scrape(t, base), 0, timedOut, 0, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

// lingerSlack is how much later than its bound a linger may end on a busy machine.
const lingerSlack = 2 * time.Second

// trickle writes b to the client's socket a byte every 100 µs, below gorilla's writer, until a
// write fails or the function it returns is called, which waits for it to end.
func trickle(c *rawClient, b []byte) (stop func()) {
	stopped := make(chan struct{})
	done := make(chan struct{})
	nc := c.ws.NetConn()
	go func() {
		defer close(done)
		for i := range b {
			select {
			case <-stopped:
				return
			default:
			}
			// Paced by the clock, not a timer: a timer's wait is a millisecond or more here,
			// longer than the second look's.
			for next := time.Now().Add(100 * time.Microsecond); time.Now().Before(next); {
				runtime.Gosched()
			}
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := nc.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}()
	return func() { close(stopped); <-done }
}

// A client that keeps sending after the close frame is read for at most maxDrainBytes, then
// closed at once (flooded), however long the linger; one that sends less and then ends its
// stream is read to its end (answered).
func TestServerCloseDrainsUpToItsBound(t *testing.T) {
	for _, tt := range []struct {
		name     string
		frames   func(t *testing.T, n int) []byte
		after    int  // bytes of frames behind the binary frame
		flooded  bool // the server closes before the client's end
		answered float64
	}{
		{"a flood past the bound", textFrames, maxDrainBytes + 64<<10, true, 0},
		{"less than the bound, then the end", textFrames, maxDrainBytes - 64<<10, false, 1},
		{"a flood of pings past the bound", pingFrames, maxDrainBytes + 64<<10, true, 0},
		{"pings less than the bound, then the end", pingFrames, maxDrainBytes - 64<<10, false, 1},
		// Fragments are read inside one message, their headers unseen above gorilla.
		{"empty fragments past the bound", emptyFragments, maxDrainBytes + 64<<10, true, 0},
		{"empty fragments less than the bound, then the end", emptyFragments, maxDrainBytes - 64<<10, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gates := &gateListener{}
			_, base := newTestServerOn(t, func(c *Config) { c.CloseLinger = 2 * waitTimeout }, gates.wrap)
			c := dial(t, base, "u")
			sock := gates.of(t, c.ws.LocalAddr())
			frames := append(wire(t, websocket.BinaryMessage, "{}"), tt.frames(t, tt.after)...)
			wrote := make(chan error, 1)
			go func() { // the write blocks until the server has read most of it, or fails at the close
				_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(waitTimeout))
				_, err := c.ws.NetConn().Write(frames)
				wrote <- err
			}()
			if !tt.flooded {
				if err := <-wrote; err != nil {
					t.Fatal(err)
				}
				select {
				case <-sock.closed:
					t.Fatal("the server closed its socket before the client's end, with less than maxDrainBytes sent")
				default:
				}
				if err := c.ws.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-sock.closed:
			case <-time.After(waitTimeout):
				t.Fatal("the server's socket was still open")
			}
			if tt.flooded {
				<-wrote
			}
			if err := checkLingers(scrape(t, base), tt.answered, 0, 1-tt.answered, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

// At the shutdown's deadline a connection still waiting for its client's answer is closed
// under the wait (cut), so that Stop keeps its bound.
func TestShutdownDeadlineCutsALinger(t *testing.T) {
	srv, base := newTestServer(t, func(c *Config) {
		c.CloseLinger = 2 * waitTimeout
		c.ShutdownTimeout = 300 * time.Millisecond
	})
	c := dial(t, base, "u")
	c.ws.SetCloseHandler(func(int, string) error { return nil }) // it never answers the 1001
	start := time.Now()
	srv.Close()
	if took := time.Since(start); took > waitTimeout {
		t.Errorf("Stop took %v with a client that never answers; want the shutdown's bound", took)
	}
	if err := checkLingers(gather(t, srv), 0, 0, 0, 1); err != nil {
		t.Error(err)
	}
}

// gather is scrape from the server's registry, for a server whose Handler has stopped.
func gather(t *testing.T, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	return byName
}

// A client whose close frame came with what the server refused (one write: the reader read it
// into gorilla's buffer, but stopped before it) has answered already: the server closes its
// socket at once, without waiting for more.
func TestServerCloseSeesAnAnswerAlreadyRead(t *testing.T) {
	gates := &gateListener{}
	_, base := newTestServerOn(t, func(c *Config) { c.CloseLinger = 2 * waitTimeout }, gates.wrap)
	c := dial(t, base, "u")
	sock := gates.of(t, c.ws.LocalAddr())
	writeRaw(t, c, append(wire(t, websocket.BinaryMessage, "{}"), wire(t, websocket.CloseMessage, "%03%EB")...))
	expectClose(t, c, protocol.CloseUnsupportedData)
	select {
	case <-sock.closed:
	case <-time.After(waitTimeout):
		t.Fatal("the server's socket was still open, the client's close frame read")
	}
	expectEnd(t, c.ws.NetConn())
	if err := checkLingers(scrape(t, base), 1, 0, 0, 0); err != nil {
		t.Error(err)
	}
}

// A resume refused at the upgrade (4010) lingers too: what the client sent after the upgrade
// does not reset the connection under the close frame, and the client's close frame ends the
// wait. The server's close frame is held until
// the client's frames are in its socket (gorilla refuses frames sent before the upgrade's
// answer), so a server that closes at once has them unread every time.
func TestResumeRefusalWaitsForTheClient(t *testing.T) {
	hold := &holdListener{release: make(chan struct{})}
	_, base := newTestServerOn(t, func(c *Config) { c.CloseLinger = 2 * waitTimeout }, hold.wrap)
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, "u", "")+"&"+url.Values{"resume": {"r1.x"}, "lastseq": {"1"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &rawClient{t: t, ws: ws}
	writeRaw(t, c, textFrames(t, 32<<10))
	close(hold.release)
	expectClose(t, c, protocol.CloseResumeRefused)
	expectEnd(t, ws.NetConn())
	// The client's close frame answers, its socket still open: nothing was read after the
	// upgrade, so the server follows the client's frames from their start.
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseResumeRefused, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error { return checkLingers(scrape(t, base), 1, 0, 0, 0) })
}

// A linger's deadline that passed before its reads came to what the client sent (a starved
// server's timer fires late) gets one last look at the socket: an answer already there is an
// answer. Only one: a client still sending a little at a time does not put the end off. The
// socket is scripted (fakeSocket): a deadline passed, then what the look reads.
func TestLingerTakesOneLastLook(t *testing.T) {
	timeout := fakeRead{err: os.ErrDeadlineExceeded}
	ping := fakeRead{data: string(wire(t, websocket.PingMessage, ""))}
	tests := []struct {
		name   string
		live   bool // a liveConn that follows the client's frames
		script []fakeRead
		want   string
		reads  int // the reads drain makes
	}{
		{"the close frame there", true, []fakeRead{timeout, {data: string(wire(t, websocket.CloseMessage, "%03%E8"))}}, lingerAnswered, 2},
		{"the end of the stream there", false, []fakeRead{timeout, {err: io.EOF}}, lingerAnswered, 2},
		{"a ping, then nothing", true, []fakeRead{timeout, ping, timeout, ping, timeout, {err: io.EOF}}, lingerTimedOut, 3},
		{"nothing there", false, []fakeRead{timeout, timeout, {err: io.EOF}}, lingerTimedOut, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := &fakeSocket{reads: tt.script}
			var nc net.Conn = sock
			if tt.live {
				lc := &liveConn{Conn: sock}
				lc.followFrames()
				nc = lc
			}
			start := time.Now()
			if got := drain(nc, start.Add(time.Hour)); got != tt.want {
				t.Errorf("drain: %q; want %q", got, tt.want)
			}
			if reads := len(tt.script) - len(sock.reads); reads != tt.reads {
				t.Errorf("drain read %d times; want %d", reads, tt.reads)
			}
			// The look's deadline is set when the linger's has passed, a moment ahead (a
			// second allows a starved machine), not the linger's own.
			if d := sock.deadlines; len(d) != 2 || !d[1].After(start) || !d[1].Before(time.Now().Add(time.Second)) {
				t.Errorf("read deadlines set %v (drain began %v); want the linger's, then one look's a moment ahead", d, start)
			}
		})
	}
}

// Stop waits for a resume refused at the upgrade (4010) as for a connection: the handler
// that waits for the client's answer is counted, and at the shutdown's deadline its socket is
// closed under the wait (cut), not left to outlive Stop by CloseLinger.
func TestStopCutsARefusedResumesLinger(t *testing.T) {
	srv, base := newTestServer(t, func(c *Config) {
		c.CloseLinger = 2 * waitTimeout
		c.ShutdownTimeout = 300 * time.Millisecond
	})
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, "u", "")+"&"+url.Values{"resume": {"r1.x"}, "lastseq": {"1"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	expectClose(t, &rawClient{t: t, ws: ws}, protocol.CloseResumeRefused) // and never answers
	start := time.Now()
	srv.Close()
	if took := time.Since(start); took > waitTimeout {
		t.Errorf("Stop took %v with a client that never answers; want the shutdown's bound", took)
	}
	if err := checkLingers(gather(t, srv), 0, 0, 0, 1); err != nil {
		t.Errorf("when Stop returned: %v", err)
	}
	expectEnd(t, ws.NetConn())
}

// A handshake that raced the shutdown (begun before Stop, offered to the hub after it
// stopped) gets its 1001 and the wait for the client's answer, and Stop waits for that:
// closed at once, what the client sent meanwhile would reset the close frame away.
func TestStopWaitsForAHandshakeItRacedWith(t *testing.T) {
	hold := &holdListener{release: make(chan struct{}), upgrade: true, held: make(chan struct{}, 1)}
	srv, base := newTestServerOn(t, func(c *Config) {
		c.CloseLinger = 2 * waitTimeout
		c.ShutdownTimeout = 2 * waitTimeout
	}, hold.wrap)
	type dialed struct {
		ws  *websocket.Conn
		err error
	}
	dials := make(chan dialed, 1)
	go func() {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, "u", ""), nil)
		dials <- dialed{ws, err}
	}()
	select {
	case <-hold.held: // the handler is upgrading
	case <-time.After(waitTimeout):
		t.Fatal("the handshake's answer was never written")
	}
	stopped := make(chan struct{})
	go func() { srv.Close(); close(stopped) }()
	<-srv.stopped // the hub is gone before the handler offers it the connection
	close(hold.release)
	d := <-dials
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.ws.Close()
	c := &rawClient{t: t, ws: d.ws}
	expectClose(t, c, protocol.CloseGoingAway)
	select {
	case <-stopped:
		t.Fatal("Stop returned while a handshake's close waited for its client")
	default:
	}
	if err := d.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseGoingAway, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(waitTimeout):
		t.Fatal("Stop did not return after the client answered")
	}
	expectEnd(t, d.ws.NetConn())
	if err := checkLingers(gather(t, srv), 1, 0, 0, 0); err != nil {
		t.Error(err)
	}
}

// A handshake that reaches its upgrade only after Stop's deadline has cut what was left (its
// answer held until Stop has returned) is closed at once: it does not wait for its client
// after the Stop that could have waited for it.
func TestStopCutsAHandshakeUpgradedAfterItsDeadline(t *testing.T) {
	hold := &holdListener{release: make(chan struct{}), upgrade: true, held: make(chan struct{}, 1)}
	srv, base := newTestServerOn(t, func(c *Config) {
		c.CloseLinger = 2 * waitTimeout
		c.ShutdownTimeout = 200 * time.Millisecond
	}, hold.wrap)
	dials := make(chan error, 1)
	go func() {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, "u", ""), nil)
		if err == nil {
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
			for err == nil {
				_, _, err = ws.ReadMessage()
			}
		}
		dials <- err
	}()
	select {
	case <-hold.held:
	case <-time.After(waitTimeout):
		t.Fatal("the handshake's answer was never written")
	}
	srv.Close() // at its deadline, with nothing upgraded to close
	close(hold.release)
	if err := <-dials; isTimeout(err) {
		t.Fatalf("the client's connection was still open %v after the upgrade: %v", waitTimeout, err)
	}
	waitFor(t, func() error {
		srv.handshakes.mu.Lock()
		defer srv.handshakes.mu.Unlock()
		if srv.handshakes.n != 0 {
			return fmt.Errorf("%d handshakes still served after Stop", srv.handshakes.n)
		}
		return nil
	})
	if err := checkLingers(gather(t, srv), 0, 0, 0, 0); err != nil {
		t.Error(err)
	}
}

// holdListener hands out the server's sockets as holdConns (under the liveListener's
// liveConns).
type holdListener struct {
	net.Listener
	release chan struct{}
	upgrade bool          // hold the upgrade's answer (101) instead of close frames
	held    chan struct{} // if not nil, told (without waiting) when a write is held
}

// Accept waits for the next connection.
func (l *holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return holdConn{c, l}, nil
}

// wrap puts the listener under the server's liveListener.
func (l *holdListener) wrap(ln net.Listener) net.Listener {
	return underLive(ln, func(tcp net.Listener) net.Listener { l.Listener = tcp; return l })
}

// holds says whether p is a write to hold: a close frame, or the upgrade's answer. gorilla
// writes either with one write.
func (l *holdListener) holds(p []byte) bool {
	if l.upgrade {
		return bytes.HasPrefix(p, []byte("HTTP/1.1 101"))
	}
	return len(p) > 0 && p[0] == startOfCloseFrame
}

// holdConn is a server socket whose writes its listener holds wait until release is closed
// (or waitTimeout passed).
type holdConn struct {
	net.Conn
	l *holdListener
}

// Write writes p, first waiting for release if p is to be held.
func (c holdConn) Write(p []byte) (int, error) {
	if c.l.holds(p) {
		select {
		case c.l.held <- struct{}{}:
		default:
		}
		select {
		case <-c.l.release:
		case <-time.After(waitTimeout):
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite shuts the socket for sending.
func (c holdConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// wrap puts the listener under the server's liveListener.
func (l *gateListener) wrap(ln net.Listener) net.Listener {
	return underLive(ln, func(tcp net.Listener) net.Listener { l.Listener = tcp; return l })
}

// underLive puts what outer makes of the server's TCP listener under ln, the server's
// liveListener (newTestServerOn's wrap).
func underLive(ln net.Listener, outer func(tcp net.Listener) net.Listener) net.Listener {
	live := ln.(liveListener)
	live.Listener = outer(live.Listener)
	return live
}

// wire is one masked client frame of opcode with payload (URL-escaped, as the hostile
// corpus writes it).
func wire(t *testing.T, opcode int, payload string) []byte {
	t.Helper()
	b, err := hostile.Wire{Fin: true, Opcode: byte(opcode), Payload: payload}.Bytes([4]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// textFrames is about n bytes of masked heartbeat requests.
func textFrames(t *testing.T, n int) []byte {
	t.Helper()
	one := wire(t, websocket.TextMessage, `{"id":"1","type":"heartbeat"}`)
	var b []byte
	for len(b) < n {
		b = append(b, one...)
	}
	return b
}

// emptyFragments is about n bytes of one text message begun and never ended: empty
// continuation frames.
func emptyFragments(t *testing.T, n int) []byte {
	t.Helper()
	first, err := hostile.Wire{Opcode: websocket.TextMessage, Payload: "{"}.Bytes([4]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	next, err := hostile.Wire{Opcode: 0}.Bytes([4]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	return append(first, bytes.Repeat(next, n/len(next)+1)...)
}

// pingFrames is about n bytes of masked pings, 125 bytes of payload each.
func pingFrames(t *testing.T, n int) []byte {
	t.Helper()
	return bytes.Repeat(wire(t, websocket.PingMessage, strings.Repeat("p", 125)), n/131+1)
}

// writeRaw writes b to the client's socket in one write, below gorilla's writer.
func writeRaw(t *testing.T, c *rawClient, b []byte) {
	t.Helper()
	_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.ws.NetConn().Write(b); err != nil {
		t.Fatal(err)
	}
}

// expectClose reads until the connection's close frame, which must carry code; the client
// does not answer it.
func expectClose(t *testing.T, c *rawClient, code int) {
	t.Helper()
	c.ws.SetCloseHandler(func(int, string) error { return nil })
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	var err error
	for err == nil {
		_, _, err = c.ws.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("read ended with %v; want close %d", err, code)
	}
}

// expectEnd reads the client's socket past the close frame: the server's end of the stream.
func expectEnd(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the close frame: %d bytes, %v; want the end of the stream, not a reset", n, err)
	}
}

// closeWatch follows a client's frames to its close frame: it answers at the close frame's
// last byte however the bytes are cut, after frames of every length encoding and control
// frames, and never at a close frame's bytes inside another frame's payload; once it meets
// what cannot be a client's frame header it is lost for good.
func TestCloseWatchFollowsFrames(t *testing.T) {
	w := func(f hostile.Wire) []byte {
		b, err := f.Bytes([4]byte{9, 8, 7, 6})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	closing := w(hostile.Wire{Fin: true, Opcode: websocket.CloseMessage, Payload: "%03%E8bye"})
	text := func(n int) []byte {
		return w(hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Payload: strings.Repeat("x", n)})
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	hugeLength := []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 9, 8, 7, 6} // 64-bit length, top bit set
	for _, tt := range []struct {
		name     string
		before   []byte // what the client sends before its close frame
		answered bool
		end      []byte // the close frame; nil: one with a code and a reason
	}{
		{"the close frame alone", nil, true, nil},
		{"an empty close frame", nil, true, w(hostile.Wire{Fin: true, Opcode: websocket.CloseMessage})},
		{"a 7-bit length", text(125), true, nil},
		{"a 16-bit length", text(126), true, nil},
		{"a 64-bit length", text(70000), true, nil},
		{"fragments and control frames", cat(
			w(hostile.Wire{Opcode: websocket.TextMessage, Payload: "ab"}),
			w(hostile.Wire{Fin: true, Opcode: websocket.PingMessage, Payload: "p"}),
			w(hostile.Wire{Fin: true, Opcode: websocket.PongMessage}),
			w(hostile.Wire{Fin: true, Opcode: 0, Payload: "cd"}),
			w(hostile.Wire{Fin: true, Opcode: websocket.BinaryMessage, Payload: "%00"})), true, nil},
		{"a close frame's bytes inside a payload", w(hostile.Wire{Fin: true, Opcode: websocket.BinaryMessage,
			Payload: url.PathEscape(string(closing)) + "%00"}), true, nil},
		{"reserved bits", w(hostile.Wire{Fin: true, RSV: 4, Opcode: websocket.TextMessage, Payload: "{}"}), false, nil},
		{"unmasked", w(hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Unmasked: true, Payload: "{}"}), false, nil},
		{"a reserved data opcode", w(hostile.Wire{Fin: true, Opcode: 3, Payload: "{}"}), false, nil},
		{"a reserved control opcode", w(hostile.Wire{Fin: true, Opcode: 11}), false, nil},
		{"a control frame over 125 bytes", w(hostile.Wire{Fin: true, Opcode: websocket.PingMessage, Payload: strings.Repeat("p", 126)}), false, nil},
		{"a fragmented control frame", w(hostile.Wire{Opcode: websocket.PingMessage}), false, nil},
		{"a 64-bit length with its top bit set", hugeLength, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			end := tt.end
			if end == nil {
				end = closing
			}
			stream := cat(tt.before, end)
			whole := closeWatch{}
			if got := whole.feed(stream); got != tt.answered {
				t.Fatalf("fed at once: answered %v, want %v", got, tt.answered)
			}
			if whole.lost == tt.answered {
				t.Fatalf("fed at once: lost %v; want it lost exactly where it cannot answer", whole.lost)
			}
			var cut closeWatch
			for i := range stream {
				got := cut.feed(stream[i : i+1])
				if want := tt.answered && i == len(stream)-1; got != want {
					t.Fatalf("fed byte by byte: answered %v at byte %d of %d, want %v", got, i, len(stream), want)
				}
			}
		})
	}
}
