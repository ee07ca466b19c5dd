package server

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/protocol"
)

// A client that sends its close frame and then closes its socket with frames unread resets
// the connection. It ended normally: the server counts 1000 and ends its session, even when
// its writer meets the reset before its reader took the close frame, and even when a ping
// before the close frame makes the reader answer into the reset. Before, the writer closed
// the socket under the reader and the end was counted 1006, the session kept for a resume.
//
// The order is made, not hoped for: the server's reader of the client's connection is held
// at a gate until a write to the connection has failed, and then until the socket is closed
// or the test lets it go, so that a server which closes on the failed write is caught every
// time. Before it lets go, the test sends the connection more frames than its send queue
// holds: frames the writer drops after the reset must leave the queue, or the connection is
// cut off as a slow consumer (4008) while its reader is still to come.
func TestCloseBeforeAResetEndsNormally(t *testing.T) {
	for _, tt := range []struct {
		name string
		ping bool
	}{
		{"close frame", false},
		{"ping then close frame", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gates := &gateListener{}
			_, base := newTestServerOn(t, func(c *Config) {
				c.ResumeWindow = time.Minute // a 1006 would keep the session for a resume
				c.ConnRequestRate = 0
				c.HeartbeatInterval, c.HeartbeatTimeout = 5*time.Minute, 10*time.Minute
				// Small bounds, which the frames sent after the reset go well past, but not so
				// small that a writer starved for a few round trips of the host's is cut off
				// (16 frames and 64 KB were, 3 times in 40 beside two CPU-burning loops).
				c.SendQueueFrames, c.ResumeHistoryFrames = queueFrames, queueFrames/2
				c.SendQueueBytes, c.ResumeHistoryBytes = queueBytes, queueBytes/2
			}, gates.wrap)
			host := dial(t, base, "h")
			viewer := dial(t, base, "v")
			callAll(t,
				request{host, protocol.ReqCreateLive, map[string]any{"liveID": "r1", "maxSeatCount": 16}},
				request{viewer, protocol.ReqJoinLive, map[string]string{"liveID": "r1"}})

			// Hold the server's next read of the viewer's connection: the read under way
			// returns with the heartbeat, and the one after it waits at the gate.
			gate := gates.of(t, viewer.ws.LocalAddr())
			gate.armed.Store(true)
			viewer.send(protocol.ReqHeartbeat, nil)
			select {
			case <-gate.waiting:
			case <-time.After(waitTimeout):
				t.Fatal("the server's reader never came to the gate")
			}
			deadline := time.Now().Add(time.Second)
			if tt.ping {
				if err := viewer.ws.WriteControl(websocket.PingMessage, []byte("p"), deadline); err != nil {
					t.Fatal(err)
				}
			}
			if err := viewer.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), deadline); err != nil {
				t.Fatal(err)
			}
			tcp := viewer.ws.NetConn().(*net.TCPConn)
			if err := tcp.SetLinger(0); err != nil { // close with a reset, whatever is unread
				t.Fatal(err)
			}
			_ = tcp.Close()

			// The host's seat changes reach the viewer's room: a write to the reset
			// connection fails.
			toggleUntil(t, host, 2000, func() bool {
				select {
				case <-gate.failed:
					return true
				default:
					return false
				}
			})
			// Twice past both of the queue's bounds (a seat change's frame, the whole seat
			// list, is over 2,000 bytes), then the reader may go on.
			for i := 0; i < max(2*queueFrames, 2*queueBytes/2000); i++ {
				typ := protocol.ReqLockSeat
				if i%2 == 1 {
					typ = protocol.ReqUnlockSeat
				}
				if f := host.call(typ, map[string]int{"seatIndex": 5}); *f.Code != 0 {
					t.Fatalf("%s: %s", typ, *f.Message)
				}
			}
			close(gate.release)
			waitFor(t, func() error {
				return checkMetrics(scrape(t, base), []metricWant{{"pkarena_connections_open", nil, 1}})
			})
			fams := scrape(t, base)
			if err := checkMetrics(fams, []metricWant{
				{"pkarena_connections_closed_total", []string{"code=1000"}, 1},
				{"pkarena_sessions_in_grace", nil, 0},
			}); err != nil {
				t.Error(err)
			}
			// 1006: closed under the reader; 4008: cut off, the dropped frames still counted.
			for _, code := range []string{"code=1006", "code=4008"} {
				if n := value(fams, "pkarena_connections_closed_total", code); n > 0 { // -1: none
					t.Errorf("%v connections counted %s", n, code)
				}
			}
			if f := host.call(protocol.ReqHeartbeat, nil); *f.Code != 0 {
				t.Errorf("the host's heartbeat after the viewer left: %s", *f.Message)
			}
		})
	}
}

