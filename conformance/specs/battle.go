package specs

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// expectFreshBoard checks a board at the start: the given hosts in order, scores 0, ranks 1.
func expectFreshBoard(board []client.BattleUser, hosts ...*client.Client) {
	GinkgoHelper()
	Expect(client.UserIDs(board)).To(Equal(userIDs(hosts...)))
	for _, u := range board {
		Expect(u.Score).To(BeZero())
		Expect(u.Rank).To(Equal(1))
		Expect(u.LiveID).NotTo(BeEmpty())
		Expect(u.UserName).To(Equal("name-" + u.UserID))
	}
}

var _ = Describe("Battles", Label("battle"), func() {
	It("[BATTLE-006 BATTLE-007 BATTLE-008 BATTLE-020 BATTLE-024 WELCOME-004] without needResponse a battle starts at once, with the default duration, for every host and audience member of its rooms", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		w := battleWelcome(s)
		Expect(w.Timing.DefaultBattleDurationS).To(BeNumerically(">", 0))
		Expect(w.Limits.MaxBattleDurationS).To(BeNumerically(">=", w.Timing.DefaultBattleDurationS))
		connect(s, a, b)
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		before := time.Now().Add(-5 * time.Minute).Unix()
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: []string{b.UserID()}, Config: client.BattleConfigRequest{ExtensionInfo: `{"round":1}`}})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{b.UserID(): client.BattleSuccess}))
		Expect(reply.BattleInfo.BattleID).NotTo(BeEmpty())
		Expect(reply.BattleInfo.Config).To(Equal(client.BattleConfig{Duration: w.Timing.DefaultBattleDurationS, NeedResponse: false, ExtensionInfo: `{"round":1}`}),
			"an unset duration is the advertised default (300 s unless configured); needResponse defaults to false")

		req := next[client.BattleRequestEvent](s, b, client.EvBattleRequestReceived)
		Expect(req.BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
		Expect(req.BattleInfo.Config.NeedResponse).To(BeFalse())
		Expect(req.Inviter.UserID).To(Equal(a.UserID()))
		Expect(req.Invitee.UserID).To(Equal(b.UserID()))
		for _, m := range []*client.Client{a, b, aa, ba} {
			ev := next[client.BattleStarted](s, m, client.EvBattleStarted)
			Expect(ev.BattleInfo).To(Equal(reply.BattleInfo), "%s: the reply describes the battle as started (BATTLE-006, BATTLE-008)", m.UserID())
			Expect(ev.BattleInfo.StartTime).To(BeNumerically(">=", before))
			Expect(ev.BattleInfo.EndTime).To(Equal(ev.BattleInfo.StartTime+int64(w.Timing.DefaultBattleDurationS)), "endTime = startTime + duration while it runs")
			expectFreshBoard(append([]client.BattleUser{ev.Inviter}, ev.Invitees...), a, b)
		}
		for _, m := range []*client.Client{a, b, aa, ba} {
			none(s, m, client.EvUserJoinBattle, client.EvBattleRequestReceived)
		}
		none(s, a, client.EvBattleRequestReceived)
	})

	It("[BATTLE-009 BATTLE-012 BATTLE-020] with needResponse the battle starts once every invitee has answered, with the rooms that accepted", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c, d), Config: client.BattleConfigRequest{Duration: ptr(60), NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		Expect(reply.BattleInfo.StartTime).To(BeZero(), "a pending battle has startTime 0")
		Expect(reply.BattleInfo.EndTime).To(BeZero())
		for _, m := range []*client.Client{b, c, d} {
			ev := next[client.BattleRequestEvent](s, m, client.EvBattleRequestReceived)
			Expect(ev.BattleInfo.Config.NeedResponse).To(BeTrue())
		}
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestAccept).Invitee.UserID).To(Equal(b.UserID()))
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject).Invitee.UserID).To(Equal(c.UserID()))
		none(s, b, client.EvBattleStarted) // d has not answered yet
		Expect(d.AcceptBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, d} {
			ev := next[client.BattleStarted](s, m, client.EvBattleStarted)
			expectFreshBoard(append([]client.BattleUser{ev.Inviter}, ev.Invitees...), a, b, d)
		}
		none(s, c, client.EvBattleStarted)
		none(s, b, client.EvBattleRequestAccept, client.EvBattleRequestReject)
	})

	It("[BATTLE-012 BATTLE-013] a battle nobody accepts never starts and frees its rooms", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.RejectBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed())
		Expect(c.RejectBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed())
		for _, m := range []*client.Client{a, b, c} {
			none(s, m, client.EvBattleStarted, client.EvBattleEnded)
		}
		expectCode(b.AcceptBattle(s.ctx, reply.BattleInfo.BattleID), client.CodeBattleAlreadyEnded)
		startBattle(s, 30, b, []*client.Client{a, c})
	})

	It("[BATTLE-009 BATTLE-013] a battle request not answered within its timeout times out at both hosts", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		sent := time.Now()
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(1)})
		Expect(err).NotTo(HaveOccurred())
		for _, m := range []*client.Client{a, b} {
			ev, e := nextWithin[client.BattleRequestEvent](s, m, client.EvBattleRequestTimeout, time.Second+target.EventTimeout)
			Expect(e.At.Sub(sent)).To(BeNumerically(">=", time.Second-timerSlack))
			Expect(ev.BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
			Expect(ev.Invitee.UserID).To(Equal(b.UserID()))
		}
		expectCode(b.AcceptBattle(s.ctx, reply.BattleInfo.BattleID), client.CodeBattleAlreadyEnded)
		for _, m := range []*client.Client{a, b} {
			none(s, m, client.EvBattleRequestTimeout, client.EvBattleStarted)
		}
	})

	It("[BATTLE-010 BATTLE-011 BATTLE-022] the inviter cancels pending requests; accepted rooms, strangers and other hosts are refused with 100419, 100414, 100006; exiting a pending battle is 100420", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		settle(s, a, b, c)
		expectCode(a.CancelBattleRequest(s.ctx, id, c.UserID(), b.UserID()), client.CodeLiveInBattle)
		expectCode(a.CancelBattleRequest(s.ctx, id, d.UserID()), client.CodeLiveNotInBattle)
		expectCode(b.CancelBattleRequest(s.ctx, id, c.UserID()), client.CodePermissionDenied)
		expectCode(a.CancelBattleRequest(s.ctx, "no-such-battle", c.UserID()), client.CodeBattleNotExist)
		expectCode(b.ExitBattle(s.ctx, id), client.CodeBattleNotStarted) // BATTLE-022: not started yet
		none(s, c, client.EvBattleRequestCancelled)                      // nothing was cancelled by the refusals
		Expect(a.CancelBattleRequest(s.ctx, id, c.UserID())).To(Succeed())
		ev := next[client.BattleRequestEvent](s, c, client.EvBattleRequestCancelled)
		Expect(ev.Invitee.UserID).To(Equal(c.UserID()))
		expectCode(c.AcceptBattle(s.ctx, id), client.CodeLiveNotInBattle)
		// c was the last to answer: the battle starts with b.
		for _, m := range []*client.Client{a, b} {
			next[client.BattleStarted](s, m, client.EvBattleStarted)
		}
		expectCode(d.AcceptBattle(s.ctx, "no-such-battle"), client.CodeBattleNotExist)
		expectCode(d.AcceptBattle(s.ctx, id), client.CodeLiveNotInBattle)
	})

	DescribeTable("[BATTLE-001 BATTLE-002 INPUT-003] requestBattle refuses bad callers and bad parameters and creates nothing",
		func(ctx SpecContext, who string, req func(s *scene, b *client.Client) any, code int) {
			s := newScene(ctx)
			hs := s.hosts("a", "b")
			battleWelcome(s)
			s.audience("fan", s.room("a"))
			s.host("lone")
			s.user("nobody")
			expectCode(s.named(who).Call(s.ctx, client.ReqRequestBattle, req(s, hs[1]), nil), code)
			none(s, hs[1], client.EvBattleRequestReceived)
		},
		Entry("an audience member: 100006", "fan", func(s *scene, b *client.Client) any { return client.RequestBattleRequest{UserIDs: userIDs(b)} }, client.CodePermissionDenied),
		Entry("a user in no room: 100005", "nobody", func(s *scene, b *client.Client) any { return client.RequestBattleRequest{UserIDs: userIDs(b)} }, client.CodeNotLiveMember),
		Entry("a host in no connection group: 100400", "lone", func(s *scene, b *client.Client) any { return client.RequestBattleRequest{UserIDs: userIDs(b)} }, client.CodeConnectionNotExist),
		Entry("no response needed but a timeout: 100002", "a", func(s *scene, b *client.Client) any {
			return client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(false)}, Timeout: ptr(5)}
		}, client.CodeInvalidParameter),
		Entry("a duration above maxBattleDurationS: 100002", "a", func(s *scene, b *client.Client) any {
			return client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{Duration: ptr(s.welcome().Limits.MaxBattleDurationS + 1)}}
		}, client.CodeInvalidParameter),
		Entry("a negative duration: 100002", "a", func(s *scene, b *client.Client) any {
			return client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{Duration: ptr(-5)}}
		}, client.CodeInvalidParameter),
		Entry("no userIDs: 100002", "a", func(s *scene, b *client.Client) any { return map[string]any{"userIDs": []string{}} }, client.CodeInvalidParameter),
		Entry("a user listed twice: 100002", "a", func(s *scene, b *client.Client) any {
			return map[string]any{"userIDs": []string{b.UserID(), b.UserID()}}
		}, client.CodeInvalidParameter),
		Entry("a timeout above 3600: 100002", "a", func(s *scene, b *client.Client) any {
			return client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(3601)}
		}, client.CodeInvalidParameter),
		Entry("extensionInfo of 1025 bytes: 100002", "a", func(s *scene, b *client.Client) any {
			return client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{ExtensionInfo: string(make([]byte, 1025))}}
		}, client.CodeInvalidParameter),
		Entry("needResponse as a string: 100002", "a", func(s *scene, b *client.Client) any {
			return map[string]any{"userIDs": userIDs(b), "config": map[string]any{"needResponse": "yes"}}
		}, client.CodeInvalidParameter),
	)

	It("[BATTLE-003 BATTLE-005 BATTLE-006 BATTLE-021] requestBattle returns 1, 2 or 3 for users who cannot battle, fails with 100412 when nobody can, and a busy caller gets 100415 or 100416", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d", "e", "f")
		battleWelcome(s)
		a, b, c, d, e, f := hs[0], hs[1], hs[2], hs[3], hs[4], hs[5]
		lone := s.host("lone")
		startBattle(s, 60, d, []*client.Client{e})
		_, err := c.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		settle(s, b)

		_, err = a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: []string{lone.UserID(), a.UserID(), b.UserID(), d.UserID(), s.id("ghost")}})
		expectCode(err, client.CodeNoValidBattleLive)
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: []string{lone.UserID(), a.UserID(), b.UserID(), d.UserID(), s.id("ghost"), f.UserID()}})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{
			lone.UserID(): client.BattleRoomNotExist,      // a host outside the caller's group
			a.UserID():    client.BattleBattling,          // the caller
			b.UserID():    client.BattleBattlingOtherRoom, // a pending invitee of another battle
			d.UserID():    client.BattleBattlingOtherRoom, // in a running battle
			s.id("ghost"): client.BattleRoomNotExist,      // no such user
			f.UserID():    client.BattleSuccess,
		}))
		none(s, b, client.EvBattleRequestReceived)
		_, err = b.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a)})
		expectCode(err, client.CodePendingBattleRequest)
		_, err = c.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a)})
		expectCode(err, client.CodePendingBattleRequest)
		_, err = e.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a)})
		expectCode(err, client.CodeLiveInOtherBattle)
	})

	It("[BATTLE-004] a room creating more than maxBattleRequestsPerMinute battles within a minute gets 100413", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		limit := battleRateLimit(w)
		for i := 0; i < limit; i++ {
			r, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
			Expect(err).NotTo(HaveOccurred(), "battle %d of %d", i+1, limit)
			Expect(a.CancelBattleRequest(s.ctx, r.BattleInfo.BattleID, b.UserID())).To(Succeed())
		}
		_, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b)})
		expectCode(err, client.CodeBattleTooFrequent)
		// The limit is the creator's: b may still start one.
		startBattle(s, 30, b, []*client.Client{a})
	})

	It("[BATTLE-022 BATTLE-030 BATTLE-044] a host exiting mid-battle is announced to everyone; when one room is left the battle ends with reason 1 and the last scores", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		aa, ca := s.audience("aa", s.room("a")), s.audience("ca", s.room("c"))
		reply := startBattle(s, 300, a, []*client.Client{b, c}, aa, ca)
		id := reply.BattleInfo.BattleID
		r := s.rest()
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 10}, {RoomID: s.room("b"), Score: 30}, {RoomID: s.room("c"), Score: 20}}})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b, c, aa, ca)

		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, c, aa, ca} {
			ev := next[client.UserExitBattle](s, m, client.EvUserExitBattle)
			Expect(ev.BattleID).To(Equal(id))
			Expect(ev.BattleUser.UserID).To(Equal(c.UserID()), m.UserID())
		}
		none(s, a, client.EvBattleEnded)
		expectCode(c.ExitBattle(s.ctx, id), client.CodeLiveNotInBattle)

		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, aa} {
			Expect(next[client.UserExitBattle](s, m, client.EvUserExitBattle).BattleUser.UserID).To(Equal(b.UserID()))
		}
		for _, m := range []*client.Client{a, aa} {
			ev := next[client.BattleEnded](s, m, client.EvBattleEnded)
			Expect(ev.Reason).To(Equal(client.BattleEndOtherExit))
			Expect(ev.Version).To(Equal(uint64(1)))
			Expect(client.UserIDs(ev.BattleUserList)).To(Equal(userIDs(a, b, c)), "the board keeps the rooms that exited")
			Expect([]int64{ev.BattleUserList[0].Score, ev.BattleUserList[1].Score, ev.BattleUserList[2].Score}).To(Equal([]int64{10, 30, 20}))
			Expect(ev.BattleInfo.EndTime).To(BeNumerically(">=", ev.BattleInfo.StartTime))
		}
		for _, m := range []*client.Client{b, c, ca} {
			none(s, m, client.EvBattleEnded) // rooms that exited are out of the battle
		}
		expectCode(a.ExitBattle(s.ctx, id), client.CodeBattleAlreadyEnded)
	})

	It("[BATTLE-023 BATTLE-022 BATTLE-030 LIVE-021] a host whose connection drops mid-battle exits it: the other side gets onUserExitBattle, then onBattleEnded with reason 1", Label("liveness"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, aa, timeout := twoHostBattle(s)
		b.Kill()
		expectExitThenEnd(s, b, timeout+lossGrace(s.welcome())+target.EventTimeout, a, aa)
		Expect(a.Sync(s.ctx)).To(Succeed())
		exits, ends := a.EventsOf(client.EvUserExitBattle), a.EventsOf(client.EvBattleEnded)
		Expect(exits[len(exits)-1].Seq).To(BeNumerically("<", ends[len(ends)-1].Seq), "the exit comes before the end")
	})

	It("[BATTLE-023] a host disconnecting from its group mid-battle exits the battle first", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		startBattle(s, 300, a, []*client.Client{b, c})
		Expect(c.Disconnect(s.ctx)).To(Succeed())
		_, exit := nextWithin[client.UserExitBattle](s, a, client.EvUserExitBattle, target.EventTimeout)
		_, left := nextWithin[client.ConnectionUserListChanged](s, a, client.EvConnectionUserListChanged, target.EventTimeout)
		Expect(exit.Seq).To(BeNumerically("<", left.Seq), "onUserExitBattle before the group change")
		none(s, a, client.EvBattleEnded) // a and b still battle
	})

	It("[BATTLE-030 BATTLE-026] a battle ends when its duration is over, with reason 0, and the connection remains", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		ba := s.audience("ba", s.room("b"))
		started := time.Now()
		startBattle(s, 1, a, []*client.Client{b}, ba)
		for _, m := range []*client.Client{a, b, ba} {
			ev, e := nextWithin[client.BattleEnded](s, m, client.EvBattleEnded, time.Second+target.EventTimeout)
			Expect(ev.Reason).To(Equal(client.BattleEndTimeOver))
			Expect(ev.BattleInfo.EndTime - ev.BattleInfo.StartTime).To(BeNumerically("~", 1, 1))
			Expect(e.At.Sub(started)).To(BeNumerically(">=", time.Second-timerSlack))
			Expect(ev.Version).To(BeZero(), "no score change: version 0")
			for _, u := range ev.BattleUserList {
				Expect(u.Score).To(BeZero())
			}
		}
		for _, m := range []*client.Client{a, b, ba} {
			none(s, m, client.EvConnectionUserListChanged)
		}
		v := s.user("v")
		r, err := v.JoinLive(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(r.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
		Expect(r.Battle).To(BeNil())
		startBattle(s, 30, b, []*client.Client{a}) // the rooms may battle again
	})

	It("[BATTLE-025] a user joining a room mid-battle finds the battle with its original startTime and the current scores", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		reply := startBattle(s, 300, a, []*client.Client{b})
		Expect(reply.BattleInfo.StartTime).NotTo(BeZero(), "a battle without responses has started when the reply is sent")
		r := s.rest()
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: reply.BattleInfo.BattleID, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 520}}})
		Expect(err).NotTo(HaveOccurred())
		late := s.user("late")
		j, err := late.JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Battle).NotTo(BeNil(), "joinLive of a battling room carries the battle")
		Expect(j.Battle.BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
		Expect(j.Battle.BattleInfo.StartTime).To(Equal(reply.BattleInfo.StartTime), "the original startTime")
		Expect(j.Battle.BattleInfo.Config.Duration).To(Equal(300))
		Expect(j.Battle.Version).To(Equal(uint64(1)))
		Expect(client.UserIDs(j.Battle.BattleUserList)).To(Equal(userIDs(a, b)))
		Expect(j.Battle.BattleUserList[1].Score).To(Equal(int64(520)))
		Expect(j.Battle.BattleUserList[1].Rank).To(Equal(1))
		Expect(j.Battle.Inviter.UserID).To(Equal(a.UserID()))
		// From now on the late user gets the battle's events.
		_, err = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: reply.BattleInfo.BattleID, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(next[client.BattleScoreChanged](s, late, client.EvBattleScoreChanged).Version).To(Equal(uint64(2)))
	})
})

