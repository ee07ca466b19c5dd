package rxtime

import (
	"io"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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

// cmsg is one control message for stampOf: its level, type and data.
type cmsg struct {
	level, typ int32
	data       []byte
}

// stampOf is Stamp of a Msg whose control data holds cms, laid out as the kernel lays them
// (each header and its data at an aligned offset), cut to cut bytes short of their end.
func stampOf(cut int, cms ...cmsg) time.Time {
	var m Msg
	b := unsafe.Slice((*byte)(unsafe.Pointer(&m.oob[0])), unsafe.Sizeof(m.oob))
	off := 0
	for _, c := range cms {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
		h.Level, h.Type = c.level, c.typ
		h.SetLen(unix.CmsgLen(len(c.data)))
		copy(b[off+unix.CmsgLen(0):], c.data)
		off += unix.CmsgSpace(len(c.data))
	}
	m.hdr.SetControllen(off - cut)
	return m.Stamp()
}

// stamp is an SCM_TIMESTAMPNS message of sec and nsec.
func stamp(sec, nsec int64) cmsg {
	ts := unix.NsecToTimespec(sec*1e9 + nsec)
	return cmsg{unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))}
}

// TestStampReadsTheControlData: Stamp finds the receive time among the control messages,
// after others of any length; gives none for a stamp of zero (bytes that came before the
// socket was stamped), for other messages only, and for control data cut short or whose
// header claims less than itself (without looping on it).
func TestStampReadsTheControlData(t *testing.T) {
	other := cmsg{unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4}}
	empty := cmsg{unix.SOL_IP, 0, nil}
	for _, tt := range []struct {
		name string
		cut  int
		cms  []cmsg
		want time.Time
	}{
		{"a stamp", 0, []cmsg{stamp(5, 7)}, time.Unix(5, 7)},
		{"whole seconds", 0, []cmsg{stamp(5, 0)}, time.Unix(5, 0)},
		{"under a second", 0, []cmsg{stamp(0, 7)}, time.Unix(0, 7)},
		{"zero: came before stamping", 0, []cmsg{stamp(0, 0)}, time.Time{}},
		{"after another message", 0, []cmsg{other, stamp(5, 7)}, time.Unix(5, 7)},
		{"after a message with no data", 0, []cmsg{empty, stamp(5, 7)}, time.Unix(5, 7)},
		{"other messages only", 0, []cmsg{other, empty}, time.Time{}},
		{"no control data", 0, nil, time.Time{}},
		{"the stamp cut short", 8, []cmsg{stamp(5, 7)}, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := stampOf(tt.cut, tt.cms...); !got.Equal(tt.want) {
				t.Errorf("Stamp = %v; want %v", got, tt.want)
			}
		})
	}
	t.Run("a header shorter than a header", func(t *testing.T) {
		var m Msg
		h := (*unix.Cmsghdr)(unsafe.Pointer(&m.oob[0]))
		h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
		h.SetLen(0)
		m.hdr.SetControllen(int(unsafe.Sizeof(m.oob)))
		if got := m.Stamp(); !got.IsZero() {
			t.Errorf("Stamp = %v; want none", got)
		}
	})
}
