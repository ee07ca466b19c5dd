package core

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// newJournalCore is a test core that produces journal records.
func newJournalCore(t *testing.T) *testCore {
	tc := newTestCore(t)
	tc.c.cfg.Journal = true
	return tc
}

// throughJSON is records as a journal gives them back.
func throughJSON(t testing.TB, recs []Record) []Record {
	t.Helper()
	out := make([]Record, len(recs))
	for i, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// restart is a fresh core on tc's clock restored from records.
func (tc *testCore) restart(recs []Record) *testCore {
	tc.t.Helper()
	next := &testCore{t: tc.t, clock: tc.clock, c: New(tc.c.cfg, tc.clock), sess: map[string]SessionID{}, events: map[SessionID][]Delivery{}}
	if err := next.c.Restore(throughJSON(tc.t, recs)); err != nil {
		tc.t.Fatal(err)
	}
	return next
}

// keyed sets scores with an IdempotencyKey and returns the response.
func (tc *testCore) keyed(id, key string, room string, score int64) (protocol.SetBattleScoreResponse, int) {
	tc.t.Helper()
	resp, code := tc.rest(protocol.APISetBattleScore, map[string]any{"BattleId": id, "OpType": 1, "IdempotencyKey": key, "ScoreList": []any{map[string]any{"RoomId": room, "Score": score}}})
	r, _ := resp.(protocol.SetBattleScoreResponse)
	return r, code
}

func (tc *testCore) info(id string) (protocol.GetBattleInfoResponse, int) {
	tc.t.Helper()
	resp, code := tc.rest(protocol.APIGetBattleInfo, map[string]any{"BattleId": id})
	r, _ := resp.(protocol.GetBattleInfoResponse)
	return r, code
}

func TestRestoreKeepsAcknowledgedScoresAndKeys(t *testing.T) {
	tc := newJournalCore(t)
	tc.group("a", "b")
	id := tc.battle("a", false, 300, "b").BattleInfo.BattleID
	started := tc.clock.Now()
	tc.clock.Advance(10 * time.Second)
	first, _ := tc.keyed(id, "gift-1", "r-a", 10)
	tc.keyed(id, "gift-2", "r-b", 7)
	tc.keyed(id, "gift-1", "r-a", 10) // a retry: recorded once
	tc.score(id, 2, map[string]int64{"r-b": 20})
	recs := tc.c.TakeRecords()
	kinds := make([]string, len(recs))
	for i, r := range recs {
		kinds[i] = r.Kind
	}
	if want := []string{RecordStart, RecordScore, RecordScore, RecordScore}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("records %v; want %v", kinds, want)
	}
	tc.c.TakeHooks()

	// The server dies; it comes back a minute later with the journal.
	tc.clock.Advance(time.Minute)
	after := tc.restart(recs)
	info, code := after.info(id)
	if code != 0 {
		t.Fatalf("get_battle_info after the restart = %d", code)
	}
	want := protocol.GetBattleInfoResponse{
		BattleID: id, Duration: 300000, StartTime: started.Unix(), EndTime: tc.clock.Now().Unix(), Status: protocol.BattleStatusEnded, ScoreVersion: 3,
		FromRoomInfo: protocol.RoomScore{RoomID: "r-a", Score: 10, OwnerAccount: "a"},
		ToRoomList:   []protocol.RoomScore{{RoomID: "r-b", Score: 20, OwnerAccount: "b"}},
	}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("after the restart:\n got %+v\nwant %+v", info, want)
	}
	again, code := after.keyed(id, "gift-1", "r-a", 10)
	if code != 0 || !reflect.DeepEqual(again, first) {
		t.Errorf("retried gift-1 = %d %+v; want the first response %+v", code, again, first)
	}
	if _, code := after.keyed(id, "gift-3", "r-a", 10); code != protocol.ErrBattleAlreadyEnded.Code {
		t.Errorf("a new key after the restart = %d; want 100421 (the battle ended)", code)
	}
	hooks := after.c.TakeHooks()
	if len(hooks) != 1 || hooks[0].Command != protocol.HookEndBattle || hooks[0].EventID != id+"-end" {
		t.Fatalf("hooks = %+v; want the end of %s", hooks, id)
	}
	end := hooks[0].Body.(protocol.HookEndBattleBody)
	if end.OpType != protocol.HookEndAllExited || *end.FromRoomInfo.Score != 10 || *end.ToRoomList[0].Score != 20 {
		t.Errorf("end webhook = %+v; want OpType 1 with scores 10 and 20", end)
	}
	// A new battle of the restarted core never takes a restored battle's ID.
	after.group("c", "d")
	if id2 := after.battle("c", false, 60, "d").BattleInfo.BattleID; id2 == id {
		t.Errorf("a new battle got the restored battle's ID %q", id2)
	}
}

