package core

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// rest runs a REST call and returns its response and error code (0 on success).
func (tc *testCore) rest(api string, body any) (any, int) {
	tc.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		tc.t.Fatal(err)
	}
	resp, perr, out := tc.c.REST(api, "administrator", raw)
	tc.record(out)
	if perr != nil {
		return nil, perr.Code
	}
	return resp, 0
}

// group makes hosts of rooms r-<name> for each name, all connected with the first.
func (tc *testCore) group(names ...string) {
	tc.t.Helper()
	for _, n := range names {
		tc.host(n)
	}
	for _, n := range names[1:] {
		tc.connect(names[0], n)
	}
	tc.clearAll()
	tc.c.TakeHooks()
}

// battle has inviter request a battle with the hosts named; it must succeed.
func (tc *testCore) battle(inviter string, needResponse bool, duration int, invitees ...string) protocol.RequestBattleReply {
	tc.t.Helper()
	req := map[string]any{"userIDs": invitees, "config": map[string]any{"needResponse": needResponse, "duration": duration}}
	return tc.must(inviter, protocol.ReqRequestBattle, req).(protocol.RequestBattleReply)
}

// score sets scores (OpType 1 add or 2 overwrite) by room; it must succeed.
func (tc *testCore) score(id string, op int, scores map[string]int64) protocol.SetBattleScoreResponse {
	tc.t.Helper()
	var list []map[string]any
	for _, room := range []string{"r-a", "r-b", "r-c", "r-d", "r-x"} {
		if s, ok := scores[room]; ok {
			list = append(list, map[string]any{"RoomId": room, "Score": s})
		}
	}
	resp, code := tc.rest(protocol.APISetBattleScore, map[string]any{"BattleId": id, "OpType": op, "ScoreList": list})
	if code != 0 {
		tc.t.Fatalf("set_battle_score %v = code %d", scores, code)
	}
	return resp.(protocol.SetBattleScoreResponse)
}

// only asserts that name received exactly the event types want (and clears them).
func (tc *testCore) only(name string, want ...string) []Delivery {
	tc.t.Helper()
	got := tc.took(name)
	if !reflect.DeepEqual(types(got), want) && !(len(got) == 0 && len(want) == 0) {
		tc.t.Fatalf("%s received %v; want %v", name, types(got), want)
	}
	return got
}

func hookCommands(hs []Hook) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Command
	}
	return out
}

