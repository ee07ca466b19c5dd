package core

import "testing"

// Stats counts a group once whatever its size, through its first room, and rooms outside any
// group not at all; it counts running battles apart from the battles kept.
func TestStatsCountsEachGroupOnce(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	tc.group("d", "e")
	tc.host("f")
	if got, want := tc.c.Stats(), (Stats{Rooms: 6, Groups: 2}); got != want {
		t.Fatalf("Stats() = %+v; want %+v", got, want)
	}
	tc.battle("d", false, 300, "e")
	if got, want := tc.c.Stats(), (Stats{Rooms: 6, Groups: 2, BattlesRunning: 1, Battles: 1}); got != want {
		t.Errorf("with a battle running: Stats() = %+v; want %+v", got, want)
	}
}
