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

// TestStampIsFirstOncePerVersion: score_fanout_first is recorded by the first member to
// receive each version, whatever order the versions arrive in across members.
func TestStampIsFirstOncePerVersion(t *testing.T) {
	b := &battle{id: "b-1", versions: map[uint64]stamp{}}
	sent := time.Unix(100, 0)
	for v := uint64(1); v <= 3; v++ {
		b.versions[v] = stamp{intended: sent.Add(-time.Duration(v)), sent: sent.Add(time.Duration(v))}
	}
	for i, step := range []struct {
		id        string
		version   uint64
		first, ok bool
	}{
		{"b-1", 2, true, true}, // a later version first: members' orders differ
		{"b-1", 1, true, true},
		{"b-1", 2, false, true},
		{"b-9", 3, false, false}, // another battle's version 3 does not reach b-1's
		{"b-1", 3, true, true},
		{"b-1", 1, false, true},
		{"b-1", 3, false, true},
		{"b-1", 4, false, false}, // a version no update made
	} {
		st, first, ok := b.stamp([]byte(step.id), step.version)
		if first != step.first || ok != step.ok {
			t.Errorf("step %d: stamp(%s, %d) first %v ok %v; want %v %v", i, step.id, step.version, first, ok, step.first, step.ok)
		}
		if ok && (!st.intended.Equal(sent.Add(-time.Duration(step.version))) || !st.sent.Equal(sent.Add(time.Duration(step.version)))) {
			t.Errorf("step %d: stamp(%s, %d) = %+v; want the times of version %d", i, step.id, step.version, st, step.version)
		}
	}
}
