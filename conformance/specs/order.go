package specs

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Every required order is checked with input whose natural order differs from it: rooms that
// join a group in another order than they were created and invited, invitees listed in
// another order than they joined the group and accepted, targets listed in another order than
// they were created.

var _ = Describe("Required orders", func() {
	It("[COHOST-020 SEAT-010] connectedList and the merged seats follow the order the rooms joined the group, not the order they were created or invited", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		aa := s.audience("aa", s.room("a"))
		request(s, a, s.room("b"), s.room("c"))
		for _, t := range []*client.Client{b, c} {
			next[client.ConnectionRequestReceived](s, t, client.EvConnectionRequestReceived)
		}
		// c, created and invited after b, joins first.
		Expect(c.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		settle(s, a, b, c, aa)
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		joinOrder := []string{s.room("a"), s.room("c"), s.room("b")}
		for _, m := range []*client.Client{a, b, c, aa} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal(joinOrder), "%s: connectedList in join order", m.UserID())
			Expect(client.LiveIDs(ev.JoinedList)).To(Equal([]string{s.room("b")}))
			expectMerged(next[client.SeatListChanged](s, m, client.EvSeatListChanged).SeatList, joinOrder...)
		}
		v := s.user("v")
		j, err := v.JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(j.ConnectedList)).To(Equal(joinOrder), "joinLive's connectedList")
		expectMerged(j.SeatList, joinOrder...)
	})

	It("[BATTLE-020 BATTLE-041 BATTLE-025] a battle's invitees and its scoreboard follow the order the inviter listed them, not the order the rooms joined the group or accepted", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d") // joined the group in this order
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		listed := []*client.Client{d, b, c}
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(listed...), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		settle(s, b, c, d)
		for _, m := range []*client.Client{c, b, d} { // accepted in yet another order
			Expect(m.AcceptBattle(s.ctx, id)).To(Succeed())
		}
		board := append([]*client.Client{a}, listed...)
		for _, m := range hs {
			ev := next[client.BattleStarted](s, m, client.EvBattleStarted)
			Expect(ev.Inviter.UserID).To(Equal(a.UserID()))
			Expect(client.UserIDs(ev.Invitees)).To(Equal(userIDs(listed...)), "%s: invitees in the order the inviter listed them", m.UserID())
		}
		_, err = s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("c"), Score: 3}}})
		Expect(err).NotTo(HaveOccurred())
		for _, m := range hs {
			ev := next[client.BattleScoreChanged](s, m, client.EvBattleScoreChanged)
			Expect(client.UserIDs(ev.BattleUserList)).To(Equal(userIDs(board...)), "%s: the scoreboard is the inviter, then the invitees as listed", m.UserID())
		}
		late := s.user("late")
		j, err := late.JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Battle).NotTo(BeNil())
		Expect(client.UserIDs(j.Battle.Invitees)).To(Equal(userIDs(listed...)))
		Expect(client.UserIDs(j.Battle.BattleUserList)).To(Equal(userIDs(board...)))
	})

	It("[ROOM-008] fetchLiveList lists rooms in the order they were created, not in the order of their IDs", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		var created []string
		for _, name := range []string{"zz", "mm", "aa"} {
			s.host(name)
			created = append(created, s.room(name))
		}
		Expect(listedRooms(s, s.user("viewer"))).To(Equal(created), "creation order")
	})

	It("[COHOST-006] targets are examined in the order listed: with room for two, the first two listed are invited and the third gets code 4, whatever the order the rooms were created in", Label("cohost", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h0")
		max := fillable("maxConnectedRooms", s.welcome().Limits.MaxConnectedRooms)
		if max < 3 {
			Skip(fmt.Sprintf("the server advertises maxConnectedRooms %d: no room for two invitations", max))
		}
		var members []*client.Client
		for i := 1; i < max-2; i++ {
			members = append(members, s.host(fmt.Sprint("h", i)))
		}
		if len(members) > 0 {
			connect(s, first, members...)
		}
		x, y, z := s.host("x"), s.host("y"), s.host("z")
		codes := request(s, first, s.room("z"), s.room("y"), s.room("x"))
		Expect(codes).To(Equal(map[string]int{s.room("z"): client.ConnSuccess, s.room("y"): client.ConnSuccess, s.room("x"): client.ConnFull}))
		for _, t := range []*client.Client{z, y} {
			next[client.ConnectionRequestReceived](s, t, client.EvConnectionRequestReceived)
		}
		none(s, x, client.EvConnectionRequestReceived)
	})
})
