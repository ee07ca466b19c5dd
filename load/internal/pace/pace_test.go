package pace

import (
	"context"
	"testing"
	"time"
)

func TestUntilReachesTheMoment(t *testing.T) {
	for _, d := range []time.Duration{0, 300 * time.Microsecond, 3 * time.Millisecond} {
		at := time.Now().Add(d)
		if !Until(context.Background(), at) {
			t.Fatalf("Until(+%v) = false with a live context", d)
		}
		if now := time.Now(); now.Before(at) {
			t.Errorf("Until(+%v) returned %v early", d, at.Sub(now))
		}
	}
}

func TestUntilStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Until(ctx, start.Add(time.Hour)) {
		t.Error("Until = true with an ended context")
	}
	if time.Since(start) > time.Second {
		t.Error("Until waited on after its context ended")
	}
}

// TestUntilSleepsTheLastMillisecondItself: the Go timer wakes Until at most margin before the
// moment (never after it, unless the machine held the timer up), and the rest is slept by
// finish, never more than margin of it. Tried up to 50 times: on a busy machine a Go timer
// may wake a millisecond late now and then, and then finish has nothing left to sleep.
func TestUntilSleepsTheLastMillisecondItself(t *testing.T) {
	var slept []time.Duration
	finish = func(d time.Duration) { slept = append(slept, d); finishSleep(d) }
	t.Cleanup(func() { finish = finishSleep })
	for range 50 {
		if !Until(context.Background(), time.Now().Add(3*time.Millisecond)) {
			t.Fatal("Until = false with a live context")
		}
		if len(slept) > 0 {
			break
		}
	}
	if len(slept) == 0 {
		t.Fatal("in 50 waits of 3 ms, finish slept none of the last millisecond: the Go timer waited to the moment or past it")
	}
	for _, d := range slept {
		if d <= 0 || d > margin {
			t.Errorf("finish slept %v; want more than nothing and at most %v", d, margin)
		}
	}
}
