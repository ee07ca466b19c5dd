package protocol

import (
	"encoding/json"
	"testing"
)

// TestOpTypeDecodes: set_battle_score's op decodes from a number or a string (REST-030). A
// string must be "1" or "2"; a number decodes as it is, and the handler refuses one out of
// range with its own error code.
func TestOpTypeDecodes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want OpType
		ok   bool
	}{
		{`1`, 1, true}, {`2`, 2, true}, {`"1"`, 1, true}, {`"2"`, 2, true}, {` "2" `, 2, true},
		{`0`, 0, true}, {`3`, 3, true}, {`"3"`, 0, false}, {`"x"`, 0, false}, {`""`, 0, false},
		{`1.5`, 0, false}, {`"1.0"`, 0, false}, {`true`, 0, false},
	} {
		var o OpType
		err := json.Unmarshal([]byte(tt.in), &o)
		if (err == nil) != tt.ok || tt.ok && o != tt.want {
			t.Errorf("OpType from %s = %d, %v; want %d, ok %v", tt.in, o, err, tt.want, tt.ok)
		}
	}
	var o OpType
	if err := o.UnmarshalJSON(nil); err == nil {
		t.Error("OpType from nothing: no error")
	}
}
