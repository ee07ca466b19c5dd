// Package seqwin follows numbers meant to come one after the other (1, 2, 3, …): the highest
// come so far and which of the Follow numbers below it have not come yet, so that a number
// that comes late is told from a repeat. The conformance client follows frame seqs with it,
// the load engine events' seqs and score versions.
package seqwin

// Follow is how far below the highest a window knows what has not come.
const Follow = 63

// Window is the numbers seen of one stream. The zero Window has seen none (highest 0).
type Window struct {
	high uint64
	gaps uint64 // bit i (1 ≤ i ≤ Follow) set while high-i has not come
}

// At is a window whose highest is n, every number up to it come.
func At(n uint64) Window { return Window{high: n} }

// High is the highest number seen.
func (w *Window) High() uint64 { return w.high }

// See takes n. Above the highest, n becomes the highest and skipped is how many numbers it
// jumped over (not come, until they do). Not above it, n is late: filled reports that it was
// one of those skipped, now come; false is a repeat, or a number further back than Follow.
func (w *Window) See(n uint64) (skipped uint64, late, filled bool) {
	if n <= w.high {
		back := w.high - n
		if back > Follow || w.gaps&(1<<back) == 0 {
			return 0, true, false
		}
		w.gaps &^= 1 << back
		return 0, true, true
	}
	up := n - w.high
	w.high = n
	if up > Follow {
		w.gaps = ^uint64(1) // every number the window follows skipped
	} else {
		w.gaps = w.gaps<<up | (1<<up - 2) // bits 1 .. up-1: the ones jumped over
	}
	return up - 1, false, false
}

// Raise makes n the highest, counting every number up to it come (a state taken as the
// baseline, as a resume's or a join's); a number below the highest changes nothing.
func (w *Window) Raise(n uint64) {
	if n <= w.high {
		return
	}
	if up := n - w.high; up > Follow {
		w.gaps = 0
	} else {
		w.gaps <<= up
	}
	w.high = n
}
