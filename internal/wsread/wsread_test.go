package wsread

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/tcptest"
)

// frame encodes a server frame (unmasked unless masked) with the given first byte.
func frame(b0 byte, payload []byte, masked bool) []byte {
	var h []byte
	m := byte(0)
	if masked {
		m = maskBit
	}
	switch n := len(payload); {
	case n < 126:
		h = []byte{b0, m | byte(n)}
	case n <= 0xffff:
		h = binary.BigEndian.AppendUint16([]byte{b0, m | 126}, uint16(n))
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, m | 127}, uint64(n))
	}
	if masked {
		h = append(h, 0, 0, 0, 0) // a zero key leaves the payload as it is
	}
	return append(h, payload...)
}

func text(s string) []byte   { return frame(finBit|websocket.TextMessage, []byte(s), false) }
func closeF(p []byte) []byte { return frame(finBit|websocket.CloseMessage, p, false) }

// outcome is what a reader made of a server's bytes: the messages, the error it ended with and
// the frames it wrote back.
type outcome struct {
	Messages []string
	Err      string
	Wrote    []string
}

// script is a server that upgrades every connection, writes its bytes (in writes of chunk
// bytes when chunk > 0), ends its side of the connection and reports the frames the client
// wrote back until the client closed.
type script struct {
	srv   *httptest.Server
	wrote chan []string
}

func newScript(t *testing.T, data []byte, chunk int) *script {
	t.Helper()
	s := &script{wrote: make(chan []string, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn := ws.NetConn()
		for rest := data; len(rest) > 0; {
			n := len(rest)
			if chunk > 0 && n > chunk {
				n = chunk
			}
			if _, err := conn.Write(rest[:n]); err != nil {
				break
			}
			rest = rest[n:]
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		back, _ := io.ReadAll(conn)
		s.wrote <- clientFrames(back)
		conn.Close()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// clientFrames decodes the masked frames a client wrote: "opcode:payload" each.
func clientFrames(b []byte) []string {
	var out []string
	for len(b) >= 6 {
		op, n, h := b[0]&0xf, int(b[1]&0x7f), 2
		if n == 126 {
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		}
		key := b[h : h+4]
		h += 4
		if len(b) < h+n {
			break
		}
		p := append([]byte(nil), b[h:h+n]...)
		for i := range p {
			p[i] ^= key[i%4]
		}
		out = append(out, fmt.Sprintf("%d:%q", op, p))
		b = b[h+n:]
	}
	return out
}

func (s *script) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// readGorilla reads s with gorilla's reader, as the clients did before.
func readGorilla(t *testing.T, s *script) outcome {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			o.Err = err.Error()
			break
		}
		o.Messages = append(o.Messages, fmt.Sprintf("%d:%s", mt, data))
	}
	ws.Close()
	o.Wrote = <-s.wrote
	return o
}

// dialRaw dials url with Dial, which must give a Reader.
func dialRaw(t *testing.T, url string) (*websocket.Conn, *Reader) {
	t.Helper()
	ws, r, _, err := Dial(context.Background(), websocket.Dialer{}, url)
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		t.Fatal("Dial: no Reader for a ws:// URL on a TCP connection")
	}
	return ws, r
}

// wsServer starts a WebSocket server (closed by the caller) whose every connection fn serves
// once upgraded; the connection is closed when fn returns.
func wsServer(fn func(ws *websocket.Conn, r *http.Request)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		fn(ws, r)
	}))
}

// sayOnce is a WebSocket server's handler that sends one text message, msg, then reads
// until the client goes.
func sayOnce(msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(msg))
		_, _ = io.Copy(io.Discard, ws.NetConn()) // until the client goes
	}
}

