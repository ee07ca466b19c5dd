package specs

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Pending state is checked across separate requests: what one request left pending must
// count for the next one, not only for the rest of the same request.

var _ = Describe("Pending state across requests", func() {
	It("[COHOST-006] requests a group sent in earlier calls count towards maxConnectedRooms: invited one call at a time, the room that would exceed it gets code 4 from any host of the group", Label("cohost", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		max := fillable("maxConnectedRooms", s.welcome().Limits.MaxConnectedRooms)
		connect(s, a, b)
		// The group's two rooms plus max-2 pending requests, each from its own call and
		// from either host, reach the limit.
		for i := 0; i < max-2; i++ {
			name := fmt.Sprint("t", i)
			s.host(name)
			from := []*client.Client{a, b}[i%2]
			Expect(request(s, from, s.room(name))).To(HaveKeyWithValue(s.room(name), client.ConnSuccess), "pending request %d of %d", i+1, max-2)
		}
		extra := s.host("extra")
		Expect(request(s, a, s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnFull), "the group's two rooms and %d pending requests fill it", max-2)
		Expect(request(s, b, s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnFull), "from the other host of the group")
		none(s, extra, client.EvConnectionRequestReceived)
		if max > 2 {
			// A request closed in a call of its own frees its place for the next call.
			Expect(a.CancelConnectionRequest(s.ctx, s.room("t0"))).To(Succeed())
			Expect(request(s, b, s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnSuccess))
		}
	})

	It("[BATTLE-005 BATTLE-021 REST-011] a battle request pending from an earlier call keeps its rooms busy: code 3 when invited over the WebSocket or over REST, and 100416 when they invite", Label("battle", "rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		x := s.host("x")
		s.host("y")
		pending, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b)

		// Over the WebSocket: both the inviter and the invitee are busy for another host.
		reply, err := c.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(a, b, d), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{a.UserID(): client.BattleBattlingOtherRoom, b.UserID(): client.BattleBattlingOtherRoom, d.UserID(): client.BattleSuccess}))
		Expect(c.CancelBattleRequest(s.ctx, reply.BattleInfo.BattleID, d.UserID())).To(Succeed())

		// Over REST.
		r := s.rest()
		resp, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("a"), s.room("b"), s.room("y")}, Duration: 60000})
		Expect(err).NotTo(HaveOccurred())
		codes := map[string]int{}
		for _, res := range resp.Result {
			codes[res.RoomID] = res.ResultCode
		}
		Expect(codes).To(Equal(map[string]int{s.room("a"): 3, s.room("b"): 3, s.room("y"): 0}), "ResultCode 3: in a battle or with a pending battle request")
		for _, room := range []string{"a", "b"} {
			_, err = r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room(room), ToRoomIDList: []string{s.room("d")}, Duration: 60000})
			expectCode(err, client.CodePendingBattleRequest)
		}
		for _, m := range []*client.Client{a, b} {
			none(s, m, client.EvBattleRequestReceived, client.EvBattleStarted)
		}
		next[client.BattleStarted](s, x, client.EvBattleStarted)

		// The pending battle is intact: b may still accept it.
		Expect(b.AcceptBattle(s.ctx, pending.BattleInfo.BattleID)).To(Succeed())
		for _, m := range []*client.Client{a, b} {
			Expect(next[client.BattleStarted](s, m, client.EvBattleStarted).BattleInfo.BattleID).To(Equal(pending.BattleInfo.BattleID))
		}
	})
})
