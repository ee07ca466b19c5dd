package core

import (
	"container/heap"
	"sort"
	"time"
)

// timerHeap orders pending requests by deadline. Closed requests stay in the heap and are
// skipped when they come due, so closing a request is O(1).
type timerHeap []*pending

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	// Equal deadlines fire in a fixed order so runs are reproducible.
	if h[i].from.seq != h[j].from.seq {
		return h[i].from.seq < h[j].from.seq
	}
	return h[i].to.seq < h[j].to.seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface; use push.
func (h *timerHeap) Push(x any) { *h = append(*h, x.(*pending)) }

// Pop implements heap.Interface; use popDue.
func (h *timerHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

func (h *timerHeap) push(p *pending) { heap.Push(h, p) }

// popDue returns the next open request whose deadline is not after now, or nil.
func (h *timerHeap) popDue(now time.Time) *pending {
	for h.Len() > 0 {
		p := (*h)[0]
		if p.deadline.After(now) {
			return nil
		}
		heap.Pop(h)
		if !p.closed {
			return p
		}
	}
	return nil
}

// next is the earliest deadline of an open request.
func (h *timerHeap) next() (time.Time, bool) {
	for h.Len() > 0 {
		if p := (*h)[0]; !p.closed {
			return p.deadline, true
		}
		heap.Pop(h)
	}
	return time.Time{}, false
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
