// Package wsread reads the frames a WebSocket server sends to a client (RFC 6455 §5) straight
// from the TCP socket, for the load generator and the bare reader beside it.
//
// gorilla/websocket reads through a bufio.Reader on the net.Conn, and its frame and message
// readers cost about 2 µs of CPU a frame beyond the system calls (measurements/fanout.md). A
// Reader parses the frames in place. On Linux the Readers share a few epoll instances, two
// per processor, each read by one goroutine that reads every ready socket once and runs its
// handler (poll_linux.go): one read a frame, and one goroutine woken for many frames.
// Elsewhere a Reader reads inside one long-lived syscall.RawConn.Read until the socket is
// empty, then waits for the netpoller, as the net package does: two reads a frame, as with
// gorilla (read_unix.go).
// Its buffer comes from a pool and goes back whenever no frame is half read, so an idle
// connection holds none.
//
// A Reader answers what gorilla's reader answers (a pong to a ping, a close echoing the
// server's code, a 1002 close on a protocol error) through the gorilla connection's writer,
// and ends with the errors gorilla's reader returns for the same bytes, so the two can be
// swapped under a client without changing what it records.
package wsread

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/rxtime"
)

// Opcodes of RFC 6455 §5.2 that are not gorilla message types.
const opContinuation = 0

// Frame header bits (RFC 6455 §5.2).
const (
	finBit  = 0x80
	rsv1Bit = 0x40
	rsv2Bit = 0x20
	rsv3Bit = 0x10
	maskBit = 0x80
)

// maxControlPayload is the largest payload of a control frame (RFC 6455 §5.5).
const maxControlPayload = 125

// controlWait bounds the write of a pong or close the reader sends (gorilla's writeWait).
const controlWait = time.Second

// errUnexpectedEOF is what gorilla's reader returns when the connection ends: a close 1006.
var errUnexpectedEOF = &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: "unexpected EOF"}

// WriteControl writes a control frame, as (*websocket.Conn).WriteControl does.
type WriteControl func(messageType int, data []byte, deadline time.Time) error

// Reader reads one client connection's frames. Make it with Dial; Run it on one goroutine,
// or Start it, once.
// Close the connection through the gorilla connection Dial returned (its Close), which
// tells the Reader.
type Reader struct {
	conn      net.Conn
	pending   []byte       // bytes read before the Reader took over: frames sent with the handshake
	pendingAt time.Time    // when the last of them arrived (rxtime.Conn.Arrived)
	control   WriteControl // nil: nothing is written back

	msg     []byte // a fragmented message's payload so far
	msgType int    // its type; 0 when no message is fragmented

	poll pollState // its part in the poller that reads it (Linux)
}

// Dial dials rawURL with d and makes a Reader of the connection: gorilla then reads only the
// handshake, through a buffer of handshakeBufferSize, and the Reader takes over with what
// that read past the response. d is a copy; its NetDialContext (a plain net.Dialer's when
// nil) dials the TCP connection. The Reader is nil for a wss:// URL, or where the socket
// cannot be read directly (not on this system): gorilla reads the connection then. resp is
// gorilla's, for a refused handshake.
func Dial(ctx context.Context, d websocket.Dialer, rawURL string) (ws *websocket.Conn, r *Reader, resp *http.Response, err error) {
	// The scheme as gorilla reads it (any case). Under TLS the socket's bytes are not the
	// frames.
	if u, perr := url.Parse(rawURL); perr != nil || u.Scheme != "ws" {
		ws, resp, err = d.DialContext(ctx, rawURL, nil)
		return ws, nil, resp, err
	}
	dial := d.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	var (
		hc *handshakeConn
		rx *rxtime.Conn // under hc: when the frames sent with the handshake arrived
	)
	d.ReadBufferSize = handshakeBufferSize
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rx = rxtime.NewConn(conn)
		hc = &handshakeConn{Conn: rx}
		return hc, nil
	}
	if ws, resp, err = d.DialContext(ctx, rawURL, nil); err != nil {
		return nil, nil, resp, err
	}
	if rest, ok := hc.leftover(); ok { // else gorilla's buffer holds it too
		if r, _ = newReader(rx.Conn, rest, ws.WriteControl); r != nil {
			r.pendingAt = rx.Arrived()
			// gorilla reads no more: its writes go straight to the socket, and the stamping
			// layer, needed for the handshake's frames only, goes.
			hc.Conn = rx.Conn
		}
		hc.reader = r
	}
	return ws, r, resp, nil
}

// handshakeBufferSize is gorilla's read buffer under a Reader, where it reads the handshake's
// response only (a longer line is read in parts), and which every connection keeps: the
// smallest gorilla takes (it raises a smaller one to a control frame's 125 bytes).
const handshakeBufferSize = 128

