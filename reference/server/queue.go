package server

import "sync"

// sendQueue is a connection's send queue, bounded in frames (CLOSE-001) and in bytes
// (CLOSE-002). The hub puts frames in and never waits; the writer takes them in batches and
// says when a batch is written. A frame counts against both bounds from the moment it is
// queued until it is written, so a writer stuck on a batch leaves no room for more.
//
// The queue holds no memory while empty: an idle connection costs a few words, not a
// channel sized for the bound. mu owns every field but ready, a channel of capacity 1 that
// tells the writer something waits.
type sendQueue struct {
	mu        sync.Mutex
	frames    []numbered // waiting, oldest first
	count     int        // frames waiting or being written
	bytes     int64      // their sizes (outFrame.size)
	maxFrames int
	maxBytes  int64
	ready     chan struct{}
}

// maxKeptQueue is the capacity an emptied queue keeps for the next frames; a burst that grew
// it beyond is let go.
const maxKeptQueue = 16

func newSendQueue(maxFrames int, maxBytes int64) *sendQueue {
	return &sendQueue{maxFrames: maxFrames, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// put queues f, numbered seq, or reports the bound it would break (boundFrames, boundBytes)
// without queueing it; waiting is the bytes waiting before f, for the log.
func (q *sendQueue) put(f *outFrame, seq uint64) (bound string, waiting int64) {
	n := f.size()
	q.mu.Lock()
	waiting = q.bytes
	switch {
	case q.bytes+n > q.maxBytes:
		bound = boundBytes
	case q.count >= q.maxFrames:
		bound = boundFrames
	default:
		q.frames = append(q.frames, numbered{seq, f})
		q.count++
		q.bytes += n
	}
	q.mu.Unlock()
	if bound == "" {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return bound, waiting
}

// take moves up to max waiting frames, oldest first, into batch (its old contents dropped)
// and returns it; they still count until written is called for them.
func (q *sendQueue) take(batch []numbered, max int) []numbered {
	clear(batch)
	batch = batch[:0]
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.frames), max)
	batch = append(batch, q.frames[:n]...)
	rest := copy(q.frames, q.frames[n:])
	clear(q.frames[rest:])
	q.frames = q.frames[:rest]
	if rest == 0 && cap(q.frames) > maxKeptQueue {
		q.frames = nil
	}
	return batch
}

// written releases frames the writer took: n of them, of size bytes in all.
func (q *sendQueue) written(n int, bytes int64) {
	q.mu.Lock()
	q.count -= n
	q.bytes -= bytes
	q.mu.Unlock()
}
