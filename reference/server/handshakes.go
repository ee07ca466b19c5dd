package server

import (
	"net"
	"sync"
)

// handshakes are the WebSocket handshakes handlers are serving: from before the upgrade until
// the connection is the hub's (its reader and writer started) or the handler has closed it
// itself (a resume refused at the upgrade, a handshake that raced the shutdown), which
// includes the wait for the client's answer to the close frame (lingerClose). Once upgraded,
// net/http no longer counts them, and the hub's connWG never did; Stop waits for them as for
// the connections, and at its deadline closes their sockets.
//
// Its mutex owns the fields.
type handshakes struct {
	mu      sync.Mutex
	n       int                   // begun and not ended
	shut    bool                  // Stop has begun: no handshake begins any more
	cut     bool                  // Stop's deadline has passed: a socket upgraded now is closed at once
	sockets map[net.Conn]struct{} // the upgraded ones, for Stop's deadline
	idle    chan struct{}         // made by shutdown; closed once shut and n is 0
}

// begin counts a handshake in; false once Stop has begun (the handler refuses it then).
// Each true is followed by one end.
func (h *handshakes) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		return false
	}
	h.n++
	return true
}

// upgraded records the socket of a handshake that was upgraded, for closeAll; false once
// closeAll has run (the handler closes nc at once: nothing is waited for any more).
func (h *handshakes) upgraded(nc net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cut {
		return false
	}
	if h.sockets == nil {
		h.sockets = make(map[net.Conn]struct{})
	}
	h.sockets[nc] = struct{}{}
	return true
}

// end counts a handshake out; nc is its socket if it was upgraded, else nil.
func (h *handshakes) end(nc net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if nc != nil {
		delete(h.sockets, nc)
	}
	h.n--
	if h.shut && h.n == 0 {
		close(h.idle)
	}
}

// shutdown lets no handshake begin any more and returns a channel closed once the ones begun
// have ended. It is called once (by the first Stop).
func (h *handshakes) shutdown() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shut = true
	h.idle = make(chan struct{})
	if h.n == 0 {
		close(h.idle)
	}
	return h.idle
}

// closeAll closes the sockets of the upgraded handshakes left (a linger's read then fails at
// once), and those upgraded from now on (upgraded), and returns how many there were.
func (h *handshakes) closeAll() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cut = true
	for nc := range h.sockets {
		_ = nc.Close()
	}
	return len(h.sockets)
}
