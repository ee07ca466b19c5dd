package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/metrics"
)

// BenchmarkBoardScores is what the first score check of a version costs a frame: one battleUserList of nine
// rooms, as the 9×50 fan-out's score changes carry it, decoded and placed by room.
func BenchmarkBoardScores(b *testing.B) {
	g := &group{byLive: map[string]int{}}
	var items []string
	for i := range 9 {
		id := fmt.Sprintf("pkarena-load-fanout-room-%04d", i)
		g.rooms = append(g.rooms, &room{liveID: id})
		g.byLive[id] = i
		items = append(items, fmt.Sprintf(`{"liveID":%q,"userID":"host-%04d","userName":"host %d","avatarURL":"","score":%d,"rank":%d}`, id, i, i, 1000*i, 9-i))
	}
	payload := []byte(`{"battleID":"b-123","version":77,"battleUserList":[` + strings.Join(items, ",") + `]}`)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, _, ok := boardScores(g, payload); !ok {
			b.Fatal("the list did not decode")
		}
	}
}

// BenchmarkCheckScoresSameBytes is what most members' frames cost checkScores: a list with
// the bytes of one of its version already found right, read in place (through the index the
// client made of the frame as it read it) and compared, not decoded (a fan-out's 450 frames a version: one decode, 449 of these).
func BenchmarkCheckScoresSameBytes(b *testing.B) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	g := &group{byLive: map[string]int{}}
	var items []string
	for i := range 9 {
		id := fmt.Sprintf("pkarena-load-fanout-room-%04d", i)
		g.rooms = append(g.rooms, &room{liveID: id})
		g.byLive[id] = i
		items = append(items, fmt.Sprintf(`{"liveID":%q,"userID":"host-%04d","userName":"host %d","avatarURL":"","score":%d,"rank":%d}`, id, i, i, 0, 1))
	}
	bt := &battle{e: e, g: g, versions: map[uint64]stamp{}}
	bt.name("b-123")
	bt.mu.Lock()
	bt.expect(77, nil)
	bt.mu.Unlock()
	ev, err := client.ParseFrame([]byte(`{"type":"onBattleScoreChanged","seq":5,"ts":1,"payload":{"battleID":"b-123","version":77,"battleUserList":[` + strings.Join(items, ",") + `]}}`))
	if err != nil {
		b.Fatal(err)
	}
	e.checkScores(bt, []byte("b-123"), 77, ev.Payload, userList(&ev)) // the first: decoded, kept
	b.SetBytes(int64(len(ev.Payload)))
	for b.Loop() {
		e.checkScores(bt, []byte("b-123"), 77, ev.Payload, userList(&ev))
	}
	if tot := rec.Finish(time.Now()); tot.Counters[counterScoresWrong] != 0 || tot.Counters[counterScoresChecked] < 2 {
		b.Fatalf("checked %d, wrong %d: the list was not found right", tot.Counters[counterScoresChecked], tot.Counters[counterScoresWrong])
	}
}
