package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/internal/seqwin"
	"github.com/pkarena/pkarena/load/metrics"
)

// TestScoredRecordsTheAnswersArrival: a set_battle_score answer is recorded from the gifts'
// time to when the answer arrived (the at its transport reports, long before the engine got
// to it here), and what it says of the versions is kept; a failed call records no latency,
// counts its gifts failed and gives its version back.
func TestScoredRecordsTheAnswersArrival(t *testing.T) {
	const ms = float64(time.Millisecond / time.Microsecond) // the histograms are in µs
	intended := time.Now().Add(-10 * time.Second)           // the engine reads the answer 10 s late
	st := stamp{intended: intended, sent: intended.Add(2 * time.Millisecond)}
	at := intended.Add(7 * time.Millisecond)
	for _, tt := range []struct {
		name          string
		resp          client.SetBattleScoreResponse
		err           error
		wantRecorded  bool
		wantVersions  []uint64 // the versions whose times the battle keeps
		wantAcked     uint64
		wantNext      uint64
		wantMismatch  int64
		wantFailed    int64
		wantGiftsSent int64
	}{
		{name: "the version asked for", resp: client.SetBattleScoreResponse{ScoreVersion: 5},
			wantRecorded: true, wantVersions: []uint64{5}, wantAcked: 5, wantNext: 6, wantGiftsSent: 2},
		{name: "another version", resp: client.SetBattleScoreResponse{ScoreVersion: 7},
			wantRecorded: true, wantVersions: []uint64{7}, wantAcked: 7, wantNext: 6, wantMismatch: 1, wantGiftsSent: 2},
		{name: "failed", err: errors.New("refused"),
			wantAcked: 4, wantNext: 5, wantFailed: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.Options{})
			e := &engine{cfg: Config{Shards: 1}, rec: rec}
			b := &battle{e: e, versions: map[uint64]stamp{5: st}, acked: 4, next: 6}
			released := 0
			batch := []gift{{done: func() { released++ }}, {done: func() { released++ }}}

			e.scored(b, 0, update{batch: batch, st: st, version: 5}, tt.resp, at, tt.err)

			if released != len(batch) {
				t.Errorf("%d of %d gifts released", released, len(batch))
			}
			if len(b.versions) != len(tt.wantVersions) {
				t.Errorf("versions %v; want %v", b.versions, tt.wantVersions)
			}
			for _, v := range tt.wantVersions {
				if got, ok := b.versions[v]; !ok || got.intended != st.intended {
					t.Errorf("version %d: %+v, %v; want the call's times", v, got, ok)
				}
			}
			if b.acked != tt.wantAcked || b.next != tt.wantNext {
				t.Errorf("acked %d, next %d; want %d, %d", b.acked, b.next, tt.wantAcked, tt.wantNext)
			}
			if got := e.giftsSent.Load(); got != tt.wantGiftsSent {
				t.Errorf("gifts sent %d; want %d", got, tt.wantGiftsSent)
			}
			tot := rec.Finish(time.Now())
			if got := tot.Counters[counterVersionMismatch]; got != tt.wantMismatch {
				t.Errorf("%s = %d; want %d", counterVersionMismatch, got, tt.wantMismatch)
			}
			if got := tot.Counters[counterGiftsFailed]; got != tt.wantFailed {
				t.Errorf("%s = %d; want %d", counterGiftsFailed, got, tt.wantFailed)
			}
			for _, k := range []struct {
				kind metrics.Kind
				want float64 // ms
			}{{metrics.Corrected, 7}, {metrics.Service, 5}} {
				h := tot.Histogram(metrics.RESTScore, k.kind)
				switch {
				case !tt.wantRecorded && h != nil && h.TotalCount() > 0:
					t.Errorf("%s %v: %d samples; want none", metrics.RESTScore, k.kind, h.TotalCount())
				case !tt.wantRecorded:
				case h == nil || h.TotalCount() != 1:
					t.Errorf("%s %v: %v; want one sample", metrics.RESTScore, k.kind, h)
				case float64(h.Max())/ms < k.want*0.99 || float64(h.Max())/ms > k.want*1.01:
					t.Errorf("%s %v = %.3f ms; want %.0f, to when the answer arrived", metrics.RESTScore, k.kind, float64(h.Max())/ms, k.want)
				}
			}
		})
	}
}

