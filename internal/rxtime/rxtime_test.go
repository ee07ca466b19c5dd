package rxtime

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a connected loopback pair: the dialled end wrapped in a Conn, and the accepted end.
func tcpPair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	rc := NewConn(c)
	t.Cleanup(func() { rc.Close(); peer.Close() })
	return rc, peer
}

// Read returns the stream's bytes intact, whatever the sizes of the reads; io.EOF at its
// end; Arrived is zero before the first bytes, never earlier than their write, and left as
// it was by the read that finds the end.
func TestReadIsTheStream(t *testing.T) {
	for _, tt := range []struct {
		name string
		pair func(t *testing.T) (*Conn, net.Conn)
	}{
		{"tcp", tcpPair},
		{"pipe", func(t *testing.T) (*Conn, net.Conn) {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return NewConn(a), b
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tt.pair(t)
			if !c.Arrived().IsZero() {
				t.Fatalf("Arrived %v before any read; want the zero Time", c.Arrived())
			}
			want := make([]byte, 300_000)
			for i := range want {
				want[i] = byte(i * 7)
			}
			start := time.Now()
			go func() {
				for rest := want; len(rest) > 0; {
					n, err := peer.Write(rest[:min(len(rest), 1+len(rest)%9000)])
					if err != nil {
						return
					}
					rest = rest[n:]
				}
				peer.Close()
			}()
			var got bytes.Buffer
			b := make([]byte, 1000)
			var err error
			var last time.Time // Arrived after the last read that returned bytes
			for {
				var n int
				n, err = c.Read(b)
				got.Write(b[:n])
				if err != nil {
					break
				}
				last = c.Arrived()
			}
			if err != io.EOF {
				t.Errorf("Read at the end: %v; want io.EOF", err)
			}
			if at := c.Arrived(); !at.Equal(last) {
				t.Errorf("Arrived %v after the end of the stream; want %v, the last bytes' (a read of none stamps nothing)", at, last)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("read %d bytes; want the %d written, in order", got.Len(), len(want))
			}
			if at := c.Arrived(); at.Before(start) || at.After(time.Now()) {
				t.Errorf("Arrived %v; want between the first write (%v) and now", at, start)
			}
		})
	}
}

// A read past its deadline fails with os.ErrDeadlineExceeded, and one of a closed Conn with
// net.ErrClosed, as the wrapped connection's would; an empty buffer reads nothing.
func TestReadErrors(t *testing.T) {
	c, _ := tcpPair(t)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: %v; want os.ErrDeadlineExceeded", err)
	} else if oe := (*net.OpError)(nil); !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("Read past the deadline: %#v; want a read OpError", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read of a closed Conn: %v; want net.ErrClosed", err)
	}
}
