package engine

import (
	"container/heap"
	"context"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/pkarena/pkarena/fixtures/gifts"
	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/internal/pace"
	"github.com/pkarena/pkarena/load/metrics"
)

// giftCutoff is how close to its earliest end a battle stops taking gifts (a fifth of a
// short battle): a gift scored after the end would fail with 100421 through no fault of the
// server.
const giftCutoff = time.Second

// takesGifts reports whether b is far enough from its end to take a gift now.
func (e *engine) takesGifts(b *battle) bool {
	return time.Until(b.endAt) > min(giftCutoff, e.sc.BattleDuration.D()/5)
}

// startGifts starts the gift stream of the pk groups: at gift_rate per second in all (open
// model, this agent's share), or one gift per viewer every think_time after its previous
// one was scored (closed model).
func (e *engine) startGifts(ctx context.Context, wg *sync.WaitGroup) {
	var viewers []*user
	for _, g := range e.groups {
		if g.kind != kindPK {
			continue
		}
		for _, r := range g.rooms {
			viewers = append(viewers, r.audience...)
		}
	}
	if len(viewers) == 0 {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if e.sc.Model == scenarios.ModelClosed {
			e.closedGifts(ctx, viewers)
		} else {
			e.openGifts(ctx)
		}
	}()
}

// openGifts sends gifts on a schedule that does not wait for the server: the n-th gift is
// due at a fixed time whatever happened to the ones before, and its latencies are measured
// from that time. A gift sent more than lateAfter behind is counted late; one no battle can
// take is counted in "gifts.no_battle".
func (e *engine) openGifts(ctx context.Context) {
	rng := e.rng(3)
	catalogue := e.rules.Gifts()
	next := e.measure
	for {
		rate := e.sc.GiftRateAt(next.Sub(e.measure)) / float64(e.cfg.Shards)
		if rate <= 0 {
			next = next.Add(100 * time.Millisecond) // look again at the rate soon
			if !sleep(ctx, time.Until(next)) {
				return
			}
			continue
		}
		next = next.Add(time.Duration(float64(time.Second) / rate))
		if !pace.Until(ctx, next) {
			return
		}
		if time.Since(next) > lateAfter {
			e.rec.Add(metrics.Late, 1)
		}
		b := e.pickBattle(rng)
		if b == nil {
			e.rec.Add(counterNoBattle, 1)
			continue
		}
		gf := e.newGift(rng, catalogue, next, rng.IntN(len(b.g.rooms)), nil)
		e.offer(b, gf)
	}
}

// offer queues a gift in a battle, counting what cannot be queued.
func (e *engine) offer(b *battle, gf gift) bool {
	ok, full := b.enqueue(gf)
	switch {
	case full:
		e.rec.Add(metrics.Dropped, 1)
	case !ok:
		e.rec.Add(counterNoBattle, 1)
	}
	return ok
}

// newGift draws a gift of the catalogue and scores it with the gift rules.
func (e *engine) newGift(rng *mrand.Rand, catalogue []gifts.Gift, intended time.Time, room int, done func()) gift {
	it := catalogue[rng.IntN(len(catalogue))]
	score, _ := e.rules.Score(it.ID, 1) // the catalogue's own gifts always score
	return gift{intended: intended, room: room, score: score, done: done}
}

// pickBattle draws one of the running battles that still takes gifts, or nil.
func (e *engine) pickBattle(rng *mrand.Rand) *battle {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	n := len(e.active)
	if n == 0 {
		return nil
	}
	// A few draws find an open battle when most are; failing that, none is used.
	for try := 0; try < 4; try++ {
		b := e.active[rng.IntN(n)]
		if e.takesGifts(b) {
			return b
		}
	}
	return nil
}

// closedGifts is the closed model: each viewer sends a gift to its own room's host, waits
// until the gift is scored (or given up), thinks for think_time, and sends the next. One
// goroutine keeps every viewer's next time in a heap.
func (e *engine) closedGifts(ctx context.Context, viewers []*user) {
	rng := e.rng(4)
	catalogue := e.rules.Gifts()
	think := e.sc.ThinkTime.D()
	again := make(chan *user, len(viewers)) // never full: a viewer has one gift at a time
	due := &dueHeap{}
	for _, v := range viewers {
		heap.Push(due, dueUser{at: e.measure.Add(time.Duration(rng.Int64N(int64(think)))), u: v})
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		for due.Len() > 0 && !due.peek().at.After(time.Now()) {
			d := heap.Pop(due).(dueUser)
			if time.Since(d.at) > lateAfter {
				e.rec.Add(metrics.Late, 1)
			}
			b := d.u.room.group.current()
			u := d.u
			if b == nil || !e.takesGifts(b) {
				e.rec.Add(counterNoBattle, 1)
				heap.Push(due, dueUser{at: d.at.Add(think), u: u})
				continue
			}
			gf := e.newGift(rng, catalogue, d.at, u.room.index, func() { again <- u })
			if !e.offer(b, gf) {
				heap.Push(due, dueUser{at: d.at.Add(think), u: u})
			}
		}
		wait := time.Hour
		if due.Len() > 0 {
			wait = time.Until(due.peek().at)
		}
		t.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return
		case u := <-again:
			heap.Push(due, dueUser{at: time.Now().Add(think), u: u})
		case <-t.C:
		}
	}
}

// dueUser is a viewer and when its next gift is due.
type dueUser struct {
	at time.Time
	u  *user
}

// dueHeap orders viewers by due time (container/heap).
type dueHeap []dueUser

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueUser)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
func (h dueHeap) peek() dueUser { return h[0] }
