package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"

	"github.com/pkarena/pkarena/load/metrics"
)

// The scores a battle's events carry, checked against the ones the generator's own
// set_battle_score calls made (BATTLE-041, BATTLE-042): a server that sends the right version
// with stale or wrong scores breaks the protocol as surely as one that loses the version.
//
// Only this agent's sender changes a battle's scores, with add operations the server applies
// in the order sent, so the scores a version holds are known when the call that makes it goes
// out: the scores of the version before plus the call's gifts (expect). Every member checks
// the battleUserList of every score change and of the end it gets. The first list of a version
// that holds the right scores is decoded and kept as its bytes; the other members' lists are
// compared with those bytes, and only one that differs is decoded (a server may encode a
// payload for each member): a version costs one decode, not one a member.
//
// A call that fails or makes another version than expected leaves the scores of that version
// and the later ones unknown: their frames count unchecked, not wrong. The sender may learn of
// the failure after a host got a frame of a later call the server numbered in its place, so a
// frame that does not match is judged when the battle's books close (settle): wrong if no call
// failed at or before its version.

const (
	counterScoresChecked   = "score.checked"   // battleUserLists of members' score changes and ends compared
	counterScoresWrong     = "score.wrong"     // of them, holding other scores than the calls made (also protocol.violations)
	counterScoresUnchecked = "score.unchecked" // frames whose scores could not be known (a call failed or made another version)
)

// unlisted marks a room the battleUserList does not name.
const unlisted = math.MinInt64

// maxSuspects bounds the mismatched frames of one battle waiting for its books to close;
// beyond it they count unchecked.
const maxSuspects = 10000

// expect records the scores version will hold once the call scoring batch is applied: the
// last expected scores plus the batch. b.mu is held.
func (b *battle) expect(version uint64, batch []gift) {
	if b.unknownFrom != 0 {
		return
	}
	if b.sums == nil {
		b.sums = make([]int64, len(b.g.rooms))
		b.wantAt = map[uint64][]int64{}
		b.lists = map[uint64][]byte{}
	}
	for _, gf := range batch {
		b.sums[gf.room] += gf.score
	}
	b.wantAt[version] = slices.Clone(b.sums)
}

// forgetScoresBefore drops the expected scores of the versions before version, which every
// member has: only a repeat could still ask for them, and the end, which carries the last
// version, finds it kept. b.mu is held.
func (b *battle) forgetScoresBefore(version uint64) {
	for v := range b.wantAt {
		if v < version {
			delete(b.wantAt, v)
			delete(b.lists, v)
		}
	}
}

// loseScores records that a call failed or made another version than expected: the scores of
// version from on are not known. b.mu is held.
func (b *battle) loseScores(from uint64) {
	if b.unknownFrom == 0 || from < b.unknownFrom {
		b.unknownFrom = from
	}
}

// wantFor is what battle id holds at version, or nil when that is not known. b.mu is held.
func (b *battle) wantFor(id []byte, version uint64) []int64 {
	switch {
	case b.id != string(id):
		return nil
	case version == 0:
		return make([]int64, len(b.g.rooms)) // no score has changed
	case b.unknownFrom != 0 && version >= b.unknownFrom:
		return nil
	}
	return b.wantAt[version]
}

// checkScores compares the battleUserList of a score change or an end of battle id at
// version, which a member received, with the scores the calls sent made by then. list is the
// list's bytes (nil when they could not be read in place): the same bytes as a list of that
// version already found right are right.
func (e *engine) checkScores(b *battle, id []byte, version uint64, payload, list []byte) {
	if list != nil {
		b.mu.Lock()
		ref, kept := b.lists[version]
		same := kept && b.id == string(id) && bytes.Equal(ref, list)
		b.mu.Unlock()
		if same {
			e.rec.Add(counterScoresChecked, 1)
			return
		}
	}
	got, stranger, ok := boardScores(b.g, payload)
	if !ok {
		e.rec.Add(counterMalformed, 1)
		return
	}
	b.mu.Lock()
	want := b.wantFor(id, version)
	switch {
	case want == nil:
		b.mu.Unlock()
		e.rec.Add(counterScoresUnchecked, 1)
	case !stranger && sameScores(got, want):
		if _, kept := b.lists[version]; list != nil && !kept && b.lists != nil {
			b.lists[version] = bytes.Clone(list)
		}
		b.mu.Unlock()
		e.rec.Add(counterScoresChecked, 1)
	case b.settled: // the sender is done: what it learnt is all there is
		b.mu.Unlock()
		e.judgeScores(1, 0)
	case len(b.suspects) < maxSuspects:
		b.suspects = append(b.suspects, version)
		b.mu.Unlock()
	default:
		b.mu.Unlock()
		e.rec.Add(counterScoresUnchecked, 1)
	}
}

// judgeSuspects counts the battle's mismatched frames once its books close: wrong unless a
// call failed at or before their version. b.mu is held.
func (b *battle) judgeSuspects() (wrong, unknown int64) {
	for _, v := range b.suspects {
		if b.unknownFrom != 0 && v >= b.unknownFrom {
			unknown++
		} else {
			wrong++
		}
	}
	b.suspects = nil
	return wrong, unknown
}

// judgeScores counts mismatched frames: wrong ones (checked and in breach of the protocol)
// and those whose scores turned out unknown.
func (e *engine) judgeScores(wrong, unknown int64) {
	if wrong > 0 {
		e.rec.Add(counterScoresChecked, wrong)
		e.rec.Add(counterScoresWrong, wrong)
		e.rec.Add(metrics.Violations, wrong)
	}
	if unknown > 0 {
		e.rec.Add(counterScoresUnchecked, unknown)
	}
}

// sameScores reports whether every room got lists holds the score want gives it (a room got
// does not list is not compared).
func sameScores(got, want []int64) bool {
	for i, s := range got {
		if s != unlisted && s != want[i] {
			return false
		}
	}
	return true
}

// boardScores reads a battle event's battleUserList: each room's score by its index in g
// (unlisted for a room it does not name), and whether it names a room outside the group. ok
// is false for a payload without a list of rooms with scores.
func boardScores(g *group, payload []byte) (scores []int64, stranger, ok bool) {
	var p struct {
		BattleUserList []struct {
			LiveID string `json:"liveID"`
			Score  *int64 `json:"score"`
		} `json:"battleUserList"`
	}
	if json.Unmarshal(payload, &p) != nil || p.BattleUserList == nil {
		return nil, false, false
	}
	scores = make([]int64, len(g.rooms))
	for i := range scores {
		scores[i] = unlisted
	}
	for _, bu := range p.BattleUserList {
		if bu.Score == nil {
			return nil, false, false
		}
		i, ok := g.byLive[bu.LiveID]
		if !ok {
			stranger = true
			continue
		}
		scores[i] = *bu.Score
	}
	return scores, stranger, true
}
