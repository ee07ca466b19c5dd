package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// seatRoom is a room of host "h" with audience "a" and "b", all events read.
type seatRoom struct {
	s       *scene
	h, a, b *client.Client
	liveID  string
}

func newSeatRoom(s *scene) *seatRoom {
	GinkgoHelper()
	r := &seatRoom{s: s, h: s.host("h"), liveID: s.room("h")}
	r.a = s.audience("a", r.liveID)
	r.b = s.audience("b", r.liveID)
	settle(s, r.h, r.a, r.b)
	return r
}

// seatBoth puts a on seat 1 and b on seat 2 and consumes the two seat events.
func (r *seatRoom) seatBoth() {
	GinkgoHelper()
	Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
	Expect(r.b.TakeSeat(r.s.ctx, 2)).To(Succeed())
	r.changed()
	r.changed()
}

// all returns the room's three members.
func (r *seatRoom) all() []*client.Client { return []*client.Client{r.h, r.a, r.b} }

// changed waits for the onSeatListChanged every member must get and returns the host's copy,
// after checking that all members got the same list.
func (r *seatRoom) changed() []client.SeatInfo {
	GinkgoHelper()
	var first []client.SeatInfo
	for _, c := range r.all() {
		ev := next[client.SeatListChanged](r.s, c, client.EvSeatListChanged)
		Expect(ev.LiveID).To(Equal(r.liveID))
		if first == nil {
			first = ev.SeatList
		} else {
			Expect(ev.SeatList).To(Equal(first), "%s got another seat list", c.UserID())
		}
	}
	return first
}

// unchanged asserts that no member got onSeatListChanged.
func (r *seatRoom) unchanged() {
	GinkgoHelper()
	for _, c := range r.all() {
		none(r.s, c, client.EvSeatListChanged)
	}
}

