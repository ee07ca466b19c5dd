package specs

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// limitCap is the largest advertised limit the limit specs fill up; a server advertising more
// is not tested at its limit (the spec is skipped and says so).
const limitCap = 500

// fillable returns limit, or skips the spec when limit is too large to fill.
func fillable(name string, limit int) int {
	GinkgoHelper()
	if limit > limitCap {
		Skip(fmt.Sprintf("the server advertises %s %d; the suite fills at most %d", name, limit, limitCap))
	}
	return limit
}

var _ = Describe("Limits", Label("limits"), func() {
	It("[LIMIT-001 LIMIT-003 COHOST-006 WELCOME-002] as many rooms as maxConnectedRooms connect into one group and one more is refused with code 4", func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h0")
		max := fillable("maxConnectedRooms", s.welcome().Limits.MaxConnectedRooms)
		var members []*client.Client
		for i := 1; i < max; i++ {
			members = append(members, s.host(fmt.Sprint("h", i)))
		}
		extra := s.host("extra")
		connect(s, first, members...) // max-1 rooms: the most one call may list (COHOST-007)
		v := s.user("v")
		r, err := v.JoinLive(s.ctx, s.room("h0"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.ConnectedList).To(HaveLen(max), "all %d rooms are connected", max)

		Expect(request(s, first, s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnFull), "the group's inviter")
		Expect(request(s, members[len(members)-1], s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnFull), "another host of the group")
		none(s, extra, client.EvConnectionRequestReceived)
		// After one room leaves, there is room again.
		Expect(members[0].Disconnect(s.ctx)).To(Succeed())
		Expect(request(s, first, s.room("extra"))).To(HaveKeyWithValue(s.room("extra"), client.ConnSuccess))
	})

	It("[COHOST-006] pending requests of a group count towards maxConnectedRooms", func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h0")
		max := fillable("maxConnectedRooms", s.welcome().Limits.MaxConnectedRooms)
		var members []*client.Client
		for i := 1; i < max-2; i++ {
			members = append(members, s.host(fmt.Sprint("h", i)))
		}
		if len(members) > 0 {
			connect(s, first, members...)
		}
		x, y, z := s.host("x"), s.host("y"), s.host("z")
		settle(s, y)
		// The group (max-2 rooms) plus two pending requests fill it: a third target is full,
		// whether it comes first in the list or after the others.
		codes := request(s, first, s.room("x"), s.room("y"), s.room("z"))
		Expect(codes).To(Equal(map[string]int{s.room("x"): client.ConnSuccess, s.room("y"): client.ConnSuccess, s.room("z"): client.ConnFull}))
		none(s, z, client.EvConnectionRequestReceived)
		settle(s, x)
		Expect(x.RejectConnection(s.ctx, s.room("h0"))).To(Succeed())
		Expect(request(s, first, s.room("z"))).To(HaveKeyWithValue(s.room("z"), client.ConnSuccess), "a closed request frees its place")
		none(s, y, client.EvConnectionRequestCancelled, client.EvConnectionRequestTimeout)
	})

	It("[LIMIT-002 LIMIT-003 WELCOME-002] a room holds maxUsersPerRoom users, host included, and one more is refused with 100008", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		max := fillable("maxUsersPerRoom", s.welcome().Limits.MaxUsersPerRoom)
		var audience []*client.Client
		for i := 1; i < max; i++ {
			audience = append(audience, s.audience(fmt.Sprint("a", i), s.room("h")))
		}
		info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(max))
		late := s.user("late")
		_, err = late.JoinLive(s.ctx, s.room("h"))
		expectCode(err, client.CodeLiveMembersFull)
		// One leaves: the late user fits.
		Expect(audience[0].LeaveLive(s.ctx)).To(Succeed())
		_, err = late.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
	})
})
