// Package tcptest serves raw TCP connections on the loopback for tests: servers that write
// bytes as the test wants them on the wire (in one write, held back, half closed), which an
// HTTP or WebSocket library would not.
package tcptest

import (
	"net"
	"testing"
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
