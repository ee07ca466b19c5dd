package specs

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// request makes from invite the rooms liveIDs with no timeout and returns the codes.
func request(s *scene, from *client.Client, liveIDs ...string) map[string]int {
	GinkgoHelper()
	codes, err := from.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: liveIDs, Timeout: ptr(0)})
	Expect(err).NotTo(HaveOccurred())
	Expect(codes).To(HaveLen(len(liveIDs)), "one code per listed room")
	return codes
}

// expectMerged checks that list is the merged seat list of rooms, in that order (SEAT-010).
func expectMerged(list []client.SeatInfo, rooms ...string) {
	GinkgoHelper()
	i := 0
	for _, liveID := range rooms {
		n := 0
		for i < len(list) && list[i].LiveID == liveID {
			Expect(list[i].Index).To(Equal(n), "seat %d of %s", n, liveID)
			if list[i].UserInfo.UserID != "" {
				Expect(list[i].UserInfo.LiveID).To(Equal(liveID), "the occupant of seat %d of %s is tagged with its room", n, liveID)
			}
			i, n = i+1, n+1
		}
		Expect(n).To(BeNumerically(">", 0), "no seats of %s where they belong in %v", liveID, seatRooms(list))
	}
	Expect(i).To(Equal(len(list)), "seats of other rooms follow: %v", seatRooms(list))
}

// seatRooms summarises a seat list as its rooms in order, for failure messages.
func seatRooms(list []client.SeatInfo) []string {
	var out []string
	for _, si := range list {
		if len(out) == 0 || out[len(out)-1] != si.LiveID {
			out = append(out, si.LiveID)
		}
	}
	return out
}

