package server

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeSocket is a net.Conn whose reads return what reads holds, one entry a read, and which
// records the read deadlines set on it.
type fakeSocket struct {
	net.Conn
	reads     []fakeRead
	deadlines []time.Time
}

type fakeRead struct {
	data string
	err  error
}

func (f *fakeSocket) Read(p []byte) (int, error) {
	if len(f.reads) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	r := f.reads[0]
	f.reads = f.reads[1:]
	return copy(p, r.data), r.err
}

func (f *fakeSocket) SetReadDeadline(t time.Time) error {
	f.deadlines = append(f.deadlines, t)
	return nil
}

func TestLiveConnLooksAgainBeforeATimeout(t *testing.T) {
	timeout := fakeRead{err: os.ErrDeadlineExceeded}
	for _, tt := range []struct {
		name      string
		deadline  time.Duration // from now; 0: none set
		reads     []fakeRead
		want      string
		wantErr   error
		wantProbe bool // a second look was taken
	}{
		// The deadline fired while a heartbeat waited in the socket: it is read.
		{"a frame waiting as the deadline fires", time.Second, []fakeRead{timeout, {data: "hb"}}, "hb", nil, true},
		// Nothing there: the timeout stands.
		{"a silent socket", time.Second, []fakeRead{timeout, timeout}, "", os.ErrDeadlineExceeded, true},
		// Data on the first read: no second look.
		{"data at once", time.Second, []fakeRead{{data: "x"}}, "x", nil, false},
		// A deadline set in the past aborts a read (net/http does): no second look.
		{"an abort", -time.Hour, []fakeRead{timeout, {data: "hb"}}, "", os.ErrDeadlineExceeded, false},
		// No deadline was set: the error is not the reader's timeout.
		{"no deadline", 0, []fakeRead{timeout, {data: "hb"}}, "", os.ErrDeadlineExceeded, false},
		// Another error passes through.
		{"a reset", time.Second, []fakeRead{{err: net.ErrClosed}, {data: "hb"}}, "", net.ErrClosed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock := &fakeSocket{reads: tt.reads}
			c := &liveConn{Conn: sock}
			if tt.deadline != 0 {
				_ = c.SetReadDeadline(time.Now().Add(tt.deadline))
			}
			set := len(sock.deadlines)
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if got := string(buf[:n]); got != tt.want || !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("Read = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			probed := len(sock.deadlines) > set
			if probed != tt.wantProbe {
				t.Fatalf("second look taken: %v; want %v (deadlines set: %v)", probed, tt.wantProbe, sock.deadlines)
			}
			if !probed {
				return
			}
			// The look waits probeWait at most; then the deadline is the old one again (nothing
			// came) or moves on by the window it was set with (a frame came in time).
			look, after := sock.deadlines[set], sock.deadlines[len(sock.deadlines)-1]
			if d := time.Until(look); d > probeWait {
				t.Errorf("the second look may wait %v; want at most %v", d, probeWait)
			}
			switch {
			case n == 0 && !after.Equal(time.Unix(0, c.deadline.Load())):
				t.Errorf("after a silent look the deadline is %v; want the old one back", after)
			case n > 0 && time.Until(after) < tt.deadline/2:
				t.Errorf("after a frame the deadline is %v away; want about the window, %v", time.Until(after), tt.deadline)
			}
		})
	}
}

// Corked writes leave in one write, in order; a pong written from another goroutine
// meanwhile joins them whole; after uncork writes go at once.
func TestLiveConnCorksWrites(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &liveConn{Conn: a}
	got := make(chan []byte, 4)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := b.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	c.cork()
	for _, w := range []string{"one,", "two,", "three,"} {
		if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("corked Write(%q) = %d, %v", w, n, err)
		}
	}
	if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = c.Write([]byte("pong,")); close(done) }() // held with the rest
	<-done
	select {
	case w := <-got:
		t.Fatalf("%q left before uncork", w)
	case <-time.After(20 * time.Millisecond):
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if w := <-got; string(w) != "one,two,three,pong," {
		t.Errorf("the flush wrote %q; want the four writes in one, in order", w)
	}
	if n, err := c.Write([]byte("after")); n != 5 || err != nil {
		t.Fatalf("Write after uncork = %d, %v", n, err)
	}
	if w := <-got; string(w) != "after" {
		t.Errorf("after uncork a write left as %q; want it at once", w)
	}
}

