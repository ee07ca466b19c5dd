package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// size, which the send queue's byte bound counts (CLOSE-002), is the frame's encoded length
// give or take the digits of seq and ts and the escaping of id and message: each of the
// frame's parts counts once, however long. The parts here are long enough (200 bytes and
// more) that counting one of them twice, or taking it away, is far outside that give.
func TestFrameSizeTracksItsEncoding(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	payload := []byte(`{"text":"` + long("p", 900) + `"}`)
	for _, tt := range []struct {
		name string
		f    outFrame
	}{
		{"an event", outFrame{typ: "onBattleScoreChanged", payload: payload}},
		{"an event with a long type", outFrame{typ: "on" + long("T", 300), payload: []byte(`{}`)}},
		{"a reply", outFrame{typ: "reply", reply: true, id: long("i", 256), code: 100002, message: long("m", 400), payload: payload}},
		{"a reply with an empty payload", outFrame{typ: "reply", reply: true, id: long("i", 300), message: "ok", payload: []byte(`{}`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, seq := range []uint64{1, 1 << 40} {
				enc := tt.f.encode(nil, seq, 1_767_225_600_000)
				if !json.Valid(enc) {
					t.Fatalf("encode gave invalid JSON: %.200s", enc)
				}
				if diff := tt.f.size() - int64(len(enc)); diff < -60 || diff > 60 {
					t.Errorf("seq %d: size() = %d, encoded %d bytes: off by %d (want within 60)", seq, tt.f.size(), len(enc), diff)
				}
			}
		})
	}
}