// TestDialReadsAnyCaseOfWS: a URL's scheme is read in any case, as gorilla reads it: "WS://"
// is a plain connection, read directly.
func TestDialReadsAnyCaseOfWS(t *testing.T) {
	srv := httptest.NewServer(sayOnce("upper"))
	defer srv.Close()
	ws, r := dialRaw(t, "WS"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	var got string
	if err := r.Run(func(_ int, data []byte) bool { got = string(data); return false }); err != nil || got != "upper" {
		t.Errorf("Run: %q, %v; want \"upper\"", got, err)
	}
}

// TestDialLeavesTLSToGorilla: under TLS the socket's bytes are not the frames; Dial gives no
// Reader and gorilla reads, as before.
func TestDialLeavesTLSToGorilla(t *testing.T) {
	srv := httptest.NewTLSServer(sayOnce("over TLS"))
	defer srv.Close()
	d := websocket.Dialer{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	ws, r, _, err := Dial(context.Background(), d, "wss"+strings.TrimPrefix(srv.URL, "https"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if r != nil {
		t.Fatal("Dial made a Reader of a TLS connection")
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "over TLS" {
		t.Errorf("gorilla read %q, %v", data, err)
	}
}

// readRaw reads s with a Reader.
func readRaw(t *testing.T, s *script) outcome {
	t.Helper()
	ws, r := dialRaw(t, s.url())
	var o outcome
	hung := time.AfterFunc(10*time.Second, func() { ws.Close() })
	err := r.Run(func(mt int, data []byte) bool {
		o.Messages = append(o.Messages, fmt.Sprintf("%d:%s", mt, data))
		return true
	})
	if !hung.Stop() {
		t.Error("Run did not return within 10 s of the server's last byte")
	}
	if err != nil {
		o.Err = err.Error()
	}
	ws.Close()
	o.Wrote = <-s.wrote
	return o
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// sameAsGorilla are server byte streams, well formed and not, and the outcome both readers
// must reach.
var sameAsGorilla = []struct {
	name string
	data []byte
}{
	{"text then EOF", text("hello")},
	{"binary", frame(finBit|websocket.BinaryMessage, []byte{0, 1, 2}, false)},
	{"empty text", text("")},
	{"three frames in one write", cat(text("a"), text("bb"), text("ccc"))},
	{"16-bit length at its edges", cat(text(strings.Repeat("x", 125)), text(strings.Repeat("y", 126)), text(strings.Repeat("z", 65535)))},
	{"64-bit length, larger than the buffer", text(strings.Repeat("w", 70000))},
	{"short payloads in the longer length encodings", cat(
		[]byte{finBit | websocket.TextMessage, 126, 0, 3}, []byte("abc"),
		[]byte{finBit | websocket.TextMessage, 127, 0, 0, 0, 0, 0, 0, 0, 2}, []byte("de"))},
	{"fragmented with a ping between", cat(
		frame(websocket.TextMessage, []byte("frag"), false),
		frame(finBit|websocket.PingMessage, []byte("p1"), false),
		frame(opContinuation, []byte("men"), false),
		frame(finBit|opContinuation, []byte("ted"), false),
		text("after"))},
	{"ping answered, pong ignored", cat(frame(finBit|websocket.PingMessage, []byte("are you there"), false),
		frame(finBit|websocket.PongMessage, []byte("x"), false), text("t"))},
	{"close with code and reason", cat(text("last"), closeF(websocket.FormatCloseMessage(4008, "too slow")), text("never"))},
	{"close without a code", closeF(nil)},
	{"close of one byte", closeF([]byte{3})},
	{"close with a code a peer may not send", closeF(websocket.FormatCloseMessage(1005, ""))},
	{"close with a code out of range", closeF(websocket.FormatCloseMessage(5000, ""))},
	{"close 4999, the last a peer may send", closeF(websocket.FormatCloseMessage(4999, ""))},
	{"close 3000, the first of the registered", closeF(websocket.FormatCloseMessage(3000, "x"))},
	{"close 2999", closeF(websocket.FormatCloseMessage(2999, ""))},
	{"close 1013, the last of RFC 6455's a peer may send", closeF(websocket.FormatCloseMessage(1013, ""))},
	{"close 1014", closeF(websocket.FormatCloseMessage(1014, ""))},
	{"close 1004", closeF(websocket.FormatCloseMessage(1004, ""))},
	{"close reason not UTF-8", closeF(append(websocket.FormatCloseMessage(1000, ""), 0xff, 0xfe))},
	{"RSV bits", cat(text("ok"), frame(finBit|rsv1Bit|rsv3Bit|websocket.TextMessage, []byte("x"), false))},
	{"RSV2 only", frame(finBit|rsv2Bit|websocket.TextMessage, []byte("x"), false)},
	{"bad opcode", frame(finBit|3, []byte("x"), false)},
	{"masked frame", frame(finBit|websocket.TextMessage, []byte("x"), true)},
	{"every fault of the first two bytes", frame(rsv2Bit|11, []byte("x"), true)},
	{"control too long", frame(finBit|websocket.PingMessage, bytes.Repeat([]byte("p"), 126), false)},
	{"control of the longest length", cat(frame(finBit|websocket.PingMessage, bytes.Repeat([]byte("p"), 125), false), text("t"))},
	{"64-bit length at its largest", []byte{finBit | websocket.TextMessage, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'}},
	{"control not final", frame(websocket.PingMessage, []byte("p"), false)},
	{"continuation without a start", frame(finBit|opContinuation, []byte("x"), false)},
	{"data inside a fragmented message", cat(frame(websocket.TextMessage, []byte("a"), false), text("b"))},
	{"negative 64-bit length", []byte{finBit | websocket.TextMessage, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}},
	{"EOF inside a header", []byte{finBit | websocket.TextMessage}},
	{"EOF inside a length", []byte{finBit | websocket.TextMessage, 127, 0, 0}},
	{"EOF inside a payload", text("cut short")[:6]},
	{"EOF inside a fragmented message", frame(websocket.TextMessage, []byte("a"), false)},
}

func TestReaderDoesWhatGorillaDoes(t *testing.T) {
	for _, tc := range sameAsGorilla {
		for _, chunk := range []int{0, 1, 7} {
			t.Run(fmt.Sprintf("%s/writes of %d", tc.name, chunk), func(t *testing.T) {
				if chunk == 1 && len(tc.data) > 4096 {
					t.Skip("a byte a write: too slow for 64 KB")
				}
				want := readGorilla(t, newScript(t, tc.data, chunk))
				got := readRaw(t, newScript(t, tc.data, chunk))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Reader:\n%s\ngorilla:\n%s", show(got), show(want))
				}
			})
		}
	}
}

func show(o outcome) string {
	var b strings.Builder
	for _, m := range o.Messages {
		if len(m) > 40 {
			m = fmt.Sprintf("%s… (%d bytes)", m[:40], len(m))
		}
		fmt.Fprintf(&b, "  message %s\n", m)
	}
	fmt.Fprintf(&b, "  error %q\n  wrote %q", o.Err, o.Wrote)
	return b.String()
}

// TestReaderWaitsAfterADrainingRead holds the reader's one saving: after a read that left room
// in its buffer it waits for the netpoller without reading again, and must then be woken by
// the next frame. The server writes a frame only once the one before was handed over, so
// every frame arrives on a socket the reader has drained.
func TestReaderWaitsAfterADrainingRead(t *testing.T) {
	const frames = 50
	got := make(chan string, frames)
	srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
		for i := range frames {
			if _, err := ws.NetConn().Write(text(fmt.Sprint(i))); err != nil {
				return
			}
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				return // the test fails below: the reader missed frame i
			}
		}
	})
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	n := 0
	err := r.Run(func(_ int, data []byte) bool {
		if want := fmt.Sprint(n); string(data) != want {
			t.Errorf("frame %d: %q, want %q", n, data, want)
		}
		n++
		got <- string(data)
		return n < frames
	})
	if err != nil || n != frames {
		t.Fatalf("Run: %v after %d of %d frames", err, n, frames)
	}
}

// TestReaderTakesTheFramesSentWithTheHandshake: a server that writes its first frames in the
// same write as its 101 response; gorilla's Dialer reads them into its buffer with the
// response, and handshakeConn must hand them to the Reader.
func TestReaderTakesTheFramesSentWithTheHandshake(t *testing.T) {
	url := serveWithHandshake(t, cat(text("welcome"), text("first"), text("sec")[:3]),
		text("sec")[3:], closeF(websocket.FormatCloseMessage(1000, "")))
	ws, r := dialRaw(t, url)
	defer ws.Close()
	var msgs []string
	err := r.Run(func(_ int, data []byte) bool { msgs = append(msgs, string(data)); return true })
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1000 {
		t.Errorf("Run ended with %v, want close 1000", err)
	}
	if want := []string{"welcome", "first", "sec"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
}

// serveWithHandshake serves one WebSocket connection that writes first in the same write as
// its 101 response, then each of then in a write of its own, then reads until the client
// goes; it returns the ws:// URL.
func serveWithHandshake(t *testing.T, first []byte, then ...[]byte) string {
	t.Helper()
	return "ws://" + tcptest.Serve(t, func(c net.Conn) {
		resp, ok := upgradeResponse(c)
		if !ok {
			return
		}
		_, _ = c.Write(cat(resp, first))
		for _, b := range then {
			_, _ = c.Write(b)
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

// upgradeResponse reads a WebSocket handshake's request from c and returns its 101 response.
func upgradeResponse(c net.Conn) ([]byte, bool) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return nil, false
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"), true
}

func TestReaderStopsWhenTheHandlerSaysSo(t *testing.T) {
	s := newScript(t, cat(text("one"), text("two"), text("three")), 0)
	ws, r := dialRaw(t, s.url())
	var msgs []string
	err := r.Run(func(_ int, data []byte) bool { msgs = append(msgs, string(data)); return len(msgs) < 2 })
	ws.Close()
	<-s.wrote
	if err != nil || !reflect.DeepEqual(msgs, []string{"one", "two"}) {
		t.Errorf("Run: %v with %q, want nil with the first two", err, msgs)
	}
}

// TestNextWaitsForTheWholeFrame: every prefix of a frame, in each length encoding, is a frame
// not yet read (n 0, no error); the whole frame is read to its last byte.
func TestNextWaitsForTheWholeFrame(t *testing.T) {
	for _, f := range [][]byte{
		text("seven-bit"),
		text(strings.Repeat("s", 300)),
		append([]byte{finBit | websocket.TextMessage, 127, 0, 0, 0, 0, 0, 0, 0, 4}, "long"...),
		{finBit | websocket.TextMessage, 126, 0, 0},                   // empty, in 16 bits
		{finBit | websocket.TextMessage, 127, 0, 0, 0, 0, 0, 0, 0, 0}, // empty, in 64 bits
		frame(finBit|websocket.PingMessage, []byte("p"), false),
	} {
		var r Reader
		for k := range len(f) {
			if n, _, _, _, err := r.next(f[:k]); n != 0 || err != nil {
				t.Fatalf("next of %d of %d bytes (% x…): n %d, %v; want 0, nil", k, len(f), f[:min(k, 12)], n, err)
			}
		}
		for _, b := range [][]byte{f, append(f, 0x81)} { // alone, and with a byte of the next frame
			n, op, fin, payload, err := r.next(b)
			if n != len(f) || op != int(f[0]&0xf) || !fin || err != nil || len(payload) != len(f)-headerLen(f) {
				t.Errorf("next of % x…: n %d op %d fin %v payload %d bytes, %v", b[:min(len(b), 12)], n, op, fin, len(payload), err)
			}
		}
	}
}

func headerLen(f []byte) int {
	switch f[1] & 0x7f {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

func TestHandshakeConnLeftover(t *testing.T) {
	for _, tc := range []struct {
		seen string
		rest string
		ok   bool
	}{
		{"HTTP/1.1 101 x\r\nA: b\r\n\r\n", "", true},
		{"HTTP/1.1 101 x\r\n\r\n\x81\x01a", "\x81\x01a", true},
		{"HTTP/1.1 101 x\r\n\r\n\r\n\r\n", "\r\n\r\n", true}, // the first empty line ends it
		{"HTTP/1.1 101 x\r\n", "", false},
		{"\r\n\r\nX", "X", true},
	} {
		h := &handshakeConn{seen: []byte(tc.seen)}
		rest, ok := h.leftover()
		if string(rest) != tc.rest || ok != tc.ok || (tc.rest == "" && rest != nil) {
			t.Errorf("Leftover of %q: %q, %v; want %q, %v", tc.seen, rest, ok, tc.rest, tc.ok)
		}
	}
}

func TestNewRefusesWhatItCannotRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok := newReader(a, nil, nil); ok {
		t.Error("newReader took a net.Pipe, which has no socket")
	}
}

// TestPongErrors: a pong that cannot be written stops the reader unless, as in gorilla, the
// close was already sent or the write only timed out.
func TestPongErrors(t *testing.T) {
	for _, tc := range []struct {
		write error
		stops bool
	}{
		{nil, false},
		{websocket.ErrCloseSent, false},
		{&net.OpError{Op: "write", Err: os.ErrDeadlineExceeded}, false},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, true},
	} {
		r := Reader{control: func(int, []byte, time.Time) error { return tc.write }}
		goOn, err := r.frame(websocket.PingMessage, true, []byte("p"), nil)
		if !goOn || (err != nil) != tc.stops {
			t.Errorf("pong write failing with %v: go on %v, %v; want an error %v", tc.write, goOn, err, tc.stops)
		}
	}
}

// TestReaderEndsWhenTheConnectionIsClosed: closing the connection while the reader waits, a
// frame read and no buffer held (the client's Kill), ends Run with
// net.ErrClosed.
func TestReaderEndsWhenTheConnectionIsClosed(t *testing.T) {
	srv := httptest.NewServer(sayOnce("one"))
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	read, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- r.Run(func(int, []byte) bool { close(read); return true }) }()
	<-read
	ws.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run = %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of the close")
	}
}

// TestStartTellsTheEndOnce: Start returns while the server has sent nothing yet; the frames
// then go to the handler and the close to end, once, with what Run would return (the close
// frame's code), and a close of the connection after that tells end nothing more.
func TestStartTellsTheEndOnce(t *testing.T) {
	send := make(chan struct{})
	srv := wsServer(func(ws *websocket.Conn, _ *http.Request) {
		<-send
		_ = ws.WriteMessage(websocket.TextMessage, []byte("a"))
		_ = ws.WriteMessage(websocket.TextMessage, []byte("b"))
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
		_, _, _ = ws.ReadMessage() // until the client goes
	})
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	var (
		mu   sync.Mutex
		msgs []string
		ends []error
	)
	ended := make(chan struct{})
	started := make(chan struct{})
	go func() {
		r.Start(func(_ int, data []byte) bool {
			mu.Lock()
			msgs = append(msgs, string(data))
			mu.Unlock()
			return true
		}, func(err error) {
			mu.Lock()
			ends = append(ends, err)
			mu.Unlock()
			close(ended)
		})
		close(started)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return within 10 s while the server sent nothing")
	}
	close(send)
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("end was not told within 10 s of the server's close")
	}
	ws.Close()
	mu.Lock()
	defer mu.Unlock()
	var ce *websocket.CloseError
	if len(ends) != 1 || !errors.As(ends[0], &ce) || ce.Code != 4001 || ce.Text != "bye" || !reflect.DeepEqual(msgs, []string{"a", "b"}) {
		t.Errorf("end told %v, the handler given %q; want once close 4001 \"bye\", after a and b", ends, msgs)
	}
}

// TestDialLetsTheStampingLayerGo: once a Reader has the socket, gorilla's connection writes
// straight to it (a pong, a close), and the layer that stamped the handshake's reads is not
// kept for the connection's life.
func TestDialLetsTheStampingLayerGo(t *testing.T) {
	srv := httptest.NewServer(sayOnce("one"))
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	hc, ok := ws.NetConn().(*handshakeConn)
	if !ok {
		t.Fatalf("gorilla's connection is a %T; want the handshakeConn", ws.NetConn())
	}
	if _, raw := hc.Conn.(*net.TCPConn); !raw || hc.reader != r {
		t.Errorf("under gorilla after the handshake: %T, the Reader %v; want the *net.TCPConn and the Reader", hc.Conn, hc.reader == r)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("still writes")); err != nil {
		t.Errorf("a write after the handshake: %v", err)
	}
}

// TestDialReadsAHandshakeLongerThanItsBuffer: a response whose header lines are longer than
// gorilla's read buffer under a Reader (handshakeBufferSize) is read in parts, and the frame
// sent right behind it still reaches the Reader.
func TestDialReadsAHandshakeLongerThanItsBuffer(t *testing.T) {
	long := strings.Repeat("x", 4*handshakeBufferSize)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, http.Header{"X-Long": {long}})
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte("after"))
		_, _, _ = ws.ReadMessage()
	}))
	defer srv.Close()
	ws, r, resp, err := Dial(context.Background(), websocket.Dialer{}, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil || r == nil {
		t.Fatalf("Dial: %v (Reader %v)", err, r != nil)
	}
	defer ws.Close()
	if got := resp.Header.Get("X-Long"); got != long {
		t.Errorf("X-Long read as %d bytes; want %d", len(got), len(long))
	}
	var msg string
	if err := r.Run(func(_ int, data []byte) bool { msg = string(data); return false }); err != nil || msg != "after" {
		t.Errorf("Run = %v with %q; want nil after \"after\"", err, msg)
	}
}
