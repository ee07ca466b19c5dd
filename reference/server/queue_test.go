package server

import (
	"strings"
	"testing"
)

// The queue says who writes (sendQueue): the caller told start must start a writer, and
// exactly one is told while no writer runs. Each op is applied in turn: "put" queues a frame,
// "take" is the writer taking every frame and writing it, "idle" the writer giving up its
// place, "stop" a shutdown; want is, for each op, the start put or stop returned, or for idle
// whether the writer ended ("+" true, "-" false).
func TestSendQueueSaysWhoWrites(t *testing.T) {
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newSendQueue(100, 1<<20)
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
				case "put":
					bound, _, start := q.put(frameOfSize(100), 1)
					if bound != "" {
						t.Fatalf("put refused: %s", bound)
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
