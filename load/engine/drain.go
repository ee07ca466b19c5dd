package engine

import (
	"context"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// drain waits, after the measured phase, for what is due but still on its way: the score
// changes of open battles up to the version their last set_battle_score made, and the ends
// of battles whose time is up. It gives up after Config.Drain; countLosses then counts what
// did not come.
func (e *engine) drain(ctx context.Context) {
	deadline := time.Now().Add(e.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if e.settled(time.Now()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled reports whether every open battle has reached all its members with what is due
// at now.
func (e *engine) settled(now time.Time) bool {
	for _, g := range e.groups {
		b := g.current()
		if b == nil || isClosed(b.done) {
			continue
		}
		if now.After(b.endAt) {
			return false // its end is due
		}
		b.mu.Lock()
		id, acked := b.id, b.acked
		b.mu.Unlock()
		for _, u := range g.members() {
			u.mu.Lock()
			behind := u.scoreBattle == id && u.scoreSeen < acked
			u.mu.Unlock()
			if behind {
				return false
			}
		}
	}
	return true
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// countLosses counts, once the drain is over, every message due that never came. For each
// open battle: the starts and the score changes (up to the last confirmed version) its
// members never got and, if its end was due before the drain began, the ends. For each
// connection: the frames its sequence numbers show as missing or out of order (TRANS-005).
// Protocol violations of any kind are counted in "protocol.violations".
func (e *engine) countLosses(drainStart time.Time) {
	for _, g := range e.groups {
		b := g.current()
		if b == nil {
			continue
		}
		if isClosed(b.done) || b.endAt.Before(drainStart) {
			e.settleBattle(b) // starts and ends
		} else {
			b.mu.Lock()
			lost := max(b.members-b.started, 0)
			b.mu.Unlock()
			e.rec.Add(metrics.Lost, int64(lost))
		}
		b.mu.Lock()
		id, acked := b.id, b.acked
		b.mu.Unlock()
		lost := 0
		for _, u := range g.members() {
			u.mu.Lock()
			if u.scoreBattle == id && acked > u.scoreGot {
				lost += int(acked - u.scoreGot)
			}
			u.mu.Unlock()
		}
		e.rec.Add(metrics.Lost, int64(lost))
	}
	var missing, disordered uint64
	violations := 0
	for _, u := range e.users {
		if c := u.conn(); c != nil {
			m, d := c.SeqStats()
			missing, disordered = missing+m, disordered+d
			violations += c.ViolationCount()
		}
	}
	e.rec.Add(metrics.Lost, int64(missing))
	e.rec.Add(metrics.OutOfOrder, int64(disordered))
	e.rec.Add(counterViolations, int64(violations))
}
