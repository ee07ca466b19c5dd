package specs

import (
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Requirements that were checked only in passing, inside a spec about something else (the
// 450-user fan-out, the REST rate limit), each get a spec of their own.

// burstUpdates is how many score changes the burst spec sends at once: well under the REST
// rate limit's second of allowance.
const burstUpdates = 30

var _ = Describe("Score delivery", Label("battle", "score"), func() {
	It("[BATTLE-042] every score change reaches each host and each audience member of every participant room exactly once, the inviter's room included", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		watchers := []*client.Client{
			s.audience("aa1", s.room("a")), s.audience("aa2", s.room("a")),
			s.audience("ba", s.room("b")), s.audience("ca", s.room("c")),
		}
		everyone := append([]*client.Client{a, b, c}, watchers...)
		id := startBattle(s, 300, a, []*client.Client{b, c}, watchers...).BattleInfo.BattleID
		r := s.rest()
		const updates = 3
		for i, room := range []string{"a", "b", "c"}[:updates] {
			resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room(room), Score: int64(10 * (i + 1))}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.ScoreVersion).To(Equal(uint64(i + 1)))
		}
		for _, m := range everyone {
			Expect(m.Sync(s.ctx)).To(Succeed())
			last := expectVersions(m, id, updates)
			Expect(client.UserIDs(last.BattleUserList)).To(Equal(userIDs(a, b, c)))
		}
	})

	It("[BATTLE-043] a burst of concurrent score changes reaches every member once each, in version order", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		watchers := []*client.Client{s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))}
		id := startBattle(s, 300, hs[0], hs[1:], watchers...).BattleInfo.BattleID
		r := s.rest()
		var wg sync.WaitGroup
		errs := make([]error, burstUpdates)
		for i := range burstUpdates {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room := []string{"a", "b"}[i%2]
				_, errs[i] = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room(room), Score: 1}}})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			Expect(err).NotTo(HaveOccurred(), "update %d", i+1)
		}
		for _, m := range append(hs, watchers...) {
			Expect(m.Sync(s.ctx)).To(Succeed())
			last := expectVersions(m, id, burstUpdates)
			Expect(last.BattleUserList[0].Score + last.BattleUserList[1].Score).To(Equal(int64(burstUpdates)))
		}
	})
})

var _ = Describe("Battle info over REST", Label("rest", "battle"), func() {
	It("[REST-020] get_battle_info reports every room's own score: the inviter's in FromRoomInfo, each other room's in ToRoomList", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		r := s.rest()
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{
			{RoomID: s.room("a"), Score: 30}, {RoomID: s.room("b"), Score: 20}, {RoomID: s.room("c"), Score: 10},
		}})
		Expect(err).NotTo(HaveOccurred())
		for _, q := range [][2]string{{id, ""}, {"", s.room("a")}, {"", s.room("c")}} {
			info, err := r.GetBattleInfo(s.ctx, q[0], q[1])
			Expect(err).NotTo(HaveOccurred(), "query %v", q)
			Expect(info.FromRoomInfo).To(Equal(client.RoomScore{RoomID: s.room("a"), Score: 30, OwnerAccount: a.UserID()}), "query %v: the inviter's room and its own score", q)
			Expect(info.ToRoomList).To(ConsistOf(
				client.RoomScore{RoomID: s.room("b"), Score: 20, OwnerAccount: b.UserID()},
				client.RoomScore{RoomID: s.room("c"), Score: 10, OwnerAccount: c.UserID()}), "query %v", q)
			Expect(info.ScoreVersion).To(Equal(uint64(1)))
		}
	})
})
