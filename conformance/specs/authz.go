package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// authzScene is the scene of the authorization specs: hosts h and k connected, h's invitation
// to j pending, h's battle request to k pending (needResponse), viewer a in h's room with a
// seat, host g in a room of its own and user m in no room.
type authzScene struct {
	s                *scene
	h, k, j, g, a, m *client.Client
	battle           string
}

func newAuthzScene(s *scene) *authzScene {
	GinkgoHelper()
	z := &authzScene{s: s}
	z.h, z.k, z.j, z.g = s.host("h"), s.host("k"), s.host("j"), s.host("g")
	z.a = s.audience("a", s.room("h"))
	z.m = s.user("m")
	battleWelcome(s)
	connect(s, z.h, z.k)
	Expect(z.a.TakeSeat(s.ctx, 1)).To(Succeed())
	_, err := z.h.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("j")}, Timeout: ptr(0)})
	Expect(err).NotTo(HaveOccurred())
	reply, err := z.h.RequestBattle(s.ctx, client.RequestBattleRequest{
		UserIDs: userIDs(z.k), Config: client.BattleConfigRequest{Duration: ptr(300), NeedResponse: ptr(true)}, Timeout: ptr(0),
	})
	Expect(err).NotTo(HaveOccurred())
	z.battle = reply.BattleInfo.BattleID
	settle(s, z.h, z.k, z.j, z.g, z.a, z.m)
	return z
}

// intact checks that the refusals changed nothing: nobody got an event, and the pending
// invitation and battle request still work.
func (z *authzScene) intact() {
	GinkgoHelper()
	for _, c := range []*client.Client{z.h, z.k, z.j, z.g, z.a, z.m} {
		none(z.s, c)
	}
	Expect(z.j.AcceptConnection(z.s.ctx, z.s.room("h"))).To(Succeed(), "h's invitation to j is still pending")
	Expect(z.k.AcceptBattle(z.s.ctx, z.battle)).To(Succeed(), "h's battle request to k is still pending")
	next[client.BattleStarted](z.s, z.h, client.EvBattleStarted)
}

// authzOp is one request that acts for a room, made by the caller of a table entry.
type authzOp struct {
	typ     string
	payload func(z *authzScene) any
}

var hostOnly = []authzOp{
	{client.ReqEndLive, func(*authzScene) any { return map[string]any{} }},
	{client.ReqRequestConnection, func(z *authzScene) any { return map[string]any{"liveIDs": []string{z.s.room("g")}} }},
	{client.ReqCancelConnectionRequest, func(z *authzScene) any { return map[string]any{"liveIDs": []string{z.s.room("j")}} }},
	{client.ReqAcceptConnection, func(z *authzScene) any { return map[string]any{"liveID": z.s.room("h")} }},
	{client.ReqRejectConnection, func(z *authzScene) any { return map[string]any{"liveID": z.s.room("h")} }},
	{client.ReqDisconnect, func(*authzScene) any { return map[string]any{} }},
	{client.ReqLockSeat, func(*authzScene) any { return map[string]any{"seatIndex": 2} }},
	{client.ReqUnlockSeat, func(*authzScene) any { return map[string]any{"seatIndex": 2} }},
	{client.ReqKickUserOutOfSeat, func(z *authzScene) any { return map[string]any{"userID": z.a.UserID()} }},
	{client.ReqMoveUserToSeat, func(z *authzScene) any {
		return map[string]any{"userID": z.h.UserID(), "targetIndex": 3, "policy": client.MoveAbortWhenOccupied}
	}},
	{client.ReqRequestBattle, func(z *authzScene) any { return map[string]any{"userIDs": []string{z.k.UserID()}} }},
	{client.ReqCancelBattleRequest, func(z *authzScene) any {
		return map[string]any{"battleID": z.battle, "userIDs": []string{z.k.UserID()}}
	}},
	{client.ReqAcceptBattle, func(z *authzScene) any { return map[string]any{"battleID": z.battle} }},
	{client.ReqRejectBattle, func(z *authzScene) any { return map[string]any{"battleID": z.battle} }},
	{client.ReqExitBattle, func(z *authzScene) any { return map[string]any{"battleID": z.battle} }},
}

