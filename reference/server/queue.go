package server

import "sync"

// sendQueue is a connection's send queue, bounded in frames (CLOSE-001) and in bytes
// (CLOSE-002). The hub puts frames in and never waits; the writer takes them in batches and
// says when a batch is written. A frame counts against both bounds from the moment it is
// queued until it is written, so a writer stuck on a batch leaves no room for more.
//
// The queue holds no memory while empty: an idle connection costs a few words, not a
// channel sized for the bound.
//
// The queue also says who writes. A connection has a writer goroutine only while it has
// frames to write or a close to send (conn.write): an idle connection holds no goroutine and
// no stack. writer is true from the moment a goroutine is owed the writer's place until that
// goroutine gives it up with the queue empty (idle); the one who turns it true (put, stop, or
// the handshake, which holds it from newSendQueue until it starts the first writer) starts
// the writer. Every decision is taken under mu, so there is never more than one writer, and
// a frame queued before shutdown always has one to come (after it, the writer that ends the
// connection keeps the place, and frames queued then are not written).
type sendQueue struct {
	mu        sync.Mutex // owns every field
	frames    []numbered // waiting, oldest first
	count     int        // frames waiting or being written
	bytes     int64      // their sizes (outFrame.size)
	maxFrames int
	maxBytes  int64
	writer    bool // a writer runs or is owed, or the connection was ended
	stopped   bool // the connection is shutting down: its writer never goes idle again
}

// maxKeptQueue is the capacity an emptied queue keeps for the next frames; a burst that grew
// it beyond is let go.
const maxKeptQueue = 16

func newSendQueue(maxFrames int, maxBytes int64) *sendQueue {
	// The handshake holds the writer's place until the connection is registered and it
	// starts the writer: the frames queued meanwhile (the welcome) wait for it.
	return &sendQueue{maxFrames: maxFrames, maxBytes: maxBytes, writer: true}
}

// put queues f, numbered seq, or reports the bound it would break (boundFrames, boundBytes)
// without queueing it; waiting is the bytes waiting before f, for the log. With start true the
// caller must start the writer (no writer ran: f is the first frame since it went idle).
func (q *sendQueue) put(f *outFrame, seq uint64) (bound string, waiting int64, start bool) {
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
		start = !q.writer
		q.writer = true
	}
	q.mu.Unlock()
	return bound, waiting, start
}

// idle gives up the writer's place if nothing waits and the connection is not shutting down;
// it reports whether it did (the writer then ends).
func (q *sendQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) > 0 || q.stopped {
		return false
	}
	q.writer = false
	return true
}

// stop marks the connection as shutting down; with start true the caller must start a
// writer to end it (none ran).
func (q *sendQueue) stop() (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	start = !q.writer
	q.writer = true
	return start
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
