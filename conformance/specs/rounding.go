package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Where SPEC says "rounded", the suite sends values that rounding and truncation take to
// different results, and values well away from a half, where rounding conventions agree.

var _ = Describe("Rounding", Label("rest", "battle"), func() {
	It("[REST-010] create_battle rounds Duration to the nearest second: 1700 ms is 2 s, 2300 ms is 2 s and 60600 ms is 61 s, where truncation would give 1, 2 and 60", func(ctx SpecContext) {
		s := newScene(ctx)
		r := s.rest()
		for _, c := range []struct {
			from, to string
			ms       int64
			want     int
		}{
			{"a", "b", 1700, 2},
			{"c", "d", 2300, 2},
			{"e", "f", 60600, 61},
		} {
			from, to := s.host(c.from), s.host(c.to)
			battleWelcome(s)
			resp, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room(c.from), ToRoomIDList: []string{s.room(c.to)}, Duration: c.ms})
			Expect(err).NotTo(HaveOccurred(), "Duration %d ms", c.ms)
			for _, m := range []*client.Client{from, to} {
				ev := next[client.BattleStarted](s, m, client.EvBattleStarted)
				Expect(ev.BattleInfo.Config.Duration).To(Equal(c.want), "Duration %d ms at %s", c.ms, m.UserID())
				Expect(ev.BattleInfo.EndTime).To(Equal(ev.BattleInfo.StartTime+int64(c.want)), "endTime = startTime + the rounded duration")
			}
			info, err := r.GetBattleInfo(s.ctx, resp.BattleID, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Duration).To(Equal(int64(c.want)*1000), "get_battle_info's Duration of a battle created with %d ms", c.ms)
		}
	})
})
