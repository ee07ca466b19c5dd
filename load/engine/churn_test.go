package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/metrics"
)

// TestChurnChecksTheAnswers: the leader's outcome of each invitation of a cycle is checked
// against what its invitee drew. Room 1 draws accept, room 2 reject; room 3 was refused
// outright by requestConnection's reply.
func TestChurnChecksTheAnswers(t *testing.T) {
	outcome := func(typ, invitee string) client.Event {
		payload, _ := json.Marshal(client.ConnectionRequestOutcome{Invitee: client.ConnectionUser{LiveID: invitee}})
		return client.Event{Type: typ, Payload: payload, At: time.Now()}
	}
	accept := func(r string) client.Event { return outcome(client.EvConnectionRequestAccept, r) }
	reject := func(r string) client.Event { return outcome(client.EvConnectionRequestReject, r) }
	timeout := func(r string) client.Event { return outcome(client.EvConnectionRequestTimeout, r) }
	for _, tt := range []struct {
		name   string
		events []client.Event
		want   map[string]int64 // counters that must move; every other checked one stays 0
		joined []int
		closed bool // every invitation closed: the cycle stops waiting
	}{
		{"each as drawn", []client.Event{accept("r1"), reject("r2")}, nil, []int{1}, true},
		{"the accept reported as a reject", []client.Event{reject("r1"), reject("r2")}, map[string]int64{metrics.Violations: 1}, nil, true},
		{"the reject reported as an accept", []client.Event{accept("r1"), accept("r2")}, map[string]int64{metrics.Violations: 1}, []int{1, 2}, true},
		{"one timed out: its invitation or answer lost", []client.Event{accept("r1"), timeout("r2")}, map[string]int64{metrics.Lost: 1, metrics.LostOverdue: 1}, []int{1}, true},
		{"one answered twice, the other never", []client.Event{accept("r1"), accept("r1")}, map[string]int64{metrics.OutOfOrder: 1}, []int{1}, false},
		{"an outcome for the room refused outright", []client.Event{accept("r1"), reject("r2"), reject("r3")}, map[string]int64{metrics.OutOfOrder: 1}, []int{1}, true},
		{"an outcome for a room not invited", []client.Event{accept("r1"), reject("r2"), reject("r9")}, map[string]int64{metrics.Unexpected: 1}, []int{1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.Options{})
			e := &engine{cfg: Config{Shards: 1}, rec: rec}
			g := &group{}
			c := &cycle{accept: []bool{false, true, false, true}, answered: make(chan struct{}),
				names: map[string]int{"r1": 1, "r2": 2, "r3": 3}, closed: map[int]bool{3: true}, expected: 2}
			g.cycle = c
			for _, ev := range tt.events {
				g.answered(e, ev)
			}
			tot := rec.Finish(time.Now())
			for _, name := range []string{metrics.Violations, metrics.Lost, metrics.LostOverdue, metrics.OutOfOrder, metrics.Unexpected} {
				if got := tot.Counters[name]; got != tt.want[name] {
					t.Errorf("%s %d; want %d", name, got, tt.want[name])
				}
			}
			if got := c.rooms(); len(got) != len(tt.joined) || len(got) > 0 && got[len(got)-1] != tt.joined[len(tt.joined)-1] {
				t.Errorf("joined %v; want %v", got, tt.joined)
			}
			select {
			case <-c.answered:
				if !tt.closed {
					t.Error("the cycle stopped waiting with an invitation still open")
				}
			default:
				if tt.closed {
					t.Error("the cycle still waits though every invitation closed")
				}
			}
		})
	}
}