// TestLostSaysHowItIsKnown: a message is lost behind a gap when a later one on its connection
// came first (score versions missing when their battle's end arrived), and overdue when it had
// not come as the battle's books closed (starts, ends and versions); lost is their sum, and
// present, at 0, when nothing was lost.
func TestLostSaysHowItIsKnown(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name        string
		got         [3]uint64 // the versions each member received (5 acknowledged)
		started     int
		endedBy     []int // the members whose onBattleEnded (version 5) arrives; then the books close
		wantGap     int64
		wantOverdue int64
	}{
		{name: "every message came", got: [3]uint64{5, 5, 5}, started: 3, endedBy: []int{0, 1, 2}},
		{name: "the end came before two versions", got: [3]uint64{5, 3, 5}, started: 3, endedBy: []int{0, 1, 2},
			wantGap: 2},
		{name: "the books closed first", got: [3]uint64{5, 4, 5}, started: 2, endedBy: []int{0},
			wantOverdue: 1 + 2 + 1}, // a start, two ends, a version
		{name: "both", got: [3]uint64{2, 4, 5}, started: 3, endedBy: []int{0},
			wantGap: 3, wantOverdue: 2 + 1}, // member 0's three at its end; two ends, one version
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, rec, g, users := threeMembers()
			b := &battle{e: e, g: g, members: 3, started: tt.started, acked: 5, endAt: now.Add(-time.Minute),
				done: make(chan struct{}), versions: map[uint64]stamp{}}
			b.name("B1")
			g.setBattle(b)
			for i, u := range users {
				u.scoreBattle, u.scores, u.scoreGot = "B1", seqwin.At(tt.got[i]), tt.got[i]
			}
			for _, i := range tt.endedBy {
				users[i].battleEnded("B1", 5, client.Event{At: now})
			}
			e.settle(b, now, false)
			tot := rec.Finish(time.Now())
			lost := tot.Counters[metrics.Lost]
			gap, overdue := tot.Counters[metrics.LostGap], tot.Counters[metrics.LostOverdue]
			if gap != tt.wantGap || overdue != tt.wantOverdue || lost != gap+overdue {
				t.Errorf("lost %d (%s %d, %s %d); want %d and %d", lost, metrics.LostGap, gap, metrics.LostOverdue, overdue,
					tt.wantGap, tt.wantOverdue)
			}
			if _, ok := tot.Counters[metrics.LostGap]; ok != (tt.wantGap > 0) {
				t.Errorf("%s present: %v; want it only when above 0", metrics.LostGap, ok)
			}
			if _, ok := tot.Counters[metrics.LostOverdue]; ok != (tt.wantOverdue > 0) {
				t.Errorf("%s present: %v; want it only when above 0", metrics.LostOverdue, ok)
			}
		})
	}
}

// TestLoseKeepsLostPresent: lose with nothing lost still makes the lost counter (at 0), and
// no counter of how.
func TestLoseKeepsLostPresent(t *testing.T) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{rec: rec}
	e.lose(metrics.LostGap, 0)
	tot := rec.Finish(time.Now())
	if v, ok := tot.Counters[metrics.Lost]; !ok || v != 0 {
		t.Errorf("lost = %d, present %v; want 0, present", v, ok)
	}
	if _, ok := tot.Counters[metrics.LostGap]; ok {
		t.Errorf("%s present after nothing lost", metrics.LostGap)
	}
}

