package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// Close codes (SPEC §2), from the protocol's table.
const (
	closeGoingAway        = protocol.CloseGoingAway
	closeUnsupportedData  = protocol.CloseUnsupportedData
	closeInvalidData      = protocol.CloseInvalidData
	closeInternalError    = protocol.CloseInternalError // the journal failed: the server stops
	closeHeartbeatTimeout = protocol.CloseHeartbeatTimeout
	closeTokenExpired     = protocol.CloseTokenExpired
	closeSlowConsumer     = protocol.CloseSlowConsumer
	closeReplaced         = protocol.CloseReplaced
	closeResumeRefused    = protocol.CloseResumeRefused
	// closeNone closes the socket without a close frame (one was sent already, or none can be).
	closeNone = 0
)

// conn is one client connection: one reader goroutine, one writer and a send queue bounded
// in frames and in bytes (sendQueue), filled only by the hub. The writer is a goroutine only
// while there is something to write (write): an idle connection holds one stack, the reader's.
type conn struct {
	srv   *Server
	id    core.SessionID // its session's, set by the hub as it registers the connection
	user  core.User
	ws    *websocket.Conn
	queue *sendQueue

	sess   *session       // hub only: the session whose connection this is, nil until registered
	resume *resumeRequest // the resume the handshake asked for; nil: a new session

	limiter *rate.Limiter // the request rate limit (RATE-001); reader only; nil: none
	expires time.Time     // when the token of the handshake expires (AUTHZ-003); set before the reader starts

	closing   atomic.Bool   // set by shutdown; the writer (started by it if none ran) then ends the connection
	readEnd   chan struct{} // closed by the reader as it ends; readErr is set before
	readErr   error         // the read error that ended the reader; nil: it stopped at a frame it refused
	closeOnce sync.Once
	closeCode int // written once before closing is set

	// The writer's, handed from one writer goroutine to the next through the queue's lock.
	wrote    bool      // the first frame, the welcome, was written
	deadline time.Time // the write deadline set last
	// reset: a write failed because the client reset the connection (resetByPeer). The
	// writer then drops what is queued and leaves the end to the reader, which the reset
	// woke: what the client sent before it, its close frame above all, is still to be read,
	// and closing the socket first would make a client's close 1006 (see writeBatch).
	reset bool
}

// shutdown makes the writer close the connection with code (closeNone: no close frame).
// Safe to call from any goroutine, any number of times; the first code wins.
func (c *conn) shutdown(code int) {
	c.closeOnce.Do(func() {
		c.closeCode = code
		c.closing.Store(true)
		if c.queue != nil && c.queue.stop() {
			go c.write()
		}
	})
}

// readPump reads frames until the connection fails, handing each to the hub. A frame over
// the connection's request rate limit is handed over already refused (100012): the hub only
// queues the refusal, the core never sees the request.
func (c *conn) readPump(s *Server) {
	ended := websocket.CloseAbnormalClosure // how the connection ended, for the metrics
	defer c.endReading(s, &ended)
	c.startReading(s)
	for {
		if !c.armRead(s) {
			return
		}
		// The wait for the next frame is here, in this loop's small frame: parked, the
		// goroutine then uses little enough of its stack (under a quarter of 8 KB, the guard
		// included) for the garbage collector to halve it (a bar of 30 KB a connection).
		mt, r, err := c.ws.NextReader()
		var data []byte
		if err == nil {
			data, err = readMessage(r)
		}
		if !c.handleFrame(s, mt, data, err, &ended) {
			return
		}
	}
}

// startReading sets the read limit and the ping and pong handlers.
//
//go:noinline
func (c *conn) startReading(s *Server) {
	c.ws.SetReadLimit(int64(s.cfg.MaxFrameBytes))
	// Any frame resets the liveness timer (HEART-001), WebSocket pings included.
	c.ws.SetPingHandler(func(data string) error {
		// A ping is a frame: it resets the liveness timer, but never past the token's
		// expiry (AUTHZ-003): a client that only pings is still closed with 4001 when its
		// token expires.
		_ = c.ws.SetReadDeadline(c.readDeadline(s))
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.cfg.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) || resetByPeer(err) {
			return nil // the next read ends the connection, after what the client sent before
		}
		if isTimeout(err) {
			return nil
		}
		return err
	})
	// An unsolicited pong is a client frame too, RFC 6455 §5.5.3's one-way heartbeat
	// (HEART-001); gorilla's own pong handler does nothing.
	if !mutant.On(mutant.PongNotAlive) {
		c.ws.SetPongHandler(func(string) error {
			_ = c.ws.SetReadDeadline(c.readDeadline(s))
			return nil
		})
	}
}