// A set_battle_score that applies to no room (every listed room outside the battle gets
// ResultCode 1: no version is made) is journaled only when it has an IdempotencyKey: the key's
// response must survive a restart (a retry then gets it, not 100421), and a request with
// neither leaves nothing to restore.
func TestJournalsKeyedRequestsThatApplyToNoRoom(t *testing.T) {
	tc := newJournalCore(t)
	tc.group("a", "b")
	id := tc.battle("a", false, 300, "b").BattleInfo.BattleID
	tc.keyed(id, "gift-1", "r-a", 10)
	before := tc.c.TakeRecords()
	outside, code := tc.keyed(id, "outside", "r-x", 5)
	if code != 0 || len(outside.Result) != 1 || outside.Result[0].ResultCode != 1 {
		t.Fatalf("a keyed score for a room outside the battle = code %d %+v; want ResultCode 1", code, outside)
	}
	tc.score(id, 2, map[string]int64{"r-x": 5}) // the same without a key
	recs := tc.c.TakeRecords()
	if len(recs) != 1 || recs[0].Kind != RecordScore || recs[0].Key != "outside" {
		t.Fatalf("records %+v; want one score record, of the key outside", recs)
	}
	tc.keyed(id, "gift-2", "r-a", 5) // a version after it
	after := tc.restart(append(append(before, recs...), tc.c.TakeRecords()...))
	if again, code := after.keyed(id, "outside", "r-x", 5); code != 0 || !reflect.DeepEqual(again, outside) {
		t.Errorf("retried outside after the restart = %d %+v; want its first response %+v", code, again, outside)
	}
}

func TestRestoreEndTimes(t *testing.T) {
	for _, tt := range []struct {
		name     string
		duration int
		before   time.Duration // run time before the crash (the battle's timer fires)
		down     time.Duration // time until the restart
		lasted   int64         // the restored battle's EndTime - StartTime, -1: forgotten (100411)
		hook     bool          // the restart queues the end webhook
	}{
		{"ended before the crash keeps its end", 60, 60 * time.Second, time.Minute, 60, false},
		{"due while down ends at its scheduled end", 60, 10 * time.Second, 5 * time.Minute, 60, true},
		{"still running ends at the restart", 300, 10 * time.Second, time.Minute, 70, true},
		{"ended longer than the retention ago is forgotten", 60, 60 * time.Second, 11 * time.Minute, -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newJournalCore(t)
			tc.group("a", "b")
			id := tc.battle("a", false, tt.duration, "b").BattleInfo.BattleID
			tc.tick(tt.before)
			recs := tc.c.TakeRecords()
			tc.clock.Advance(tt.down)
			after := tc.restart(recs)
			info, code := after.info(id)
			switch {
			case tt.lasted < 0 && code != protocol.ErrBattleNotExist.Code:
				t.Errorf("get_battle_info = %d %+v; want 100411", code, info)
			case tt.lasted >= 0 && (code != 0 || info.EndTime-info.StartTime != tt.lasted || info.Status != protocol.BattleStatusEnded):
				t.Errorf("get_battle_info = %d %+v; want ended after %d s", code, info, tt.lasted)
			}
			if hooks := after.c.TakeHooks(); (len(hooks) == 1) != tt.hook {
				t.Errorf("hooks on restart = %v; want the end webhook: %v", hookCommands(hooks), tt.hook)
			}
		})
	}
}

func TestRecordsOnlyWhenJournaling(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	id := tc.battle("a", false, 60, "b").BattleInfo.BattleID
	tc.score(id, 1, map[string]int64{"r-a": 1})
	tc.tick(time.Minute)
	if recs := tc.c.TakeRecords(); len(recs) != 0 {
		t.Errorf("records without Config.Journal: %+v", recs)
	}
}

func TestSnapshotRestoresTheSameBattles(t *testing.T) {
	tc := newJournalCore(t)
	tc.group("a", "b", "c")
	ended := tc.battle("a", false, 30, "b").BattleInfo.BattleID
	tc.keyed(ended, "k1", "r-a", 5)
	tc.tick(31 * time.Second)
	running := tc.battle("a", false, 300, "c").BattleInfo.BattleID
	tc.keyed(running, "k1", "r-c", 9)
	tc.keyed(running, "k2", "r-a", 4)
	tc.score(running, 1, map[string]int64{"r-a": 1})
	journal := tc.restart(tc.c.TakeRecords())
	snap := tc.restart(tc.c.Snapshot())
	for _, id := range []string{ended, running} {
		j, jc := journal.info(id)
		s, sc := snap.info(id)
		if jc != 0 || sc != 0 || !reflect.DeepEqual(j, s) {
			t.Errorf("%s: from the journal %d %+v, from a snapshot %d %+v", id, jc, j, sc, s)
		}
		if !reflect.DeepEqual(journal.c.battles[id].idempotent, snap.c.battles[id].idempotent) {
			t.Errorf("%s: keys differ: %v vs %v", id, journal.c.battles[id].idempotent, snap.c.battles[id].idempotent)
		}
	}
	if r, _ := snap.info(running); r.ScoreVersion != 3 || r.FromRoomInfo.Score != 5 {
		t.Errorf("running battle from a snapshot = %+v; want version 3, r-a 5", r)
	}
}