// TestALateVersionIsNotLost: a score version that comes after a higher one counts out of
// order, and is not lost, and its fan-out is measured; one that never comes is lost (behind
// the end, a gap); a repeat counts out of order, fills no gap and is not measured again.
func TestALateVersionIsNotLost(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name                           string
		versions                       []uint64 // as they arrive, before the end (version 4)
		wantLost, wantOOO, wantSkipped int64
	}{
		{"in order", []uint64{1, 2, 3, 4}, 0, 0, 0},
		{"two swapped", []uint64{1, 3, 2, 4}, 0, 1, 1},
		{"one never came", []uint64{1, 3, 4}, 1, 0, 1},
		{"a repeat", []uint64{1, 3, 3, 4}, 1, 1, 1},
		{"in reverse", []uint64{4, 3, 2, 1}, 0, 3, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, rec, g, u := loneHost()
			b := &battle{e: e, g: g, members: 1, started: 1, acked: 4, endAt: now.Add(-time.Minute),
				done: make(chan struct{}), versions: map[uint64]stamp{}}
			for v := uint64(1); v <= 4; v++ {
				b.versions[v] = stamp{intended: now.Add(-time.Second), sent: now.Add(-time.Second)}
			}
			b.name("B1")
			g.setBattle(b)
			u.scoreBattle = "B1"
			for _, v := range tt.versions {
				u.scoreChanged([]byte("B1"), v, client.Event{At: now})
			}
			u.battleEnded("B1", 4, client.Event{At: now})
			e.settle(b, now, false)
			tot := rec.Finish(time.Now())
			if got := tot.Counters[metrics.Lost]; got != tt.wantLost {
				t.Errorf("lost %d; want %d", got, tt.wantLost)
			}
			if got := tot.Counters[metrics.LostGap]; got != tt.wantLost {
				t.Errorf("%s %d; want %d", metrics.LostGap, got, tt.wantLost)
			}
			if got := tot.Counters[metrics.OutOfOrder]; got != tt.wantOOO {
				t.Errorf("out of order %d; want %d", got, tt.wantOOO)
			}
			if got := tot.Counters[counterGaps]; got != tt.wantSkipped {
				t.Errorf("%s %d; want %d", counterGaps, got, tt.wantSkipped)
			}
			distinct := map[uint64]bool{}
			for _, v := range tt.versions {
				distinct[v] = true
			}
			samples := int64(0)
			if h := tot.Histogram(metrics.ScoreFanout, metrics.Corrected); h != nil {
				samples = h.TotalCount()
			}
			if samples != int64(len(distinct)) {
				t.Errorf("%s: %d samples; want one a version received, %d", metrics.ScoreFanout, samples, len(distinct))
			}
		})
	}
}

// loneHost is an engine recording into a recorder of its own, and a group of one room whose
// host is its only user.
func loneHost() (*engine, *metrics.Recorder, *group, *user) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	g := &group{}
	u := &user{e: e}
	r := &room{group: g, host: u}
	u.room, g.rooms = r, []*room{r}
	return e, rec, g, u
}

// TestAMemberGetsEachStartAndEndOnce: a start or end a member already got counts out of order
// and not as another member's, so a server that sends one member two and another none shows
// the missing one as lost (overdue when the books close) instead of a full count; an earlier
// battle's end sent again after it counts out of order too.
func TestAMemberGetsEachStartAndEndOnce(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name        string
		startedBy   []int // the members whose onBattleStarted arrives, in order
		endedBy     []int // then the members whose onBattleEnded arrives
		wantOOO     int64
		wantOverdue int64
	}{
		{"each once", []int{0, 1, 2}, []int{0, 1, 2}, 0, 0},
		{"one start twice, another never", []int{0, 1, 1}, []int{0, 1, 2}, 1, 1},
		{"one end twice, another never", []int{0, 1, 2}, []int{0, 0, 1}, 1, 1},
		{"every end twice", []int{0, 1, 2}, []int{0, 1, 2, 2, 1, 0}, 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, rec, g, users := threeMembers()
			b := &battle{e: e, g: g, members: 3, endAt: now.Add(-time.Minute), done: make(chan struct{}), versions: map[uint64]stamp{}}
			b.name("B1")
			g.setBattle(b)
			for _, i := range tt.startedBy {
				users[i].battleStarted("B1", client.Event{At: now})
			}
			for _, i := range tt.endedBy {
				users[i].battleEnded("B1", 0, client.Event{At: now})
			}
			e.settle(b, now, false)
			tot := rec.Finish(time.Now())
			if got := tot.Counters[metrics.OutOfOrder]; got != tt.wantOOO {
				t.Errorf("out of order %d; want %d", got, tt.wantOOO)
			}
			if got := tot.Counters[metrics.LostOverdue]; got != tt.wantOverdue || tot.Counters[metrics.Lost] != tt.wantOverdue {
				t.Errorf("lost %d, overdue %d; want %d both", tot.Counters[metrics.Lost], got, tt.wantOverdue)
			}
		})
	}

	// An earlier battle's end, sent again once the next battle started, is a repeat.
	e, rec, g, u := loneHost()
	b := &battle{e: e, g: g, members: 1, endAt: now.Add(time.Minute), done: make(chan struct{}), versions: map[uint64]stamp{}}
	b.name("B2")
	g.setBattle(b)
	u.lastStart, u.lastEnd = "B1", "B1"
	u.battleStarted("B2", client.Event{At: now})
	u.battleEnded("B1", 3, client.Event{At: now})
	tot := rec.Finish(time.Now())
	if got := tot.Counters[metrics.OutOfOrder]; got != 1 {
		t.Errorf("B1's end again after B2 started: out of order %d; want 1", got)
	}
	if got := tot.Counters[counterUnexpected]; got != 0 {
		t.Errorf("B1's end again: %s %d; want 0 (counted out of order)", counterUnexpected, got)
	}
}

