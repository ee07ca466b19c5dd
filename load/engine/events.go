package engine

import (
	"encoding/json"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/internal/seqwin"
	"github.com/pkarena/pkarena/load/metrics"
)

// onEvent handles one event of u's connection. It runs on u's reader (a poller shared with
// other connections) and never blocks: requests it makes are sent with Go.
func (u *user) onEvent(ev client.Event) {
	e, g := u.e, u.room.group
	// One not above the highest handled that was skipped came late (out of order, which the
	// client counts) and is handled now; one handled already was replayed again by a resume
	// (RESUME-003 allows no frame twice).
	if _, late, filled := u.events.See(ev.Seq); late && !filled {
		e.rec.Add(counterDuplicates, 1)
		return
	}
	switch ev.Type {
	case client.EvConnectionRequestReceived:
		if g.kind == kindPK {
			// Forming a battle group: every invitation is accepted.
			e.async(u, ev.At, client.ReqAcceptConnection, liveRef{LiveID: g.rooms[0].liveID}, nil)
			return
		}
		u.invited(ev)
	case client.EvConnectionRequestAccept, client.EvConnectionRequestReject, client.EvConnectionRequestTimeout:
		if u == g.rooms[0].host && g.kind == kindChurn {
			g.answered(e, ev)
		}
	case client.EvConnectionUserListChanged:
		if u == g.rooms[0].host && g.kind == kindPK {
			var p struct {
				ConnectedList []json.RawMessage `json:"connectedList"`
			}
			if ev.Decode(&p) == nil && len(p.ConnectedList) == len(g.rooms) {
				g.formedOnce.Do(func() { close(g.formed) })
			}
		}
	case client.EvBattleStarted:
		id, _, ok := battleFields(&ev, true)
		if !ok {
			e.rec.Add(counterMalformed, 1)
			return
		}
		u.battleStarted(string(id), ev)
	case client.EvBattleScoreChanged:
		id, version, ok := battleFields(&ev, false)
		if !ok {
			e.rec.Add(counterMalformed, 1)
			return
		}
		u.scoreChanged(id, version, ev)
	case client.EvBattleEnded:
		id, version, ok := battleFields(&ev, true)
		if !ok {
			e.rec.Add(counterMalformed, 1)
			return
		}
		u.battleEnded(string(id), version, ev)
	case client.EvLiveEnded:
		// No scenario ends a room: the server ended it by itself.
		e.rec.Add(counterRoomsEnded, 1)
	}
}

// battleFields reads what the generator needs of a battle event's payload: the battle's ID
// (in battleInfo when nested, else at the top) and the version (0 when absent). Every frame
// goes through it, so it reads the payload in place: its members from the index the client
// made of them when it decoded (and checked) the frame (Event.LookupPayload), a nested
// object by skipping its values (client.LookupValidMembers); it decodes with encoding/json
// only what that cannot read exactly. ok is false for a payload that is not what the schema
// says.
func battleFields(ev *client.Event, nested bool) (id []byte, version uint64, ok bool) {
	payload := ev.Payload
	var vals [3][]byte // battleInfo, battleID, version
	if !ev.LookupPayload(battleNames[:], vals[:]) {
		return slowBattleFields(payload, nested)
	}
	idv := vals[1]
	if nested {
		var inner [1][]byte
		if vals[0] == nil || !client.LookupValidMembers(vals[0], battleNames[1:2], inner[:]) {
			return slowBattleFields(payload, nested)
		}
		idv = inner[0]
	}
	id, ok = client.PlainBytes(idv)
	if !ok {
		return slowBattleFields(payload, nested)
	}
	if vals[2] != nil {
		if version, ok = client.Uint(vals[2]); !ok {
			return slowBattleFields(payload, nested)
		}
	}
	return id, version, true
}

var battleNames = [3]string{"battleInfo", "battleID", "version"}

// userList is the bytes of a battle event's battleUserList as sent, read in place; nil when
// they cannot be (checkScores then decodes the payload).
func userList(ev *client.Event) []byte {
	var vals [1][]byte
	if !ev.LookupPayload(userListName[:], vals[:]) {
		return nil
	}
	return vals[0]
}

var userListName = [1]string{"battleUserList"}

