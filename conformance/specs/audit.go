package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs added by the mutation audit (make mutation-audit, reports/measurements/mutation-audit.md):
// each kills generated mutants of the reference server that the unit tests and every earlier
// spec let live.

var _ = Describe("Mutation audit", func() {
	/*
		Testname: exit-battle-rank
		Description: onUserExitBattle's battleUser is a BattleUser: its score and its rank as
		BATTLE-041 computes them (1 plus the rooms with a higher score, ties sharing a rank) MUST
		be the exiting room's at the moment it exits. Kills the rank count mutated in
		reference/core (battle.go rankOf).
	*/
	It("[BATTLE-022 BATTLE-041] onUserExitBattle carries the exiting room's score and its rank, a tie sharing the rank", Label("battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		ca := s.audience("ca", s.room("c"))
		id := startBattle(s, 300, a, []*client.Client{b, c}, ca).BattleInfo.BattleID
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{
			{RoomID: s.room("a"), Score: 20}, {RoomID: s.room("b"), Score: 30}, {RoomID: s.room("c"), Score: 20},
		}})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b, c, ca)

		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, c, ca} {
			u := next[client.UserExitBattle](s, m, client.EvUserExitBattle).BattleUser
			Expect(u.UserID).To(Equal(c.UserID()), m.UserID())
			Expect(u.Score).To(Equal(int64(20)), "%s: the exiting room's score", m.UserID())
			Expect(u.Rank).To(Equal(2), "%s: one room (b, 30) is higher; a (20) ties and shares the rank", m.UserID())
		}
	})
})
