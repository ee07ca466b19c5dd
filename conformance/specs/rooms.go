package specs

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

var _ = Describe("Rooms", Label("room"), func() {
	It("[ROOM-001] createLive makes the caller host of a new room, seated on seat 0, and replies with its liveInfo and seatList", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h")
		liveID := s.room("h")
		r, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: liveID, LiveName: "PK night", MaxSeatCount: ptr(6), SeatTemplate: ptr(601), IsPublicVisible: ptr(false)})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LiveInfo.LiveID).To(Equal(liveID))
		Expect(r.LiveInfo.LiveName).To(Equal("PK night"))
		Expect(r.LiveInfo.IsPublicVisible).To(BeFalse())
		Expect(r.LiveInfo.SeatTemplate).To(Equal(601))
		Expect(r.LiveInfo.MaxSeatCount).To(Equal(6))
		Expect(r.LiveInfo.LiveOwner.UserID).To(Equal(c.UserID()))
		Expect(r.LiveInfo.CurrentUserCount).To(Equal(1))
		Expect(r.LiveInfo.CreateTime).To(BeNumerically(">", 0))
		Expect(r.SeatList).To(HaveLen(6))
		for i, si := range r.SeatList {
			Expect(si.LiveID).To(Equal(liveID), "seat %d is tagged with the room", i)
			Expect(si.Index).To(Equal(i))
		}
		Expect(r.SeatList[0].UserInfo.UserID).To(Equal(c.UserID()), "the host is on seat 0")
		Expect(r.SeatList[0].UserInfo.LiveID).To(Equal(liveID))
		for _, si := range r.SeatList[1:] {
			Expect(si.UserInfo.UserID).To(BeEmpty())
		}
	})

	It("[ROOM-001] createLive applies the documented defaults: public, seat template 600, 9 seats", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h")
		r, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LiveInfo.IsPublicVisible).To(BeTrue())
		Expect(r.LiveInfo.SeatTemplate).To(Equal(600))
		Expect(r.LiveInfo.MaxSeatCount).To(Equal(min(9, c.Welcome().Limits.MaxSeatCount)))
		Expect(r.SeatList).To(HaveLen(r.LiveInfo.MaxSeatCount))
	})

	DescribeTable("[ROOM-002 INPUT-003] createLive with a field out of its documented range is refused with 100002 and creates nothing",
		func(ctx SpecContext, req func(s *scene) client.CreateLiveRequest) {
			s := newScene(ctx)
			c := s.user("h")
			r := req(s)
			_, err := c.CreateLive(s.ctx, r)
			expectCode(err, client.CodeInvalidParameter)
			if r.LiveID != "" && len(r.LiveID) <= 48 {
				_, err = c.FetchLiveInfo(s.ctx, r.LiveID)
				Expect(client.CodeOf(err)).To(BeElementOf(client.CodeLiveNotExist, client.CodeInvalidParameter), "the room must not exist: %v", err)
			}
			// The caller is still in no room.
			expectCode(c.LeaveLive(s.ctx), client.CodeNotLiveMember)
		},
		Entry("an empty liveID", func(s *scene) client.CreateLiveRequest { return client.CreateLiveRequest{} }),
		Entry("a liveID with a space", func(s *scene) client.CreateLiveRequest { return client.CreateLiveRequest{LiveID: s.id("a b")} }),
		Entry("a liveID of 49 bytes", func(s *scene) client.CreateLiveRequest {
			return client.CreateLiveRequest{LiveID: s.id(strings.Repeat("x", 49-len(s.prefix)-1))}
		}),
		Entry("a liveID with a non-ASCII character", func(s *scene) client.CreateLiveRequest { return client.CreateLiveRequest{LiveID: s.id("röom")} }),
		Entry("a liveName of 101 bytes", func(s *scene) client.CreateLiveRequest {
			return client.CreateLiveRequest{LiveID: s.room("h"), LiveName: strings.Repeat("n", 101)}
		}),
		Entry("maxSeatCount 0", func(s *scene) client.CreateLiveRequest {
			return client.CreateLiveRequest{LiveID: s.room("h"), MaxSeatCount: ptr(0)}
		}),
		Entry("a negative seatTemplate", func(s *scene) client.CreateLiveRequest {
			return client.CreateLiveRequest{LiveID: s.room("h"), SeatTemplate: ptr(-1)}
		}),
		Entry("maxSeatCount above limits.maxSeatCount", func(s *scene) client.CreateLiveRequest {
			return client.CreateLiveRequest{LiveID: s.room("h"), MaxSeatCount: ptr(s.welcome().Limits.MaxSeatCount + 1)}
		}),
	)

	It("[ROOM-002] a liveID of exactly 48 bytes and a liveName of 100 bytes are accepted", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h")
		liveID := s.id(strings.Repeat("x", 48-len(s.prefix)-1))
		Expect(liveID).To(HaveLen(48))
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: liveID, LiveName: strings.Repeat("名", 33)})
		Expect(err).NotTo(HaveOccurred())
	})

	It("[ROOM-003] createLive with the liveID of an existing room fails with 100003", func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("h")
		c := s.user("other")
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		expectCode(err, client.CodeLiveIDAlreadyUsed)
	})

	It("[ROOM-004] a user already in a room gets 100903 from createLive and joinLive", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		s.host("g")
		a := s.audience("a", s.room("h"))
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h2")})
		expectCode(err, client.CodeAlreadyInLive)
		_, err = h.JoinLive(s.ctx, s.room("g"))
		expectCode(err, client.CodeAlreadyInLive)
		_, err = a.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("a")})
		expectCode(err, client.CodeAlreadyInLive)
		_, err = a.JoinLive(s.ctx, s.room("g"))
		expectCode(err, client.CodeAlreadyInLive)
	})

	It("[ROOM-005] joinLive adds the caller as audience and replies with liveInfo, seatList and an empty connectedList", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.user("a")
		r, err := a.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LiveInfo.LiveID).To(Equal(s.room("h")))
		Expect(r.LiveInfo.LiveOwner.UserID).To(Equal(h.UserID()))
		Expect(r.LiveInfo.CurrentUserCount).To(Equal(2), "host and one audience member")
		Expect(r.SeatList).NotTo(BeEmpty())
		Expect(r.SeatList[0].UserInfo.UserID).To(Equal(h.UserID()))
		Expect(r.ConnectedList).To(BeEmpty())
		info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(2))
	})

	It("[ROOM-005] joinLive of a room that does not exist fails with 100004", func(ctx SpecContext) {
		s := newScene(ctx)
		a := s.user("a")
		_, err := a.JoinLive(s.ctx, s.room("nobody"))
		expectCode(err, client.CodeLiveNotExist)
	})

	It("[ROOM-006] leaveLive removes an audience member; a user in no room gets 100005 and a host 100006", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		Expect(a.LeaveLive(s.ctx)).To(Succeed())
		info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(1))
		expectCode(a.LeaveLive(s.ctx), client.CodeNotLiveMember)
		expectCode(h.LeaveLive(s.ctx), client.CodePermissionDenied)
		// The audience member is free to join again.
		_, err = a.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
	})

	It("[ROOM-007] endLive ends the room: every audience member gets onLiveEnded with reason 1 and is in no room any more", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		b := s.audience("b", s.room("h"))
		Expect(h.EndLive(s.ctx)).To(Succeed())
		for _, c := range []*client.Client{a, b} {
			ev := next[client.LiveEnded](s, c, client.EvLiveEnded)
			Expect(ev.LiveID).To(Equal(s.room("h")))
			Expect(ev.Reason).To(Equal(client.EndedByHost))
			expectCode(c.LeaveLive(s.ctx), client.CodeNotLiveMember)
		}
		none(s, h, client.EvLiveEnded)
		_, err := a.FetchLiveInfo(s.ctx, s.room("h"))
		expectCode(err, client.CodeLiveNotExist)
		// The host may start again; the ID is free.
		_, err = h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
	})

	It("[ROOM-007] endLive by an audience member fails with 100006, by a user in no room with 100005", func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("h")
		a := s.audience("a", s.room("h"))
		n := s.user("n")
		expectCode(a.EndLive(s.ctx), client.CodePermissionDenied)
		expectCode(n.EndLive(s.ctx), client.CodeNotLiveMember)
		_, err := n.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred(), "the room still exists")
	})

	It("[ROOM-008] fetchLiveList pages over public rooms only, in creation order, with a stable cursor; \"\" ends the list", func(ctx SpecContext) {
		s := newScene(ctx)
		var public []string
		for i, name := range []string{"p1", "p2", "q1", "p3", "p4", "q2", "p5"} {
			c := s.user(name)
			_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name), IsPublicVisible: ptr(name[0] == 'p')})
			Expect(err).NotTo(HaveOccurred(), "room %d", i)
			if name[0] == 'p' {
				public = append(public, s.room(name))
			}
		}
		viewer := s.user("viewer")
		// Page with count 2. Between the first and second page a new public room appears: it
		// was created after all others, so it must come last, and nothing may be listed twice.
		late := s.user("p6")
		var seen []string
		cursor, pages := "", 0
		for {
			page, err := viewer.FetchLiveList(s.ctx, cursor, 2)
			Expect(err).NotTo(HaveOccurred())
			Expect(len(page.LiveInfoList)).To(BeNumerically("<=", 2), "count bounds the page")
			for _, li := range page.LiveInfoList {
				Expect(li.IsPublicVisible).To(BeTrue(), "%s is listed but not public", li.LiveID)
				if strings.HasPrefix(li.LiveID, s.prefix+"-") {
					seen = append(seen, li.LiveID)
				}
			}
			pages++
			if pages == 1 {
				_, err := late.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("p6")})
				Expect(err).NotTo(HaveOccurred())
			}
			if page.Cursor == "" {
				break
			}
			Expect(pages).To(BeNumerically("<", 10000), "the cursor never reaches the end")
			cursor = page.Cursor
		}
		Expect(seen).To(Equal(append(public, s.room("p6"))), "every public room once, in creation order")
	})

	It("[ROOM-008] a room that ends between pages is never listed twice and no room that existed throughout is skipped", func(ctx SpecContext) {
		s := newScene(ctx)
		var hosts []*client.Client
		var ids []string
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			hosts = append(hosts, s.host(name))
			ids = append(ids, s.room(name))
		}
		viewer := s.user("viewer")
		var seen []string
		cursor, pages := "", 0
		for {
			page, err := viewer.FetchLiveList(s.ctx, cursor, 1)
			Expect(err).NotTo(HaveOccurred())
			for _, li := range page.LiveInfoList {
				if strings.HasPrefix(li.LiveID, s.prefix+"-") {
					seen = append(seen, li.LiveID)
					if li.LiveID == s.room("b") {
						// b was just listed and is the cursor's position: end it.
						Expect(hosts[1].EndLive(s.ctx)).To(Succeed())
					}
				}
			}
			pages++
			if page.Cursor == "" {
				break
			}
			Expect(pages).To(BeNumerically("<", 10000))
			cursor = page.Cursor
		}
		Expect(seen).To(Equal(ids))
	})

	It("[ROOM-008] fetchLiveList refuses a cursor it did not hand out and a count above 100 with 100002", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("v")
		_, err := c.FetchLiveList(s.ctx, "not-a-cursor", 10)
		expectCode(err, client.CodeInvalidParameter)
		_, err = c.FetchLiveList(s.ctx, "", 101)
		expectCode(err, client.CodeInvalidParameter)
		err = c.Call(s.ctx, client.ReqFetchLiveList, map[string]any{"count": -1}, nil)
		expectCode(err, client.CodeInvalidParameter)
	})

	It("[ROOM-009] fetchLiveInfo returns a room's liveInfo and fails with 100004 for an unknown room", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		s.audience("a", s.room("h"))
		c := s.user("v")
		info, err := c.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.LiveID).To(Equal(s.room("h")))
		Expect(info.LiveName).To(Equal("room of h"))
		Expect(info.LiveOwner.UserID).To(Equal(h.UserID()))
		Expect(info.CurrentUserCount).To(Equal(2))
		_, err = c.FetchLiveInfo(s.ctx, s.room("none"))
		expectCode(err, client.CodeLiveNotExist)
	})
})