// The send queue's bounds in TestCloseBeforeAResetEndsNormally.
const (
	queueFrames = 256
	queueBytes  = 1 << 20
)

// gateListener hands out the server's sockets as gateConns (under the liveListener's
// liveConns), and finds them again by their client's address.
type gateListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*gateConn
}

// Accept waits for the next connection.
func (l *gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &gateConn{Conn: c, waiting: make(chan struct{}, 1), failed: make(chan struct{}), closed: make(chan struct{}), release: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, g)
	l.mu.Unlock()
	return g, nil
}

// of returns the server's socket of the connection whose client end is client.
func (l *gateListener) of(t *testing.T, client net.Addr) *gateConn {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.conns {
		if g.RemoteAddr().String() == client.String() {
			return g
		}
	}
	t.Fatalf("no server socket for the client at %s", client)
	return nil
}

// gateConn is a server socket whose reads, once armed, wait at a gate: until a write has
// failed, then until the socket is closed or release is closed. A read that waits signals
// waiting. It waits no longer than waitTimeout in all, nor once the socket is closed.
type gateConn struct {
	net.Conn
	armed     atomic.Bool
	waiting   chan struct{} // a read came to the gate (buffered: one signal kept)
	failed    chan struct{} // closed by the first write that failed while armed
	failOnce  sync.Once
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	release   chan struct{} // closed by the test: a read may go on after a failed write
}

// Read reads, first waiting at the gate if it is armed.
func (c *gateConn) Read(p []byte) (int, error) {
	if c.armed.Load() {
		select {
		case c.waiting <- struct{}{}:
		default:
		}
		giveUp := time.After(waitTimeout)
		select {
		case <-c.failed:
			select {
			case <-c.closed:
			case <-c.release:
			case <-giveUp:
			}
		case <-c.closed: // the server ended (a test that failed early): no more to hold
		case <-giveUp:
		}
		c.armed.Store(false)
	}
	return c.Conn.Read(p)
}

// Write writes, opening the gate if it fails while armed.
func (c *gateConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && c.armed.Load() {
		c.failOnce.Do(func() { close(c.failed) })
	}
	return n, err
}

// CloseWrite shuts the socket for sending, as the server's own sockets can (awaitClient).
func (c *gateConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// Close closes the socket and tells a read at the gate.
func (c *gateConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// resetByPeer knows this system's errors for a connection the client reset: the ones a read
// and a write of a socket the client closed with a reset return here, each of peerResets as
// net wraps it, and nothing else (a deadline, the end of the stream, a socket closed here).
func TestResetByPeer(t *testing.T) {
	server, client := tcpPair(t)
	if err := client.(*net.TCPConn).SetLinger(0); err != nil { // its close resets
		t.Fatal(err)
	}
	client.Close()
	_ = server.SetDeadline(time.Now().Add(waitTimeout))
	_, readErr := server.Read(make([]byte, 1)) // returns once the reset has come
	_, writeErr := server.Write([]byte("frame"))
	type row struct {
		name string
		err  error
		want bool
	}
	tests := []row{
		{"a read after the client's reset", readErr, true},
		{"a write after it", writeErr, true},
		{"a deadline", os.ErrDeadlineExceeded, false},
		{"the end of the stream", io.EOF, false},
		{"a socket closed here", net.ErrClosed, false},
		{"no error", nil, false},
	}
	for _, reset := range peerResets {
		tests = append(tests, row{reset.Error(), &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", reset)}, true})
	}
	for _, tt := range tests {
		if got := resetByPeer(tt.err); got != tt.want {
			t.Errorf("%s (%v): resetByPeer %v; want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// tcpPair returns the two ends of a loopback TCP connection, closed when the test ends.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}