// writeDeadlines is a net.Conn that records the write deadlines set on it (SetDeadline sets
// one too).
type writeDeadlines struct {
	net.Conn
	set []time.Time
}

func (w *writeDeadlines) SetWriteDeadline(t time.Time) error { w.set = append(w.set, t); return nil }
func (w *writeDeadlines) SetDeadline(t time.Time) error      { w.set = append(w.set, t); return nil }
func (w *writeDeadlines) SetReadDeadline(time.Time) error    { return nil }
func (w *writeDeadlines) Write(p []byte) (int, error)        { return len(p), nil }

// A write deadline reaches the socket only when it differs from the one the socket has,
// whichever way it was set (directly, with SetDeadline, or by the flush of a corked batch).
func TestLiveConnSetsOnlyNewWriteDeadlines(t *testing.T) {
	t0 := time.Now().Add(time.Minute)
	t1 := t0.Add(time.Second)
	for _, tc := range []struct {
		name  string
		steps func(c *liveConn) error
		want  []time.Time // reaching the socket, in order
	}{
		{"the same twice", func(c *liveConn) error {
			return errors.Join(c.SetWriteDeadline(t0), c.SetWriteDeadline(t0))
		}, []time.Time{t0}},
		{"a new one each time", func(c *liveConn) error {
			return errors.Join(c.SetWriteDeadline(t0), c.SetWriteDeadline(t1), c.SetWriteDeadline(t0))
		}, []time.Time{t0, t1, t0}},
		{"none on a new socket", func(c *liveConn) error {
			return errors.Join(c.SetWriteDeadline(time.Time{}), c.SetWriteDeadline(t0), c.SetWriteDeadline(time.Time{}))
		}, []time.Time{t0, {}}},
		{"after SetDeadline", func(c *liveConn) error {
			return errors.Join(c.SetDeadline(t0), c.SetWriteDeadline(t0), c.SetWriteDeadline(t1))
		}, []time.Time{t0, t1}},
		{"the flush of a batch", func(c *liveConn) error {
			err := c.SetWriteDeadline(t0)
			c.cork()
			_, werr := c.Write([]byte("frame"))
			return errors.Join(err, werr, c.SetWriteDeadline(t0), c.uncork(), c.SetWriteDeadline(t1))
		}, []time.Time{t0, t1}},
		{"with each frame written", func(c *liveConn) error {
			f := []byte("frame")
			return errors.Join(c.WriteFrame(f, t0), c.WriteFrame(f, t0), c.WriteFrame(f, t1))
		}, []time.Time{t0, t1}},
		{"with each frame of a batch, at the flush", func(c *liveConn) error {
			err := c.WriteFrame([]byte("frame"), t0)
			c.cork()
			return errors.Join(err, c.WriteFrame([]byte("frame"), t0), c.WriteFrame([]byte("frame"), t1), c.uncork())
		}, []time.Time{t0, t1}},
		{"the flush of a batch with a new one", func(c *liveConn) error {
			err := c.SetWriteDeadline(t0)
			c.cork()
			_, werr := c.Write([]byte("frame"))
			return errors.Join(err, werr, c.SetWriteDeadline(t1), c.uncork(), c.SetWriteDeadline(t1))
		}, []time.Time{t0, t1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := &writeDeadlines{}
			if err := tc.steps(&liveConn{Conn: sock}); err != nil {
				t.Fatal(err)
			}
			if len(sock.set) != len(tc.want) {
				t.Fatalf("deadlines set on the socket %v; want %v", sock.set, tc.want)
			}
			for i := range tc.want {
				if !sock.set[i].Equal(tc.want[i]) {
					t.Errorf("deadline %d set on the socket %v; want %v", i, sock.set[i], tc.want[i])
				}
			}
		})
	}
}

// writeRecorder is a net.Conn that counts the writes reaching it and keeps what they wrote;
// with cutShort its first write stops half-way at its deadline (and is not kept).
type writeRecorder struct {
	net.Conn
	cutShort bool
	writes   int
	got      bytes.Buffer
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	if w.writes++; w.cutShort && w.writes == 1 {
		return len(p) / 2, os.ErrDeadlineExceeded
	}
	return w.got.Write(p)
}
func (w *writeRecorder) SetWriteDeadline(time.Time) error { return nil }