var _ = Describe("Seats", Label("seat"), func() {
	It("[SEAT-001 SEAT-008] takeSeat puts the caller on a free seat with microphone off, and every member gets onSeatListChanged", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 3)).To(Succeed())
		list := r.changed()
		Expect(list[3].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(list[3].UserInfo.LiveID).To(Equal(r.liveID))
		Expect(list[3].UserInfo.MicrophoneStatus).To(Equal(0))
		Expect(list[3].UserInfo.UserName).To(Equal("name-" + r.a.UserID()))
	})

	DescribeTable("[SEAT-001] takeSeat refuses with the documented code and changes nothing",
		func(ctx SpecContext, prepare func(r *seatRoom) (*client.Client, int), code int) {
			r := newSeatRoom(newScene(ctx))
			c, index := prepare(r)
			settle(r.s, r.all()...)
			expectCode(c.TakeSeat(r.s.ctx, index), code)
			r.unchanged()
		},
		Entry("an index past the last seat: 100200", func(r *seatRoom) (*client.Client, int) { return r.a, 9 }, client.CodeSeatIndexInvalid),
		Entry("a negative index: 100200", func(r *seatRoom) (*client.Client, int) { return r.a, -1 }, client.CodeSeatIndexInvalid),
		Entry("an occupied seat: 100201", func(r *seatRoom) (*client.Client, int) { return r.a, 0 }, client.CodeSeatOccupied),
		Entry("a locked seat: 100202", func(r *seatRoom) (*client.Client, int) {
			Expect(r.h.LockSeat(r.s.ctx, 4)).To(Succeed())
			return r.a, 4
		}, client.CodeSeatLocked),
		Entry("a caller already on a seat: 100204", func(r *seatRoom) (*client.Client, int) {
			Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
			return r.a, 2
		}, client.CodeAlreadyOnSeat),
		Entry("a caller in no room: 100005", func(r *seatRoom) (*client.Client, int) { return r.s.user("n"), 1 }, client.CodeNotLiveMember),
	)

	It("[SEAT-002] leaveSeat frees the caller's seat; a caller on no seat gets 100203", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 2)).To(Succeed())
		r.changed()
		Expect(r.a.LeaveSeat(r.s.ctx)).To(Succeed())
		list := r.changed()
		Expect(list[2].UserInfo.UserID).To(BeEmpty())
		expectCode(r.a.LeaveSeat(r.s.ctx), client.CodeNotOnSeat)
		r.unchanged()
	})

	It("[SEAT-003] lockSeat locks a seat (its occupant stays) and unlockSeat clears it; repeating either succeeds without an event", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 5)).To(Succeed())
		r.changed()
		Expect(r.h.LockSeat(r.s.ctx, 5)).To(Succeed())
		list := r.changed()
		Expect(list[5].IsLocked).To(BeTrue())
		Expect(list[5].UserInfo.UserID).To(Equal(r.a.UserID()), "the occupant stays")
		Expect(r.h.LockSeat(r.s.ctx, 5)).To(Succeed())
		r.unchanged()
		Expect(r.h.UnlockSeat(r.s.ctx, 5)).To(Succeed())
		Expect(r.changed()[5].IsLocked).To(BeFalse())
		Expect(r.h.UnlockSeat(r.s.ctx, 5)).To(Succeed())
		r.unchanged()
		expectCode(r.h.LockSeat(r.s.ctx, 99), client.CodeSeatIndexInvalid)
	})

	It("[SEAT-004] kickUserOutOfSeat frees the user's seat and the user stays in the room; a user on no seat gives 100203", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.h.KickUserOutOfSeat(r.s.ctx, r.a.UserID())).To(Succeed())
		Expect(seatOf(r.changed(), r.a.UserID())).To(BeNil())
		expectCode(r.h.KickUserOutOfSeat(r.s.ctx, r.a.UserID()), client.CodeNotOnSeat)
		expectCode(r.h.KickUserOutOfSeat(r.s.ctx, r.s.id("stranger")), client.CodeNotOnSeat)
		// Still in the room: it can take a seat again.
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
	})

	It("[SEAT-005] moveUserToSeat moves a user to a free seat, and with policy 0 fails with 100201 on an occupied one", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 6, client.MoveAbortWhenOccupied)).To(Succeed())
		list := r.changed()
		Expect(list[1].UserInfo.UserID).To(BeEmpty())
		Expect(list[6].UserInfo.UserID).To(Equal(r.a.UserID()))
		expectCode(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 2, client.MoveAbortWhenOccupied), client.CodeSeatOccupied)
		r.unchanged()
	})

	It("[SEAT-005] moveUserToSeat with policy 1 replaces the occupant, with policy 2 swaps the two users; a locked target gives 100202", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 2, client.MoveSwapPosition)).To(Succeed())
		list := r.changed()
		Expect(list[1].UserInfo.UserID).To(Equal(r.b.UserID()))
		Expect(list[2].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 1, client.MoveForceReplace)).To(Succeed())
		list = r.changed()
		Expect(list[1].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(list[2].UserInfo.UserID).To(BeEmpty())
		Expect(seatOf(list, r.b.UserID())).To(BeNil(), "the replaced user has no seat")
		Expect(r.h.LockSeat(r.s.ctx, 7)).To(Succeed())
		r.changed()
		expectCode(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 7, client.MoveAbortWhenOccupied), client.CodeSeatLocked)
		r.unchanged()
	})

	It("[SEAT-005 SEAT-007] a member may move itself to a free seat, but not others and not onto an occupied seat", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		Expect(r.a.MoveUserToSeat(r.s.ctx, r.a.UserID(), 3, client.MoveAbortWhenOccupied)).To(Succeed())
		Expect(r.changed()[3].UserInfo.UserID).To(Equal(r.a.UserID()))
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.b.UserID(), 4, client.MoveAbortWhenOccupied), client.CodePermissionDenied)
		// Replacing or swapping would displace b, or the host: only the host may.
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.a.UserID(), 2, client.MoveForceReplace), client.CodePermissionDenied)
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.a.UserID(), 0, client.MoveSwapPosition), client.CodePermissionDenied)
		r.unchanged()
	})

	It("[SEAT-006] muteMicrophone and unmuteMicrophone set the caller's microphoneStatus; a caller on no seat gets 100203", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.a.UnmuteMicrophone(r.s.ctx)).To(Succeed())
		Expect(r.changed()[1].UserInfo.MicrophoneStatus).To(Equal(1))
		Expect(r.a.UnmuteMicrophone(r.s.ctx)).To(Succeed())
		r.unchanged()
		Expect(r.a.MuteMicrophone(r.s.ctx)).To(Succeed())
		Expect(r.changed()[1].UserInfo.MicrophoneStatus).To(Equal(0))
		expectCode(r.b.UnmuteMicrophone(r.s.ctx), client.CodeNotOnSeat)
	})

	It("[SEAT-007] host-only seat operations by an audience member fail with 100006 and change nothing", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.b.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		expectCode(r.a.LockSeat(r.s.ctx, 2), client.CodePermissionDenied)
		expectCode(r.a.UnlockSeat(r.s.ctx, 2), client.CodePermissionDenied)
		expectCode(r.a.KickUserOutOfSeat(r.s.ctx, r.b.UserID()), client.CodePermissionDenied)
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.b.UserID(), 3, client.MoveAbortWhenOccupied), client.CodePermissionDenied)
		r.unchanged()
	})

	It("[SEAT-009] a member leaving the room frees its seat with an onSeatListChanged", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 4)).To(Succeed())
		r.changed()
		Expect(r.a.LeaveLive(r.s.ctx)).To(Succeed())
		for _, c := range []*client.Client{r.h, r.b} {
			ev := next[client.SeatListChanged](r.s, c, client.EvSeatListChanged)
			Expect(ev.SeatList[4].UserInfo.UserID).To(BeEmpty())
		}
	})

	It("[SEAT-009 LIVE-021 LIVE-022] a seated member whose connection dies has its seat freed with an onSeatListChanged", Label("liveness"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		timeout := time.Duration(r.s.welcome().Timing.HeartbeatTimeoutMs)*time.Millisecond + lossGrace(r.s.welcome())
		r.s.allow(timeout)
		Expect(r.a.TakeSeat(r.s.ctx, 4)).To(Succeed())
		r.changed()
		r.a.Kill()
		for _, c := range []*client.Client{r.h, r.b} {
			ev, _ := nextWithin[client.SeatListChanged](r.s, c, client.EvSeatListChanged, timeout+target.EventTimeout)
			Expect(ev.SeatList[4].UserInfo.UserID).To(BeEmpty())
		}
		info, err := r.h.FetchLiveInfo(r.s.ctx, r.liveID)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(2))
	})
})

