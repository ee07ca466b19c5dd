package core

import (
	"strings"
	"testing"

	"github.com/pkarena/pkarena/reference/protocol"
)

// TestIntegersReadByValue: an integer field takes a number whose value, read as the nearest
// double, is whole and within ±(2^53 − 1), however it is written (§6); any other number is
// refused with 100002 naming the field, nested ones by their dotted path.
func TestIntegersReadByValue(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    int64  // the seatIndex, count or Score read
		err     string // a substring of the refusal, "" for none
	}{
		{`{"seatIndex":2}`, 2, ""},
		{`{"seatIndex":2.0}`, 2, ""},
		{`{"seatIndex":2e0}`, 2, ""},
		{`{"seatIndex":20E-1}`, 2, ""},
		{`{"seatIndex":0.2e+1}`, 2, ""},
		{`{"seatIndex":-0}`, 0, ""},
		{`{"seatIndex":-0.0e5}`, 0, ""},
		{`{"seatIndex":1e2}`, 100, ""},
		{`{"seatIndex":-7.000}`, -7, ""},
		{`{"seatIndex":9007199254740991}`, 9007199254740991, ""},
		{`{"seatIndex":-9007199254740991.0}`, -9007199254740991, ""},
		{`{"seatIndex":999999999999999}`, 999999999999999, ""},
		{`{"seatIndex":2.5}`, 0, "seatIndex: must be an integer, not number 2.5"},
		{`{"seatIndex":1.0000001}`, 0, "seatIndex: must be an integer"},
		{`{"seatIndex":9007199254740992}`, 0, "seatIndex: must be an integer from -9007199254740991 to 9007199254740991"},
		{`{"seatIndex":9999999999999999}`, 0, "seatIndex: must be an integer from"},
		{`{"seatIndex":-1e16}`, 0, "seatIndex: must be an integer from"},
		{`{"seatIndex":1e400}`, 0, "seatIndex: must be an integer from"},
		{`{"seatIndex":"2"}`, 0, "seatIndex: must be an integer, not string"},
	} {
		var r protocol.SeatRef
		err := decode([]byte(tc.payload), &r)
		switch {
		case tc.err != "" && (err == nil || err.Code != protocol.ErrInvalidParameter.Code || !strings.Contains(err.Message, tc.err)):
			t.Errorf("%s: %v; want 100002 %q", tc.payload, err, tc.err)
		case tc.err == "" && (err != nil || r.SeatIndex == nil || int64(*r.SeatIndex) != tc.want):
			t.Errorf("%s: %+v, %v; want seatIndex %d", tc.payload, r, err, tc.want)
		}
	}
	var rb protocol.RequestBattle
	if err := decode([]byte(`{"config":{"duration":2.5},"userIDs":["u"]}`), &rb); err == nil || !strings.Contains(err.Message, "config.duration: must be an integer") {
		t.Errorf("a nested duration of 2.5: %v; want 100002 naming config.duration", err)
	}
	if err := decode([]byte(`{"config":{"duration":6e1},"userIDs":["u"],"timeout":1E1}`), &rb); err != nil || *rb.Config.Duration != 60 || *rb.Timeout != 10 {
		t.Errorf("a duration of 6e1 and a timeout of 1E1: %+v, %v; want 60 and 10", rb, err)
	}
	var sc protocol.SetBattleScore
	if err := decode([]byte(`{"BattleId":"b","OpType":2.0,"ScoreList":[{"RoomId":"r","Score":5.0e3}]}`), &sc); err != nil || *sc.OpType != protocol.OpOverwrite || *sc.ScoreList[0].Score != 5000 {
		t.Errorf("OpType 2.0 and a Score of 5.0e3: %+v, %v; want 2 and 5000", sc, err)
	}
	if err := decode([]byte(`{"BattleId":"b","OpType":1,"ScoreList":[{"RoomId":"r","Score":0.5}]}`), &sc); err == nil || !strings.Contains(err.Message, "ScoreList.Score: must be an integer") {
		t.Errorf("a Score of 0.5: %v; want 100002 naming ScoreList.Score", err)
	}
}
