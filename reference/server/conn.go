package server

import (
	"errors"
	"io"
	"net"
	"sync"
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

// conn is one client connection: one reader goroutine, one writer goroutine and a send queue
// bounded in frames and in bytes (sendQueue), filled only by the hub.
type conn struct {
	id    core.SessionID // its session's, set by the hub as it registers the connection
	user  core.User
	ws    *websocket.Conn
	queue *sendQueue

	sess   *session       // hub only: the session whose connection this is, nil until registered
	resume *resumeRequest // the resume the handshake asked for; nil: a new session

	limiter *rate.Limiter // the request rate limit (RATE-001); reader only; nil: none
	expires time.Time     // when the token of the handshake expires (AUTHZ-003); set before the reader starts

	quit      chan struct{} // closed by shutdown; the writer then sends the close frame and exits
	closeOnce sync.Once
	closeCode int // written once before quit is closed
}

// shutdown makes the writer close the connection with code (closeNone: no close frame).
// Safe to call from any goroutine, any number of times; the first code wins.
func (c *conn) shutdown(code int) {
	c.closeOnce.Do(func() {
		c.closeCode = code
		close(c.quit)
		if c.queue != nil {
			select { // wake the writer, which waits on the queue alone
			case c.queue.ready <- struct{}{}:
			default:
			}
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

// startReading sets the read limit and the ping handler.
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
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
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
		*ended = endCodeFor(err)
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
		c.shutdown(closeUnsupportedData)
		return false
	}
	if !utf8.Valid(data) && !mutant.On(mutant.InvalidUTF8Accepted) { // RFC 6455 §8.1, TRANS-013
		c.shutdown(closeInvalidData)
		return false
	}
	msg := hubMsg{kind: msgRequest, conn: c}
	msg.req, msg.err = parseRequest(data)
	s.metrics.received(msg.req.Type)
	if c.limiter != nil && !c.limiter.AllowN(s.now(), 1) && !mutant.On(mutant.NoConnRateLimit) {
		s.metrics.rateLimited.Inc()
		msg.err = protocol.ErrRateLimited.With("more than %d requests per second on this connection (burst %d)", s.cfg.ConnRequestRate, s.cfg.ConnRequestBurst)
	}
	return s.post(msg)
}

// closeCodeFor picks the close frame to send after a read error.
func closeCodeFor(err error) int {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
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
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig
	case errors.As(err, &ne) && ne.Timeout():
		return closeHeartbeatTimeout
	}
	return websocket.CloseAbnormalClosure
}

// writePump writes queued frames in order, numbering them, until shutdown or a write error.
// It takes the frames waiting in batches of up to maxWriteBatch: one write deadline a batch,
// and, on a connection that can (liveConn), one write a batch, so that a connection behind on
// its frames catches up in fewer system calls.
func (c *conn) writePump(s *Server) {
	defer c.ws.Close()
	wrote := false // the first frame, the welcome, was written
	var batch []numbered
	// On a liveConn (every connection of Listen's listener) frames are written whole, each
	// with one WriteFrame; on any other connection through gorilla's message writer.
	live, _ := c.ws.NetConn().(*liveConn)
	var deadline time.Time
	// writeBatch writes the batch; false after a write error (the connection is then shut).
	writeBatch := func() bool {
		// The write deadline moves on only when less than half of WriteTimeout is left: a
		// write may block for between half of it and all of it, and a connection busy with
		// frames does not pay for a timer update on each.
		if now := time.Now(); deadline.Sub(now) < s.cfg.WriteTimeout/2 {
			deadline = now.Add(s.cfg.WriteTimeout)
			if err := c.ws.SetWriteDeadline(deadline); err != nil { // gorilla's writer's deadline
				c.shutdown(closeNone)
				return false
			}
		}
		corked := live != nil && len(batch) > 1
		if corked {
			live.cork()
		}
		var bytes int64
		replies := 0
		ok := true
		bp := encodeBuffers.Get().(*[]byte) // lent for the batch: an idle connection holds none
		buf := *bp
		for _, n := range batch {
			f := n.f
			bytes += f.size()
			buf = f.encode(buf[:frameHeaderRoom], n.seq, time.Now().UnixMilli())
			var err error
			if live != nil {
				err = live.WriteFrame(textFrame(buf), deadline)
			} else {
				err = c.ws.WriteMessage(websocket.TextMessage, buf[frameHeaderRoom:])
			}
			if err != nil {
				ok = false
				break
			}
			wrote = true
			if f.reply {
				replies++
			}
		}
		if cap(buf) <= maxKeptEncodeBuffer {
			*bp = buf[:0]
			encodeBuffers.Put(bp)
		}
		if corked && live.uncork() != nil {
			ok = false
		}
		c.queue.written(len(batch), bytes)
		if !ok {
			c.shutdown(closeNone)
			return false
		}
		s.metrics.sentN(replies, len(batch)-replies)
		return true
	}
	for {
		// One channel to wait on (shutdown signals it too): a two-way select on every frame
		// cost the writer a few percent.
		<-c.queue.ready
		select {
		case <-c.quit:
			// The welcome is the first frame (WELCOME-001), even of a connection closed before
			// it was written: a connection replaced at once gets its welcome, then 4009.
			if !wrote && c.closeCode != closeNone {
				if batch = c.queue.take(batch, 1); len(batch) == 1 && batch[0].f.typ == protocol.TypeWelcome && !writeBatch() {
					return
				}
			}
			// A server shutting down sends what it queued (the ends of rooms and battles)
			// before its 1001; any other cut-off sends nothing more.
			for c.closeCode == closeGoingAway {
				if batch = c.queue.take(batch, maxWriteBatch); len(batch) == 0 {
					break
				}
				if !writeBatch() {
					return
				}
			}
			if c.closeCode != closeNone {
				_ = c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.closeCode, closeReason(c.closeCode)),
					time.Now().Add(time.Second))
			}
			return
		default:
		}
		for !c.shut() {
			if batch = c.queue.take(batch, maxWriteBatch); len(batch) == 0 {
				break
			}
			if !writeBatch() {
				return
			}
		}
		if c.shut() { // the quit case above, next time round
			select {
			case c.queue.ready <- struct{}{}:
			default:
			}
		}
	}
}

// shut reports whether shutdown has been called.
func (c *conn) shut() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// maxWriteBatch bounds the frames the writer takes at once: they count against the queue's
// bounds until written, so a batch is never much of the queue.
const maxWriteBatch = 64

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