var _ = Describe("Co-host connections", Label("cohost"), func() {
	DescribeTable("[COHOST-001] co-host operations by an audience member fail with 100006, by a user in no room with 100005",
		func(ctx SpecContext, op func(s *scene, c *client.Client) error) {
			s := newScene(ctx)
			h := s.host("h")
			s.host("g")
			a := s.audience("a", s.room("h"))
			n := s.user("n")
			expectCode(op(s, a), client.CodePermissionDenied)
			expectCode(op(s, n), client.CodeNotLiveMember)
			none(s, h, client.EvConnectionRequestReceived, client.EvConnectionUserListChanged)
		},
		Entry("requestConnection", func(s *scene, c *client.Client) error {
			_, err := c.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("g")}})
			return err
		}),
		Entry("cancelConnectionRequest", func(s *scene, c *client.Client) error { return c.CancelConnectionRequest(s.ctx, s.room("g")) }),
		Entry("acceptConnection", func(s *scene, c *client.Client) error { return c.AcceptConnection(s.ctx, s.room("g")) }),
		Entry("rejectConnection", func(s *scene, c *client.Client) error { return c.RejectConnection(s.ctx, s.room("g")) }),
		Entry("disconnect", func(s *scene, c *client.Client) error { return c.Disconnect(s.ctx) }),
	)

	It("[COHOST-002 COHOST-003 COHOST-004 COHOST-005] requestConnection returns one code per room and only invited hosts get onConnectionRequestReceived", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		// d is in another group; e has a pending request from f; g has sent one to k.
		d, d2 := s.host("d"), s.host("d2")
		connect(s, d, d2)
		e, f := s.host("e"), s.host("f")
		Expect(request(s, f, s.room("e"))).To(HaveKeyWithValue(s.room("e"), client.ConnSuccess))
		g, k := s.host("g"), s.host("k")
		Expect(request(s, g, s.room("k"))).To(HaveKeyWithValue(s.room("k"), client.ConnSuccess))
		settle(s, d, d2, e, f, g, k)

		codes, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{
			LiveIDs:       []string{s.room("b"), s.room("nobody"), s.room("a"), s.room("d"), s.room("e"), s.room("g"), s.room("c")},
			Timeout:       ptr(0),
			ExtensionInfo: `{"withPK":true}`,
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(Equal(map[string]int{
			s.room("b"):      client.ConnSuccess,
			s.room("nobody"): client.ConnRoomNotExist,        // COHOST-003
			s.room("a"):      client.ConnConnecting,          // COHOST-004: the caller's own room
			s.room("d"):      client.ConnConnectingOtherRoom, // COHOST-005: in another group
			s.room("e"):      client.ConnConnectingOtherRoom, // COHOST-005: pending request from another room
			s.room("g"):      client.ConnConnectingOtherRoom, // COHOST-005: pending request of its own
			s.room("c"):      client.ConnSuccess,
		}))
		for _, t := range []*client.Client{b, c} {
			ev := next[client.ConnectionRequestReceived](s, t, client.EvConnectionRequestReceived)
			Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
			Expect(ev.Inviter.UserID).To(Equal(a.UserID()))
			Expect(ev.Inviter.UserName).To(Equal("name-" + a.UserID()))
			Expect(client.LiveIDs(ev.InviteeList)).To(ConsistOf(s.room("b"), s.room("c")), "inviteeList is every room of the call with code 0")
			Expect(ev.ExtensionInfo).To(Equal(`{"withPK":true}`))
		}
		for _, t := range []*client.Client{d, e, g} {
			none(s, t, client.EvConnectionRequestReceived)
		}
		none(s, a, client.EvConnectionRequestReceived)
		// COHOST-004: a room with a pending request from the caller gets 2.
		Expect(request(s, a, s.room("b"))).To(HaveKeyWithValue(s.room("b"), client.ConnConnecting))
		none(s, b, client.EvConnectionRequestReceived)
	})

	It("[COHOST-004] a room already in the caller's group gets 2, from any host of the group", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		connect(s, a, b)
		Expect(request(s, a, s.room("b"))).To(HaveKeyWithValue(s.room("b"), client.ConnConnecting))
		Expect(request(s, b, s.room("a"))).To(HaveKeyWithValue(s.room("a"), client.ConnConnecting))
		// A pending request from a group member counts for the whole group.
		Expect(request(s, a, s.room("c"))).To(HaveKeyWithValue(s.room("c"), client.ConnSuccess))
		Expect(request(s, b, s.room("c"))).To(HaveKeyWithValue(s.room("c"), client.ConnConnecting))
		next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived)
		none(s, c, client.EvConnectionRequestReceived)
	})

	DescribeTable("[COHOST-007 INPUT-003] requestConnection with a bad parameter is refused with 100002 and nothing is sent",
		func(ctx SpecContext, req func(s *scene) any) {
			s := newScene(ctx)
			a, b := s.host("a"), s.host("b")
			expectCode(a.Call(s.ctx, client.ReqRequestConnection, req(s), nil), client.CodeInvalidParameter)
			none(s, b, client.EvConnectionRequestReceived)
			// b is still free to invite: nothing was created.
			Expect(request(s, a, s.room("b"))).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		},
		Entry("no liveIDs", func(s *scene) any { return map[string]any{"liveIDs": []string{}} }),
		Entry("liveIDs missing", func(s *scene) any { return map[string]any{"timeout": 5} }),
		Entry("a room listed twice", func(s *scene) any { return map[string]any{"liveIDs": []string{s.room("b"), s.room("b")}} }),
		Entry("maxConnectedRooms rooms (more than can join)", func(s *scene) any {
			ids := []string{s.room("b")}
			for i := 1; i < s.welcome().Limits.MaxConnectedRooms; i++ {
				ids = append(ids, s.room("x"+strings.Repeat("x", i)))
			}
			return map[string]any{"liveIDs": ids}
		}),
		Entry("a malformed liveID", func(s *scene) any { return map[string]any{"liveIDs": []string{s.room("b"), "has space"}} }),
		Entry("a negative timeout", func(s *scene) any { return map[string]any{"liveIDs": []string{s.room("b")}, "timeout": -1} }),
		Entry("a timeout above 3600", func(s *scene) any { return map[string]any{"liveIDs": []string{s.room("b")}, "timeout": 3601} }),
		Entry("a fractional timeout", func(s *scene) any { return map[string]any{"liveIDs": []string{s.room("b")}, "timeout": 1.5} }),
		Entry("extensionInfo of 1025 bytes", func(s *scene) any {
			return map[string]any{"liveIDs": []string{s.room("b")}, "extensionInfo": strings.Repeat("e", 1025)}
		}),
		Entry("liveIDs of the wrong type", func(s *scene) any { return map[string]any{"liveIDs": s.room("b")} }),
	)

	It("[COHOST-008] a host whose room has a pending incoming request gets 100402 from requestConnection", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		s.host("c")
		request(s, a, s.room("b"))
		_, err := b.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("c")}})
		expectCode(err, client.CodePendingConnectionRequest)
	})

	It("[COHOST-010] cancelConnectionRequest closes the caller's requests and each target host gets onConnectionRequestCancelled", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		request(s, a, s.room("b"), s.room("c"))
		settle(s, b, c)
		Expect(a.CancelConnectionRequest(s.ctx, s.room("b"), s.room("c"))).To(Succeed())
		for _, t := range []*client.Client{b, c} {
			ev := next[client.ConnectionRequestOutcome](s, t, client.EvConnectionRequestCancelled)
			Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
			Expect(ev.Invitee.LiveID).To(Equal(s.roomOf(t)))
			expectCode(t.AcceptConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
		}
		expectCode(a.CancelConnectionRequest(s.ctx, s.room("b")), client.CodeConnectionNotExist)
		none(s, a, client.EvConnectionRequestCancelled, client.EvConnectionRequestReject)
	})

	It("[COHOST-010] cancelConnectionRequest naming a room without a request from the caller fails with 100400 and cancels nothing", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		s.host("c")
		request(s, a, s.room("b"))
		settle(s, b)
		expectCode(a.CancelConnectionRequest(s.ctx, s.room("b"), s.room("c")), client.CodeConnectionNotExist)
		none(s, b, client.EvConnectionRequestCancelled)
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed(), "the request to b is still pending")
	})

	It("[COHOST-011 COHOST-020 COHOST-021] acceptConnection tells the inviter, forms the group, and every host and audience member of both rooms gets the user list then the merged seats", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		request(s, a, s.room("b"))
		next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		settle(s, a, b, aa, ba)
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		acc := next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestAccept)
		Expect(acc.Inviter.LiveID).To(Equal(s.room("a")))
		Expect(acc.Invitee.LiveID).To(Equal(s.room("b")))
		Expect(acc.Invitee.UserID).To(Equal(b.UserID()))
		for _, c := range []*client.Client{a, b, aa, ba} {
			ev, ule := nextWithin[client.ConnectionUserListChanged](s, c, client.EvConnectionUserListChanged, target.EventTimeout)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}), "%s: connectedList in join order, own room included", c.UserID())
			Expect(client.LiveIDs(ev.JoinedList)).To(ConsistOf(s.room("a"), s.room("b")), "both rooms joined when the group formed")
			Expect(ev.LeavedList).To(BeEmpty())
			Expect(ev.ConnectedList[0].UserID).To(Equal(a.UserID()))
			Expect(ev.ConnectedList[1].UserID).To(Equal(b.UserID()))
			for _, u := range ev.ConnectedList {
				Expect(u.JoinConnectionTime).To(BeNumerically(">", 0))
			}
			seats, sle := nextWithin[client.SeatListChanged](s, c, client.EvSeatListChanged, target.EventTimeout)
			Expect(sle.Seq).To(BeNumerically(">", ule.Seq), "COHOST-021: the seats follow the user list")
			expectMerged(seats.SeatList, s.room("a"), s.room("b"))
		}
		none(s, b, client.EvConnectionRequestAccept)
	})

	/*
		Testname: accept-to-grown-group
		Description: a room that accepts an invitation from a group of three, then of four,
		is reported to its inviter as an acceptance (COHOST-011) whatever the group's size,
		whichever member invited, and never as a rejection: a load run's churn found a server
		that took the outcome of a join to a grown group from the wrong table.
	*/
	It("[COHOST-011] each room that joins a group of three or four is reported to its inviter with onConnectionRequestAccept, never a reject", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		settle(s, append(hs, s.host("d"), s.host("e"))...)
		for _, step := range []struct{ inviter, invitee string }{{"a", "d"}, {"b", "e"}} {
			inviter, invitee := s.named(step.inviter), s.named(step.invitee)
			request(s, inviter, s.room(step.invitee))
			next[client.ConnectionRequestReceived](s, invitee, client.EvConnectionRequestReceived)
			Expect(invitee.AcceptConnection(s.ctx, s.room(step.inviter))).To(Succeed())
			acc := next[client.ConnectionRequestOutcome](s, inviter, client.EvConnectionRequestAccept)
			Expect(acc.Inviter.LiveID).To(Equal(s.room(step.inviter)))
			Expect(acc.Invitee.LiveID).To(Equal(s.room(step.invitee)))
			none(s, inviter, client.EvConnectionRequestReject)
		}
	})

	It("[COHOST-012] rejectConnection tells the inviter and forms no group", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		request(s, a, s.room("b"))
		next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		Expect(b.RejectConnection(s.ctx, s.room("a"))).To(Succeed())
		ev := next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestReject)
		Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
		Expect(ev.Invitee.LiveID).To(Equal(s.room("b")))
		none(s, a, client.EvConnectionUserListChanged)
		none(s, b, client.EvConnectionUserListChanged, client.EvConnectionRequestReject)
		// Closed: b may be invited again.
		Expect(request(s, a, s.room("b"))).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
	})

	It("[COHOST-013] accepting or rejecting without a pending request from that room fails with 100400", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		s.host("c")
		expectCode(b.AcceptConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
		expectCode(b.RejectConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
		request(s, a, s.room("b"))
		expectCode(b.AcceptConnection(s.ctx, s.room("c")), client.CodeConnectionNotExist)
		expectCode(b.AcceptConnection(s.ctx, s.room("nobody")), client.CodeConnectionNotExist)
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		expectCode(b.AcceptConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
	})

	It("[COHOST-017 ROOM-007] when an inviting room ends its pending requests are cancelled", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		request(s, a, s.room("b"), s.room("c"))
		settle(s, b, c)
		Expect(a.EndLive(s.ctx)).To(Succeed())
		for _, t := range []*client.Client{b, c} {
			ev := next[client.ConnectionRequestOutcome](s, t, client.EvConnectionRequestCancelled)
			Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
			Expect(ev.Invitee.LiveID).To(Equal(s.roomOf(t)))
		}
	})

	It("[COHOST-017 ROOM-007] when an invited room ends its pending request is rejected", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		request(s, a, s.room("b"))
		Expect(b.EndLive(s.ctx)).To(Succeed())
		ev := next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestReject)
		Expect(ev.Invitee.LiveID).To(Equal(s.room("b")))
	})

	It("[COHOST-022 COHOST-020] any connected host may invite another room, which joins the same group", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		aa := s.audience("aa", s.room("a"))
		connect(s, a, b)
		settle(s, aa)
		Expect(request(s, b, s.room("c"))).To(HaveKeyWithValue(s.room("c"), client.ConnSuccess))
		next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived)
		Expect(c.AcceptConnection(s.ctx, s.room("b"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, b, client.EvConnectionRequestAccept)
		none(s, a, client.EvConnectionRequestAccept)
		for _, m := range []*client.Client{a, b, c, aa} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b"), s.room("c")}), m.UserID())
			Expect(client.LiveIDs(ev.JoinedList)).To(Equal([]string{s.room("c")}))
			Expect(ev.LeavedList).To(BeEmpty())
			seats := next[client.SeatListChanged](s, m, client.EvSeatListChanged)
			expectMerged(seats.SeatList, s.room("a"), s.room("b"), s.room("c"))
		}
	})

	It("[COHOST-030 COHOST-021] disconnect takes a room out of its group; the last two rooms dissolve it; a room in no group gets 100400", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		aa, ca := s.audience("aa", s.room("a")), s.audience("ca", s.room("c"))
		connect(s, a, b, c)
		settle(s, aa, ca)

		Expect(c.Disconnect(s.ctx)).To(Succeed())
		for _, m := range []*client.Client{a, b, aa} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}), m.UserID())
			Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("c")}))
			Expect(ev.JoinedList).To(BeEmpty())
			expectMerged(next[client.SeatListChanged](s, m, client.EvSeatListChanged).SeatList, s.room("a"), s.room("b"))
		}
		for _, m := range []*client.Client{c, ca} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(ev.ConnectedList).To(BeEmpty(), "the leaver's room is no longer connected")
			Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("c")}))
			expectMerged(next[client.SeatListChanged](s, m, client.EvSeatListChanged).SeatList, s.room("c"))
		}

		Expect(b.Disconnect(s.ctx)).To(Succeed())
		for _, m := range []*client.Client{a, b, aa} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(ev.ConnectedList).To(BeEmpty(), "%s: one room left, the group is dissolved", m.UserID())
			Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("b")}))
		}
		expectCode(a.Disconnect(s.ctx), client.CodeConnectionNotExist)
		expectCode(c.Disconnect(s.ctx), client.CodeConnectionNotExist)
		none(s, ca, client.EvConnectionUserListChanged)
	})

	It("[COHOST-030 COHOST-021 ROOM-007] a room that ends leaves its group like a disconnect, and its audience gets onLiveEnded only", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		ca := s.audience("ca", s.room("c"))
		connect(s, a, b, c)
		settle(s, ca)
		Expect(c.EndLive(s.ctx)).To(Succeed())
		for _, m := range []*client.Client{a, b} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
			Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("c")}))
			expectMerged(next[client.SeatListChanged](s, m, client.EvSeatListChanged).SeatList, s.room("a"), s.room("b"))
		}
		Expect(next[client.LiveEnded](s, ca, client.EvLiveEnded).Reason).To(Equal(client.EndedByHost))
		none(s, ca) // the ended room's audience gets onLiveEnded and nothing else
	})

	It("[ROOM-005 SEAT-010 COHOST-020] a user joining a connected room gets the connected list and the merged seats, and later group events", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		connect(s, a, b)
		viewer := s.user("v")
		r, err := viewer.JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(r.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
		expectMerged(r.SeatList, s.room("a"), s.room("b"))
		connect(s, a, c)
		ev := next[client.ConnectionUserListChanged](s, viewer, client.EvConnectionUserListChanged)
		Expect(client.LiveIDs(ev.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b"), s.room("c")}))
	})

	It("[SEAT-008 SEAT-010] a seat change in one room of a group reaches every member of every room of the group, as the merged list", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		connect(s, a, b)
		settle(s, aa, ba)
		Expect(ba.TakeSeat(s.ctx, 2)).To(Succeed())
		for _, m := range []*client.Client{a, b, aa, ba} {
			ev := next[client.SeatListChanged](s, m, client.EvSeatListChanged)
			expectMerged(ev.SeatList, s.room("a"), s.room("b"))
			si := seatOf(ev.SeatList, ba.UserID())
			Expect(si).NotTo(BeNil(), m.UserID())
			Expect(si.LiveID).To(Equal(s.room("b")))
			Expect(si.Index).To(Equal(2))
		}
	})

	It("[COHOST-031] nothing but accept, disconnect and the end of a room changes a group", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		aa := s.audience("aa", s.room("a"))
		connect(s, a, b)
		settle(s, aa)
		// Seat traffic, an audience member leaving, and a request that is rejected.
		Expect(aa.TakeSeat(s.ctx, 3)).To(Succeed())
		Expect(aa.LeaveLive(s.ctx)).To(Succeed())
		request(s, a, s.room("c"))
		next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived)
		Expect(c.RejectConnection(s.ctx, s.room("a"))).To(Succeed())
		request(s, b, s.room("c"))
		Expect(b.CancelConnectionRequest(s.ctx, s.room("c"))).To(Succeed())
		for _, m := range []*client.Client{a, b, c} {
			none(s, m, client.EvConnectionUserListChanged)
		}
		v := s.user("v")
		r, err := v.JoinLive(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(r.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
	})
})
