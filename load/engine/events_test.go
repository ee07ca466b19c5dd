package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
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
		id, v, ok := battleFields(payload, nested)
		wid, wv, wok := slowBattleFields(payload, nested)
		if ok != wok || ok && (!bytes.Equal(id, wid) || v != wv) {
			t.Fatalf("battleFields(%q, %v) = %q, %d, %v; encoding/json: %q, %d, %v", payload, nested, id, v, ok, wid, wv, wok)
		}
	})
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
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, v, ok := battleFields(payload, false); !ok || v != 41 {
			b.Fatal(v, ok)
		}
	}
}
