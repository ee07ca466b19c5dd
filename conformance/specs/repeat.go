package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Operations are repeated on the same target, not only tried on another one: a second answer
// to the same request, a second cancel of the same invitee, a second join of the same room.

var _ = Describe("Operations repeated on the same target", func() {
	It("[BATTLE-011 BATTLE-009] a battle request answered once cannot be answered again: a second accept or reject, before or after the start, gets 100414 and the inviter hears of the first answer only", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		settle(s, b, c)

		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestAccept).Invitee.UserID).To(Equal(b.UserID()))
		expectCode(b.AcceptBattle(s.ctx, id), client.CodeLiveNotInBattle)
		expectCode(b.RejectBattle(s.ctx, id), client.CodeLiveNotInBattle)
		none(s, a, client.EvBattleRequestAccept, client.EvBattleRequestReject)

		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject).Invitee.UserID).To(Equal(c.UserID()))
		for _, m := range []*client.Client{a, b} {
			next[client.BattleStarted](s, m, client.EvBattleStarted)
		}
		// Running now: the answers are still refused, and still nobody hears of them.
		expectCode(c.RejectBattle(s.ctx, id), client.CodeLiveNotInBattle)
		expectCode(c.AcceptBattle(s.ctx, id), client.CodeLiveNotInBattle)
		expectCode(b.AcceptBattle(s.ctx, id), client.CodeLiveNotInBattle)
		none(s, a, client.EvBattleRequestAccept, client.EvBattleRequestReject)
		none(s, c, client.EvBattleStarted)
	})

	It("[BATTLE-010] cancelling the same invitee twice gets 100414 the second time, and the invitee hears of it once", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		settle(s, b, c)
		Expect(a.CancelBattleRequest(s.ctx, id, b.UserID())).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, b, client.EvBattleRequestCancelled).Invitee.UserID).To(Equal(b.UserID()))
		expectCode(a.CancelBattleRequest(s.ctx, id, b.UserID()), client.CodeLiveNotInBattle)
		none(s, b, client.EvBattleRequestCancelled)
		Expect(c.AcceptBattle(s.ctx, id)).To(Succeed(), "the other request is untouched")
	})

	It("[COHOST-012 COHOST-013] a second rejectConnection of the same request gets 100400, and the inviter hears of the first only", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		request(s, a, s.room("b"))
		next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		Expect(b.RejectConnection(s.ctx, s.room("a"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestReject)
		expectCode(b.RejectConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
		none(s, a, client.EvConnectionRequestReject)
	})

	It("[ROOM-004] joinLive of the room the caller is already in gets 100903, and the room counts the caller once", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		v := s.audience("v", s.room("h"))
		_, err := v.JoinLive(s.ctx, s.room("h"))
		expectCode(err, client.CodeAlreadyInLive)
		_, err = h.JoinLive(s.ctx, s.room("h"))
		expectCode(err, client.CodeAlreadyInLive)
		info, err := v.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(2))
		Expect(v.LeaveLive(s.ctx)).To(Succeed())
		expectCode(v.LeaveLive(s.ctx), client.CodeNotLiveMember)
	})

	It("[ROOM-007] a host that ended its room gets 100005 from a second endLive, and its former audience hears nothing more", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		v := s.audience("v", s.room("h"))
		Expect(h.EndLive(s.ctx)).To(Succeed())
		next[client.LiveEnded](s, v, client.EvLiveEnded)
		expectCode(h.EndLive(s.ctx), client.CodeNotLiveMember)
		none(s, v)
	})
})
