package specs

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after a hunt of the REST API's semantics (2026-12-07, 17:40): bugs planted by
// a reviewer in the reference server's create_battle, get_battle_info and set_battle_score,
// each of which passed the whole suite. reference/mutant keeps each as a mutant.

var _ = Describe("REST API semantics", Label("rest"), func() {
	/*
		Testname: battle-info-through-a-life
		Description: get_battle_info names the battle of BattleId, or the pending or running
		battle of RoomId (REST-020): a pending battle's rooms find it (Status 1); a room that
		exited a running battle finds none (100411) while the others still find it; an ended
		battle keeps its ScoreVersion and stays queryable by BattleId when its rooms battle
		again, and BattleId wins over a RoomId that names another battle.
	*/
	It("[REST-020 BATTLE-022] get_battle_info by RoomId finds a pending battle and not one the room exited; an ended battle keeps its version and stays queryable by BattleId, which wins over RoomId", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		r := s.rest()
		byRoom := func(room string) (client.GetBattleInfoResponse, error) {
			GinkgoHelper()
			return r.GetBattleInfo(s.ctx, "", s.room(room))
		}

		x := requestPending(s, a, b, c)
		for _, room := range []string{"a", "b", "c"} {
			info, err := byRoom(room)
			Expect(err).NotTo(HaveOccurred(), "room %s of the pending battle", room)
			Expect(info.BattleID).To(Equal(x))
			Expect(info.Status).To(Equal(client.BattleStatusPending))
		}
		Expect(b.AcceptBattle(s.ctx, x)).To(Succeed())
		Expect(c.AcceptBattle(s.ctx, x)).To(Succeed())
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		for _, it := range []client.ScoreItem{{RoomID: s.room("b"), Score: 3}, {RoomID: s.room("c"), Score: 4}} {
			_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: x, OpType: client.OpAdd, ScoreList: []client.ScoreItem{it}})
			Expect(err).NotTo(HaveOccurred())
		}

		Expect(b.ExitBattle(s.ctx, x)).To(Succeed())
		_, err := byRoom("b")
		expectCode(err, client.CodeBattleNotExist)
		info, err := byRoom("c")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.BattleID).To(Equal(x))
		Expect(info.Status).To(Equal(client.BattleStatusRunning))

		Expect(c.ExitBattle(s.ctx, x)).To(Succeed()) // a is left alone: the battle ends
		next[client.BattleEnded](s, a, client.EvBattleEnded)
		settle(s, a, b, c)
		y := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		for _, room := range []string{"", s.room("a")} { // BattleId alone, and with a RoomId in battle y
			info, err := r.GetBattleInfo(s.ctx, x, room)
			Expect(err).NotTo(HaveOccurred(), "battle %s once its rooms battle again (%s)", x, y)
			Expect(info.BattleID).To(Equal(x))
			Expect(info.Status).To(Equal(client.BattleStatusEnded))
			Expect(info.ScoreVersion).To(Equal(uint64(2)), "the version it ended with")
			Expect(info.ToRoomList).To(Equal([]client.RoomScore{
				{RoomID: s.room("b"), Score: 3, OwnerAccount: b.UserID()},
				{RoomID: s.room("c"), Score: 4, OwnerAccount: c.UserID()},
			}))
		}
	})

	/*
		Testname: given-up-end-time
		Description: for a battle that never started get_battle_info gives StartTime 0 and
		EndTime the time it was given up (REST-020), in Unix seconds: the rejection's time,
		five minutes either side of the suite's clock.
	*/
	It("[REST-020 BATTLE-012] get_battle_info of a battle given up before it started gives StartTime 0, EndTime the time it was given up and its invitee with score 0", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := requestPending(s, a, b)
		lo := time.Now().Add(-5 * time.Minute)
		Expect(b.RejectBattle(s.ctx, id)).To(Succeed())
		hi := time.Now().Add(5 * time.Minute)
		next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject)
		info, err := s.rest().GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Status).To(Equal(client.BattleStatusEnded))
		Expect(info.StartTime).To(BeZero())
		Expect(info.EndTime).To(around(lo.Unix(), hi.Unix()), "when it was given up, in seconds")
		Expect(info.ToRoomList).To(Equal([]client.RoomScore{{RoomID: s.room("b"), Score: 0, OwnerAccount: b.UserID()}}))
	})

	/*
		Testname: score-semantics
		Description: set_battle_score changes the participants' scores (REST-031): an invitee
		that rejected is none (ResultCode 1, no version, no event). An add of 0 to a participant
		is a change like any other (BATTLE-042: a new version and an event). A replayed
		IdempotencyKey gets its first response (REST-034), the ScoreVersion it made, even after
		later changes.
	*/
	It("[REST-031 BATTLE-042 REST-034] set_battle_score ignores a room that rejected, makes a version of an add of 0, and replays a key's first ScoreVersion after later changes", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := requestPending(s, a, b, c)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		next[client.BattleStarted](s, b, client.EvBattleStarted)
		r := s.rest()
		set := func(key string, it client.ScoreItem) client.SetBattleScoreResponse {
			GinkgoHelper()
			resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: key, ScoreList: []client.ScoreItem{it}})
			Expect(err).NotTo(HaveOccurred())
			return resp
		}

		resp := set("", client.ScoreItem{RoomID: s.room("c"), Score: 5})
		Expect(resp.Result).To(Equal([]client.ScoreResult{{RoomID: s.room("c"), ResultCode: 1}}), "c rejected: not a participant")
		Expect(resp.ScoreVersion).To(BeZero())
		none(s, a, client.EvBattleScoreChanged)

		resp = set("", client.ScoreItem{RoomID: s.room("b"), Score: 0})
		Expect(resp.Result).To(Equal([]client.ScoreResult{{RoomID: s.room("b"), ResultCode: 0}}))
		Expect(resp.ScoreVersion).To(Equal(uint64(1)), "an add of 0 is a change")
		for _, m := range []*client.Client{a, b} {
			Expect(next[client.BattleScoreChanged](s, m, client.EvBattleScoreChanged).Version).To(Equal(uint64(1)), m.UserID())
		}

		key := s.id("k")
		Expect(set(key, client.ScoreItem{RoomID: s.room("b"), Score: 2}).ScoreVersion).To(Equal(uint64(2)))
		Expect(set("", client.ScoreItem{RoomID: s.room("b"), Score: 1}).ScoreVersion).To(Equal(uint64(3)))
		settle(s, a, b)
		replay := set(key, client.ScoreItem{RoomID: s.room("b"), Score: 2})
		Expect(replay.ScoreVersion).To(Equal(uint64(2)), "the first response of the key, not the current version")
		none(s, a, client.EvBattleScoreChanged)
	})

	/*
		Testname: rest-created-battle
		Description: a battle created over REST is a battle like any other: create_battle's
		create webhook lists in ToRoomIdList the rooms invited (HOOK-002), not those refused
		(code 1 or 3); ExtensionInfo reaches the events and the webhook unchanged, byte for byte
		(REST-010); onBattleRequestReceived goes to the invitee host alone (BATTLE-007), the
		audience gets onBattleStarted only; and requestBattle sees the battle: its inviter gets
		100415 and its rooms code 3 (BATTLE-003, BATTLE-005, BATTLE-021), so a request naming
		only them gets 100412.
	*/
	It("[HOOK-002 REST-010 BATTLE-007 BATTLE-021] a battle created over REST lists only the invited rooms in its create webhook, keeps ExtensionInfo's bytes, tells the invitee's host alone of the request, and requestBattle sees it", Label("battle", "webhook"), func(ctx SpecContext) {
		s := newScene(ctx)
		rc := receiver()
		hs := s.hosts("a", "b", "d", "e", "f")
		battleWelcome(s)
		a, b, d, e, f := hs[0], hs[1], hs[2], hs[3], hs[4]
		bb := s.audience("bb", s.room("b"))
		r := s.rest()
		_, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("d"), ToRoomIDList: []string{s.room("e")}, Duration: 60000})
		Expect(err).NotTo(HaveOccurred())
		next[client.BattleStarted](s, d, client.EvBattleStarted)
		settle(s, a, b, bb)

		const ext = "  pk\n✓ "
		created, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{
			FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b"), s.room("nowhere"), s.room("d")}, Duration: 60000, ExtensionInfo: ext,
		})
		Expect(err).NotTo(HaveOccurred())
		codes := map[string]int{}
		for _, rr := range created.Result {
			codes[rr.RoomID] = rr.ResultCode
		}
		Expect(codes).To(Equal(map[string]int{s.room("b"): 0, s.room("nowhere"): client.BattleRoomNotExist, s.room("d"): client.BattleBattlingOtherRoom}))
		Expect(next[client.BattleRequestEvent](s, b, client.EvBattleRequestReceived).BattleInfo.Config.ExtensionInfo).To(Equal(ext))
		Expect(next[client.BattleStarted](s, b, client.EvBattleStarted).BattleInfo.Config.ExtensionInfo).To(Equal(ext))
		next[client.BattleStarted](s, bb, client.EvBattleStarted)
		none(s, bb, client.EvBattleRequestReceived)
		none(s, a, client.EvBattleRequestReceived)
		hooks := hooksOf(s, rc, created.BattleID, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle)
		Expect(hooks[0].ToRoomIDList).To(Equal([]string{s.room("b")}), "the room invited, not those refused")
		Expect(hooks[0].ExtensionInfo).To(Equal(ext))

		_, err = a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(f)})
		expectCode(err, client.CodeLiveInOtherBattle)
		_, err = f.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a, e)})
		expectCode(err, client.CodeNoValidBattleLive)
	})

	/*
		Testname: rest-bodies-raw
		Description: bodies the suite's typed client cannot send, and the order of checks
		(REST-005: a bad field gets 100002 naming it, before any state is looked at): a string
		OpType other than "1" or "2" is refused (REST-030), naming OpType, and changes
		nothing; "1" as a string adds; an IdempotencyKey of "" counts as absent (REST-034), so
		two such requests both apply; a bad item for an ended battle gets 100002, not 100421;
		create_battle with an unknown FromRoomId and a bad Duration gets 100002, not 100004.
	*/
	It("[REST-005 REST-030 REST-034 INPUT-004] raw bodies: a string OpType other than \"1\" or \"2\" is refused, an empty IdempotencyKey is no key, and a bad field wins over an ended battle or an unknown room", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, id, r := restBattle(s)
		do := func(api, body string) client.Envelope {
			GinkgoHelper()
			status, env, err := r.Do(s.ctx, http.MethodPost, api, r.Query(), []byte(body))
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(Equal(http.StatusOK))
			return env
		}
		version := func(env client.Envelope) uint64 {
			GinkgoHelper()
			Expect(env.ErrorCode).To(BeZero(), env.ErrorInfo)
			var resp client.SetBattleScoreResponse
			Expect(json.Unmarshal(env.Response, &resp)).To(Succeed())
			return resp.ScoreVersion
		}
		item := `"ScoreList":[{"RoomId":"` + s.room("b") + `","Score":5}]`

		for _, op := range []string{`"3"`, `"0"`, `"add"`} {
			env := do(client.APISetBattleScore, `{"BattleId":"`+id+`","OpType":`+op+`,`+item+`}`)
			Expect(env.ErrorCode).To(Equal(client.CodeInvalidParameter), "OpType %s: %s", op, env.ErrorInfo)
			Expect(env.ErrorInfo).To(ContainSubstring("OpType"))
		}
		none(s, a, client.EvBattleScoreChanged)
		Expect(version(do(client.APISetBattleScore, `{"BattleId":"`+id+`","OpType":"1",`+item+`}`))).To(Equal(uint64(1)), `OpType "1" adds`)
		for want := uint64(2); want <= 3; want++ {
			Expect(version(do(client.APISetBattleScore, `{"BattleId":"`+id+`","OpType":1,"IdempotencyKey":"",`+item+`}`))).To(Equal(want), "an empty key is no key: applied again")
		}
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.ToRoomList[0].Score).To(Equal(int64(15)))

		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		next[client.BattleEnded](s, a, client.EvBattleEnded)
		env := do(client.APISetBattleScore, `{"BattleId":"`+id+`","OpType":1,"ScoreList":[{"RoomId":"`+s.room("a")+`","Score":-1}]}`)
		Expect(env.ErrorCode).To(Equal(client.CodeInvalidParameter), "a bad Score for an ended battle: %s", env.ErrorInfo)
		Expect(env.ErrorInfo).To(ContainSubstring("Score"))
		env = do(client.APICreateBattle, `{"FromRoomId":"`+s.room("nowhere")+`","ToRoomIdList":["`+s.room("b")+`"],"Duration":999}`)
		Expect(env.ErrorCode).To(Equal(client.CodeInvalidParameter), "a bad Duration from an unknown room: %s", env.ErrorInfo)
		Expect(env.ErrorInfo).To(ContainSubstring("Duration"))
	})
})
