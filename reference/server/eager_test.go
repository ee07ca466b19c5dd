//go:build linux

package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/internal/promtest"
	"github.com/pkarena/pkarena/reference/protocol"
)

// eagerPair returns the server's end of a loopback TCP connection as a liveConn of a pool of
// slots eager reads waiting at most window, marked as an idle REST caller's, and the client's
// end.
func eagerPair(t *testing.T, slots int, window time.Duration) (*liveConn, net.Conn) {
	t.Helper()
	sock, client := tcpPair(t)
	pool := newEagerPool(slots)
	pool.window = window
	c := &liveConn{Conn: sock, eager: pool}
	c.restCaller.Store(true)
	c.idle.Store(true)
	return c, client
}

// readN reads from c until it has n bytes or fails.
func readN(c net.Conn, n int) (string, error) {
	buf := make([]byte, n)
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

// A request that comes within the window is read by the eager wait; one that comes after it
// by the poller, and the wait is counted as lapsed. Each is written once the read is at the
// stage named (so a ppoll that did not wait at all would fail the first).
func TestEagerReadTakesWhatComesInItsWindow(t *testing.T) {
	for _, tt := range []struct {
		name       string
		window     time.Duration
		ready      func(c *liveConn) error // the read has reached the stage to write at
		wantServed int64
		wantLapsed int64
	}{
		{"within the window", waitTimeout, func(c *liveConn) error {
			if !c.waiting.Load() {
				return errors.New("the read is not waiting eagerly yet")
			}
			return nil
		}, 1, 0},
		{"after the window", time.Millisecond, func(c *liveConn) error {
			if l := c.eager.lapsed.Load(); l != 1 {
				return fmt.Errorf("lapsed %d; want the 1 ms window to end", l)
			}
			return nil
		}, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, client := eagerPair(t, 1, tt.window)
			got := make(chan string, 1)
			go func() { s, _ := readN(c, 4); got <- s }()
			waitFor(t, func() error { return tt.ready(c) })
			if _, err := io.WriteString(client, "POST"); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-got:
				if s != "POST" {
					t.Fatalf("read %q; want POST", s)
				}
			case <-time.After(waitTimeout):
				t.Fatal("the read did not end")
			}
			if s, l := c.eager.served.Load(), c.eager.lapsed.Load(); s != tt.wantServed || l != tt.wantLapsed {
				t.Errorf("served %d, lapsed %d; want %d, %d", s, l, tt.wantServed, tt.wantLapsed)
			}
			if n := len(c.eager.slots); n != 0 {
				t.Errorf("%d slots still held after the read", n)
			}
		})
	}
}

// Only an idle REST caller's connection waits eagerly, and only while a slot is free; every
// other read is the poller's and reads the same bytes.
func TestEagerReadOnlyWhenItMay(t *testing.T) {
	for _, tt := range []struct {
		name        string
		setup       func(c *liveConn)
		wantTimeout bool  // the read reports its deadline rather than the bytes
		wantBusy    int64 // reads counted as finding every slot taken
	}{
		{"not a REST caller (a WebSocket)", func(c *liveConn) { c.restCaller.Store(false) }, false, 0},
		{"in a request (its body, net/http's background read)", func(c *liveConn) { c.idle.Store(false) }, false, 0},
		{"every slot taken", func(c *liveConn) { c.eager.slots <- struct{}{} }, false, 1},
		{"a read deadline already passed", func(c *liveConn) { _ = c.SetReadDeadline(time.Now().Add(-time.Second)) }, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, client := eagerPair(t, 1, waitTimeout)
			_ = c.Conn.SetReadDeadline(time.Now().Add(waitTimeout)) // the socket's own: not eager's
			tt.setup(c)
			if _, err := io.WriteString(client, "POST"); err != nil {
				t.Fatal(err)
			}
			got, err := readN(c, 4)
			if tt.wantTimeout {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("read %q, %v; want the deadline's timeout", got, err)
				}
			} else if got != "POST" || err != nil {
				t.Errorf("read %q, %v; want POST", got, err)
			}
			if s, l := c.eager.served.Load(), c.eager.lapsed.Load(); s != 0 || l != 0 {
				t.Errorf("served %d, lapsed %d; want no eager wait", s, l)
			}
			if b := c.eager.busy.Load(); b != tt.wantBusy {
				t.Errorf("busy %d; want %d", b, tt.wantBusy)
			}
		})
	}
	t.Run("no pool", func(t *testing.T) {
		if p := newEagerPool(0); p != nil {
			t.Errorf("newEagerPool(0) = %+v; want none", p)
		}
	})
}

