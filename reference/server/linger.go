package server

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// The end of a connection the server closes with a close frame (RFC 6455 §7.1.1: the server
// closes the TCP connection once it has both sent and received a close frame).
//
// Closing the socket right after the close frame resets the connection whenever the client
// has sent something the server has not read: the rest of a frame over the read limit (1009),
// the frames behind a binary one (1003), anything the client sent as its connection was
// replaced (4009) or cut off (4008), or its own close frame arriving after the socket is gone.
// A Linux client still reads the close frame before the reset, but a stack that discards what
// it has not read when a reset comes (Windows does) never sees the close code, and a client
// that answers the close frame, as RFC 6455 asks, gets a reset for it.
//
// So once a close frame is out, the server shuts the socket for sending (the client reads the
// close frame and then the end of the stream, a FIN) and keeps it open for the client's answer,
// for at most Config.CloseLinger: its close frame, or the end of its stream. Only then is the
// socket closed, with nothing unread. The answer is read by the connection's reader if that
// is still reading; if the reader had stopped (at a message it refused, a frame over the
// limit, a broken frame, silence, the token's expiry), here: what the client sends is read
// and discarded (drain) until its close frame or its end. The liveConn follows the client's
// frames from the upgrade on, through every byte read from the socket (closeWatch: a few
// steps a frame, payloads skipped), so the linger knows where in a frame the stream stands
// wherever gorilla stopped, and whether the close frame came already (read into gorilla's
// buffer, behind what it refused). Past a broken frame (1002) the frames cannot be followed,
// and only the client's end of the stream answers; so too on a connection that is not a
// liveConn (the Handler served on a listener of one's own).
//
// A client that answers with its close frame and then waits for the server to close first,
// as RFC 6455 §5.5.1 lets it (browsers do), is closed at its close frame, not at the bound.
// The reading is bounded by maxDrainBytes and by the linger's deadline, which stands
// (liveConn.lingerRead) but for one last look of probeWait at what came before it. Nothing
// waits for the linger: the hub forgets the connection when it cuts it off or when the
// reader ends, as before. close_lingers_total counts how the waits end.

// maxDrainBytes bounds what is read and discarded after the close frame: a client that keeps
// sending past it is closed at once, as before the linger.
const maxDrainBytes = 1 << 20

// How a linger ended, the label values of close_lingers_total.
const (
	lingerAnswered = "answered"  // the client's close frame, or the end or reset of its stream
	lingerTimedOut = "timed out" // CloseLinger passed: closed without an answer
	lingerFlooded  = "flooded"   // maxDrainBytes more came: closed at once
	lingerCut      = "cut"       // the socket was closed under the wait (Stop's deadline)
)

// lingerOutcomes are the label values of close_lingers_total.
var lingerOutcomes = []string{lingerAnswered, lingerTimedOut, lingerFlooded, lingerCut}

