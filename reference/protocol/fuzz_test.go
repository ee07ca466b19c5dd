package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzOpType checks set_battle_score's OpType decoder (REST-030), the protocol's only custom
// one: it never panics; a string decodes only as "1" or "2"; an accepted value re-encodes to
// a number that decodes to the same value, alone and inside a request body.
func FuzzOpType(f *testing.F) {
	for _, s := range []string{`1`, `2`, `"1"`, `"2"`, `3`, `-1`, `"3"`, `"01"`, `" 1"`, `1.0`, `1e0`, `true`, `null`, `"\u0031"`,
		`99999999999999999999`, `[1]`, `{}`, `"`, ` 2 `, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var o OpType
		if err := o.UnmarshalJSON(raw); err != nil {
			return
		}
		if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '"' && o != OpAdd && o != OpOverwrite {
			t.Fatalf("OpType(%q) = %d; a string must be \"1\" or \"2\"", raw, o)
		}
		again, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("OpType %d does not marshal: %v", o, err)
		}
		var o2 OpType
		if err := json.Unmarshal(again, &o2); err != nil || o2 != o {
			t.Fatalf("OpType(%q) = %d, encoded %s, decodes to %d, %v", raw, o, again, o2, err)
		}
		var body SetBattleScore
		if err := json.Unmarshal([]byte(`{"OpType":`+string(again)+`}`), &body); err != nil || body.OpType == nil || *body.OpType != o {
			t.Fatalf("OpType %d inside a body: %+v, %v", o, body, err)
		}
	})
}