// armRead sets the deadline of the next read; false (the connection shut) if it cannot.
//
//go:noinline
func (c *conn) armRead(s *Server) bool {
	if err := c.ws.SetReadDeadline(c.readDeadline(s)); err != nil {
		c.shutdown(closeNone)
		return false
	}
	return true
}

// endReading tells the hub the connection is gone, with how it ended, and releases the
// reader's place in the server's wait group.
func (c *conn) endReading(s *Server, ended *int) {
	close(c.readEnd) // a writer waiting for the client's answer to its close frame (awaitClient)
	s.post(hubMsg{kind: msgClosed, conn: c, code: *ended})
	s.connWG.Done()
}

// readDeadline is when the next frame must have arrived: the heartbeat timeout from now
// (LIVE-020), or the token's expiry if that comes first, so that the read deadline then ends
// the connection with 4001 rather than 4000 (AUTHZ-003).
func (c *conn) readDeadline(s *Server) time.Time {
	timeout := s.cfg.HeartbeatTimeout
	if mutant.On(mutant.NoHeartbeatTimeout) {
		timeout *= 1000
	}
	deadline := time.Now().Add(timeout)
	if !c.expires.IsZero() && c.expires.Before(deadline) && !mutant.On(mutant.TokenOutlivesExpiry) {
		deadline = c.expires
	}
	return deadline
}

// expired reports whether the connection's token has expired (AUTHZ-003).
func (c *conn) expired() bool {
	return !c.expires.IsZero() && !time.Now().Before(c.expires) && !mutant.On(mutant.TokenOutlivesExpiry)
}

// readMessage reads the rest of a message.
//
//go:noinline
func readMessage(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

// handleFrame acts on one read: a frame, or the error that ends the connection (ended is then
// set). It reports whether the reader goes on.
//
//go:noinline
func (c *conn) handleFrame(s *Server, mt int, data []byte, err error, ended *int) bool {
	if err != nil {
		c.readErr = err
		*ended = endCodeFor(err)
		if live, ok := c.ws.NetConn().(*liveConn); ok && *ended == websocket.CloseAbnormalClosure && !mutant.On(mutant.ProtocolErrorKeepsSession) {
			// gorilla answers a broken frame (1002) with a close frame of its own and a
			// plain error: the connection ended with that close frame, not a drop
			// (RESUME-001), and the metrics count it as 1002.
			if code := live.sentClose(); code != 0 {
				*ended = code
			}
		}
		code := closeCodeFor(err)
		if code == closeHeartbeatTimeout && !c.expires.IsZero() && !time.Now().Before(c.expires) {
			code = closeTokenExpired
		}
		c.shutdown(code)
		return false
	}
	if c.expired() {
		// Read after the token expired, even if it arrived just before: it does not run
		// (AUTHZ-003); the connection ends with 4001.
		*ended = closeTokenExpired
		c.shutdown(closeTokenExpired)
		return false
	}
	if mt != websocket.TextMessage {
		if mutant.On(mutant.BinaryCarriedOut) && utf8.Valid(data) {
			// the message is handled as it reads, then refused for its opcode
			if msg := (hubMsg{kind: msgRequest, conn: c}); true {
				msg.req, msg.err = parseRequest(data)
				if msg.err == nil {
					s.post(msg)
				}
			}
		}
		c.shutdown(closeUnsupportedData)
		return false
	}
	if !utf8.Valid(data) && !mutant.On(mutant.InvalidUTF8Accepted) && !(mutant.On(mutant.LoneSurrogateAccepted) && validWithSurrogates(data)) { // RFC 6455 §8.1, TRANS-013
		c.shutdown(closeInvalidData)
		return false
	}
	msg := hubMsg{kind: msgRequest, conn: c}
	msg.req, msg.err = parseRequest(data)
	s.metrics.received(msg.req.Type)
	if c.limiter != nil && !(mutant.On(mutant.MalformedNotLimited) && msg.err != nil) && !c.limiter.AllowN(s.now(), 1) && !mutant.On(mutant.NoConnRateLimit) {
		s.metrics.rateLimited.Inc()
		if mutant.On(mutant.RateLimitedLongIDEchoed) {
			if id, _, _, ok := envelopeMembers(data); ok && json.Valid(data) && id != nil {
				var sid string
				if jsonString(id, &sid) {
					msg.req.ID = sid // the refusal echoes the id as sent
				}
			}
		}
		msg.err = protocol.ErrRateLimited.With("more than %d requests per second on this connection (burst %d)", s.cfg.ConnRequestRate, s.cfg.ConnRequestBurst)
	}
	return s.post(msg)
}

// closeCodeFor picks the close frame to send after a read error.
func closeCodeFor(err error) int {
	switch {
	case isTimeout(err):
		return closeHeartbeatTimeout
	case errors.Is(err, websocket.ErrReadLimit):
		return closeNone // gorilla already sent 1009
	}
	return closeNone
}

// endCodeFor is the close code a read error stands for, as the metrics count it: the
// client's close frame, 1009 for a frame over the limit, 4000 for silence, else 1006.
func endCodeFor(err error) int {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig
	case isTimeout(err):
		return closeHeartbeatTimeout
	}
	return websocket.CloseAbnormalClosure
}

