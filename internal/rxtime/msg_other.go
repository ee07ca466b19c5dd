//go:build !linux

package rxtime

import (
	"net"
	"time"
)

// socket is a Conn's way to its socket: off Linux, the connection's own Read.
type socket struct{}

func (s *socket) attach(net.Conn) {}

func (s *socket) read(c net.Conn, b []byte) (int, time.Time, error) {
	n, err := c.Read(b)
	return n, time.Time{}, err
}
