package specs

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs added by the mutation audit (make mutation-audit, measurements/mutation-audit.md):
// each kills generated mutants of the reference server that the unit tests and every earlier
// spec let live.

var _ = Describe("Mutation audit", func() {
	/*
		Testname: exit-battle-rank
		Description: onUserExitBattle's battleUser is a BattleUser: its score and its rank as
		BATTLE-041 computes them (1 plus the rooms with a higher score, ties sharing a rank) MUST
		be the exiting room's at the moment it exits. Kills the rank count mutated in
		reference/core (battle.go rankOf).
	*/
	It("[BATTLE-022 BATTLE-041] onUserExitBattle carries the exiting room's score and its rank, a tie sharing the rank", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		ca := s.audience("ca", s.room("c"))
		id := startBattle(s, 300, a, []*client.Client{b, c}, ca).BattleInfo.BattleID
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{
			{RoomID: s.room("a"), Score: 20}, {RoomID: s.room("b"), Score: 30}, {RoomID: s.room("c"), Score: 20},
		}})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b, c, ca)

		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, c, ca} {
			u := next[client.UserExitBattle](s, m, client.EvUserExitBattle).BattleUser
			Expect(u.UserID).To(Equal(c.UserID()), m.UserID())
			Expect(u.Score).To(Equal(int64(20)), "%s: the exiting room's score", m.UserID())
			Expect(u.Rank).To(Equal(2), "%s: one room (b, 30) is higher; a (20) ties and shares the rank", m.UserID())
		}
	})
	/*
		Testname: id-printable-bounds
		Description: a liveID MUST be printable ASCII without spaces, 0x21 to 0x7E (ROOM-002):
		both ends of the range are accepted, the characters just outside it refused with 100002.
		Kills the range check mutated in reference/core (dispatch.go validID).
	*/
	It("[ROOM-002] a liveID with the first and last printable characters ('!' and '~') is accepted; one with a space or DEL gets 100002", Label("room", "input"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h")
		for _, bad := range []string{s.id("edge x"), s.id("edge\x7f")} {
			_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: bad})
			expectCode(err, client.CodeInvalidParameter)
		}
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.id("edge!~")})
		Expect(err).NotTo(HaveOccurred(), "'!' (0x21) and '~' (0x7E) are printable ASCII")
	})
	/*
		Testname: live-name-bound
		Description: a liveName of at most 100 bytes MUST be accepted (ROOM-002), at the bound
		itself too; 101 bytes get 100002. Kills the bound mutated in reference/core (dispatch.go
		createLive's check).
	*/
	It("[ROOM-002] a liveName of exactly 100 ASCII bytes is accepted; 101 bytes get 100002", Label("room", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h")
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.id("name101"), LiveName: strings.Repeat("n", 101)})
		expectCode(err, client.CodeInvalidParameter)
		_, err = c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.id("name100"), LiveName: strings.Repeat("n", 100)})
		Expect(err).NotTo(HaveOccurred(), "100 bytes is the bound, not past it")
	})
	/*
		Testname: list-count-default
		Description: fetchLiveList with count absent or 0 MUST be served as count 20 (ROOM-008,
		§ fetchLiveList), not refused. Kills the count check mutated in reference/core
		(dispatch.go checkFetchLiveList).
	*/
	It("[ROOM-008] fetchLiveList without a count (0 means 20) is served, at most 20 rooms at a time", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("h")
		page, err := s.user("v").FetchLiveList(s.ctx, "", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(page.LiveInfoList)).To(BeNumerically("<=", 20))
	})

	/*
		Testname: battle-id-bounds
		Description: a battleID is 1 to 128 bytes: one of 128 bytes naming no battle MUST get
		100411 (BATTLE-011), not 100002; an empty one and one of 129 bytes get 100002, from
		acceptBattle and from cancelBattleRequest alike. Kills the battleID checks mutated in
		reference/core (dispatch.go checkBattleID, checkCancelBattle).
	*/
	It("[BATTLE-011 BATTLE-010] a battleID of 128 bytes naming no battle gets 100411; an empty one or one of 129 bytes gets 100002, from acceptBattle and cancelBattleRequest", Label("battle", "input"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		long := s.id(strings.Repeat("b", 128-len(s.prefix)-1))
		Expect(long).To(HaveLen(128))
		expectCode(b.AcceptBattle(s.ctx, long), client.CodeBattleNotExist)
		expectCode(a.CancelBattleRequest(s.ctx, long, b.UserID()), client.CodeBattleNotExist)
		for _, bad := range []string{"", long + "x"} {
			expectCode(b.AcceptBattle(s.ctx, bad), client.CodeInvalidParameter)
			expectCode(a.CancelBattleRequest(s.ctx, bad, b.UserID()), client.CodeInvalidParameter)
		}
	})

	/*
		Testname: rest-extension-info-bound
		Description: create_battle's ExtensionInfo is at most 1024 bytes (REST-010, as
		BattleConfig's): one of exactly 1024 bytes MUST be accepted and reach the invitee in
		onBattleStarted unchanged; 1025 bytes get 100002 naming ExtensionInfo and create
		nothing. Kills the bound mutated in reference/core (rest.go checkCreateBattle).
	*/
	It("[REST-010 REST-005] create_battle takes an ExtensionInfo of exactly 1024 bytes and passes it on; 1025 bytes get 100002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("a")
		b := s.host("b")
		battleWelcome(s)
		r := s.rest()
		_, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b")}, Duration: 60000, ExtensionInfo: strings.Repeat("e", 1025)})
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("ExtensionInfo"))
		none(s, b, client.EvBattleStarted)

		at := strings.Repeat("e", 1024)
		_, err = r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b")}, Duration: 60000, ExtensionInfo: at})
		Expect(err).NotTo(HaveOccurred(), "1024 bytes is the bound, not past it")
		ev := next[client.BattleStarted](s, b, client.EvBattleStarted)
		Expect(ev.BattleInfo.Config.ExtensionInfo).To(Equal(at))
	})

	/*
		Testname: rest-battle-id-bound
		Description: get_battle_info's BattleId is a battleID of 1 to 128 bytes (§10, REST-020):
		one of 128 bytes naming no battle MUST get 100411, one of 129 bytes 100002 naming
		BattleId. Kills the bound mutated in reference/core (rest.go restGetBattleInfo).
	*/
	It("[REST-020 REST-005] get_battle_info with a BattleId of 128 bytes naming no battle gets 100411; 129 bytes get 100002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		long := s.id(strings.Repeat("b", 128-len(s.prefix)-1))
		Expect(long).To(HaveLen(128))
		r := s.rest()
		_, err := r.GetBattleInfo(s.ctx, long, "")
		expectCode(err, client.CodeBattleNotExist)
		_, err = r.GetBattleInfo(s.ctx, long+"x", "")
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("BattleId"))
	})

	/*
		Testname: set-battle-score-battle-id-at-limit
		Description: set_battle_score's BattleId is a battleID of 1 to 128 bytes (§10): one of
		128 bytes naming no battle MUST get 100411 (REST-032), one of 129 bytes 100002 naming
		BattleId (REST-005). Kills the bound mutated in reference/core (rest.go
		checkSetBattleScore), found by the audit of the mutants no unit test ran.
	*/
	It("[REST-032 REST-005] set_battle_score with a BattleId of 128 bytes naming no battle gets 100411; 129 bytes get 100002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		long := s.id(strings.Repeat("b", 128-len(s.prefix)-1))
		Expect(long).To(HaveLen(128))
		r := s.rest()
		req := client.SetBattleScoreRequest{BattleID: long, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}}
		_, err := r.SetBattleScore(s.ctx, req)
		expectCode(err, client.CodeBattleNotExist)
		req.BattleID = long + "x"
		_, err = r.SetBattleScore(s.ctx, req)
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("BattleId"))
	})

	/*
		Testname: set-battle-score-room-id-at-limit
		Description: a ScoreList item's RoomId is a liveID of 1 to 48 bytes (§10): one of 48
		bytes naming a room outside the battle MUST be answered with ResultCode 1 (REST-031)
		while the battle's own room is applied, one of 49 bytes MUST fail the call with 100002
		naming the item (REST-005) and change no score. Kills the bound mutated in
		reference/core (rest.go checkSetBattleScore), found by the audit of the mutants no unit
		test ran.
	*/
	It("[REST-031 REST-005] a ScoreList RoomId of 48 bytes naming no room of the battle gets ResultCode 1; 49 bytes get 100002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		long := s.room(strings.Repeat("r", 48-len(s.room(""))))
		Expect(long).To(HaveLen(48))
		r := s.rest()
		req := client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 2}, {RoomID: long + "x", Score: 1}}}
		_, err := r.SetBattleScore(s.ctx, req)
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("ScoreList[1].RoomId"))
		none(s, b, client.EvBattleScoreChanged)

		req.ScoreList[1].RoomID = long
		resp, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred(), "a RoomId of 48 bytes")
		Expect(resp.Result).To(ConsistOf(
			client.ScoreResult{RoomID: s.room("b"), ResultCode: 0},
			client.ScoreResult{RoomID: long, ResultCode: 1}))
		ev := next[client.BattleScoreChanged](s, b, client.EvBattleScoreChanged)
		Expect(ev.BattleUserList[1].Score).To(Equal(int64(2)))
	})

	/*
		Testname: set-battle-score-zero-score
		Description: a ScoreList item's Score is 0 to 2^53 − 1 (REST-030, §10): an overwrite to
		0 MUST be taken and set the room's score to 0, and a Score of −1 MUST fail the call
		with 100002 naming the item (REST-005) and change nothing. Kills the lower bound mutated
		in reference/core (rest.go checkSetBattleScore), found by the audit.
	*/
	It("[REST-030 REST-005] set_battle_score takes a Score of 0 (an overwrite to 0 sets it) and refuses −1 with 100002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		_, b, id, r := restBattle(s)
		set := func(op int, score int64) error {
			_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: op, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: score}}})
			return err
		}
		Expect(set(client.OpOverwrite, 3)).To(Succeed())
		Expect(next[client.BattleScoreChanged](s, b, client.EvBattleScoreChanged).BattleUserList[1].Score).To(Equal(int64(3)))
		Expect(set(client.OpOverwrite, 0)).To(Succeed(), "a Score of 0")
		Expect(next[client.BattleScoreChanged](s, b, client.EvBattleScoreChanged).BattleUserList[1].Score).To(Equal(int64(0)))
		err := set(client.OpAdd, -1)
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("ScoreList[0].Score"))
		none(s, b, client.EvBattleScoreChanged)
	})

	/*
		Testname: case-sensitive-keys-in-lists
		Description: field names are case-sensitive inside the objects of a list too (TRANS-012,
		REST-005): a ScoreList item that spells RoomId as ROOMID has no RoomId, so
		set_battle_score MUST refuse it with 100002 and change no score. Kills the list case of
		the exact-key filter mutated in reference/core (exactkeys.go filterValue).
	*/
	It("[TRANS-012 REST-005] a ScoreList item whose RoomId is spelt ROOMID has no RoomId: 100002, and no score changes", Label("rest", "input"), func(ctx SpecContext) {
		s := newScene(ctx)
		_, b, id, r := restBattle(s)
		body := `{"BattleId":"` + id + `","OpType":1,"ScoreList":[{"ROOMID":"` + s.room("b") + `","Score":7}]}`
		err := r.Call(s.ctx, client.APISetBattleScore, jsonRaw(body), nil)
		expectCode(err, client.CodeInvalidParameter)
		Expect(err.Error()).To(ContainSubstring("RoomId"))
		none(s, b, client.EvBattleScoreChanged)
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		for _, room := range info.ToRoomList {
			Expect(room.Score).To(BeZero(), room.RoomID)
		}
	})

	/*
		Testname: seat-zero-freed-on-leave
		Description: a member on seat 0 (the host swapped it there, SEAT-005) that leaves the
		room MUST have seat 0 freed like any other (SEAT-009): every member left gets an
		onSeatListChanged with seat 0 empty. Kills the seat bound mutated in reference/core
		(room.go leaveRoom: seat > 0), found by the audit.
	*/
	It("[SEAT-009 SEAT-005] a member the host swapped onto seat 0 frees seat 0 when it leaves", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 0, client.MoveSwapPosition)).To(Succeed())
		Expect(r.changed()[0].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(r.a.LeaveLive(r.s.ctx)).To(Succeed())
		for _, c := range []*client.Client{r.h, r.b} {
			ev := next[client.SeatListChanged](r.s, c, client.EvSeatListChanged)
			Expect(ev.SeatList[0].UserInfo.UserID).To(BeEmpty(), "seat 0 after its user left")
		}
	})

	/*
		Testname: seated-leaver-sits-again
		Description: a member that left a room while seated is on no seat any more (SEAT-009,
		ROOM-006): when it joins again it MUST be able to take a seat, not get 100204
		(already on a seat). A pending state carried across requests; kills the seat reset
		mutated in reference/core (room.go leaveRoom), found by the audit.
	*/
	It("[SEAT-009 ROOM-006] a member that left while seated joins again and takes a seat", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.a.LeaveLive(r.s.ctx)).To(Succeed())
		for _, c := range []*client.Client{r.h, r.b} {
			next[client.SeatListChanged](r.s, c, client.EvSeatListChanged)
		}
		_, err := r.a.JoinLive(r.s.ctx, r.liveID)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.a.TakeSeat(r.s.ctx, 2)).To(Succeed(), "a seat after leaving seated and joining again")
		Expect(r.changed()[2].UserInfo.UserID).To(Equal(r.a.UserID()))
	})

	/*
		Testname: seat-zero-is-a-seat
		Description: seat 0 is a seat like any other for the member on it (the host swapped it
		there, SEAT-005): its microphone opens (SEAT-006), another seat is refused with 100204
		(already on a seat), and leaveSeat frees seat 0 (SEAT-009). Kills the three seat bounds
		mutated in reference/core (seat.go takeSeat, leaveSeat, setMic: seat > 0 for seat >= 0),
		found by the audit.
	*/
	It("[SEAT-005 SEAT-006 SEAT-009] a member on seat 0 opens its microphone, cannot take a second seat, and leaves seat 0", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 0, client.MoveSwapPosition)).To(Succeed())
		Expect(r.changed()[0].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(r.a.UnmuteMicrophone(r.s.ctx)).To(Succeed(), "the microphone of seat 0")
		Expect(r.changed()[0].UserInfo.MicrophoneStatus).To(Equal(1))
		expectCode(r.a.TakeSeat(r.s.ctx, 3), client.CodeAlreadyOnSeat)
		r.unchanged()
		Expect(r.a.LeaveSeat(r.s.ctx)).To(Succeed(), "leaving seat 0")
		Expect(r.changed()[0].UserInfo.UserID).To(BeEmpty())
	})

	/*
		Testname: rest-body-at-limit
		Description: REST-003 refuses a body over 64 KiB with 60002: a body of exactly 65,536
		bytes (a JSON object padded with spaces) MUST be taken and answered by its API
		(get_battle_info naming no battle: 100411), one byte more MUST get 60002. Kills the
		bound mutated in reference/server (rest.go), found by the server's mutation audit.
	*/
	It("[REST-003 REST-020] a REST body of exactly 64 KiB is taken; one byte more gets 60002", Label("rest", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		r := s.rest()
		head := `{"BattleId":"` + s.id("none") + `"`
		for _, tc := range []struct{ size, code int }{{64 << 10, client.CodeBattleNotExist}, {64<<10 + 1, client.CodeHTTPParse}} {
			body := []byte(head + strings.Repeat(" ", tc.size-len(head)-1) + "}")
			Expect(body).To(HaveLen(tc.size))
			status, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, r.Query(), body)
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(Equal(http.StatusOK))
			Expect(env.ErrorCode).To(Equal(tc.code), "a body of %d bytes: %s", tc.size, env.ErrorInfo)
		}
	})

	/*
		Testname: userid-printable-bounds
		Description: a userid is 1 to 32 bytes of printable ASCII without spaces, 0x21 to 0x7E
		(AUTH-001): one holding both ends, '!' and '~', MUST be accepted and kept as it is.
		Kills the bounds mutated in reference/server (server.go printable), found by the
		server's mutation audit; the refusals beyond them are the hostile corpus's.
	*/
	It("[AUTH-001] a userid holding '!' and '~', the first and last printable characters, is accepted and kept", Label("auth", "input"), func(ctx SpecContext) {
		s := newScene(ctx)
		id := s.id("!u~")
		Expect(len(id)).To(BeNumerically("<=", 32))
		c := s.user("u", func(cfg *client.Config) { cfg.UserID = id })
		Expect(c.Welcome().UserID).To(Equal(id))
	})
})
