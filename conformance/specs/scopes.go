package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Keys and counters that SPEC scopes to a battle or a room are used in two scopes at once: the
// same IdempotencyKey in two battles, two battles' score versions side by side, the same seat
// index in two rooms of one group.

var _ = Describe("Scoped keys and counters", func() {
	It("[REST-034] an IdempotencyKey belongs to its battle: the same key in another battle is applied there and answered with that battle's response", Label("rest", "battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		ab, cd := s.hosts("a", "b"), s.hosts("c", "d")
		battleWelcome(s)
		first := startBattle(s, 300, ab[0], ab[1:]).BattleInfo.BattleID
		second := startBattle(s, 300, cd[0], cd[1:]).BattleInfo.BattleID
		r := s.rest()
		key := s.id("gift-1")
		one, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: first, OpType: client.OpAdd, IdempotencyKey: key, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 5}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(one.Result).To(Equal([]client.ScoreResult{{RoomID: s.room("a"), ResultCode: 0}}))
		two, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: second, OpType: client.OpAdd, IdempotencyKey: key, ScoreList: []client.ScoreItem{{RoomID: s.room("d"), Score: 7}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(two).To(Equal(client.SetBattleScoreResponse{Result: []client.ScoreResult{{RoomID: s.room("d"), ResultCode: 0}}, ScoreVersion: 1}),
			"the key was used in another battle only: this battle applies the request")
		ev := next[client.BattleScoreChanged](s, cd[0], client.EvBattleScoreChanged)
		Expect(ev.BattleID).To(Equal(second))
		Expect(ev.BattleUserList[1].Score).To(Equal(int64(7)))
		// Within each battle the key still stands for its first request.
		again, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: second, OpType: client.OpAdd, IdempotencyKey: key, ScoreList: []client.ScoreItem{{RoomID: s.room("d"), Score: 7}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(two))
		again, err = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: first, OpType: client.OpAdd, IdempotencyKey: key, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 5}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(one))
		Expect(ab[0].Sync(s.ctx)).To(Succeed())
		Expect(expectVersions(ab[0], first, 1).BattleUserList[0].Score).To(Equal(int64(5)))
		Expect(cd[0].Sync(s.ctx)).To(Succeed())
		expectVersions(cd[0], second, 0)
	})

	It("[BATTLE-042 BATTLE-043] each battle counts its own score versions: two battles scored in turn each go 1, 2, 3", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		ab, cd := s.hosts("a", "b"), s.hosts("c", "d")
		battleWelcome(s)
		first := startBattle(s, 300, ab[0], ab[1:]).BattleInfo.BattleID
		second := startBattle(s, 300, cd[0], cd[1:]).BattleInfo.BattleID
		r := s.rest()
		const rounds = 3
		for v := 1; v <= rounds; v++ {
			for _, bt := range []struct{ id, room string }{{first, "b"}, {second, "c"}} {
				resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: bt.id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room(bt.room), Score: int64(v)}}})
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.ScoreVersion).To(Equal(uint64(v)), "update %d of battle %s", v, bt.id)
			}
		}
		for _, m := range append(ab, cd...) {
			Expect(m.Sync(s.ctx)).To(Succeed())
		}
		for _, m := range ab {
			expectVersions(m, first, rounds)
		}
		for _, m := range cd {
			expectVersions(m, second, rounds)
		}
	})

	It("[SEAT-001 SEAT-010] a seat index belongs to its room: in a group, members of two rooms take the same index, each in its own room", Label("seat", "cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		connect(s, a, b)
		settle(s, aa, ba)
		Expect(aa.TakeSeat(s.ctx, 1)).To(Succeed())
		Expect(ba.TakeSeat(s.ctx, 1)).To(Succeed(), "seat 1 of room b is free, whatever happens to seat 1 of room a")
		for _, m := range []*client.Client{a, b, aa, ba} {
			Expect(m.Sync(s.ctx)).To(Succeed())
			evs := m.Unread(client.EvSeatListChanged)
			Expect(evs).NotTo(BeEmpty(), m.UserID())
			var last client.SeatListChanged
			Expect(evs[len(evs)-1].Decode(&last)).To(Succeed())
			expectMerged(last.SeatList, s.room("a"), s.room("b"))
			for _, who := range []struct {
				c    *client.Client
				room string
			}{{aa, s.room("a")}, {ba, s.room("b")}} {
				si := seatOf(last.SeatList, who.c.UserID())
				Expect(si).NotTo(BeNil(), "%s sees %s seated", m.UserID(), who.c.UserID())
				Expect(si.LiveID).To(Equal(who.room))
				Expect(si.Index).To(Equal(1))
			}
		}
	})
})