func TestBattleWithoutResponseStartsAtOnceAndEndsOnTime(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	tc.must("fan", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"})
	tc.clearAll()
	reply := tc.battle("a", false, 0, "b")
	if reply.BattleInfo.Config.Duration != 300 {
		t.Errorf("duration = %d; want the default 300", reply.BattleInfo.Config.Duration)
	}
	if reply.Results["b"] != protocol.BattleSuccess {
		t.Errorf("results = %v; want b: 0", reply.Results)
	}
	start := tc.clock.now.Unix()
	if reply.BattleInfo.StartTime != start || reply.BattleInfo.EndTime != start+300 {
		t.Errorf("battleInfo times = %d..%d; want %d..%d", reply.BattleInfo.StartTime, reply.BattleInfo.EndTime, start, start+300)
	}
	tc.only("b", protocol.EvBattleRequestReceived, protocol.EvBattleStarted)
	tc.only("a", protocol.EvBattleStarted)
	ev := tc.only("fan", protocol.EvBattleStarted)[0].Payload.(protocol.BattleStarted)
	if ev.Inviter.UserID != "a" || len(ev.Invitees) != 1 || ev.Invitees[0].UserID != "b" {
		t.Errorf("onBattleStarted = %+v; want inviter a, invitees [b]", ev)
	}
	if got := hookCommands(tc.c.TakeHooks()); !reflect.DeepEqual(got, []string{protocol.HookCreateBattle, protocol.HookStartBattle}) {
		t.Errorf("hooks = %v", got)
	}

	tc.score(reply.BattleInfo.BattleID, 1, map[string]int64{"r-a": 50, "r-b": 1200})
	tc.tick(299 * time.Second)
	tc.only("a", protocol.EvBattleScoreChanged)
	tc.tick(time.Second)
	ended := tc.only("fan", protocol.EvBattleScoreChanged, protocol.EvBattleEnded)[1].Payload.(protocol.BattleEnded)
	if ended.Reason != protocol.BattleEndTimeOver || ended.Version != 1 {
		t.Errorf("onBattleEnded reason %d version %d; want 0 and 1", ended.Reason, ended.Version)
	}
	want := []protocol.BattleUser{
		{LiveID: "r-a", UserID: "a", UserName: "N-a", Score: 50, Rank: 2},
		{LiveID: "r-b", UserID: "b", UserName: "N-b", Score: 1200, Rank: 1},
	}
	if !reflect.DeepEqual(ended.BattleUserList, want) {
		t.Errorf("final scores = %+v; want %+v", ended.BattleUserList, want)
	}
	if ended.BattleInfo.EndTime != start+300 {
		t.Errorf("endTime = %d; want %d", ended.BattleInfo.EndTime, start+300)
	}
	hooks := tc.c.TakeHooks()
	if len(hooks) != 1 || hooks[0].Body.(protocol.HookEndBattleBody).OpType != protocol.HookEndTimeUp {
		t.Fatalf("hooks after the end = %+v; want one end hook with OpType 0", hooks)
	}
	// The connection survives the battle (BATTLE-026) and the rooms may battle again.
	if got := len(tc.c.rooms["r-a"].group.rooms); got != 2 {
		t.Errorf("group after the battle has %d rooms; want 2", got)
	}
	tc.battle("b", false, 10, "a")
}

func TestBattleStartsWhenEveryInviteeAnswered(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c", "d")
	reply := tc.battle("a", true, 60, "b", "c", "d")
	id := reply.BattleInfo.BattleID
	if reply.BattleInfo.StartTime != 0 {
		t.Errorf("a pending battle has startTime %d; want 0", reply.BattleInfo.StartTime)
	}
	for _, n := range []string{"b", "c", "d"} {
		tc.only(n, protocol.EvBattleRequestReceived)
	}
	tc.must("b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id})
	tc.must("c", protocol.ReqRejectBattle, protocol.BattleRef{BattleID: id})
	tc.only("a", protocol.EvBattleRequestAccept, protocol.EvBattleRequestReject)
	tc.only("b")
	// d has not answered: no start yet.
	tc.tick(10 * time.Second)
	tc.must("d", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id})
	ev := tc.only("d", protocol.EvBattleStarted)[0].Payload.(protocol.BattleStarted)
	if ids := []string{ev.Invitees[0].UserID, ev.Invitees[1].UserID}; len(ev.Invitees) != 2 || ids[0] != "b" || ids[1] != "d" {
		t.Errorf("invitees of onBattleStarted = %+v; want b, d in request order", ev.Invitees)
	}
	tc.only("c")
	tc.only("b", protocol.EvBattleStarted)
	// c rejected: its room is free for another battle; the others are in this one.
	if r := tc.c.rooms["r-c"]; r.battle != nil {
		t.Errorf("room c is still tied to battle %q after rejecting", r.battle.id)
	}
	for _, n := range []string{"r-a", "r-b", "r-d"} {
		if b := tc.c.rooms[n].battle; b == nil || b.id != id || b.state != battleRunning {
			t.Errorf("room %s is not in the running battle", n)
		}
	}
}

func TestBattleNobodyAccepts(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	id := tc.battle("a", true, 60, "b", "c").BattleInfo.BattleID
	tc.must("b", protocol.ReqRejectBattle, protocol.BattleRef{BattleID: id})
	tc.must("a", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"c"}})
	tc.only("c", protocol.EvBattleRequestReceived, protocol.EvBattleRequestCancelled)
	tc.only("a", protocol.EvBattleRequestReject)
	hooks := tc.c.TakeHooks()
	if got := hookCommands(hooks); !reflect.DeepEqual(got, []string{protocol.HookCreateBattle, protocol.HookEndBattle}) {
		t.Fatalf("hooks = %v; want create and end", got)
	}
	if op := hooks[1].Body.(protocol.HookEndBattleBody).OpType; op != protocol.HookEndNotStarted {
		t.Errorf("end hook OpType = %d; want 2", op)
	}
	if _, code := tc.rest(protocol.APISetBattleScore, map[string]any{"BattleId": id, "OpType": 1, "ScoreList": []any{map[string]any{"RoomId": "r-a", "Score": 1}}}); code != 100421 {
		t.Errorf("set_battle_score on a battle that never started = %d; want 100421", code)
	}
	tc.battle("b", false, 5, "c") // every room is free again
}