// awaitClient keeps the socket open after a close frame was sent on it until the client
// answered or Config.CloseLinger passed (see above); the writer then closes it. It shuts the
// socket for sending: nothing may be written after it.
func (c *conn) awaitClient() {
	wait := c.srv.cfg.CloseLinger
	nc := c.ws.NetConn()
	if wait <= 0 || !shutWrite(nc) {
		return
	}
	deadline := time.Now().Add(wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	outcome := lingerTimedOut
	select {
	case <-c.readEnd:
		if outcome = readEndOutcome(c.readErr); outcome == "" {
			outcome = drain(nc, deadline)
		}
	case <-t.C:
	}
	c.srv.metrics.lingers[outcome].Inc()
}

// lingerClose is awaitClient for a socket no reader reads (a resume refused at the upgrade):
// it shuts nc for sending and reads until the client's end or wait, then closes it.
func lingerClose(nc net.Conn, wait time.Duration, m *metrics) {
	defer nc.Close()
	if wait > 0 && shutWrite(nc) {
		m.lingers[drain(nc, time.Now().Add(wait))].Inc()
	}
}

// shutWrite shuts nc for sending (a FIN follows what was written); false if it cannot.
func shutWrite(nc net.Conn) bool {
	cw, ok := nc.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// lingerRead sets a linger's read deadline on c, one that stands: Read takes no second look
// (lookAgain), which a client sending a little at a time would have put it off with again and
// again (drain takes one last look of its own). The connection's reader has ended, or never
// started.
func (c *liveConn) lingerRead(deadline time.Time) error {
	c.remember(time.Time{})
	return c.Conn.SetReadDeadline(deadline)
}

// drain reads and discards what the client sends until its close frame (on a liveConn that
// follows its frames), its end of the stream, an error, maxDrainBytes or deadline, and says
// which.
func drain(nc net.Conn, deadline time.Time) string {
	lc, _ := nc.(*liveConn)
	setDeadline := nc.SetReadDeadline
	if lc != nil {
		if lc.closeSeen() { // behind what the reader refused, in gorilla's buffer
			return lingerAnswered
		}
		setDeadline = lc.lingerRead
	}
	if setDeadline(deadline) != nil {
		return lingerCut
	}
	buf := make([]byte, 4096)
	lastLook := false
	for budget := maxDrainBytes; budget > 0; {
		n, err := nc.Read(buf[:min(len(buf), budget)])
		budget -= n
		if lc != nil && lc.closeSeen() {
			return lingerAnswered
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !lastLook:
			// One last look, for probeWait: an answer that came before the deadline but
			// was not read by it (a starved server's timer fires late) is still an answer
			// (as liveConn.lookAgain for the reader). Once only: a client sending a little
			// at a time does not put the end off.
			lastLook = true
			if setDeadline(time.Now().Add(probeWait)) != nil {
				return lingerCut
			}
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			return lingerTimedOut
		}
		if o := readEndOutcome(err); o != "" {
			return o
		}
		return lingerCut
	}
	return lingerFlooded
}

// followFrames makes c follow the client's frames from now on, the upgrade's end: every byte
// Read returns goes through c.frames. Called before the connection's reader starts.
func (c *liveConn) followFrames() { c.following = true }

// closeSeen reports whether the client's close frame has been read from the socket, on a
// connection that follows its frames.
func (c *liveConn) closeSeen() bool { return c.following && c.frames.done }

// closeWatch follows a client's frames through the bytes read from its socket since the
// upgrade (liveConn.Read), to its close frame: the client's answer, after which it sends
// nothing (RFC 6455 §5.5.1). It is lost for good at anything that cannot be a client's frame
// header (the client broke the protocol); the answer is then the end of the stream.
type closeWatch struct {
	head  [14]byte // the frame header being read: two bytes, the length's extension, the mask
	have  int      // bytes of head read
	left  uint64   // bytes of the frame's payload still to come
	close bool     // the frame is a close frame
	lost  bool
	done  bool // the close frame is complete: nothing more is followed
}

// feed follows b; it reports whether the client's close frame is complete (with b or before).
func (w *closeWatch) feed(b []byte) bool {
	if w.done {
		return true
	}
	w.done = w.follow(b)
	return w.done
}

// follow follows b; it reports whether b completed a close frame.
func (w *closeWatch) follow(b []byte) bool {
	for len(b) > 0 && !w.lost {
		if w.left > 0 {
			n := min(uint64(len(b)), w.left)
			b, w.left = b[n:], w.left-n
			if w.left == 0 && w.close {
				return true
			}
			continue
		}
		w.head[w.have] = b[0]
		w.have, b = w.have+1, b[1:]
		size, ok := w.headerSize()
		if !ok {
			w.lost = true
			return false
		}
		if w.have < size {
			continue
		}
		w.left, w.have = w.payloadLen(), 0
		w.close = w.head[0]&0x0f == websocket.CloseMessage
		if w.left == 0 && w.close {
			return true
		}
	}
	return false
}

// headerSize is the length of the header begun in head (known from its second byte on; 2
// before), and false if what is there cannot start a client's frame: reserved bits (no
// extension is agreed), an unknown opcode, no mask, a control frame fragmented or longer than
// 125 bytes, a 64-bit length with its top bit set.
func (w *closeWatch) headerSize() (int, bool) {
	b0 := w.head[0]
	op := int(b0 & 0x0f)
	switch {
	case b0&0x70 != 0:
		return 0, false
	case op > websocket.BinaryMessage && op < websocket.CloseMessage, op > websocket.PongMessage:
		return 0, false
	}
	if w.have < 2 {
		return 2, true
	}
	b1 := w.head[1]
	length := b1 & 0x7f
	switch {
	case b1&0x80 == 0:
		return 0, false
	case op >= websocket.CloseMessage && (b0&0x80 == 0 || length > 125):
		return 0, false
	case length == 126:
		return 2 + 2 + 4, true
	case length == 127:
		if w.have > 2 && w.head[2]&0x80 != 0 {
			return 0, false
		}
		return 2 + 8 + 4, true
	}
	return 2 + 4, true
}

// payloadLen is the payload length of the complete header in head.
func (w *closeWatch) payloadLen() uint64 {
	switch length := w.head[1] & 0x7f; length {
	case 126:
		return uint64(binary.BigEndian.Uint16(w.head[2:4]))
	case 127:
		return binary.BigEndian.Uint64(w.head[2:10])
	default:
		return uint64(length)
	}
}

// readEndOutcome is how the linger ends when err ended the reading: answered when err is the
// client's end (its close frame or the end of its stream, which gorilla reports as a
// CloseError; io.EOF; a reset), cut when the socket was closed under the reader; "" for
// anything else (nil included: the reader stopped at a frame it refused), which leaves the
// client's answer still to come.
func readEndOutcome(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) || errors.Is(err, io.EOF) || resetByPeer(err):
		return lingerAnswered
	case errors.Is(err, net.ErrClosed):
		return lingerCut
	}
	return ""
}