var _ = Describe("Authorization", Label("authz"), func() {
	DescribeTable("[AUTHZ-001 COHOST-001] the operations of a room are its host's: a viewer gets 100006, a user in no room 100005, and nothing changes",
		func(ctx SpecContext, caller string, code int) {
			s := newScene(ctx, 10*time.Second)
			z := newAuthzScene(s)
			c := map[string]*client.Client{"a": z.a, "m": z.m}[caller]
			for _, op := range hostOnly {
				err := c.Call(s.ctx, op.typ, op.payload(z), nil)
				Expect(err).To(HaveOccurred(), "%s by %s must be refused", op.typ, caller)
				Expect(client.CodeOf(err)).To(Equal(code), "%s by %s: %v", op.typ, caller, err)
			}
			z.intact()
		},
		Entry("a viewer of the room", "a", client.CodePermissionDenied),
		Entry("a user in no room", "m", client.CodeNotLiveMember),
	)

	DescribeTable("[AUTHZ-002] a host acts only for its own room: answering, cancelling or exiting for another room is refused and changes nothing",
		func(ctx SpecContext, op authzOp, code int, caller ...string) {
			s := newScene(ctx, 10*time.Second)
			z := newAuthzScene(s)
			by, c := "g", z.g
			if len(caller) > 0 { // a host of the group of the room it acts for
				by, c = caller[0], map[string]*client.Client{"k": z.k}[caller[0]]
			}
			err := c.Call(s.ctx, op.typ, op.payload(z), nil)
			Expect(err).To(HaveOccurred(), "%s by %s must be refused", op.typ, by)
			Expect(client.CodeOf(err)).To(Equal(code), "%v", err)
			z.intact()
		},
		Entry("accepting an invitation addressed to another room", authzOp{client.ReqAcceptConnection, func(z *authzScene) any {
			return map[string]any{"liveID": z.s.room("h")}
		}}, client.CodeConnectionNotExist),
		Entry("rejecting an invitation addressed to another room", authzOp{client.ReqRejectConnection, func(z *authzScene) any {
			return map[string]any{"liveID": z.s.room("h")}
		}}, client.CodeConnectionNotExist),
		Entry("cancelling another room's invitation", authzOp{client.ReqCancelConnectionRequest, func(z *authzScene) any {
			return map[string]any{"liveIDs": []string{z.s.room("j")}}
		}}, client.CodeConnectionNotExist),
		Entry("cancelling the invitation another room of its own group made", authzOp{client.ReqCancelConnectionRequest, func(z *authzScene) any {
			return map[string]any{"liveIDs": []string{z.s.room("j")}}
		}}, client.CodeConnectionNotExist, "k"),
		Entry("disconnecting a group it is not in", authzOp{client.ReqDisconnect, func(*authzScene) any { return map[string]any{} }}, client.CodeConnectionNotExist),
		Entry("accepting a battle request addressed to another host", authzOp{client.ReqAcceptBattle, func(z *authzScene) any {
			return map[string]any{"battleID": z.battle}
		}}, client.CodeLiveNotInBattle),
		Entry("rejecting a battle request addressed to another host", authzOp{client.ReqRejectBattle, func(z *authzScene) any {
			return map[string]any{"battleID": z.battle}
		}}, client.CodeLiveNotInBattle),
		Entry("cancelling another host's battle request", authzOp{client.ReqCancelBattleRequest, func(z *authzScene) any {
			return map[string]any{"battleID": z.battle, "userIDs": []string{z.k.UserID()}}
		}}, client.CodePermissionDenied),
		Entry("exiting a battle that has not started (100420 whoever asks)", authzOp{client.ReqExitBattle, func(z *authzScene) any {
			return map[string]any{"battleID": z.battle}
		}}, client.CodeBattleNotStarted),
		Entry("kicking a viewer of another room off its seat", authzOp{client.ReqKickUserOutOfSeat, func(z *authzScene) any {
			return map[string]any{"userID": z.a.UserID()}
		}}, client.CodeNotOnSeat),
		Entry("moving a viewer of another room", authzOp{client.ReqMoveUserToSeat, func(z *authzScene) any {
			return map[string]any{"userID": z.a.UserID(), "targetIndex": 3, "policy": client.MoveAbortWhenOccupied}
		}}, client.CodeNotOnSeat),
	)
})