// slowBattleFields is battleFields by encoding/json.
func slowBattleFields(payload []byte, nested bool) ([]byte, uint64, bool) {
	var p struct {
		BattleID   string `json:"battleID"`
		BattleInfo struct {
			BattleID string `json:"battleID"`
		} `json:"battleInfo"`
		Version uint64 `json:"version"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil, 0, false
	}
	if nested {
		return []byte(p.BattleInfo.BattleID), p.Version, true
	}
	return []byte(p.BattleID), p.Version, true
}

// liveRef is the payload of the requests that name one room.
type liveRef struct {
	LiveID string `json:"liveID"`
}

// again reports whether *last, the battle of the last start (or end) u got, is already id, and
// makes it id: a member gets each battle's start and end once, and a second one (a duplicate,
// or an earlier battle's sent again) counts out of order instead of as another member's,
// which would hide a member that never got its own.
func (u *user) again(last *string, id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if *last == id {
		return true
	}
	*last = id
	return false
}

// battleStarted records the start's propagation to u and starts counting u's score changes.
func (u *user) battleStarted(id string, ev client.Event) {
	if u.again(&u.lastStart, id) {
		u.e.rec.Add(metrics.OutOfOrder, 1)
		return
	}
	b := u.room.group.current()
	if b == nil {
		u.e.rec.Add(counterUnexpected, 1)
		return
	}
	switch b.claim(id) {
	case fateStray:
		u.e.rec.Add(counterUnexpected, 1)
		return
	case fateLate:
		return
	}
	u.e.rec.Record(metrics.BattleStart, u.index, b.intended, b.sent, ev.At)
	u.mu.Lock()
	u.scoreBattle, u.scores, u.scoreGot = id, seqwin.Window{}, 0
	u.mu.Unlock()
}

// scoreChanged checks the version order of u's score changes (BATTLE-043) and records the
// fan-out latency of the update that made this version.
func (u *user) scoreChanged(id []byte, version uint64, ev client.Event) {
	e := u.e
	u.mu.Lock()
	if u.scoreBattle != string(id) {
		u.mu.Unlock()
		if b := u.room.group.current(); b == nil || b.ID() != string(id) || !b.isSettled() {
			e.rec.Add(counterUnexpected, 1)
		}
		return
	}
	skipped, late, filled := u.scores.See(version)
	if late {
		e.rec.Add(metrics.OutOfOrder, 1)
		if !filled {
			u.mu.Unlock() // a repeat (or too far back to tell)
			return
		}
		// A version skipped before has arrived after all: it is got, not lost, and its
		// fan-out is measured like any other.
	}
	if skipped > 0 {
		e.rec.Add(counterGaps, int64(skipped))
	}
	u.scoreGot++
	u.mu.Unlock()
	b := u.room.group.current()
	if b == nil {
		e.rec.Add(counterUnmatched, 1)
		return
	}
	e.checkScores(b, id, version, ev.Payload, userList(&ev))
	st, first, ok := b.stamp(id, version, ev.At)
	if !ok {
		e.rec.Add(counterUnmatched, 1)
		return
	}
	e.rec.Record(metrics.ScoreFanout, u.index, st.intended, st.sent, ev.At)
	if !first.IsZero() {
		e.rec.Record(metrics.ScoreFanoutFirst, u.index, st.intended, st.sent, first)
	}
}

// battleEnded records the end's propagation to u and counts the score changes u never got.
func (u *user) battleEnded(id string, version uint64, ev client.Event) {
	e := u.e
	if u.again(&u.lastEnd, id) {
		e.rec.Add(metrics.OutOfOrder, 1)
		return
	}
	b := u.room.group.current()
	if b == nil || b.ID() != id {
		e.rec.Add(counterUnexpected, 1)
		return
	}
	if b.memberEnded() == fateLate {
		return
	}
	e.checkScores(b, []byte(id), version, ev.Payload, userList(&ev))
	u.mu.Lock()
	missing, older := int64(0), false
	if u.scoreBattle == id {
		if version > u.scoreGot {
			missing = int64(version - u.scoreGot)
		}
		// The end carries the battle's final version (BATTLE-044): never one below a score
		// change u already got.
		older = version < u.scores.High()
		u.scoreBattle = "" // counted: settle must not count it again
	}
	u.mu.Unlock()
	if missing > 0 {
		e.lose(metrics.LostGap, missing) // the end came after them
	}
	if older {
		e.rec.Add(metrics.OutOfOrder, 1)
	}
	// Only a battle ending at its time has a propagation to measure from that time; one that
	// ended before it (a host left, the run's teardown exited it) would record a latency of
	// nothing, clamped to 1 µs and counted out of range.
	if !ev.At.Before(b.endAt) {
		e.rec.Record(metrics.BattleEnd, u.index, b.endAt, b.endAt, ev.At)
	}
}