// write is the connection's writer while it has something to write: it writes the queued
// frames in order, numbering them, in batches of up to maxWriteBatch (one write deadline a
// batch and, on a connection that can, liveConn, one write a batch, so that a connection
// behind on its frames catches up in fewer system calls), and ends when the queue is empty;
// the next frame queued starts another (sendQueue.put). Once shutdown is asked it ends the
// connection instead (finish). It is started by whoever took the writer's place: the
// handshake (serveWS), the hub (hub.send) or shutdown.
//
// A goroutine a connection parked on its queue held a stack of 4 KB or more for the
// connection's life, a seventh of the server's memory a connection at 50,000 connections
// (measurements/load-bench.md).
func (c *conn) write() {
	bp := batches.Get().(*[]numbered)
	batch := *bp
	defer func() {
		clear(batch[:cap(batch)]) // finish may have taken more than batch's length shows
		*bp = batch[:0]
		batches.Put(bp)
	}()
	// On a liveConn (every connection of Listen's listener) frames are written whole, each
	// with one WriteFrame; on any other connection through gorilla's message writer.
	live, _ := c.ws.NetConn().(*liveConn)
	for {
		if c.closing.Load() {
			c.finish(live, batch)
			return
		}
		if batch = c.queue.take(batch, maxWriteBatch); len(batch) == 0 {
			if c.queue.idle() {
				return
			}
			continue // a frame or shutdown came in between
		}
		c.writeBatch(live, batch) // a failed write shuts the connection down
	}
}

// finish ends the connection for the writer once shutdown was asked: the welcome if it was
// not written yet and a close frame is due, what was queued if the server is shutting down,
// the close frame; then, once a close frame is out (this one, or one gorilla's reader wrote:
// 1002, 1009, the echo of the client's), the wait for the client's answer (awaitClient), and
// the socket is closed and the connection let go.
func (c *conn) finish(live *liveConn, batch []numbered) {
	s := c.srv
	defer s.connWG.Done()
	defer s.live.remove(c)
	defer c.ws.Close()
	// The welcome is the first frame (WELCOME-001), even of a connection closed before it
	// was written: a connection replaced at once gets its welcome, then 4009.
	if !c.wrote && c.closeCode != closeNone {
		if batch = c.queue.take(batch, 1); len(batch) == 1 && batch[0].f.typ == protocol.TypeWelcome && !c.writeBatch(live, batch) {
			return
		}
	}
	// A server shutting down sends what it queued (the ends of rooms and battles) before its
	// 1001; any other cut-off sends nothing more.
	for c.closeCode == closeGoingAway {
		if batch = c.queue.take(batch, maxWriteBatch); len(batch) == 0 {
			break
		}
		if !c.writeBatch(live, batch) {
			return
		}
	}
	sent := false
	if c.closeCode != closeNone {
		sent = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(c.closeCode, closeReason(c.closeCode)),
			time.Now().Add(time.Second)) == nil
	}
	if sent || (live != nil && live.closeWritten()) {
		c.awaitClient()
	}
}