func TestBattleRequestTimeoutReachesBothSides(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	reply := tc.must("a", protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"b"}, "config": map[string]any{"needResponse": true}, "timeout": 10}).(protocol.RequestBattleReply)
	tc.clearAll()
	tc.tick(9 * time.Second)
	tc.only("a")
	tc.tick(time.Second)
	tc.only("a", protocol.EvBattleRequestTimeout)
	tc.only("b", protocol.EvBattleRequestTimeout)
	if _, code := tc.do("b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: reply.BattleInfo.BattleID}); code != 100421 {
		t.Errorf("accept after the timeout ended the battle = %d; want 100421", code)
	}
	// Without a timeout the default invite timeout (30 s) applies; with 0, none.
	reply = tc.battle("a", true, 60, "b")
	tc.clearAll()
	tc.tick(30 * time.Second)
	tc.only("b", protocol.EvBattleRequestTimeout)
	tc.must("a", protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"b"}, "config": map[string]any{"needResponse": true}, "timeout": 0})
	tc.clearAll()
	tc.tick(24 * time.Hour)
	tc.only("b")
}

func TestBattleRequestCodesAndRefusals(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c", "d", "e", "f")
	tc.host("x") // live, but not connected with a
	tc.must("fan", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-a"})
	tc.battle("d", false, 60, "e") // d and e are in a running battle
	tc.battle("c", true, 60, "b")  // c and b are in a pending one
	bad := map[string]any{"userIDs": []string{"x", "a", "b", "d", "nobody"}}
	if _, code := tc.do("a", protocol.ReqRequestBattle, bad); code != 100412 {
		t.Fatalf("a battle with nobody free = code %d; want 100412", code)
	}
	bad["userIDs"] = []string{"x", "a", "b", "d", "nobody", "f"}
	reply := tc.must("a", protocol.ReqRequestBattle, bad).(protocol.RequestBattleReply)
	want := map[string]int{"x": 1, "a": 2, "b": 3, "d": 3, "nobody": 1, "f": 0}
	if !reflect.DeepEqual(reply.Results, want) {
		t.Errorf("codes = %v; want %v", reply.Results, want)
	}

	for _, tt := range []struct {
		name, user string
		payload    any
		code       int
	}{
		// A pending invitee and a pending inviter: 100416.
		{"pending invitee", "b", map[string]any{"userIDs": []string{"c"}}, 100416},
		{"pending inviter", "c", map[string]any{"userIDs": []string{"b"}}, 100416},
		// A room in a running battle: 100415.
		{"running", "d", map[string]any{"userIDs": []string{"e"}}, 100415},
		// Not connected: 100400; audience: 100006; in no room: 100005.
		{"not connected", "x", map[string]any{"userIDs": []string{"a"}}, 100400},
		{"audience", "fan", map[string]any{"userIDs": []string{"a"}}, 100006},
		{"no room", "ghost", map[string]any{"userIDs": []string{"a"}}, 100005},
		// Parameters are checked first (BATTLE-002).
		{"timeout without response", "x", map[string]any{"userIDs": []string{"a"}, "timeout": 5}, 100002},
		{"duration too long", "x", map[string]any{"userIDs": []string{"a"}, "config": map[string]any{"duration": 86401}}, 100002},
		{"negative duration", "x", map[string]any{"userIDs": []string{"a"}, "config": map[string]any{"duration": -1}}, 100002},
		{"user twice", "x", map[string]any{"userIDs": []string{"a", "a"}}, 100002},
		{"nine users", "x", map[string]any{"userIDs": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}}, 100002},
		{"no users", "x", map[string]any{"userIDs": []string{}}, 100002},
		{"timeout 3601", "x", map[string]any{"userIDs": []string{"a"}, "config": map[string]any{"needResponse": true}, "timeout": 3601}, 100002},
	} {
		if _, code := tc.do(tt.user, protocol.ReqRequestBattle, tt.payload); code != tt.code {
			t.Errorf("%s: requestBattle = code %d; want %d", tt.name, code, tt.code)
		}
	}
}

