package core

import (
	"container/heap"
	"sort"
	"time"
)

// timer is one deadline of the core: a connection request's timeout, a battle request's
// timeout, a battle's end. Cancelling removes it from the heap at once, so a client that
// opens and cancels requests in a loop cannot make the core hold on to them.
type timer struct {
	at    time.Time
	seq   uint64 // creation order: timers due at the same instant fire in this order
	fire  func()
	index int        // position in the heap; -1 once fired or cancelled
	heap  *timerHeap // the heap it lives in
}

// cancel stops t from firing; a nil, fired or cancelled timer is allowed.
func (t *timer) cancel() {
	if t != nil && t.index >= 0 {
		heap.Remove(t.heap, t.index)
	}
}

// timerHeap orders timers by deadline, then creation.
type timerHeap []*timer

// Len implements heap.Interface.
func (h timerHeap) Len() int { return len(h) }

// Less implements heap.Interface: earlier deadline first, then earlier creation.
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}

// Swap implements heap.Interface, keeping each timer's index.
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

// Push implements heap.Interface; use Core.after.
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

// Pop implements heap.Interface; use popDue.
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// popDue removes and returns the next timer due at or before now, or nil.
func (h *timerHeap) popDue(now time.Time) *timer {
	if h.Len() == 0 || (*h)[0].at.After(now) {
		return nil
	}
	return heap.Pop(h).(*timer)
}

// next is the earliest deadline.
func (h *timerHeap) next() (time.Time, bool) {
	if h.Len() == 0 {
		return time.Time{}, false
	}
	return (*h)[0].at, true
}

// after schedules fire d from now on the core's clock.
func (c *Core) after(d time.Duration, fire func()) *timer {
	c.timerSeq++
	t := &timer{at: c.clock.Now().Add(d), seq: c.timerSeq, fire: fire, heap: &c.timers}
	heap.Push(&c.timers, t)
	return t
}

// sortedPending lists m's requests by target creation order, for reproducible event order.
func sortedPending(m map[string]*pending) []*pending {
	out := make([]*pending, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].to.seq < out[j].to.seq })
	return out
}
