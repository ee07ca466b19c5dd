package specs

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after a hunt of the rooms and their requests (2026-12-07, 17:40): bugs
// planted by a reviewer in the reference server's createLive, joinLive, fetchLiveInfo and
// endLive, each of which passed the whole suite. reference/mutant keeps each as a mutant.

var _ = Describe("Rooms, hunted", Label("room"), func() {
	/*
		Testname: live-ids-case-sensitive
		Description: a liveID is printable ASCII compared byte for byte (ROOM-002): two rooms
		whose IDs differ in case are two rooms (ROOM-001, not ROOM-003's 100003), each with its
		own host (ROOM-009), and an ID in a third case names no room (ROOM-005: 100004).
	*/
	It("[ROOM-003 ROOM-001 ROOM-005 ROOM-009] liveIDs that differ only in case name different rooms", func(ctx SpecContext) {
		s := newScene(ctx)
		upper, lower := s.room("Case"), s.room("case")
		h, g := s.user("h"), s.user("g")
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: upper})
		Expect(err).NotTo(HaveOccurred())
		_, err = g.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: lower})
		Expect(err).NotTo(HaveOccurred(), "%s is not %s", lower, upper)
		v := s.user("v")
		for id, owner := range map[string]*client.Client{upper: h, lower: g} {
			info, err := v.FetchLiveInfo(s.ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.LiveOwner.UserID).To(Equal(owner.UserID()), id)
		}
		_, err = v.JoinLive(s.ctx, s.room("CASE"))
		expectCode(err, client.CodeLiveNotExist)
	})

	/*
		Testname: private-room-joinable
		Description: isPublicVisible says whether fetchLiveList lists a room (ROOM-008), not
		who may join it: joinLive of a room created with isPublicVisible false MUST add the
		caller (ROOM-005), whose reply shows the room as not public.
	*/
	It("[ROOM-005 ROOM-008] a room created with isPublicVisible false is not listed but can be joined", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.user("h")
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h"), IsPublicVisible: ptr(false)})
		Expect(err).NotTo(HaveOccurred())
		v := s.user("v")
		joined, err := v.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred(), "a private room is unlisted, not closed")
		Expect(joined.LiveInfo.IsPublicVisible).To(BeFalse())
		Expect(joined.LiveInfo.CurrentUserCount).To(Equal(2))
		Expect(listedRooms(s, v)).To(BeEmpty())
	})

	/*
		Testname: live-info-everywhere
		Description: a room's LiveInfo (§6) is the same wherever it is read: fetchLiveInfo
		(ROOM-009), joinLive's reply (ROOM-005) and fetchLiveList (ROOM-008) give createLive's
		liveInfo field for field — the seatTemplate asked for (any integer from 0, here above
		2^31), the maxSeatCount, the liveName, and liveOwner with the host's userName and
		avatarURL — but for currentUserCount, which counts the members now.
	*/
	It("[ROOM-009 ROOM-005 ROOM-008 ROOM-002] fetchLiveInfo, joinLive and fetchLiveList give the liveInfo createLive gave, seatTemplate, maxSeatCount and the whole liveOwner included", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.user("h", func(cfg *client.Config) {
			cfg.UserName, cfg.AvatarURL = "Host 名", "https://example.com/h.png"
		})
		created, err := h.CreateLive(s.ctx, client.CreateLiveRequest{
			LiveID: s.room("h"), LiveName: "名前 room", SeatTemplate: ptr(3000000000), MaxSeatCount: ptr(6),
		})
		Expect(err).NotTo(HaveOccurred(), "seatTemplate is any integer from 0")
		want := created.LiveInfo
		Expect(want.SeatTemplate).To(Equal(3000000000))
		Expect(want.LiveOwner).To(Equal(client.LiveUserInfo{UserID: h.UserID(), UserName: "Host 名", AvatarURL: "https://example.com/h.png"}))

		v := s.user("v")
		joined, err := v.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		want.CurrentUserCount = 2
		Expect(joined.LiveInfo).To(Equal(want), "joinLive's reply")
		info, err := v.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info).To(Equal(want), "fetchLiveInfo")
		Expect(listedInfos(s, v)).To(Equal([]client.LiveInfo{want}), "fetchLiveList")
	})

	/*
		Testname: host-seat-freed-at-end
		Description: a room that ends frees every seat with it (ROOM-007), its host's seat 0
		too: its host, then audience of another room, takes a seat there (SEAT-001) and leaves
		that seat (SEAT-002) without touching the other room's host on seat 0.
	*/
	It("[ROOM-007 SEAT-001 SEAT-002] a host whose room ended is on no seat: in another room it takes a seat and leaves it, and that room's host keeps seat 0", Label("seat"), func(ctx SpecContext) {
		s := newScene(ctx)
		h, g := s.host("h"), s.host("g")
		Expect(h.EndLive(s.ctx)).To(Succeed())
		_, err := h.JoinLive(s.ctx, s.room("g"))
		Expect(err).NotTo(HaveOccurred())
		settle(s, g)
		Expect(h.TakeSeat(s.ctx, 1)).To(Succeed(), "the seat of its ended room went with it")
		Expect(next[client.SeatListChanged](s, g, client.EvSeatListChanged).SeatList[1].UserInfo.UserID).To(Equal(h.UserID()))
		Expect(h.LeaveSeat(s.ctx)).To(Succeed())
		list := next[client.SeatListChanged](s, g, client.EvSeatListChanged).SeatList
		Expect(list[1].UserInfo.UserID).To(BeEmpty())
		Expect(list[0].UserInfo.UserID).To(Equal(g.UserID()), "g still hosts from seat 0")
	})

	/*
		Testname: seatless-leave-silent
		Description: a viewer on no seat leaving changes no seat, and an operation that
		changes nothing sends no event (SEAT-008): the host gets no onSeatListChanged.
	*/
	It("[SEAT-008 ROOM-006] a viewer on no seat leaves the room without any onSeatListChanged", Label("seat"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		settle(s, h, a)
		Expect(a.LeaveLive(s.ctx)).To(Succeed())
		none(s, h, client.EvSeatListChanged)
	})

	/*
		Testname: explicit-count-zero
		Description: fetchLiveList's count 0, sent explicitly, also means 20 (§7's table,
		ROOM-008): the request succeeds with at most 20 rooms. (The suite's typed client omits
		a count of 0, so the frame is written by hand.)
	*/
	It("[ROOM-008] fetchLiveList with an explicit count 0 is served as count 20", func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("h")
		v := s.user("v")
		f := sendRaw(s, v, "c0", client.ReqFetchLiveList, `{"type":"fetchLiveList","id":"c0","payload":{"count":0}}`)
		Expect(*f.Code).To(BeZero(), "count 0 means 20: %s", *f.Message)
		var page client.FetchLiveListReply
		Expect(json.Unmarshal(f.Payload, &page)).To(Succeed())
		Expect(len(page.LiveInfoList)).To(BeNumerically("<=", 20))
	})
})
