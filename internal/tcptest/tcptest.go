// Package tcptest serves raw TCP connections on the loopback for tests: servers that write
// bytes as the test wants them on the wire (in one write, held back, half closed), which an
// HTTP or WebSocket library would not; and checks that what they wrote arrived when written.
package tcptest

import (
	"net"
	"testing"
	"time"
)

// Serve listens on a free loopback port until the test ends and calls handle for every
// connection, each on a goroutine of its own; the connection is closed when handle returns.
// It returns the address ("127.0.0.1:port").
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at the test's end
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ArrivesWithinWrite makes calls, each returning when its bytes arrived (as the code under
// test tells it) and the moments just before and just after the server wrote them, until one
// arrived within its write (for up to 10 s: the kernel turns its receive times on for the
// machine's first socket to ask a little after it asks, later on a busy machine, where the
// worker that does it waits for a processor); the next call's must too. A call should read
// its bytes only after the write ended, so that a time taken at the read falls after it.
func ArrivesWithinWrite(t testing.TB, call func() (at time.Time, written [2]time.Time)) {
	t.Helper()
	arrivesWithinWrite(t, call, 10*time.Second)
}

// arrivesWithinWrite is ArrivesWithinWrite waiting up to wait for the first arrival within
// its write.
func arrivesWithinWrite(t testing.TB, call func() (time.Time, [2]time.Time), wait time.Duration) {
	t.Helper()
	within := func(at time.Time, w [2]time.Time) bool { return !at.Before(w[0]) && !at.After(w[1]) }
	for calls, deadline := 1, time.Now().Add(wait); ; calls++ {
		if at, w := call(); within(at, w) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("none of %d calls in %v arrived within its write: the last at %v, written %v–%v", calls, wait,
				at.Format(time.RFC3339Nano), w[0].Format(time.RFC3339Nano), w[1].Format(time.RFC3339Nano))
		}
	}
	if at, w := call(); !within(at, w) {
		t.Errorf("arrived at %v; want within its write, %v–%v",
			at.Format(time.RFC3339Nano), w[0].Format(time.RFC3339Nano), w[1].Format(time.RFC3339Nano))
	}
}