// Specs written after the hunt of battles and seats (2026-12-08), as battle_requests.go.
var _ = Describe("Seats at their edges", Label("seat"), func() {
	It("[SEAT-001] in a room of limits.maxSeatCount seats the last one, maxSeatCount − 1, is taken and locked", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.user("h")
		n := s.welcome().Limits.MaxSeatCount
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h"), MaxSeatCount: ptr(n)})
		Expect(err).NotTo(HaveOccurred())
		v := s.audience("v", s.room("h"))
		Expect(v.TakeSeat(s.ctx, n-1)).To(Succeed(), "seat %d of %d", n-1, n)
		Expect(h.LockSeat(s.ctx, n-2)).To(Succeed(), "seat %d of %d", n-2, n)
	})

	It("[SEAT-003] lockSeat and unlockSeat take the last seat", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		info, err := r.h.FetchLiveInfo(r.s.ctx, r.liveID)
		Expect(err).NotTo(HaveOccurred())
		last := info.MaxSeatCount - 1
		Expect(r.h.LockSeat(r.s.ctx, last)).To(Succeed())
		Expect(r.changed()[last].IsLocked).To(BeTrue())
		Expect(r.h.UnlockSeat(r.s.ctx, last)).To(Succeed())
		Expect(r.changed()[last].IsLocked).To(BeFalse())
	})

	It("[SEAT-005] moveUserToSeat takes the last seat, maxSeatCount − 1, and refuses maxSeatCount with 100200", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		info, err := r.h.FetchLiveInfo(r.s.ctx, r.liveID)
		Expect(err).NotTo(HaveOccurred())
		last := info.MaxSeatCount - 1
		expectCode(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), last+1, client.MoveAbortWhenOccupied), client.CodeSeatIndexInvalid)
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), last, client.MoveAbortWhenOccupied)).To(Succeed())
		Expect(r.changed()[last].UserInfo.UserID).To(Equal(r.a.UserID()))
	})

	It("[SEAT-005 SEAT-006] a moved user keeps its microphone: moved to a free seat or swapped, each user's microphoneStatus goes with it", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		Expect(r.a.UnmuteMicrophone(r.s.ctx)).To(Succeed())
		r.changed()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 4, client.MoveAbortWhenOccupied)).To(Succeed())
		Expect(r.changed()[4].UserInfo.MicrophoneStatus).To(Equal(1), "a's microphone was on")
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 2, client.MoveSwapPosition)).To(Succeed())
		list := r.changed()
		Expect(list[2].UserInfo.MicrophoneStatus).To(Equal(1), "a, on seat 2, keeps its microphone on")
		Expect(list[4].UserInfo.MicrophoneStatus).To(Equal(0), "b, on seat 4, keeps its microphone off")
	})

	It("[SEAT-005 SEAT-007] a member may not use policy 1 or 2, even onto a free seat: 100006", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.a.UserID(), 5, client.MoveForceReplace), client.CodePermissionDenied)
		expectCode(r.a.MoveUserToSeat(r.s.ctx, r.a.UserID(), 5, client.MoveSwapPosition), client.CodePermissionDenied)
		r.unchanged()
	})

	It("[SEAT-005] moving a member on no seat gets 100203 and seats nobody", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		expectCode(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 5, client.MoveAbortWhenOccupied), client.CodeNotOnSeat)
		r.unchanged()
	})

	It("[SEAT-006 SEAT-008] muting a muted microphone succeeds without an event", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.a.MuteMicrophone(r.s.ctx)).To(Succeed())
		r.unchanged()
	})

	It("[SEAT-008 ROOM-005] a user joining a room changes no seat: nobody gets onSeatListChanged", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		settle(s, h, a)
		b := s.audience("b", s.room("h"))
		for _, m := range []*client.Client{h, a, b} {
			none(s, m, client.EvSeatListChanged)
		}
	})

	It("[SEAT-008] a move in one room of a group reaches every member of every room of the group", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		a, b := hs[0], hs[1]
		aa, bb := s.audience("aa", s.room("a")), s.audience("bb", s.room("b"))
		Expect(bb.TakeSeat(s.ctx, 1)).To(Succeed())
		settle(s, a, b, aa, bb)
		Expect(b.MoveUserToSeat(s.ctx, bb.UserID(), 2, client.MoveAbortWhenOccupied)).To(Succeed())
		for _, m := range []*client.Client{a, aa, b, bb} {
			ev := next[client.SeatListChanged](s, m, client.EvSeatListChanged)
			Expect(seatsOfRoom(ev.SeatList, s.room("b"))[2].UserInfo.UserID).To(Equal(bb.UserID()), "%s sees bb on b's seat 2", m.UserID())
		}
	})
	It("[SEAT-001] error order: a bad index is 100200 for a caller already on a seat; a seat locked and occupied is 100202", func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		info, err := r.h.FetchLiveInfo(r.s.ctx, r.liveID)
		Expect(err).NotTo(HaveOccurred())
		expectCode(r.a.TakeSeat(r.s.ctx, info.MaxSeatCount), client.CodeSeatIndexInvalid)
		Expect(r.h.LockSeat(r.s.ctx, 2)).To(Succeed())
		r.changed()
		c := r.s.audience("c", r.liveID)
		expectCode(c.TakeSeat(r.s.ctx, 2), client.CodeSeatLocked)
	})
})
