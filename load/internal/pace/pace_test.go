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