func TestBattleRateLimit(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	for i := 0; i < 20; i++ {
		id := tc.battle("a", true, 60, "b").BattleInfo.BattleID
		tc.must("a", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"b"}})
		tc.tick(time.Second)
	}
	if _, code := tc.do("a", protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"b"}}); code != 100413 {
		t.Fatalf("21st battle within a minute = code %d; want 100413", code)
	}
	tc.tick(41 * time.Second) // the first creation is now a minute old
	tc.battle("a", false, 60, "b")
}

func TestCancelAndAnswerRefusals(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	id := tc.battle("a", true, 60, "b", "c").BattleInfo.BattleID
	tc.must("b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id})
	for _, tt := range []struct {
		name, user, typ string
		payload         any
		code            int
	}{
		{"cancel an accepted room", "a", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"c", "b"}}, 100419},
		{"cancel a stranger", "a", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"zz"}}, 100414},
		{"cancel by an invitee", "b", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"c"}}, 100006},
		{"accept twice", "b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id}, 100414},
		{"accept by the inviter", "a", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id}, 100414},
		{"accept an unknown battle", "c", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: "nope"}, 100411},
		{"exit a pending battle", "b", protocol.ReqExitBattle, protocol.BattleRef{BattleID: id}, 100420},
		{"empty battleID", "c", protocol.ReqRejectBattle, protocol.BattleRef{}, 100002},
	} {
		if _, code := tc.do(tt.user, tt.typ, tt.payload); code != tt.code {
			t.Errorf("%s: code %d; want %d", tt.name, code, tt.code)
		}
	}
	// Nothing was cancelled by the refused request: c can still answer.
	tc.must("c", protocol.ReqRejectBattle, protocol.BattleRef{BattleID: id})
	if _, code := tc.do("c", protocol.ReqExitBattle, protocol.BattleRef{BattleID: id}); code != 100414 {
		t.Errorf("exit by a room that rejected = %d; want 100414", code)
	}
}

