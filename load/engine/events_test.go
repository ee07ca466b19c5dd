package engine

import (
	"bytes"
	"testing"
)

// FuzzBattleFields holds the in-place reading of a battle event to encoding/json's.
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
		id, v, ok := battleFields(payload, nested)
		wid, wv, wok := slowBattleFields(payload, nested)
		if ok != wok || ok && (!bytes.Equal(id, wid) || v != wv) {
			t.Fatalf("battleFields(%q, %v) = %q, %d, %v; encoding/json: %q, %d, %v", payload, nested, id, v, ok, wid, wv, wok)
		}
	})
}
