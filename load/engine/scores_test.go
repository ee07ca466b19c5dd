package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/metrics"
)

// nineRooms is a group of nine rooms and the battleUserList of a score change of theirs, as
// the 9×50 fan-out's carry it, with room i's score score(i).
func nineRooms(score func(i int) int64) (*group, string) {
	g := &group{byLive: map[string]int{}}
	var items []string
	for i := range 9 {
		id := fmt.Sprintf("pkarena-load-fanout-room-%04d", i)
		g.rooms = append(g.rooms, &room{liveID: id})
		g.byLive[id] = i
		items = append(items, fmt.Sprintf(`{"liveID":%q,"userID":"host-%04d","userName":"host %d","avatarURL":"","score":%d,"rank":%d}`, id, i, i, score(i), 9-i))
	}
	return g, `[` + strings.Join(items, ",") + `]`
}

// BenchmarkBoardScores is what the first score check of a version costs a frame: one
// battleUserList of nine rooms decoded and placed by room.
func BenchmarkBoardScores(b *testing.B) {
	g, list := nineRooms(func(i int) int64 { return 1000 * int64(i) })
	payload := []byte(`{"battleID":"b-123","version":77,"battleUserList":` + list + `}`)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, _, ok := boardScores(g, payload); !ok {
			b.Fatal("the list did not decode")
		}
	}
}

// BenchmarkCheckScoresSameBytes is what most members' frames cost checkScores: a list with
// the bytes of one of its version already found right, read in place (through the index the
// client made of the frame as it read it) and compared, not decoded (a fan-out's 450 frames a
// version: one decode, 449 of these).
func BenchmarkCheckScoresSameBytes(b *testing.B) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	g, list := nineRooms(func(int) int64 { return 0 })
	bt := &battle{e: e, g: g, versions: map[uint64]stamp{}}
	bt.name("b-123")
	bt.mu.Lock()
	bt.expect(77, nil)
	bt.mu.Unlock()
	ev, err := client.ParseFrame([]byte(`{"type":"onBattleScoreChanged","seq":5,"ts":1,"payload":{"battleID":"b-123","version":77,"battleUserList":` + list + `}}`))
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
