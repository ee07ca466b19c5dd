// Package sockopt sets the buffer sizes of sockets, the same way on every system.
package sockopt

import (
	"os"
	"syscall"
)

// SetReceiveBuffer sets the receive buffer (SO_RCVBUF) of the socket c controls. The kernel
// may round bytes up (Linux keeps twice it).
func SetReceiveBuffer(c syscall.RawConn, bytes int) error {
	return set(c, syscall.SO_RCVBUF, bytes)
}

// SetSendBuffer sets the send buffer (SO_SNDBUF) of the socket c controls, as
// SetReceiveBuffer does.
func SetSendBuffer(c syscall.RawConn, bytes int) error {
	return set(c, syscall.SO_SNDBUF, bytes)
}

// ReceiveBuffer returns a net.Dialer Control function that sets the socket's receive buffer
// before it connects: a reader that stops reading then fills its side soon, and the sender's
// queue after it. An error setting it is the dial's.
func ReceiveBuffer(bytes int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error { return SetReceiveBuffer(c, bytes) }
}

func set(c syscall.RawConn, opt, value int) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = setsockoptInt(fd, syscall.SOL_SOCKET, opt, value) }); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", serr)
}
