//go:build linux

package sockopt

import (
	"net"
	"syscall"
	"testing"
)

// dialed returns a connection d dialled to a listener of its own, both closed at the end of
// the test, and its socket's RawConn.
func dialed(t *testing.T, d *net.Dialer) (net.Conn, syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return conn, rc
}

// buffer reads the socket option opt (SO_RCVBUF, SO_SNDBUF) of c's socket.
func buffer(t *testing.T, c syscall.RawConn, opt int) int {
	t.Helper()
	var got int
	var gerr error
	if err := c.Control(func(fd uintptr) {
		got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return got
}

// Linux keeps twice the size asked (the rest is its bookkeeping); sizes unlike its defaults
// show that the option was set.
func TestReceiveBufferIsSetBeforeTheConnection(t *testing.T) {
	_, rc := dialed(t, &net.Dialer{})
	plain := buffer(t, rc, syscall.SO_RCVBUF)
	for _, bytes := range []int{4096, 16384} {
		if plain == 2*bytes {
			t.Fatalf("the default receive buffer is %d: the test cannot tell %d from it", plain, bytes)
		}
		_, rc := dialed(t, &net.Dialer{Control: ReceiveBuffer(bytes)})
		if got := buffer(t, rc, syscall.SO_RCVBUF); got != 2*bytes {
			t.Errorf("ReceiveBuffer(%d): SO_RCVBUF %d, want %d (without it: %d)", bytes, got, 2*bytes, plain)
		}
	}
}

func TestSetSendBuffer(t *testing.T) {
	_, rc := dialed(t, &net.Dialer{})
	plain := buffer(t, rc, syscall.SO_SNDBUF)
	for _, bytes := range []int{8192, 32768} {
		if plain == 2*bytes {
			t.Fatalf("the default send buffer is %d: the test cannot tell %d from it", plain, bytes)
		}
		if err := SetSendBuffer(rc, bytes); err != nil {
			t.Fatal(err)
		}
		if got := buffer(t, rc, syscall.SO_SNDBUF); got != 2*bytes {
			t.Errorf("SetSendBuffer(%d): SO_SNDBUF %d, want %d (before: %d)", bytes, got, 2*bytes, plain)
		}
	}
}

func TestAClosedSocketIsAnError(t *testing.T) {
	conn, rc := dialed(t, &net.Dialer{})
	conn.Close()
	if err := SetReceiveBuffer(rc, 4096); err == nil {
		t.Error("SetReceiveBuffer on a closed socket: no error")
	}
}
