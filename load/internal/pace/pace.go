// Package pace waits until a moment precisely: an open-model load schedule must not add the
// lateness of its own timers to the latencies it measures.
//
// Go's timers wake up to a millisecond or more late on a busy machine (the network poller
// waits in whole milliseconds); Until sleeps on a timer until a millisecond before the moment,
// then for the rest with nanosleep(2) on its own thread, which wakes within tens of
// microseconds and, unlike spinning, leaves the CPU to others. (Off Linux the rest is slept
// on a Go timer too.)
package pace

import (
	"context"
	"time"
)

// margin is the last part of a wait slept with finishSleep rather than a Go timer.
const margin = time.Millisecond

// finish sleeps the last part of a wait: finishSleep, but for a test that watches it.
var finish = finishSleep

// Until waits until t or until ctx ends; it reports whether t was reached with ctx alive.
func Until(ctx context.Context, t time.Time) bool {
	if d := time.Until(t) - margin; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
	}
	if d := time.Until(t); d > 0 {
		finish(d)
	}
	return ctx.Err() == nil
}