func TestExitMidBattle(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	tc.must("fan", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-c"})
	id := tc.battle("a", false, 60, "b", "c").BattleInfo.BattleID
	tc.score(id, 2, map[string]int64{"r-a": 10, "r-b": 20, "r-c": 30})
	tc.clearAll()
	tc.must("c", protocol.ReqExitBattle, protocol.BattleRef{BattleID: id})
	for _, n := range []string{"a", "b", "c", "fan"} {
		tc.only(n, protocol.EvUserExitBattle)
	}
	// c's score is frozen; it still appears on the board.
	resp := tc.score(id, 1, map[string]int64{"r-c": 5, "r-b": 5})
	if resp.Result[0].RoomID != "r-b" || resp.Result[0].ResultCode != 0 || resp.Result[1].ResultCode != 1 {
		t.Errorf("results = %+v; want r-b 0, r-c 1", resp.Result)
	}
	tc.only("fan")
	sc := tc.only("a", protocol.EvBattleScoreChanged)[0].Payload.(protocol.BattleScoreChanged)
	if len(sc.BattleUserList) != 3 || sc.BattleUserList[2].Score != 30 || sc.BattleUserList[1].Score != 25 {
		t.Errorf("board after c exited = %+v; want c kept at 30, b at 25", sc.BattleUserList)
	}
	tc.clearAll()
	tc.must("b", protocol.ReqExitBattle, protocol.BattleRef{BattleID: id})
	tc.only("b", protocol.EvUserExitBattle)
	ended := tc.only("a", protocol.EvUserExitBattle, protocol.EvBattleEnded)[1].Payload.(protocol.BattleEnded)
	if ended.Reason != protocol.BattleEndOtherExit || ended.Version != sc.Version || !reflect.DeepEqual(ended.BattleUserList, sc.BattleUserList) {
		t.Errorf("onBattleEnded = %+v; want reason 1 and the last board (version %d)", ended, sc.Version)
	}
	if op := tc.c.TakeHooks()[2].Body.(protocol.HookEndBattleBody).OpType; op != protocol.HookEndAllExited {
		t.Errorf("end hook OpType = %d; want 1", op)
	}
}

func TestRanksShareTies(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c", "d")
	id := tc.battle("a", false, 60, "b", "c", "d").BattleInfo.BattleID
	resp := tc.score(id, 2, map[string]int64{"r-a": 80, "r-b": 100, "r-c": 80, "r-d": 10})
	sc := tc.only("a", protocol.EvBattleStarted, protocol.EvBattleScoreChanged)[1].Payload.(protocol.BattleScoreChanged)
	var ranks []int
	for _, u := range sc.BattleUserList {
		ranks = append(ranks, u.Rank)
	}
	if !reflect.DeepEqual(ranks, []int{2, 1, 2, 4}) || resp.ScoreVersion != 1 {
		t.Errorf("ranks %v version %d; want [2 1 2 4] and 1", ranks, resp.ScoreVersion)
	}
}

func TestScoreUpdates(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	tc.host("x")
	id := tc.battle("a", false, 60, "b").BattleInfo.BattleID
	tc.clearAll()
	set := func(body map[string]any) (protocol.SetBattleScoreResponse, int) {
		body["BattleId"] = id
		r, code := tc.rest(protocol.APISetBattleScore, body)
		if code != 0 {
			return protocol.SetBattleScoreResponse{}, code
		}
		return r.(protocol.SetBattleScoreResponse), 0
	}
	item := func(room string, s int64) []any { return []any{map[string]any{"RoomId": room, "Score": s}} }
	// OpType as a string is accepted (Tencent documents both).
	if r, code := set(map[string]any{"OpType": "1", "ScoreList": item("r-a", 7)}); code != 0 || r.ScoreVersion != 1 {
		t.Fatalf("string OpType: code %d version %d", code, r.ScoreVersion)
	}
	// Only rooms of other battles: nothing changes, no event, no version.
	if r, code := set(map[string]any{"OpType": 1, "ScoreList": item("r-x", 7)}); code != 0 || r.ScoreVersion != 1 || r.Result[0].ResultCode != 1 {
		t.Errorf("a stranger room: code %d %+v; want version 1 and ResultCode 1", code, r)
	}
	// Idempotency: the same key applies once.
	for i := 0; i < 3; i++ {
		if r, code := set(map[string]any{"OpType": 1, "ScoreList": item("r-b", 100), "IdempotencyKey": "gift-1"}); code != 0 || r.ScoreVersion != 2 {
			t.Errorf("retry %d: code %d version %d; want 2", i, code, r.ScoreVersion)
		}
	}
	if got := len(tc.took("a")); got != 2 {
		t.Errorf("the host got %d score events; want 2", got)
	}
	for _, tt := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"OpType 3", map[string]any{"OpType": 3, "ScoreList": item("r-a", 1)}, 100002},
		{"no OpType", map[string]any{"ScoreList": item("r-a", 1)}, 100002},
		{"negative score", map[string]any{"OpType": 1, "ScoreList": item("r-a", -1)}, 100002},
		{"empty list", map[string]any{"OpType": 1, "ScoreList": []any{}}, 100002},
		{"overflow", map[string]any{"OpType": 1, "ScoreList": item("r-a", protocol.MaxScore)}, 100002},
		{"score as a string", map[string]any{"OpType": 1, "ScoreList": []any{map[string]any{"RoomId": "r-a", "Score": "5"}}}, 100002},
	} {
		if _, code := set(tt.body); code != tt.code {
			t.Errorf("%s: code %d; want %d", tt.name, code, tt.code)
		}
	}
	if _, code := tc.rest(protocol.APISetBattleScore, map[string]any{"BattleId": "nope", "OpType": 1, "ScoreList": item("r-a", 1)}); code != 100411 {
		t.Errorf("unknown battle: %d; want 100411", code)
	}
	if tc.c.battles[id].board[0].score != 7 || tc.c.battles[id].board[1].score != 100 {
		t.Errorf("scores after refusals = %d, %d; want 7, 100", tc.c.battles[id].board[0].score, tc.c.battles[id].board[1].score)
	}
	tc.host("c")
	tc.host("d")
	tc.connect("c", "d")
	pending := tc.battle("c", true, 60, "d").BattleInfo.BattleID
	if _, code := tc.rest(protocol.APISetBattleScore, map[string]any{"BattleId": pending, "OpType": 1, "ScoreList": item("r-c", 1)}); code != 100420 {
		t.Errorf("a pending battle: %d; want 100420", code)
	}
}