// newReader makes a Reader of conn, whose reading it takes over: nothing else may read conn
// after. pending is what was read from conn past the handshake (handshakeConn.leftover);
// control writes the reader's answers on the connection's writer. ok is false when conn's
// socket cannot be read directly (not a TCP socket, or not on this system).
func newReader(conn net.Conn, pending []byte, control WriteControl) (r *Reader, ok bool) {
	if !rawReadable(conn) {
		return nil, false
	}
	r = &Reader{conn: conn, pending: pending, control: control}
	if !r.attach() {
		return nil, false
	}
	return r, true
}

// Run reads messages until the connection ends or fn returns false, calling fn with every
// whole text or binary message; data is valid only during the call. It returns nil when fn
// stopped it, else why the connection ended: a *websocket.CloseError for a close frame or for
// the connection's end (1006, "unexpected EOF"), the error of a protocol violation, or the
// socket's error.
func (r *Reader) Run(fn func(messageType int, data []byte) bool) error {
	done := make(chan error, 1)
	r.start(fn, func(err error) { done <- err })
	return <-done
}

// Start is Run without a goroutine waiting for the end: it returns at once (on Linux; a
// goroutine of its own runs the Reader elsewhere), and end is called once with what Run would
// have returned, when reading ends. fn and end run on the goroutine that reads the socket (a
// poller's, shared by many connections), on Start's own (frames that came with the handshake)
// or on the one that closed the connection, never two at once: neither may wait. A load
// generator holding thousands of connections keeps no goroutine, and no stack, for each.
func (r *Reader) Start(fn func(messageType int, data []byte) bool, end func(error)) {
	r.start(fn, end)
}

// Arrived is when the frame Run's handler is given reached this machine: on Linux the
// kernel's receive time of the bytes that completed it (SO_TIMESTAMPNS), before the reading
// goroutine was woken and ran, so that a latency ending there leaves out the reader's own
// delays. Where the kernel gives no time (other systems, frames read with the handshake) it
// is the time of the call. Call it only from the handler. The kernel's time is the wall
// clock's, not the monotonic one: a latency measured to it moves if the clock is stepped.
func (r *Reader) Arrived() time.Time { return r.arrived() }

// buffers lends the reader's buffers: taken when bytes arrive, given back when no frame is
// half read.
var buffers = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// bufferSize is a lent buffer's size: a score change of nine rooms (about 1.2 KB) in one read.
const bufferSize = 2048

// maxKeptBuffer is the largest buffer given back to the pool; one grown past it for a large
// frame is dropped.
const maxKeptBuffer = 16 << 10

func putBuffer(b *[]byte) {
	if b != nil && cap(*b) <= maxKeptBuffer {
		*b = (*b)[:cap(*b)]
		buffers.Put(b)
	}
}

// frames hands every whole frame at the start of b to its handler and returns how many bytes
// they took. stop is set when fn asked to stop; err when the connection cannot go on.
func (r *Reader) frames(b []byte, fn func(int, []byte) bool) (used int, stop bool, err error) {
	for {
		n, op, fin, payload, err := r.next(b[used:])
		if err != nil || n == 0 {
			return used, false, err
		}
		used += n
		goOn, err := r.frame(op, fin, payload, fn)
		if err != nil || !goOn {
			return used, !goOn && err == nil, err
		}
	}
}

// next parses the frame at the start of b: n is 0 while b holds only part of it. The checks are
// gorilla's, in its order: every fault of the first two bytes at once, then the length.
func (r *Reader) next(b []byte) (n int, op int, fin bool, payload []byte, err error) {
	if len(b) < 2 {
		return 0, 0, false, nil, nil
	}
	op, fin = int(b[0]&0xf), b[0]&finBit != 0
	length := uint64(b[1] & 0x7f)
	var faults []string
	if b[0]&(rsv1Bit|rsv2Bit|rsv3Bit) != 0 { // not on the way of a good frame
		for _, bit := range []struct {
			mask byte
			name string
		}{{rsv1Bit, "RSV1 set"}, {rsv2Bit, "RSV2 set"}, {rsv3Bit, "RSV3 set"}} {
			if b[0]&bit.mask != 0 {
				faults = append(faults, bit.name)
			}
		}
	}
	switch op {
	case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
		if length > maxControlPayload {
			faults = append(faults, "len > 125 for control")
		}
		if !fin {
			faults = append(faults, "FIN not set on control")
		}
	case websocket.TextMessage, websocket.BinaryMessage:
		if r.msgType != 0 {
			faults = append(faults, "data before FIN")
		}
	case opContinuation:
		if r.msgType == 0 {
			faults = append(faults, "continuation after FIN")
		}
	default:
		faults = append(faults, "bad opcode "+strconv.Itoa(op))
	}
	if b[1]&maskBit != 0 {
		faults = append(faults, "bad MASK")
	}
	if len(faults) > 0 {
		return 0, 0, false, nil, r.protocolError(strings.Join(faults, ", "))
	}
	h := 2
	switch length {
	case 126:
		if len(b) < 4 {
			return 0, 0, false, nil, nil
		}
		length, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, false, nil, nil
		}
		length, h = binary.BigEndian.Uint64(b[2:]), 10
		if length > 1<<63-1 { // gorilla: a negative length is past any read limit
			return 0, 0, false, nil, websocket.ErrReadLimit
		}
	}
	if uint64(len(b)-h) < length {
		return 0, 0, false, nil, nil
	}
	end := h + int(length)
	return end, op, fin, b[h:end:end], nil
}

