package server

import (
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
// for at most Config.CloseLinger: its close frame, read by the connection's reader if that is
// still reading, or the end of its stream, read and discarded here if the reader had stopped
// (it stops at what it refuses: a binary frame, a frame over the limit, silence, an expired
// token). Only then is the socket closed, with nothing unread. Nothing waits for the linger:
// the hub forgets the connection when it cuts it off or when the reader ends, as before.
// close_lingers_total counts how the waits end.

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

// drain reads and discards what the client sends until its end of the stream, an error,
// maxDrainBytes or deadline, and says which.
func drain(nc net.Conn, deadline time.Time) string {
	if nc.SetReadDeadline(deadline) != nil {
		return lingerCut
	}
	n, err := io.CopyN(io.Discard, nc, maxDrainBytes)
	switch {
	case n == maxDrainBytes:
		return lingerFlooded
	case errors.Is(err, os.ErrDeadlineExceeded):
		return lingerTimedOut
	}
	if o := readEndOutcome(err); o != "" {
		return o
	}
	return lingerCut
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
