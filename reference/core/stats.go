package core

// Stats are counts of the core's state, for the server's gauges.
type Stats struct {
	// Rooms is the number of open rooms.
	Rooms int
	// Groups is the number of co-host connection groups (2 or more connected rooms).
	Groups int
	// BattlesRunning is the number of battles started and not yet ended.
	BattlesRunning int
	// Battles is the number of battles kept: pending, running, and ended ones still
	// queryable (BattleRetention).
	Battles int
}

// Stats counts the core's rooms, connection groups and running battles. It reads and changes
// nothing else, but like every method it must be called from the goroutine that owns c. It
// walks every room and every battle kept (ended ones too, BattleRetention), so it is meant
// for occasional calls such as a metrics scrape, not for every operation.
func (c *Core) Stats() Stats {
	st := Stats{Rooms: len(c.rooms), Battles: len(c.battles)}
	for _, r := range c.rooms {
		// A group is counted once, through its first room.
		if g := r.group; g != nil && len(g.rooms) > 0 && g.rooms[0] == r {
			st.Groups++
		}
	}
	for _, b := range c.battles {
		if b.state == battleRunning {
			st.BattlesRunning++
		}
	}
	return st
}
