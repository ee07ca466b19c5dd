package engine

import (
	"context"
	"sync"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// drain waits, after the measured phase, for what is due but still on its way: the score
// changes of open battles up to the version their last set_battle_score made, and the ends
// of battles whose time is up. Each battle is settled (its losses counted, its later events
// ignored) as soon as nothing more is due to it; the drain gives up after Config.Drain and
// settles the rest, counting the ends that were due when it began and never came. Then it
// counts the frames every connection's sequence numbers show as missing or out of order
// (TRANS-005) and the protocol violations.
func (e *engine) drain(ctx context.Context) {
	start := time.Now()
	deadline := start.Add(e.cfg.Drain)
	for {
		open := false
		for _, g := range e.groups {
			if b := g.current(); b != nil && (!b.caughtUp() || !e.settle(b, start, true)) {
				open = true
			}
		}
		if !open || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range e.groups {
		if b := g.current(); b != nil {
			e.settle(b, start, false)
		}
	}
	e.countConnectionLosses()
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// outliving returns a context that ends grace after ctx does (or when stop is called): a
// request already sent when the run ends gets its reply, so that what it did on the server
// is known.
func outliving(ctx context.Context, grace time.Duration) (_ context.Context, stop func()) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	unhook := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(grace, cancel)
	})
	return c, func() {
		unhook()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// countConnectionLosses counts, once the drain is over, the frames each connection's sequence
// numbers show as missing or out of order (TRANS-005) and the protocol violations of any kind
// ("protocol.violations").
func (e *engine) countConnectionLosses() {
	var missing, disordered uint64
	violations := 0
	for _, u := range e.users {
		if c := u.conn(); c != nil {
			m, d := c.SeqStats()
			missing, disordered = missing+m, disordered+d
			violations += c.ViolationCount()
		}
	}
	e.lose(metrics.LostGap, int64(missing))
	e.rec.Add(metrics.OutOfOrder, int64(disordered))
	e.rec.Add(counterViolations, int64(violations))
}
