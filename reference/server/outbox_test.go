package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/protocol"
)

// The outbox keeps one of each event until it is acknowledged, offers each once in order as
// far as the sender takes them, and keeps its order through compaction.
func TestOutbox(t *testing.T) {
	hook := func(id string) core.Hook { return core.Hook{EventID: id, Body: json.RawMessage(`{}`)} }
	ids := func(hs []core.Hook) []string {
		out := []string{}
		for _, h := range hs {
			out = append(out, h.EventID)
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		ops     []string // "+id" adds, "-id" acknowledges, "oN" offers with room for N, "xid" gives up, "r" offers the retries
		pending []string // afterwards, in order
		offered []string // everything the offers took, in order
	}{
		// Added hooks are pending in order and offered in order.
		{"order", []string{"+a", "+b", "+c", "o9"}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		// A second hook with the same EventId is not kept.
		{"one of each event", []string{"+a", "+a", "o9"}, []string{"a"}, []string{"a"}},
		// A full queue stops the offer; the next offer goes on where it stopped.
		{"full queue", []string{"+a", "+b", "+c", "o1", "o1", "o0", "o9"}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		// Acknowledged hooks leave; an unknown acknowledgement changes nothing.
		{"acks", []string{"+a", "+b", "o9", "-a", "-x", "+c"}, []string{"b", "c"}, []string{"a", "b"}},
		// A hook acknowledged before it was offered (restored, then acknowledged) is skipped.
		{"acked before offered", []string{"+a", "+b", "-a", "o9"}, []string{"b"}, []string{"b"}},
		// An event acknowledged may be recorded again (after a crash lost the first record).
		{"again after its ack", []string{"+a", "o9", "-a", "+a", "o9"}, []string{"a"}, []string{"a", "a"}},
		// Those given up are offered again in the order they were given up, not the latest
		// first; one acknowledged meanwhile, or unknown, is not.
		{"retries in order", []string{"+a", "+b", "+c", "o9", "xb", "xc", "xa", "r"}, []string{"a", "b", "c"}, []string{"a", "b", "c", "b", "c", "a"}},
		{"a retry acknowledged meanwhile", []string{"+a", "+b", "o9", "xa", "xb", "-a", "xz", "r"}, []string{"b"}, []string{"a", "b", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox()
			var offered []core.Hook
			for _, op := range tt.ops {
				switch arg := op[1:]; op[0] {
				case '+':
					o.add(hook(arg))
				case '-':
					o.ack(arg)
				case 'x':
					o.gaveUp(arg)
				case 'r':
					o.offerRetries(func(h core.Hook) bool { offered = append(offered, h); return true })
				case 'o':
					room, _ := strconv.Atoi(arg)
					o.offer(func(h core.Hook) bool {
						if room == 0 {
							return false
						}
						room--
						offered = append(offered, h)
						return true
					})
				}
			}
			if got := ids(o.pending()); !slices.Equal(got, tt.pending) || o.len() != len(tt.pending) {
				t.Errorf("%v: pending %v (len %d); want %v", tt.ops, got, o.len(), tt.pending)
			}
			if got := ids(offered); !slices.Equal(got, tt.offered) {
				t.Errorf("%v: offered %v; want %v", tt.ops, got, tt.offered)
			}
		})
	}
	// Compaction: of 1,000 hooks offered in part, acknowledging all but every tenth keeps
	// the rest in order, and the next offer starts after the last one offered.
	o := newOutbox()
	var want []string
	for i := 0; i < 1000; i++ {
		o.add(hook(fmt.Sprint(i)))
	}
	n := 0
	o.offer(func(core.Hook) bool { n++; return n <= 500 })
	for i := 0; i < 1000; i++ {
		if i%10 == 0 {
			want = append(want, fmt.Sprint(i))
			continue
		}
		o.ack(fmt.Sprint(i))
	}
	if got := ids(o.pending()); !slices.Equal(got, want) || len(o.order) > 2*len(want)+64 {
		t.Errorf("after compaction: %d entries, pending %v; want %v", len(o.order), got, want)
	}
	var next []string
	o.offer(func(h core.Hook) bool { next = append(next, h.EventID); return true })
	if !slices.Equal(next, want[50:]) {
		t.Errorf("offered after compaction %v; want %v", next, want[50:])
	}
}

// The outbox's records survive a rewrite and a reopening of the journal: recorded and not
// acknowledged hooks come back in order, with their bodies and client addresses; acknowledged
// ones do not.
func TestJournalKeepsTheOutbox(t *testing.T) {
	dir := t.TempDir()
	j, _, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync)
	if err != nil {
		t.Fatal(err)
	}
	hooks := []core.Hook{
		{Command: protocol.HookCreateBattle, EventID: "b1-create", OptPlatform: protocol.PlatformREST, Body: protocol.HookCreateBattleBody{BattleID: "b1"}},
		{Command: protocol.HookStartBattle, EventID: "b1-start", Body: protocol.HookStartBattleBody{BattleID: "b1"}},
		{Command: protocol.HookEndBattle, EventID: "b1-end", ClientIP: "127.0.0.7", Body: protocol.HookEndBattleBody{BattleID: "b1", OpType: 0}},
	}
	start := core.Record{Kind: core.RecordStart, BattleID: "b1", At: 1000, Config: &protocol.BattleConfig{Duration: 60},
		Board: []core.RecordEntrant{{LiveID: "r-a", UserID: "a"}, {LiveID: "r-b", UserID: "b"}}}
	for _, step := range []func() error{
		func() error { return j.appendHooks(hooks[:1]) },
		func() error { return j.append([]core.Record{start}) },
		func() error { return j.appendHooks(hooks[1:]) },
		j.commit,
		func() error { return j.ackHook("b1-create") },
		func() error { return j.rewrite([]core.Record{start}) },
		func() error { return j.ackHook("b1-start") },
		func() error { return j.appendHooks(hooks[2:]) }, // recorded already: not twice
		j.close,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	j, recs, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if len(recs) != 1 || recs[0].Kind != core.RecordStart {
		t.Errorf("battle records %+v; want the start", recs)
	}
	got := j.outbox.pending()
	if len(got) != 1 || got[0].EventID != "b1-end" || got[0].Command != protocol.HookEndBattle || got[0].ClientIP != "127.0.0.7" {
		t.Fatalf("outbox after reopening: %+v; want the end webhook alone", got)
	}
	want, _ := json.Marshal(hooks[2].Body)
	if body := got[0].Body.(json.RawMessage); !bytes.Equal(body, want) {
		t.Errorf("restored body %s; want %s", body, want)
	}
}
