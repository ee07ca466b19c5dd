package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// Close codes (SPEC §2).
const (
	closeGoingAway        = websocket.CloseGoingAway
	closeUnsupportedData  = websocket.CloseUnsupportedData
	closeHeartbeatTimeout = 4000
	closeSlowConsumer     = 4008
	closeReplaced         = 4009
	// closeNone closes the socket without a close frame (one was sent already, or none can be).
	closeNone = 0
)

// maxRequestIDBytes bounds a request id (TRANS-003).
const maxRequestIDBytes = 64

// conn is one client connection: one reader goroutine, one writer goroutine and a bounded
// send queue filled only by the hub.
type conn struct {
	id   core.SessionID
	user core.User
	ws   *websocket.Conn
	send chan *outFrame

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
	})
}

// readPump reads frames until the connection fails, handing each to the hub.
func (c *conn) readPump(s *Server) {
	defer func() { s.post(hubMsg{kind: msgClosed, conn: c}) }()
	c.ws.SetReadLimit(int64(s.cfg.MaxFrameBytes))
	// Any frame resets the liveness timer (HEART-001), WebSocket pings included.
	c.ws.SetPingHandler(func(data string) error {
		_ = c.ws.SetReadDeadline(time.Now().Add(s.cfg.HeartbeatTimeout))
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
	for {
		timeout := s.cfg.HeartbeatTimeout
		if mutant.On(mutant.NoHeartbeatTimeout) {
			timeout *= 1000
		}
		if err := c.ws.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			c.shutdown(closeNone)
			return
		}
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.shutdown(closeCodeFor(err))
			return
		}
		if mt != websocket.TextMessage {
			c.shutdown(closeUnsupportedData)
			return
		}
		msg := hubMsg{kind: msgRequest, conn: c}
		msg.req, msg.err = parseRequest(data)
		if !s.post(msg) {
			return
		}
	}
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

// parseRequest reads the envelope of a client frame (TRANS-003, INPUT-001..003). The id is
// read first: a reply only ever echoes a valid id (1..64 bytes), else "". A frame that is not
// an object or has no string type is 100901; a bad id in a well-formed frame is 100002.
func parseRequest(data []byte) (protocol.Request, *protocol.Error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil || env == nil {
		return protocol.Request{}, protocol.ErrMalformedFrame.With("frame: not a JSON object")
	}
	var req protocol.Request
	var idErr *protocol.Error
	switch raw, ok := env["id"]; {
	case !ok:
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case json.Unmarshal(raw, &req.ID) != nil:
		req.ID, idErr = "", protocol.ErrInvalidParameter.With("id: must be a string")
	case req.ID == "":
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case len(req.ID) > maxRequestIDBytes:
		idErr = protocol.ErrInvalidParameter.With("id: longer than %d bytes (%d)", maxRequestIDBytes, len(req.ID))
		req.ID = ""
	}
	raw, ok := env["type"]
	if !ok || json.Unmarshal(raw, &req.Type) != nil || req.Type == "" {
		return req, protocol.ErrMalformedFrame.With("type: a non-empty string is required")
	}
	if idErr != nil {
		return req, idErr
	}
	if p, ok := env["payload"]; ok && !bytes.Equal(bytes.TrimSpace(p), []byte("null")) {
		req.Payload = p
	}
	return req, nil
}

// writePump writes queued frames in order, numbering them, until shutdown or a write error.
func (c *conn) writePump(s *Server) {
	defer c.ws.Close()
	var seq uint64
	buf := make([]byte, 0, 512)
	for {
		select {
		case f := <-c.send:
			seq++
			if mutant.On(mutant.SeqGap) && seq == 7 {
				seq++
			}
			buf = f.encode(buf[:0], seq, time.Now().UnixMilli())
			if err := c.ws.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				c.shutdown(closeNone)
				return
			}
			if err := c.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
				c.shutdown(closeNone)
				return
			}
		case <-c.quit:
			if c.closeCode != closeNone {
				_ = c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.closeCode, closeReason(c.closeCode)),
					time.Now().Add(time.Second))
			}
			return
		}
	}
}

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
	case closeGoingAway:
		return "server shutting down"
	}
	return ""
}
