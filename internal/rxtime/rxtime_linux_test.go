package rxtime

import (
	"io"
	"testing"
	"time"
)

// TestArrivedIsTheKernelsReceiveTime: bytes read well after they came carry the time they
// came, not the time of the read. The machine's first socket to ask for the times may get
// them a little later (the kernel turns them on in a worker): bytes are sent until a read
// has a time.
func TestArrivedIsTheKernelsReceiveTime(t *testing.T) {
	c, peer := tcpPair(t)
	if c.sock.sc == nil {
		t.Fatal("a TCP connection on Linux is not read with recvmsg")
	}
	b := make([]byte, 64)
	for end := time.Now().Add(10 * time.Second); ; {
		if _, err := peer.Write([]byte("warm")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(b); err != nil {
			t.Fatal(err)
		}
		if !c.sock.rx.Stamp().IsZero() {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no read had the kernel's time within 10 s")
		}
	}
	before := time.Now()
	if _, err := peer.Write([]byte("measured")); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for !time.Now().After(after.Add(time.Millisecond)) { // the bytes wait in the socket
	}
	n, err := c.Read(b)
	read := time.Now()
	if err != nil || string(b[:n]) != "measured" {
		t.Fatalf("Read: %q, %v", b[:n], err)
	}
	if at := c.Arrived(); at.Before(before) || at.After(after) {
		t.Errorf("Arrived %v; want between %v and %v, the write's start and end (read at %v)",
			at.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano), read.Format(time.RFC3339Nano))
	}
}

// TestReadDoesNotAllocate: a Read of a TCP connection allocates nothing (a wss:// client reads
// every frame through one).
func TestReadDoesNotAllocate(t *testing.T) {
	c, peer := tcpPair(t)
	b := make([]byte, 64)
	msg := []byte("frame")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		if n, err := io.ReadFull(c, b[:len(msg)]); err != nil || n != len(msg) {
			t.Fatalf("Read: %d bytes, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("a Read allocates %v times; want none", allocs)
	}
}
