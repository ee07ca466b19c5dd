package server

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPongsKeepAConnectionAlive checks that unsolicited pongs alone, RFC 6455 §5.5.3's
// one-way heartbeat, keep a connection open past the heartbeat timeout: any client frame
// resets the liveness timer (HEART-001). gorilla's default pong handler does nothing, and
// the connection was closed with 4000.
func TestPongsKeepAConnectionAlive(t *testing.T) {
	const timeout = time.Second
	_, base := newTestServer(t, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = timeout/4, timeout
	})
	c := dial(t, base, "ponger")
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	for end := time.Now().Add(5 * timeout / 2); time.Now().Before(end); {
		if err := c.ws.WriteControl(websocket.PongMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("pong: %v", err)
		}
		select {
		case err := <-closed:
			t.Fatalf("the connection ended with only pongs sent, every %v against a timeout of %v: %v", timeout/10, timeout, err)
		case <-time.After(timeout / 10):
		}
	}
}