// battleRateLimit is the advertised maxBattleRequestsPerMinute; it skips the spec when the
// server sets none or one too high to reach in a spec.
func battleRateLimit(w client.Welcome) int {
	GinkgoHelper()
	limit := w.Limits.MaxBattleRequestsPerMinute
	if limit <= 0 || limit > limitCap {
		Skip(fmt.Sprintf("the server advertises maxBattleRequestsPerMinute %d; the suite checks limits from 1 to %d", limit, limitCap))
	}
	return limit
}

// twoHostBattle starts a battle between hosts a and b, with aa in a's room, and returns them
// and the server's heartbeat timeout, which the scene's deadline now allows for, together with
// the wait of a dropped session for its resume (lossGrace).
func twoHostBattle(s *scene) (a, b, aa *client.Client, timeout time.Duration) {
	GinkgoHelper()
	hs := s.hosts("a", "b")
	battleWelcome(s)
	a, b = hs[0], hs[1]
	aa = s.audience("aa", s.room("a"))
	timeout = time.Duration(s.welcome().Timing.HeartbeatTimeoutMs) * time.Millisecond
	s.allow(timeout + lossGrace(s.welcome()))
	startBattle(s, 300, a, []*client.Client{b}, aa)
	return a, b, aa, timeout
}

// expectExitThenEnd checks that each watcher gets, within d, onUserExitBattle for lost and then
// onBattleEnded with reason 1, and returns when the exits arrived.
func expectExitThenEnd(s *scene, lost *client.Client, d time.Duration, watchers ...*client.Client) []time.Time {
	GinkgoHelper()
	var at []time.Time
	for _, m := range watchers {
		ex, ev := nextWithin[client.UserExitBattle](s, m, client.EvUserExitBattle, d)
		Expect(ex.BattleUser.UserID).To(Equal(lost.UserID()))
		Expect(next[client.BattleEnded](s, m, client.EvBattleEnded).Reason).To(Equal(client.BattleEndOtherExit))
		at = append(at, ev.At)
	}
	return at
}
