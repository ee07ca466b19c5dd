package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after the hunt of battles and seats (2026-12-08), as battle_requests.go: these
// are the running battle's, its start, scores, who hears of it and its end.

// boardRank is the rank of userID on a scoreboard.
func boardRank(board []client.BattleUser, userID string) int {
	GinkgoHelper()
	for _, u := range board {
		if u.UserID == userID {
			return u.Rank
		}
	}
	Fail("the scoreboard does not list " + userID)
	return 0
}

var _ = Describe("Running battles", Label("battle"), func() {
	It("[BATTLE-025] a joining user's battle.inviter and invitees are the scoreboard split as in onBattleStarted, with the current scores and ranks", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 10}, {RoomID: s.room("b"), Score: 520}}})
		Expect(err).NotTo(HaveOccurred())
		j, err := s.user("late").JoinLive(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Battle).NotTo(BeNil())
		Expect(j.Battle.Inviter).To(Equal(j.Battle.BattleUserList[0]), "inviter is the scoreboard's first entry")
		Expect(j.Battle.Invitees).To(Equal(j.Battle.BattleUserList[1:]), "invitees are the rest of the scoreboard")
		Expect(j.Battle.Inviter.Score).To(Equal(int64(10)), "the current score, not the start's 0")
		Expect(j.Battle.Inviter.Rank).To(Equal(2), "the current rank, not the start's 1")
	})

	It("[BATTLE-040 BATTLE-020] a second battle of the same rooms starts every score at 0", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 7}, {RoomID: s.room("b"), Score: 9}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		next[client.BattleEnded](s, a, client.EvBattleEnded)
		settle(s, a, b)
		reply, err := b.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a), Config: client.BattleConfigRequest{Duration: ptr(300)}})
		Expect(err).NotTo(HaveOccurred())
		ev := next[client.BattleStarted](s, a, client.EvBattleStarted)
		expectFreshBoard(append([]client.BattleUser{ev.Inviter}, ev.Invitees...), b, a)
		_, err = s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: reply.BattleInfo.BattleID, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		sc := next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect([]int64{sc.BattleUserList[0].Score, sc.BattleUserList[1].Score}).To(Equal([]int64{0, 1}), "b 0, a 0 + 1: no score carried from the first battle")
	})

	It("[BATTLE-041] a room that exited still counts in the others' ranks", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite,
			ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 10}, {RoomID: s.room("b"), Score: 30}, {RoomID: s.room("c"), Score: 20}}})
		Expect(err).NotTo(HaveOccurred())
		next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		next[client.UserExitBattle](s, a, client.EvUserExitBattle)
		_, err = s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		sc := next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(boardRank(sc.BattleUserList, b.UserID())).To(Equal(1), "b, exited with 30")
		Expect(boardRank(sc.BattleUserList, c.UserID())).To(Equal(2), "c with 20: b's 30 is higher")
		Expect(boardRank(sc.BattleUserList, a.UserID())).To(Equal(3), "a with 11: b's 30 and c's 20 are higher")
	})

	It("[BATTLE-020 BATTLE-030] a battle that needs answers starts, and counts its duration, from the last accept, not from the request", Label("timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 6*time.Second)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		d := probeSeconds(w)
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{Duration: ptr(d), NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(2 * time.Second)
		accepted := time.Now()
		Expect(b.AcceptBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed())
		st := next[client.BattleStarted](s, a, client.EvBattleStarted)
		Expect(st.BattleInfo.StartTime).To(BeNumerically(">=", accepted.Unix()), "startTime is when the battle started, not when it was requested")
		_, e := nextWithin[client.BattleEnded](s, a, client.EvBattleEnded, time.Duration(d)*time.Second+lateness(w)+target.EventTimeout)
		Expect(e.At.Sub(accepted)).To(BeNumerically(">=", time.Duration(d)*time.Second-timerSlack), "the duration counts from the start")
	})

	It("[BATTLE-042 ROOM-006] a member who left a battling room gets no more of its battle: no score, exit or end", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		v := s.audience("v", s.room("b"))
		id := startBattle(s, 300, a, []*client.Client{b}, v).BattleInfo.BattleID
		Expect(v.LeaveLive(s.ctx)).To(Succeed())
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		next[client.BattleEnded](s, a, client.EvBattleEnded)
		none(s, v, client.EvBattleScoreChanged, client.EvUserExitBattle, client.EvBattleEnded)
	})

	It("[BATTLE-025] a user joining a room that exited a running battle finds battle null", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		j, err := s.user("late").JoinLive(s.ctx, s.room("c"))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Battle).To(BeNil(), "c's room is no longer in the battle")
	})

	It("[BATTLE-027 BATTLE-030] a room that exited gets no onBattleEnded when the battle runs out of time", Label("timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 3*time.Second)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		ca := s.audience("ca", s.room("c"))
		id := startBattle(s, 2, a, []*client.Client{b, c}, ca).BattleInfo.BattleID
		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		nextWithin[client.BattleEnded](s, a, client.EvBattleEnded, 2*time.Second+target.EventTimeout)
		next[client.BattleEnded](s, b, client.EvBattleEnded)
		none(s, c, client.EvBattleEnded)
		none(s, ca, client.EvBattleEnded)
	})

	It("[BATTLE-030] a battle that ended early is not ended again when its duration runs out", Label("timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 4*time.Second)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		aa := s.audience("aa", s.room("a"))
		id := startBattle(s, 2, a, []*client.Client{b}, aa).BattleInfo.BattleID
		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		next[client.BattleEnded](s, a, client.EvBattleEnded)
		next[client.BattleEnded](s, aa, client.EvBattleEnded)
		time.Sleep(3 * time.Second) // past the 2 s duration
		none(s, a, client.EvBattleEnded)
		none(s, aa, client.EvBattleEnded)
	})

	It("[BATTLE-023 ROOM-007] a participant room that ends exits the battle before it leaves its group", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		startBattle(s, 300, a, []*client.Client{b, c})
		Expect(c.EndLive(s.ctx)).To(Succeed())
		_, exit := nextWithin[client.UserExitBattle](s, a, client.EvUserExitBattle, target.EventTimeout)
		_, left := nextWithin[client.ConnectionUserListChanged](s, a, client.EvConnectionUserListChanged, target.EventTimeout)
		Expect(exit.Seq).To(BeNumerically("<", left.Seq), "onUserExitBattle (seq %d) before the group change (seq %d)", exit.Seq, left.Seq)
	})
	It("[REST-030 REST-031 REST-033] a room listed twice in one ScoreList: its adds sum, its last overwrite wins, each item gets a ResultCode, all in one version", Label("score", "rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		ra := s.room("a")
		resp, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: ra, Score: 3}, {RoomID: ra, Score: 4}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Result).To(Equal([]client.ScoreResult{{RoomID: ra, ResultCode: 0}, {RoomID: ra, ResultCode: 0}}))
		Expect(resp.ScoreVersion).To(Equal(uint64(1)), "one request, one version")
		sc := next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(sc.BattleUserList[0].Score).To(Equal(int64(7)), "3 + 4")
		resp, err = s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{{RoomID: ra, Score: 50}, {RoomID: ra, Score: 20}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.ScoreVersion).To(Equal(uint64(2)))
		sc = next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(sc.Version).To(Equal(uint64(2)))
		Expect(sc.BattleUserList[0].Score).To(Equal(int64(20)), "the last overwrite wins")
		none(s, a, client.EvBattleScoreChanged)
	})
})