// threeMembers is an engine and one room of a host and two viewers, alone in its group.
// TestAnEndBelowAVersionGotIsOutOfOrder: onBattleEnded carries the battle's final version
// (BATTLE-044): a viewer that got versions 1 to 3 and then an end saying 0 (or 2) was sent an
// older state after a newer one; an end at 3, or at 5 after two it missed, is not out of order.
func TestAnEndBelowAVersionGotIsOutOfOrder(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		end      uint64
		wantOOO  int64
		wantLost int64
	}{{0, 1, 0}, {2, 1, 0}, {3, 0, 0}, {5, 0, 2}} {
		t.Run(fmt.Sprint("end at version ", tt.end), func(t *testing.T) {
			e, rec, g, users := threeMembers()
			b := &battle{e: e, g: g, members: 3, endAt: now.Add(time.Minute), done: make(chan struct{}), versions: map[uint64]stamp{}}
			b.name("B1")
			g.setBattle(b)
			v := users[1]
			v.battleStarted("B1", client.Event{At: now})
			for version := uint64(1); version <= 3; version++ {
				v.scoreChanged([]byte("B1"), version, client.Event{At: now})
			}
			v.battleEnded("B1", tt.end, client.Event{At: now})
			tot := rec.Finish(time.Now())
			if got := tot.Counters[metrics.OutOfOrder]; got != tt.wantOOO {
				t.Errorf("out of order %d; want %d", got, tt.wantOOO)
			}
			if got := tot.Counters[metrics.LostGap]; got != tt.wantLost {
				t.Errorf("lost to a gap %d; want %d", got, tt.wantLost)
			}
		})
	}
}

func threeMembers() (*engine, *metrics.Recorder, *group, []*user) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	g := &group{}
	r := &room{group: g}
	users := []*user{{e: e, room: r, host: true}, {e: e, room: r, index: 1}, {e: e, room: r, index: 2}}
	r.host, r.audience = users[0], users[1:]
	g.rooms = []*room{r}
	return e, rec, g, users
}