func TestRestoreRefusesContradictions(t *testing.T) {
	start := func(id string) Record {
		return Record{Kind: RecordStart, BattleID: id, At: 1000, Config: &protocol.BattleConfig{Duration: 60},
			Board: []RecordEntrant{{LiveID: "r-a", UserID: "a"}, {LiveID: "r-b", UserID: "b"}}}
	}
	score := func(v uint64, scores ...int64) Record {
		return Record{Kind: RecordScore, BattleID: "b1", At: 2000, Version: v, Scores: scores}
	}
	noBoard := start("b1")
	noBoard.Board = noBoard.Board[:1]
	noConfig := start("b1")
	noConfig.Config = nil
	keyless := score(1, 1, 1)
	keyless.Key = "k"
	for _, tt := range []struct {
		name string
		recs []Record
		want string
	}{
		{"a score before the start", []Record{score(1, 1, 1)}, "no start record"},
		{"a battle started twice", []Record{start("b1"), start("b1")}, "started twice"},
		{"a start without a battle ID", []Record{start("")}, "no battle ID"},
		{"a start without a configuration", []Record{noConfig}, "no configuration"},
		{"a board of one room", []Record{noBoard}, "at least 2"},
		{"a version going back", []Record{start("b1"), score(2, 1, 1), score(1, 1, 1)}, "version 1 after version 2"},
		{"scores for another board", []Record{start("b1"), score(1, 1, 1, 1)}, "3 scores for a board of 2"},
		{"a negative score", []Record{start("b1"), score(1, -1, 1)}, "out of 0.."},
		{"a key without its response", []Record{start("b1"), keyless}, "without its response"},
		{"a score after the end", []Record{start("b1"), {Kind: RecordEnd, BattleID: "b1", At: 3000}, score(1, 1, 1)}, "after the end"},
		{"an end twice", []Record{start("b1"), {Kind: RecordEnd, BattleID: "b1"}, {Kind: RecordEnd, BattleID: "b1"}}, "ended twice"},
		{"an unknown kind", []Record{start("b1"), {Kind: "pause", BattleID: "b1"}}, "unknown kind"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(testConfig(), &fakeClock{now: time.Unix(1_700_000_000, 0)})
			err := c.Restore(tt.recs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v; want an error containing %q", err, tt.want)
			}
			if len(c.battles) != 0 || len(c.TakeHooks()) != 0 {
				t.Errorf("a refused journal restored %d battles", len(c.battles))
			}
		})
	}
}

// checkJournal restores a fresh core from every record so far, as a restarted server would,
// and another from a snapshot of the live core, and checks that both hold what the live core
// holds for every battle that started: its board's scores, version and IdempotencyKeys, ended.
// Only battles that ended, or were due to end, longer than the retention ago may be missing; nothing else may be there.
func (m *machine) checkJournal() {
	m.t.Helper()
	m.journal = append(m.journal, throughJSON(m.t, m.c.TakeRecords())...)
	restored := map[string]*Core{"journal": New(machineConfig(), m.clock), "snapshot": New(machineConfig(), m.clock)}
	if err := restored["journal"].Restore(m.journal); err != nil {
		m.fail("restore the journal: %v", err)
	}
	if err := restored["snapshot"].Restore(throughJSON(m.t, m.c.Snapshot())); err != nil {
		m.fail("restore a snapshot: %v", err)
	}
	cutoff := m.clock.Now().Add(-m.c.cfg.BattleRetention)
	for from, rc := range restored {
		for id := range rc.battles {
			if b := m.c.battles[id]; b == nil || b.started.IsZero() {
				m.fail("restored from the %s: battle %s, which the live core does not keep started", from, id)
			}
		}
		for id, b := range m.c.battles {
			if b.started.IsZero() {
				continue
			}
			rb := rc.battles[id]
			if rb == nil {
				end := b.ended // when the restored battle ended: its end, or its scheduled end if due
				if b.state != battleEnded {
					end = b.started.Add(time.Duration(b.cfg.Duration) * time.Second)
				}
				if !end.Before(cutoff) {
					m.fail("restored from the %s: battle %s (%s) is missing", from, id, b.state)
				}
				continue
			}
			if rb.state != battleEnded || rb.version != b.version || len(rb.board) != len(b.board) || !reflect.DeepEqual(rb.idempotent, b.idempotent) {
				m.fail("restored from the %s: battle %s is %s v%d with keys %v; live %s v%d with keys %v",
					from, id, rb.state, rb.version, rb.idempotent, b.state, b.version, b.idempotent)
			}
			for i, e := range b.board {
				if r := rb.board[i]; r.liveID != e.liveID || r.score != e.score || r.host != e.host {
					m.fail("restored from the %s: battle %s board[%d] = %s %d; live %s %d", from, id, i, r.liveID, r.score, e.liveID, e.score)
				}
			}
			if b.state == battleEnded && rb.ended.UnixMilli() != b.ended.UnixMilli() {
				m.fail("restored from the %s: battle %s ended at %v; live at %v", from, id, rb.ended, b.ended)
			}
		}
	}
}
