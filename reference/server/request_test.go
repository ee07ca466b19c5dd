package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/reference/protocol"
)

// nested is a heartbeat whose payload holds arrays nested so that the whole frame nests depth
// levels (the envelope and the payload are two of them).
func nested(depth int) []byte {
	n := depth - 2
	return []byte(`{"type":"heartbeat","id":"n","payload":{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
}

// TestJSONMaxDepth pins jsonMaxDepth to encoding/json's bound: a frame nested that deep is
// read, one level more is refused with 100901 and id "", saying why (INPUT-001: at least 64
// levels are read; a deeper frame a server does not read is answered as one it cannot read).
func TestJSONMaxDepth(t *testing.T) {
	if !json.Valid(nested(jsonMaxDepth)) || json.Valid(nested(jsonMaxDepth+1)) {
		t.Fatalf("encoding/json no longer reads exactly %d levels: update jsonMaxDepth", jsonMaxDepth)
	}
	for _, depth := range []int{64, jsonMaxDepth} {
		if req, err := parseRequest(nested(depth)); err != nil || req.ID != "n" {
			t.Errorf("a frame nested %d deep: %+v, %v; want it read", depth, req, err)
		}
	}
	req, err := parseRequest(nested(jsonMaxDepth + 1))
	if err == nil || err.Code != protocol.ErrMalformedFrame.Code || req.ID != "" || !strings.Contains(err.Message, "nested 10001 levels deep") {
		t.Errorf("a frame nested %d deep: %+v, %v; want 100901 saying how deep, id \"\"", jsonMaxDepth+1, req, err)
	}
	if _, err := parseRequest([]byte(`{"type":"heartbeat","id":"n"`)); err == nil || err.Message != "frame: not a JSON object" {
		t.Errorf("a truncated frame: %v; want 100901, not a JSON object", err)
	}
}

// TestNestingDepth counts brackets outside strings only.
func TestNestingDepth(t *testing.T) {
	for in, want := range map[string]int{
		`1`:                          0,
		`{}`:                         1,
		`{"a":[{"b":[]}]}`:           4,
		`{"a":"[[[[{{{{"}`:           1,
		`{"a":"\"[[["}`:              1,
		`[[[`:                        3,
		`{"a\\":"[[[","b":[[]]}`:     3,
		`{"x":[1,[2,[3]],{"y":{}}]}`: 4,
	} {
		if got := nestingDepth([]byte(in)); got != want {
			t.Errorf("nestingDepth(%s) = %d; want %d", in, got, want)
		}
	}
}