// TestMembersCheckTheScores: every member compares the battleUserList of each score change and
// end it gets with the scores the calls sent made; a list that differs (stale, or naming a
// room outside the group) breaks the protocol, unless a call at or before its version failed,
// which leaves it unchecked. A list with the same bytes as one of the version already found
// right is right; one with other bytes is decoded and judged on its scores.
func TestMembersCheckTheScores(t *testing.T) {
	now := time.Now()
	list := func(a, b int64, more ...string) []byte {
		l := fmt.Sprintf(`{"battleID":"B1","version":1,"battleUserList":[{"liveID":"ra","score":%d,"rank":1},{"liveID":"rb","score":%d,"rank":1}%s]}`, a, b, strings.Join(more, ""))
		return []byte(l)
	}
	for _, tt := range []struct {
		name          string
		payload       []byte
		viewer        bool   // the frame reaches a viewer, not a host
		hostFirst     []byte // the host's frame of the version, handled before it
		failedFrom    uint64 // a call failed at this version (0: none)
		checked       int64
		wrong         int64
		unchecked     int64
		wantMalformed int64
	}{
		{name: "the scores the call made", payload: list(0, 5), checked: 1},
		{name: "stale: the scores before the call", payload: list(0, 0), checked: 1, wrong: 1},
		{name: "a room outside the group", payload: list(0, 5, `,{"liveID":"rz","score":0,"rank":1}`), checked: 1, wrong: 1},
		{name: "stale, to a viewer", payload: list(0, 0), viewer: true, checked: 1, wrong: 1},
		{name: "the host's right list, then the same bytes to a viewer", hostFirst: list(0, 5), payload: list(0, 5), viewer: true, checked: 2},
		{name: "the host's right list, then a stale one to a viewer", hostFirst: list(0, 5), payload: list(0, 0), viewer: true, checked: 2, wrong: 1},
		{name: "the host's right list, then the same scores encoded otherwise", hostFirst: list(0, 5),
			payload: []byte(`{"version":1,"battleID":"B1","battleUserList":[{"score":5,"liveID":"rb","rank":1},{"score":0,"liveID":"ra","rank":1}]}`), viewer: true, checked: 2},
		{name: "stale after a failed call", payload: list(0, 0), failedFrom: 1, unchecked: 1},
		{name: "no list", payload: []byte(`{"battleID":"B1","version":1}`), wantMalformed: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, rec, g, hosts := twoRooms()
			b := &battle{e: e, g: g, members: 4, endAt: now.Add(time.Minute), done: make(chan struct{}), versions: map[uint64]stamp{}}
			b.name("B1")
			g.setBattle(b)
			b.mu.Lock()
			b.versions[1] = stamp{intended: now, sent: now}
			b.expect(1, []gift{{room: 1, score: 2}, {room: 1, score: 3}})
			b.mu.Unlock()
			u := hosts[0]
			if tt.viewer {
				u = g.rooms[0].audience[0]
			}
			if tt.hostFirst != nil {
				hosts[0].battleStarted("B1", client.Event{At: now})
				hosts[0].scoreChanged([]byte("B1"), 1, client.Event{At: now, Payload: tt.hostFirst})
			}
			u.battleStarted("B1", client.Event{At: now})
			u.scoreChanged([]byte("B1"), 1, client.Event{At: now, Payload: tt.payload})
			if tt.failedFrom != 0 {
				b.mu.Lock()
				b.loseScores(tt.failedFrom)
				b.mu.Unlock()
			}
			e.settle(b, now, false)
			tot := rec.Finish(time.Now())
			for name, want := range map[string]int64{
				counterScoresChecked: tt.checked, counterScoresWrong: tt.wrong, metrics.Violations: tt.wrong,
				counterScoresUnchecked: tt.unchecked, counterMalformed: tt.wantMalformed,
			} {
				if got := tot.Counters[name]; got != want {
					t.Errorf("%s %d; want %d", name, got, want)
				}
			}
		})
	}

	// An end carries the last version's scores; one sent after the books closed is judged at
	// once.
	e, rec, g, hosts := twoRooms()
	b := &battle{e: e, g: g, members: 4, endAt: now.Add(-time.Minute), done: make(chan struct{}), versions: map[uint64]stamp{}}
	b.name("B1")
	g.setBattle(b)
	b.mu.Lock()
	b.expect(1, []gift{{room: 0, score: 4}})
	b.expect(2, []gift{{room: 1, score: 1}})
	b.mu.Unlock()
	hosts[0].battleStarted("B1", client.Event{At: now})
	hosts[1].battleStarted("B1", client.Event{At: now})
	hosts[0].battleEnded("B1", 2, client.Event{At: now, Payload: list(4, 1)})
	e.settle(b, now, false)
	e.checkScores(b, []byte("B1"), 1, list(4, 1), nil) // version 1 held 4 and 0
	tot := rec.Finish(time.Now())
	if tot.Counters[counterScoresChecked] != 2 || tot.Counters[counterScoresWrong] != 1 {
		t.Errorf("checked %d, wrong %d; want 2 checked (the end's list right, a late change's wrong) and 1 wrong",
			tot.Counters[counterScoresChecked], tot.Counters[counterScoresWrong])
	}
}

// twoRooms is an engine and a group of two rooms, ra and rb, each with a host and a viewer.
func twoRooms() (*engine, *metrics.Recorder, *group, []*user) {
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	g := &group{byLive: map[string]int{}}
	var hosts []*user
	for i, id := range []string{"ra", "rb"} {
		r := &room{group: g, index: i, liveID: id}
		r.host = &user{e: e, room: r, host: true, index: 2 * i}
		r.audience = []*user{{e: e, room: r, index: 2*i + 1}}
		g.rooms = append(g.rooms, r)
		g.byLive[id] = i
		hosts = append(hosts, r.host)
	}
	return e, rec, g, hosts
}