// writeBatch writes batch; false after a write error. A write the client's reset failed
// (resetByPeer) leaves the connection to its reader, which reads what the client sent before
// the reset and then ends it; the batch and any after it are dropped. Any other error (a
// write deadline passed) shuts the connection down at once: nothing else would end it.
//
// Without that difference a client that sent its close frame and closed its socket with
// frames unread, which resets it, was counted 1006 (its session kept for a resume) whenever
// the writer met the reset first: shutting down closed the socket under the reader before it
// took the close frame waiting there.
func (c *conn) writeBatch(live *liveConn, batch []numbered) bool {
	s := c.srv
	if c.reset {
		c.queue.written(len(batch), batchBytes(batch))
		return false
	}
	// The write deadline moves on only when less than half of WriteTimeout is left: a write
	// may block for between half of it and all of it, and a connection busy with frames does
	// not pay for a timer update on each.
	if now := time.Now(); c.deadline.Sub(now) < s.cfg.WriteTimeout/2 {
		c.deadline = now.Add(s.cfg.WriteTimeout)
		if err := c.ws.SetWriteDeadline(c.deadline); err != nil { // gorilla's writer's deadline
			c.shutdown(closeNone)
			return false
		}
	}
	corked := live != nil && len(batch) > 1
	if corked {
		live.cork()
	}
	replies := 0
	var err error
	bp := encodeBuffers.Get().(*[]byte) // lent for the batch: an idle connection holds none
	buf := *bp
	for _, n := range batch {
		f := n.f
		buf = f.encode(buf[:frameHeaderRoom], n.seq, time.Now().UnixMilli())
		if live != nil {
			err = live.WriteFrame(textFrame(buf), c.deadline)
		} else {
			err = c.ws.WriteMessage(websocket.TextMessage, buf[frameHeaderRoom:])
		}
		if err != nil {
			break
		}
		c.wrote = true
		if f.reply {
			replies++
		}
	}
	if cap(buf) <= maxKeptEncodeBuffer {
		*bp = buf[:0]
		encodeBuffers.Put(bp)
	}
	if corked {
		if uerr := live.uncork(); err == nil {
			err = uerr
		}
	}
	// The whole batch leaves the queue, written or not: a connection its reader still holds
	// after a reset must not count frames it dropped against its bounds.
	c.queue.written(len(batch), batchBytes(batch))
	if err != nil {
		if resetByPeer(err) {
			c.reset = true
		} else {
			c.shutdown(closeNone)
		}
		return false
	}
	s.metrics.sentN(replies, len(batch)-replies)
	return true
}

// batchBytes is the size of batch's frames, as the send queue counts them.
func batchBytes(batch []numbered) int64 {
	var bytes int64
	for _, n := range batch {
		bytes += n.f.size()
	}
	return bytes
}

// isTimeout reports whether err is a deadline's (gorilla hides os.ErrDeadlineExceeded behind
// an error of its own that only says Timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// resetByPeer reports whether err, from a write, says the client reset the connection (or
// it is otherwise closed for sending by the peer): the reader is then woken by the kernel
// and ends the connection itself once it read what came before.
func resetByPeer(err error) bool {
	for _, reset := range peerResets {
		if errors.Is(err, reset) {
			return true
		}
	}
	return false
}

// maxWriteBatch bounds the frames the writer takes at once: they count against the queue's
// bounds until written, so a batch is never much of the queue.
const maxWriteBatch = 64

// batches lends writers the slices they take frames into: an idle connection holds none.
var batches = sync.Pool{New: func() any { b := make([]numbered, 0, maxWriteBatch); return &b }}

// encodeBuffers lends writers the buffers they encode frames into.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxKeptEncodeBuffer is the largest encoding buffer given back to encodeBuffers.
const maxKeptEncodeBuffer = 64 << 10

func closeReason(code int) string {
	switch code {
	case closeHeartbeatTimeout:
		return "heartbeat timeout"
	case closeSlowConsumer:
		return "slow consumer: send queue full"
	case closeReplaced:
		return "replaced by a new connection of the same user"
	case closeUnsupportedData:
		return "binary frames are not supported"
	case closeInvalidData:
		return "a text message that is not UTF-8"
	case closeTokenExpired:
		return "the usersig expired: reconnect with a fresh one"
	case closeGoingAway:
		return "server shutting down"
	case closeInternalError:
		return "server failure: its journal cannot be written; reconnect"
	case closeResumeRefused:
		return "resume refused"
	}
	return ""
}

// validWithSurrogates is mutant.LoneSurrogateAccepted: UTF-8 as JavaScript strings carry it,
// surrogates encoded on their own (ED A0 80..ED BF BF) taken.
func validWithSurrogates(data []byte) bool {
	d := make([]byte, len(data))
	copy(d, data)
	for j := 0; j+2 < len(d); j++ {
		if d[j] == 0xED && d[j+1] >= 0xA0 && d[j+1] <= 0xBF && d[j+2] >= 0x80 && d[j+2] <= 0xBF {
			d[j], d[j+1], d[j+2] = 0xEF, 0xBF, 0xBD
		}
	}
	return utf8.Valid(d)
}
