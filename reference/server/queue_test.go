package server

import (
	"strings"
	"testing"
)

// The queue says who writes (sendQueue): the caller told start must start a writer, and
// exactly one is told while no writer runs. Each op is applied in turn: "put" queues a frame,
// "full" is a put the queue's byte bound refuses, "take" is the writer taking every frame and
// writing it, "idle" the writer giving up its place, "stop" a shutdown; want is, for each op, the start put or stop returned, or for idle
// whether the writer ended ("+" true, "-" false).
func TestSendQueueSaysWhoWrites(t *testing.T) {
	const queueBytes = 1 << 20
	for _, tt := range []struct {
		name string
		ops  string
		want string
	}{
		{"the handshake holds the place: frames queued before the first writer start none", "put put", "--"},
		{"the first writer drains, then ends", "put take idle", "--+"},
		{"the frame after an idle writer starts one, and only one", "idle put put", "++-"},
		{"a writer with frames waiting does not end", "idle put idle", "++-"},
		{"a frame queued while the writer runs is its own", "idle put take put take idle", "++---+"},
		{"stop while a writer runs starts none", "stop", "-"},
		{"stop with no writer starts one", "idle stop", "++"},
		{"after stop the writer never ends idle, and no other starts", "idle stop take idle put", "++---"},
		{"stop after a put started a writer starts none", "idle put stop", "++-"},
		// A refused frame is not queued: it neither starts a writer nor takes the place, so
		// the shutdown that cuts the slow consumer off starts the writer that ends it.
		{"a refused frame starts no writer, and the cut-off's stop starts one", "idle full stop", "+-+"},
		{"a frame that just fits starts one, the next refused does not", "idle fit full", "++-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newSendQueue(100, queueBytes)
			var got strings.Builder
			mark := func(b bool) {
				if b {
					got.WriteByte('+')
				} else {
					got.WriteByte('-')
				}
			}
			for _, op := range strings.Fields(tt.ops) {
				switch op {
				case "put", "fit":
					size := 100
					if op == "fit" { // the whole byte bound
						size = queueBytes
					}
					bound, _, start := q.put(frameOfSize(size), 1)
					if bound != "" {
						t.Fatalf("%s refused: %s", op, bound)
					}
					mark(start)
				case "full":
					bound, _, start := q.put(frameOfSize(queueBytes+1), 1)
					if bound != boundBytes {
						t.Fatalf("full: bound %q; want %q", bound, boundBytes)
					}
					mark(start)
				case "take":
					b := q.take(nil, maxWriteBatch)
					var bytes int64
					for _, n := range b {
						bytes += n.f.size()
					}
					q.written(len(b), bytes)
					mark(false)
				case "idle":
					mark(q.idle())
				case "stop":
					mark(q.stop())
				}
			}
			if got.String() != tt.want {
				t.Errorf("%s: %s; want %s", tt.ops, got.String(), tt.want)
			}
		})
	}
}
