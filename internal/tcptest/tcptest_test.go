package tcptest

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeTB records what a check reports instead of failing the test; its Fatalf ends the
// check's goroutine as testing's does.
type fakeTB struct {
	testing.TB
	errors, fatals []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	panic(f)
}

// check runs fn with f, ending where a Fatalf ended it.
func (f *fakeTB) check(fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn(f)
}

func TestArrivesWithinWrite(t *testing.T) {
	w0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	w1 := w0.Add(time.Millisecond)
	const (
		in     = iota // at the write's start: within
		atEnd         // at its end: within
		before        // a nanosecond before it began
		after         // a nanosecond after it ended
	)
	arrival := map[int]time.Time{in: w0, atEnd: w1, before: w0.Add(-1), after: w1.Add(1)}
	tests := []struct {
		name      string
		calls     []int // what each call returns; the last repeats
		wantCalls int
		wantErr   bool
		wantFatal bool
	}{
		{"the first and the next within", []int{in, atEnd}, 2, false, false},
		{"within after two outside, then within", []int{before, after, atEnd, in}, 4, false, false},
		{"within once, then after its write", []int{in, after}, 2, true, false},
		{"within once, then before its write", []int{atEnd, before}, 2, true, false},
		{"never within", []int{after}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made := 0
			call := func() (time.Time, [2]time.Time) {
				k := tt.calls[min(made, len(tt.calls)-1)]
				made++
				if tt.wantFatal {
					time.Sleep(5 * time.Millisecond) // calls until the wait ends
				}
				return arrival[k], [2]time.Time{w0, w1}
			}
			f := &fakeTB{}
			f.check(func(tb testing.TB) { arrivesWithinWrite(tb, call, 30*time.Millisecond) })
			if got := len(f.errors) > 0; got != tt.wantErr {
				t.Errorf("errors %q; want some: %v", f.errors, tt.wantErr)
			}
			if got := len(f.fatals) > 0; got != tt.wantFatal {
				t.Fatalf("fatals %q; want one: %v", f.fatals, tt.wantFatal)
			}
			if tt.wantFatal {
				// How many calls fit in the 30 ms is the machine's: one, when the test is descheduled.
				if !strings.Contains(f.fatals[0], fmt.Sprintf("none of %d calls in 30ms", made)) {
					t.Errorf("fatal %q after %d calls; want it to name them", f.fatals[0], made)
				}
				return
			}
			if made != tt.wantCalls {
				t.Errorf("%d calls; want %d", made, tt.wantCalls)
			}
		})
	}
}

func TestServe(t *testing.T) {
	addr := Serve(t, func(c net.Conn) { _, _ = io.WriteString(c, "hello") })
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("address %q; want one on 127.0.0.1", addr)
	}
	for range 2 { // every connection is served
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c) // to the end: the connection is closed when handle returns
		c.Close()
		if err != nil || string(b) != "hello" {
			t.Fatalf("read %q, %v; want hello and the end of the stream", b, err)
		}
	}
}