// No data frame follows a close frame, whichever goroutine wrote the close (gorilla's
// WriteControl writes it, header first, in one Write): WriteFrame then writes nothing and
// fails with websocket.ErrCloseSent, corked or not. A longer write that only starts with the
// close frame's first byte is not a close. The close here is the longest a control frame can
// be (maxControlFrame bytes), the other write one byte longer.
func TestLiveConnWritesNoFrameAfterAClose(t *testing.T) {
	closing := append([]byte{0x88, 125}, websocket.FormatCloseMessage(websocket.CloseNormalClosure, strings.Repeat("r", 123))...)
	notClosing := append([]byte{0x88}, bytes.Repeat([]byte("n"), maxControlFrame)...)
	if len(closing) != maxControlFrame || len(notClosing) != maxControlFrame+1 {
		t.Fatalf("test frames of %d and %d bytes; want %d and %d", len(closing), len(notClosing), maxControlFrame, maxControlFrame+1)
	}
	deadline := time.Now().Add(time.Minute)
	for _, corked := range []bool{false, true} {
		sock := &writeRecorder{}
		c := &liveConn{Conn: sock}
		if corked {
			c.cork()
		}
		var want []byte
		if err := c.WriteFrame([]byte("first,"), deadline); err != nil {
			t.Fatalf("corked %v: WriteFrame before any close: %v", corked, err)
		}
		if _, err := c.Write(notClosing); err != nil {
			t.Fatal(err)
		}
		if c.closeWritten() {
			t.Errorf("corked %v: closeWritten = true before any close frame", corked)
		}
		if err := c.WriteFrame([]byte("second,"), deadline); err != nil {
			t.Errorf("corked %v: WriteFrame after a %d-byte write starting 0x88: %v; want it written", corked, len(notClosing), err)
		}
		want = append(append(append(want, "first,"...), notClosing...), "second,"...)
		if _, err := c.Write(closing); err != nil {
			t.Fatal(err)
		}
		want = append(want, closing...)
		if c.closeWritten() == corked {
			t.Errorf("corked %v: closeWritten after the close frame = %v; want %v (held until the flush)", corked, !corked, !corked)
		}
		if err := c.WriteFrame([]byte("third,"), deadline); !errors.Is(err, websocket.ErrCloseSent) {
			t.Errorf("corked %v: WriteFrame after a close frame = %v; want websocket.ErrCloseSent", corked, err)
		}
		if corked {
			if err := c.uncork(); err != nil {
				t.Fatal(err)
			}
		}
		if !c.closeWritten() {
			t.Errorf("corked %v: closeWritten = false once the close frame is out; want true", corked)
		}
		if !bytes.Equal(sock.got.Bytes(), want) {
			t.Errorf("corked %v: the socket got %q; want %q", corked, sock.got.Bytes(), want)
		}
	}
}

// After a write to the socket fails (a frame cut short by its deadline), nothing more is
// written: not the next frame, not a close frame (gorilla's WriteControl), not a corked
// batch's flush; each gets the first error back.
func TestLiveConnWritesNothingAfterAFailedWrite(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	for _, corked := range []bool{false, true} {
		sock := &writeRecorder{cutShort: true}
		c := &liveConn{Conn: sock}
		if corked {
			c.cork()
			if err := c.WriteFrame([]byte("first,"), deadline); err != nil {
				t.Fatal(err)
			}
			if err := c.uncork(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the flush = %v; want the socket's error", err)
			}
		} else if err := c.WriteFrame([]byte("first,"), deadline); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteFrame = %v; want the socket's error", err)
		}
		if err := c.WriteFrame([]byte("second,"), deadline); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("corked %v: WriteFrame after a failed write = %v; want the first error", corked, err)
		}
		c.cork()
		_ = c.WriteFrame([]byte("third,"), deadline)
		if err := c.uncork(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("corked %v: a later flush = %v; want the first error", corked, err)
		}
		if _, err := c.Write([]byte{0x88, 0}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("corked %v: a close frame after a failed write: %v; want the first error", corked, err)
		}
		if c.closeWritten() { // the server then closes at once: there is no close frame to answer
			t.Errorf("corked %v: closeWritten = true for a close frame whose write failed", corked)
		}
		if sock.writes != 1 || sock.got.Len() > 0 {
			t.Errorf("corked %v: %d writes reached the socket, %q after the failed one; want that one only", corked, sock.writes, sock.got.Bytes())
		}
	}
}