// frame acts on one whole frame: a message to fn, a control frame answered as gorilla answers.
func (r *Reader) frame(op int, fin bool, payload []byte, fn func(int, []byte) bool) (goOn bool, err error) {
	switch op {
	case websocket.TextMessage, websocket.BinaryMessage:
		if fin {
			return fn(op, payload), nil
		}
		r.msgType, r.msg = op, append(r.msg[:0], payload...)
		return true, nil
	case opContinuation:
		r.msg = append(r.msg, payload...)
		if !fin {
			return true, nil
		}
		mt, msg := r.msgType, r.msg
		r.msgType, r.msg = 0, nil
		return fn(mt, msg), nil
	case websocket.PingMessage:
		return true, r.pong(payload)
	case websocket.PongMessage:
		return true, nil
	}
	// A close frame (next let no other opcode through).
	code, text := websocket.CloseNoStatusReceived, ""
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
		if !validReceivedCloseCode(code) {
			return false, r.protocolError("bad close code " + strconv.Itoa(code))
		}
		text = string(payload[2:])
		if !utf8.ValidString(text) {
			return false, r.protocolError("invalid utf8 payload in close frame")
		}
	}
	r.write(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
	return false, &websocket.CloseError{Code: code, Text: text}
}

// pong answers a ping with its payload; like gorilla, a close already sent or a temporary
// error is no reason to stop reading.
func (r *Reader) pong(payload []byte) error {
	err := r.write(websocket.PongMessage, payload)
	var ne net.Error
	if err == websocket.ErrCloseSent || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// protocolError closes the connection with 1002 and the fault, and returns the error
// gorilla's reader returns for it. The longest fault ("RSV1 set, RSV2 set, RSV3 set, len >
// 125 for control, FIN not set on control, bad MASK") fits a close frame; gorilla's cut to
// 125 bytes is never needed.
func (r *Reader) protocolError(message string) error {
	r.write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, message))
	return errors.New("websocket: " + message)
}

func (r *Reader) write(messageType int, data []byte) error {
	if r.control == nil {
		return nil
	}
	return r.control(messageType, data, time.Now().Add(controlWait))
}

// validReceivedCloseCode is gorilla's rule for the close codes a peer may send (RFC 6455 §7.4).
func validReceivedCloseCode(code int) bool {
	switch code {
	case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseProtocolError,
		websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData,
		websocket.ClosePolicyViolation, websocket.CloseMessageTooBig,
		websocket.CloseMandatoryExtension, websocket.CloseInternalServerErr,
		websocket.CloseServiceRestart, websocket.CloseTryAgainLater:
		return true
	}
	return code >= 3000 && code <= 4999
}

// handshakeConn wraps a connection while gorilla's Dialer reads the handshake's response and
// keeps what is read, so the frames the server sent at once, read into gorilla's buffer with
// the response, can be handed to a Reader (leftover).
type handshakeConn struct {
	net.Conn
	seen []byte
	done bool

	reader *Reader // the Reader that took the connection over, if one did
}

// Close closes the connection; a Reader reading it learns of it first (closeConn).
func (h *handshakeConn) Close() error {
	if h.reader != nil {
		return h.reader.closeConn()
	}
	return h.Conn.Close()
}

// Read reads from the connection, keeping the bytes until leftover is called.
func (h *handshakeConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if !h.done {
		h.seen = append(h.seen, p[:n]...)
	}
	return n, err
}

// leftover stops keeping what is read and returns the bytes read past the end of the
// handshake's HTTP response (its empty line); ok is false when no response ended in them.
func (h *handshakeConn) leftover() (rest []byte, ok bool) {
	h.done = true
	i := bytes.Index(h.seen, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, false
	}
	if rest = h.seen[i+4:]; len(rest) == 0 {
		rest = nil
	}
	h.seen = nil
	return rest, true
}