func TestLeavingDuringABattle(t *testing.T) {
	for _, tt := range []struct {
		name  string
		leave func(tc *testCore)
	}{
		{"exitBattle", nil},
		{"disconnect", func(tc *testCore) { tc.must("c", protocol.ReqDisconnect, nil) }},
		{"endLive", func(tc *testCore) { tc.must("c", protocol.ReqEndLive, nil) }},
		{"lost connection", func(tc *testCore) { tc.lose("c") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCore(t)
			tc.group("a", "b", "c")
			id := tc.battle("a", false, 60, "b", "c").BattleInfo.BattleID
			tc.clearAll()
			if tt.leave == nil {
				tc.must("c", protocol.ReqExitBattle, protocol.BattleRef{BattleID: id})
			} else {
				tt.leave(tc)
			}
			// a and b see c exit the battle first, then whatever the group change brings.
			for _, n := range []string{"a", "b"} {
				got := types(tc.took(n))
				if len(got) == 0 || got[0] != protocol.EvUserExitBattle {
					t.Errorf("%s received %v; want onUserExitBattle first", n, got)
				}
				for _, typ := range got {
					if typ == protocol.EvBattleEnded {
						t.Errorf("%s: the battle ended with two rooms left", n)
					}
				}
			}
		})
	}
}

func TestInviterLeavesPendingBattle(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	id := tc.battle("a", true, 60, "b", "c").BattleInfo.BattleID
	tc.must("b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id})
	tc.clearAll()
	tc.c.TakeHooks()
	tc.lose("a")
	for _, n := range []string{"b", "c"} {
		got := types(tc.took(n))
		if len(got) == 0 || got[0] != protocol.EvBattleRequestCancelled {
			t.Errorf("%s received %v; want onBattleRequestCancelled first", n, got)
		}
	}
	hooks := tc.c.TakeHooks()
	if len(hooks) != 1 || hooks[0].Body.(protocol.HookEndBattleBody).OpType != protocol.HookEndNotStarted {
		t.Fatalf("hooks = %+v; want one end hook with OpType 2", hooks)
	}
	tc.battle("b", false, 10, "c")
}

func TestInviteeLeavesPendingBattle(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b", "c")
	id := tc.battle("a", true, 60, "b", "c").BattleInfo.BattleID
	tc.must("b", protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: id})
	tc.clearAll()
	tc.must("c", protocol.ReqEndLive, nil)
	got := types(tc.took("a"))
	if len(got) < 2 || got[0] != protocol.EvBattleRequestReject || got[1] != protocol.EvBattleStarted {
		t.Errorf("a received %v; want the reject, then the start with b", got)
	}
}

