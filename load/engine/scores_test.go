package engine

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkBoardScores is what a host's score check costs a frame: one battleUserList of nine
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
