package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
)

// FuzzBattleFields holds the in-place reading of a battle event to encoding/json's, on the
// payloads it is given: valid JSON (the client checked the whole frame when it read it).
func FuzzBattleFields(f *testing.F) {
	for _, s := range []string{
		`{"battleID":"b-1","version":7,"battleUserList":[{"userID":"u","score":3}]}`,
		`{"battleInfo":{"battleID":"b-1","startTime":1},"version":3,"battleUserList":[]}`,
		`{"battleInfo":{"battleid":"b-1"}}`, `{"BattleID":"x","version":1}`, `{"battleID":"a\"b"}`, `{"version":-1}`,
		`{"version":1.5}`, `{"battleInfo":null}`, `{"battleID":7}`, `{}`, `[]`, `{"battleID":"b","battleID":"c"}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, nested bool) {
		if !json.Valid(payload) {
			return
		}
		for _, ev := range []client.Event{
			{Payload: payload},  // no index of its members: walked
			frameOf(t, payload), // as the client decodes it: indexed when an object
		} {
			id, v, ok := battleFields(&ev, nested)
			wid, wv, wok := slowBattleFields(payload, nested)
			if ok != wok || ok && (!bytes.Equal(id, wid) || v != wv) {
				t.Fatalf("battleFields(%q, %v) = %q, %d, %v; encoding/json: %q, %d, %v", payload, nested, id, v, ok, wid, wv, wok)
			}
		}
	})
}

// frameOf is the event a client decodes from a score frame carrying payload.
func frameOf(t testing.TB, payload []byte) client.Event {
	ev, err := client.ParseFrame(append(append([]byte(`{"type":"onBattleScoreChanged","seq":1,"ts":0,"payload":`), payload...), '}'))
	if err != nil {
		t.Fatalf("a frame around a valid payload %q: %v", payload, err)
	}
	return ev
}

// scorePayload is a 9-room battle's onBattleScoreChanged payload, as the reference server
// sends it in bench-fanout.
func scorePayload() []byte {
	var b bytes.Buffer
	b.WriteString(`{"battleID":"85b8372d-b1","version":41,"battleUserList":[`)
	for i := range 9 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"liveID":"room-%d","userID":"host-%d","userName":"Host %d","avatarURL":"https://example.com/a/%d.png","score":%d,"rank":%d}`, i, i, i, i, 100*i, 9-i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkBattleFields(b *testing.B) {
	payload := scorePayload()
	for _, tc := range []struct {
		name string
		ev   client.Event
	}{
		{"indexed", frameOf(b, payload)}, // as every frame read is
		{"walked", client.Event{Payload: payload}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, v, ok := battleFields(&tc.ev, false); !ok || v != 41 {
					b.Fatal(v, ok)
				}
			}
		})
	}
}

// TestStampFirstIsTheEarliestArrival: score_fanout_first is a version's earliest arrival,
// known once every member has it, however the members' arrivals are handed over (an earlier
// arrival after a later one, versions in different orders); a version some member never gets
// is told by untold, once, with the earliest arrival among those that got it.
func TestStampFirstIsTheEarliestArrival(t *testing.T) {
	b := &battle{id: "b-1", members: 3, versions: map[uint64]stamp{}}
	sent := time.Unix(100, 0)
	for v := uint64(1); v <= 4; v++ {
		b.versions[v] = stamp{intended: sent.Add(-time.Duration(v)), sent: sent.Add(time.Duration(v))}
	}
	at := func(ms int64) time.Time { return sent.Add(time.Duration(ms) * time.Millisecond) }
	for i, step := range []struct {
		id      string
		version uint64
		at      int64 // ms after sent
		first   int64 // the first arrival told, ms after sent; -1: none yet
		ok      bool
	}{
		{"b-1", 2, 5, -1, true}, // a later version first: members' orders differ
		{"b-1", 1, 7, -1, true},
		{"b-1", 2, 3, -1, true},  // handed over later, arrived earlier
		{"b-9", 3, 1, -1, false}, // another battle's version 3 does not reach b-1's
		{"b-1", 1, 6, -1, true},
		{"b-1", 2, 4, 3, true},   // the third member: the earliest of 5, 3, 4
		{"b-1", 1, 9, 6, true},   // 7, 6, 9
		{"b-1", 1, 2, -1, true},  // a fourth arrival (a member who joined since) tells nothing more
		{"b-1", 3, 8, -1, true},  // version 3 reaches one member only
		{"b-1", 5, 1, -1, false}, // a version no update made
	} {
		st, first, ok := b.stamp([]byte(step.id), step.version, at(step.at))
		want := time.Time{}
		if step.first >= 0 {
			want = at(step.first)
		}
		if !first.Equal(want) || ok != step.ok {
			t.Errorf("step %d: stamp(%s, %d) first %v ok %v; want %v %v", i, step.id, step.version, first, ok, want, step.ok)
		}
		if ok && (!st.intended.Equal(sent.Add(-time.Duration(step.version))) || !st.sent.Equal(sent.Add(time.Duration(step.version)))) {
			t.Errorf("step %d: stamp(%s, %d) = %+v; want the times of version %d", i, step.id, step.version, st, step.version)
		}
	}
	// Settling tells version 3 (one member got it, at 8 ms) and nothing else: 1 and 2 were
	// told, 4 reached nobody.
	if got := b.untold(); len(got) != 1 || !got[0].first.Equal(at(8)) || !got[0].sent.Equal(sent.Add(3)) {
		t.Errorf("untold = %+v; want version 3's stamp, first at 8 ms", got)
	}
	if got := b.untold(); len(got) != 0 {
		t.Errorf("untold again = %+v; want none: each version is told once", got)
	}
}

// TestALateEventIsHandled: an event whose seq is below the highest handled is handled if it
// was skipped (it came late, out of order), and counted a duplicate if it was handled
// already (a resume's replay); only the 63 seqs below the highest are followed.
func TestALateEventIsHandled(t *testing.T) {
	for _, tt := range []struct {
		name           string
		seqs           []uint64
		wantHandled    int64
		wantDuplicates int64
	}{
		{"in order", []uint64{1, 2, 3}, 3, 0},
		{"swapped", []uint64{1, 3, 2, 4}, 4, 0},
		{"a gap filled in reverse", []uint64{5, 4, 3, 2, 1}, 5, 0},
		{"repeated", []uint64{1, 2, 2, 1}, 2, 2},
		{"a late one repeated", []uint64{1, 3, 2, 2}, 3, 1},
		{"63 back", []uint64{64, 1}, 2, 0},
		{"64 back", []uint64{65, 1}, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, rec, _, u := loneHost()
			ev := frameOf(t, scorePayload()) // of no battle in progress: each one handled counts unexpected
			for _, s := range tt.seqs {
				ev.Seq = s
				u.onEvent(ev)
			}
			tot := rec.Finish(time.Now())
			if got := tot.Counters[counterUnexpected]; got != tt.wantHandled {
				t.Errorf("%d events handled; want %d", got, tt.wantHandled)
			}
			if got := tot.Counters[counterDuplicates]; got != tt.wantDuplicates {
				t.Errorf("%d duplicates; want %d", got, tt.wantDuplicates)
			}
		})
	}
}