func TestJoiningMidBattleFindsTheBattle(t *testing.T) {
	tc := newTestCore(t)
	tc.group("a", "b")
	reply := tc.battle("a", false, 60, "b")
	tc.score(reply.BattleInfo.BattleID, 2, map[string]int64{"r-b": 9})
	tc.tick(20 * time.Second)
	join := tc.must("late", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"}).(protocol.JoinLiveReply)
	if join.Battle == nil {
		t.Fatal("joinLive of a battling room carries no battle")
	}
	if join.Battle.BattleInfo.StartTime != reply.BattleInfo.StartTime || join.Battle.Version != 1 || join.Battle.BattleUserList[1].Score != 9 {
		t.Errorf("battle = %+v; want the original start time, version 1 and b at 9", join.Battle)
	}
	tc.tick(40 * time.Second)
	if join := tc.must("later", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"}).(protocol.JoinLiveReply); join.Battle != nil {
		t.Errorf("joinLive after the end carries battle %+v; want null", join.Battle)
	}
}

func TestRESTCreateAndQuery(t *testing.T) {
	tc := newTestCore(t)
	for _, n := range []string{"a", "b", "c"} {
		tc.host(n) // not connected: create_battle does not check (REST-010)
	}
	tc.clearAll()
	resp, code := tc.rest(protocol.APICreateBattle, map[string]any{"FromRoomId": "r-a", "ToRoomIdList": []string{"r-b", "r-nope"}, "Duration": 60500})
	if code != 0 {
		t.Fatalf("create_battle = code %d", code)
	}
	cb := resp.(protocol.CreateBattleResponse)
	if cb.Result[0].ResultCode != 0 || cb.Result[1].ResultCode != 1 {
		t.Errorf("results = %+v; want r-b 0, r-nope 1", cb.Result)
	}
	tc.only("b", protocol.EvBattleRequestReceived, protocol.EvBattleStarted)
	hooks := tc.c.TakeHooks()
	if hooks[0].OptPlatform != protocol.PlatformREST || hooks[0].Body.(protocol.HookCreateBattleBody).Duration != 61000 {
		t.Errorf("create hook = %+v; want RESTAPI and 61000 ms (60500 rounded to whole seconds)", hooks[0])
	}
	for _, q := range []map[string]any{{"BattleId": cb.BattleID}, {"RoomId": "r-b"}} {
		r, code := tc.rest(protocol.APIGetBattleInfo, q)
		info, _ := r.(protocol.GetBattleInfoResponse)
		if code != 0 || info.Status != protocol.BattleStatusRunning || info.FromRoomInfo.RoomID != "r-a" || len(info.ToRoomList) != 1 || info.Duration != 61000 {
			t.Errorf("get_battle_info(%v) = %d %+v", q, code, info)
		}
	}
	if _, code := tc.rest(protocol.APICreateBattle, map[string]any{"FromRoomId": "r-a", "ToRoomIdList": []string{"r-c"}, "Duration": 60000}); code != 100415 {
		t.Errorf("create_battle from a battling room = %d; want 100415", code)
	}
	if _, code := tc.rest(protocol.APICreateBattle, map[string]any{"FromRoomId": "r-c", "ToRoomIdList": []string{"r-b"}, "Duration": 60000}); code != 100412 {
		t.Errorf("create_battle against a battling room only = %d; want 100412", code)
	}
	tc.tick(61 * time.Second)
	r, _ := tc.rest(protocol.APIGetBattleInfo, map[string]any{"BattleId": cb.BattleID})
	if info := r.(protocol.GetBattleInfoResponse); info.Status != protocol.BattleStatusEnded || info.EndTime-info.StartTime != 61 {
		t.Errorf("ended battle = %+v; want status 3 and 61 s", info)
	}
	if _, code := tc.rest(protocol.APIGetBattleInfo, map[string]any{"RoomId": "r-b"}); code != 100411 {
		t.Errorf("get_battle_info of a room in no battle = %d; want 100411", code)
	}
	// Ended battles are kept for the retention (10 minutes), then forgotten.
	tc.tick(9 * time.Minute)
	tc.battle2("b", "c")
	if _, code := tc.rest(protocol.APIGetBattleInfo, map[string]any{"BattleId": cb.BattleID}); code != 0 {
		t.Errorf("battle after 9 min = %d; want it kept", code)
	}
	tc.tick(2 * time.Minute)
	tc.battle2("b", "c")
	if _, code := tc.rest(protocol.APIGetBattleInfo, map[string]any{"BattleId": cb.BattleID}); code != 100411 {
		t.Errorf("battle after 11 min = %d; want 100411", code)
	}
}

// battle2 runs a one-second REST battle of a against b to its end.
func (tc *testCore) battle2(a, b string) {
	tc.t.Helper()
	if _, code := tc.rest(protocol.APICreateBattle, map[string]any{"FromRoomId": "r-" + a, "ToRoomIdList": []string{"r-" + b}, "Duration": 1000}); code != 0 {
		tc.t.Fatalf("create_battle %s-%s = %d", a, b, code)
	}
	tc.tick(time.Second)
}