// A read deadline before the window's end ends the wait: the read times out not before the
// deadline, and long before the window.
func TestEagerReadKeepsTheReadDeadline(t *testing.T) {
	c, _ := eagerPair(t, 1, waitTimeout)
	const deadline = 50 * time.Millisecond
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(deadline))
	n, err := c.Read(make([]byte, 8))
	took := time.Since(start)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v; want the deadline's timeout", n, err)
	}
	if took < deadline {
		t.Errorf("timed out after %v, before the %v deadline", took, deadline)
	}
	if took > waitTimeout {
		t.Errorf("timed out after %v; the deadline was %v", took, deadline)
	}
	if l := c.eager.lapsed.Load(); l != 1 {
		t.Errorf("lapsed %d; want the eager wait to have ended at the deadline", l)
	}
}

// The peer's close and the server's own close end an eager wait: EOF, then closed.
func TestEagerReadEndsWithTheConnection(t *testing.T) {
	t.Run("the peer closes", func(t *testing.T) {
		c, client := eagerPair(t, 1, waitTimeout)
		client.Close()
		if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Errorf("read %d bytes, %v; want EOF", n, err)
		}
		if s := c.eager.served.Load(); s != 1 {
			t.Errorf("served %d; want the EOF from the eager wait", s)
		}
	})
	// The wait is ended at once, not when its window would end (after waitTimeout here).
	t.Run("the server closes", func(t *testing.T) {
		c, _ := eagerPair(t, 1, 2*waitTimeout)
		done := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 8)); done <- err }()
		waitFor(t, func() error {
			if !c.waiting.Load() {
				return errors.New("the read is not waiting eagerly yet")
			}
			return nil
		})
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("read: no error from a closed connection")
			}
		case <-time.After(waitTimeout):
			t.Fatal("a read waiting eagerly did not end when its connection closed")
		}
		select {
		case <-closed:
		case <-time.After(waitTimeout):
			t.Fatal("Close did not return")
		}
	})
}

// Through the server: a keep-alive connection's second REST call is waited for eagerly, and
// each call is answered; with RESTEagerReads 0 none is.
func TestRESTCallerWaitsEagerly(t *testing.T) {
	for _, slots := range []int{4, 0} {
		t.Run(fmt.Sprintf("RESTEagerReads %d", slots), func(t *testing.T) {
			r := startRunning(t, func(c *Config) { c.RESTEagerReads = slots })
			conn, err := net.Dial("tcp", r.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			target := protocol.RESTPrefix + protocol.APIGetBattleInfo + "?" + restQuery(t).Encode()
			for call := 1; call <= 3; call++ {
				body := `{"BattleIdList":["none"]}`
				req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", target, len(body), body)
				if _, err := io.WriteString(conn, req); err != nil {
					t.Fatal(err)
				}
				_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("call %d: %v", call, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ErrorCode"`) {
					t.Fatalf("call %d: HTTP %d %s; want an envelope", call, resp.StatusCode, b)
				}
			}
			fams := scrape(t, r.URL)
			served := promtest.Sample(fams, "pkarena_rest_eager_reads_total", "outcome=served")
			if served == nil {
				t.Fatal("no pkarena_rest_eager_reads_total{outcome=served} on /metrics")
			}
			got := served.GetCounter().GetValue()
			if slots == 0 {
				if r.eager != nil || got != 0 {
					t.Fatalf("RESTEagerReads 0: pool %v, %v served; want none", r.eager != nil, got)
				}
				return
			}
			if got < 1 || got != float64(r.eager.served.Load()) {
				t.Errorf("%v eager reads served over 3 calls on one connection (the pool counted %d); want at least 1, the same", got, r.eager.served.Load())
			}
		})
	}
}
