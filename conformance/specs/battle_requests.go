package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after a hunt of battles and seats (2026-12-08): bugs planted by hand in the
// reference core, each of which passed the whole suite. These are the battle requests': who is
// busy, who is told what, and when a pending battle starts. reference/mutant keeps each bug.

var _ = Describe("Battle requests", Label("battle"), func() {
	It("[BATTLE-003 BATTLE-005 BATTLE-021] an invitee that accepted a pending battle is busy: its own request gets 100416 and an invitation to it code 3", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, d := battleHosts(s)
		id := requestPending(s, a, b, c)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		_, err := b.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(d)})
		expectCode(err, client.CodePendingBattleRequest)
		_, err = d.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b)})
		expectCode(err, client.CodeNoValidBattleLive)
		none(s, b, client.EvBattleRequestReceived, client.EvBattleStarted)
	})

	It("[BATTLE-010] a cancelBattleRequest refused with 100414 for one listed user cancels none of the others", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, d := battleHosts(s)
		id := requestPending(s, a, b, c)
		expectCode(a.CancelBattleRequest(s.ctx, id, b.UserID(), d.UserID()), client.CodeLiveNotInBattle)
		none(s, b, client.EvBattleRequestCancelled)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed(), "b's request is still pending")
	})

	It("[BATTLE-005] a host outside the caller's group gets code 1 even when it is in a battle", func(ctx SpecContext) {
		s := newScene(ctx)
		ab := s.hosts("a", "b")
		xy := s.hosts("x", "y")
		battleWelcome(s)
		startBattle(s, 300, xy[0], []*client.Client{xy[1]})
		reply, err := ab[0].RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(xy[0], ab[1])})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{xy[0].UserID(): client.BattleRoomNotExist, ab[1].UserID(): client.BattleSuccess}),
			"not in the caller's group is code 1, whatever else is true of the room")
	})

	It("[BATTLE-005] an audience member's userID names no host: code 1, and its room is not invited", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		bv := s.audience("bv", s.room("b"))
		_, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(bv)})
		expectCode(err, client.CodeNoValidBattleLive)
		none(s, b, client.EvBattleRequestReceived, client.EvBattleStarted)
	})

	It("[BATTLE-002 BATTLE-006] config.duration 0 is accepted and means defaultBattleDurationS", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		reply, err := hs[0].RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(hs[1]), Config: client.BattleConfigRequest{Duration: ptr(0)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.BattleInfo.Config.Duration).To(Equal(w.Timing.DefaultBattleDurationS))
	})

	It("[BATTLE-005 BATTLE-021] a room that exited a running battle is free: another host invites it with code 0", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, d := battleHosts(s)
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		reply, err := d.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{c.UserID(): client.BattleSuccess}))
	})

	It("[BATTLE-005 BATTLE-021 BATTLE-025] a room whose request timed out is free while the battle runs among the others", Label("timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 3*time.Second)
		a, b, c, d := battleHosts(s)
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(2)})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.AcceptBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed())
		nextWithin[client.BattleRequestEvent](s, c, client.EvBattleRequestTimeout, 2*time.Second+target.EventTimeout)
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		r2, err := d.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(r2.Results).To(Equal(map[string]int{c.UserID(): client.BattleSuccess}), "c is in no battle")
		j, err := s.user("v").JoinLive(s.ctx, s.room("c"))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Battle).To(BeNil(), "c's room is in no running battle")
	})

	It("[BATTLE-013 BATTLE-023] an inviter leaving a pending battle cancels it for the invitees still in it, not for one that rejected", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := requestPending(s, a, b, c)
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		Expect(a.EndLive(s.ctx)).To(Succeed())
		next[client.BattleRequestEvent](s, b, client.EvBattleRequestCancelled)
		none(s, c, client.EvBattleRequestCancelled)
	})

	It("[BATTLE-009 BATTLE-010] the rejecting host gets no onBattleRequestReject, the cancelling inviter no onBattleRequestCancelled, another invitee neither", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, d := battleHosts(s)
		id := requestPending(s, a, b, c, d)
		Expect(b.RejectBattle(s.ctx, id)).To(Succeed())
		next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject)
		Expect(a.CancelBattleRequest(s.ctx, id, c.UserID())).To(Succeed())
		next[client.BattleRequestEvent](s, c, client.EvBattleRequestCancelled)
		none(s, b, client.EvBattleRequestReject)
		none(s, a, client.EvBattleRequestCancelled)
		none(s, d, client.EvBattleRequestReject, client.EvBattleRequestCancelled)
	})

	It("[BATTLE-009 BATTLE-013] the inviter gets the last onBattleRequestAccept before onBattleStarted", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := requestPending(s, a, b)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		_, acc := nextWithin[client.BattleRequestEvent](s, a, client.EvBattleRequestAccept, target.EventTimeout)
		_, st := nextWithin[client.BattleStarted](s, a, client.EvBattleStarted, target.EventTimeout)
		Expect(acc.Seq).To(BeNumerically("<", st.Seq), "the accept (seq %d) comes before the start (seq %d)", acc.Seq, st.Seq)
	})

	It("[BATTLE-009] a battle request's timeout counts from the request, not from another invitee's answer", Label("timeout"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		w := battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		late := lateness(w)
		t := timed{what: "the timeout of c's request", d: time.Duration(probeSeconds(w)+1) * time.Second}
		s.allow(t.d + late)
		t.sent = time.Now()
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(probeSeconds(w) + 1)})
		t.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())
		// b answers shortly before c's timeout: a timer counted again from it would run late.
		time.Sleep(t.d - late/2 - 500*time.Millisecond)
		Expect(b.AcceptBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed())
		_, e := nextWithin[client.BattleRequestEvent](s, c, client.EvBattleRequestTimeout, time.Until(t.replied.Add(t.d+late+target.EventTimeout)))
		expectOnTime(e, t, late)
	})

	It("[BATTLE-012 BATTLE-023] an invitee leaving as the last to answer starts the battle with those that accepted", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, id := acceptedByOne(s)
		Expect(c.Disconnect(s.ctx)).To(Succeed())
		next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject)
		for _, m := range []*client.Client{a, b} {
			Expect(next[client.BattleStarted](s, m, client.EvBattleStarted).BattleInfo.BattleID).To(Equal(id), "%s: the battle starts without c", m.UserID())
		}
	})
	It("[BATTLE-010 BATTLE-022] error order: the first listed user at fault decides cancelBattleRequest's code; exitBattle of a pending battle is 100420 for a host not in it", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, d := battleHosts(s)
		id := requestPending(s, a, b, c)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		expectCode(a.CancelBattleRequest(s.ctx, id, d.UserID(), b.UserID()), client.CodeLiveNotInBattle)
		expectCode(a.CancelBattleRequest(s.ctx, id, b.UserID(), d.UserID()), client.CodeLiveInBattle)
		expectCode(d.ExitBattle(s.ctx, id), client.CodeBattleNotStarted)
		none(s, c, client.EvBattleRequestCancelled)
	})
})

// battleHosts is four hosts of rooms in one connection group, a to d, on a server that runs
// battles (battleWelcome skips the spec otherwise).
func battleHosts(s *scene) (a, b, c, d *client.Client) {
	GinkgoHelper()
	hs := s.hosts("a", "b", "c", "d")
	battleWelcome(s)
	return hs[0], hs[1], hs[2], hs[3]
}
