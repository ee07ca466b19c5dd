package specs

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// scoreUpdates is how many score changes the fan-out spec sends.
const scoreUpdates = 20

// expectVersions checks that c received exactly versions 1..n of battle id, once each, in
// order, and returns the last one (BATTLE-042, BATTLE-043).
func expectVersions(c *client.Client, id string, n int) client.BattleScoreChanged {
	GinkgoHelper()
	evs := c.Unread(client.EvBattleScoreChanged)
	Expect(evs).To(HaveLen(n), "%s: score changes received", c.UserID())
	var last client.BattleScoreChanged
	for i, e := range evs {
		Expect(e.Decode(&last)).To(Succeed())
		Expect(last.BattleID).To(Equal(id))
		Expect(last.Version).To(Equal(uint64(i+1)), "%s: score change %d carries version %d", c.UserID(), i+1, last.Version)
	}
	return last
}

var _ = Describe("Scores", Label("battle", "score"), func() {
	It("[BATTLE-040 BATTLE-041 BATTLE-042 REST-030 REST-033] each set_battle_score is one new version and one onBattleScoreChanged with the whole board: add, overwrite, ranks with ties", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		da := s.audience("da", s.room("d"))
		id := startBattle(s, 300, a, []*client.Client{b, c, d}, da).BattleInfo.BattleID
		r := s.rest()
		steps := []struct {
			op     int
			scores map[string]int64
			want   []int64 // a, b, c, d after the step
			ranks  []int
		}{
			// Add to two rooms.
			{client.OpAdd, map[string]int64{"a": 50, "b": 400}, []int64{50, 400, 0, 0}, []int{2, 1, 3, 3}},
			// Add again: accumulates.
			{client.OpAdd, map[string]int64{"a": 1200, "c": 1314}, []int64{1250, 400, 1314, 0}, []int{2, 3, 1, 4}},
			// Overwrite: ties share a rank (100, 80, 80, 10 -> 1, 2, 2, 4).
			{client.OpOverwrite, map[string]int64{"a": 80, "b": 100, "c": 80, "d": 10}, []int64{80, 100, 80, 10}, []int{2, 1, 2, 4}},
			// Overwrite with the same value still makes a version.
			{client.OpOverwrite, map[string]int64{"d": 10}, []int64{80, 100, 80, 10}, []int{2, 1, 2, 4}},
		}
		for i, st := range steps {
			var list []client.ScoreItem
			for _, n := range []string{"a", "b", "c", "d"} {
				if v, ok := st.scores[n]; ok {
					list = append(list, client.ScoreItem{RoomID: s.room(n), Score: v})
				}
			}
			resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: st.op, ScoreList: list})
			Expect(err).NotTo(HaveOccurred(), "step %d", i+1)
			Expect(resp.ScoreVersion).To(Equal(uint64(i + 1)))
			for _, res := range resp.Result {
				Expect(res.ResultCode).To(BeZero(), "step %d: %s", i+1, res.RoomID)
			}
			for _, m := range []*client.Client{a, b, c, d, da} {
				ev := next[client.BattleScoreChanged](s, m, client.EvBattleScoreChanged)
				Expect(ev.Version).To(Equal(uint64(i+1)), m.UserID())
				Expect(client.UserIDs(ev.BattleUserList)).To(Equal(userIDs(a, b, c, d)), "the board keeps its order")
				var scores []int64
				var ranks []int
				for _, u := range ev.BattleUserList {
					scores, ranks = append(scores, u.Score), append(ranks, u.Rank)
				}
				Expect(scores).To(Equal(st.want), "step %d at %s", i+1, m.UserID())
				Expect(ranks).To(Equal(st.ranks), "step %d at %s", i+1, m.UserID())
			}
		}
	})

	It("[REST-031 REST-033 BATTLE-042] rooms that are not participants get ResultCode 1 and change nothing; a request naming none makes no version", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		stranger := s.host("x")
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		settle(s, a, b, c)
		r := s.rest()
		resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{
			{RoomID: s.room("x"), Score: 5}, {RoomID: s.room("c"), Score: 5}, {RoomID: s.room("nowhere"), Score: 5},
		}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.ScoreVersion).To(BeZero(), "nothing applied: no new version")
		for _, res := range resp.Result {
			Expect(res.ResultCode).To(Equal(1), res.RoomID)
		}
		none(s, a, client.EvBattleScoreChanged)
		none(s, stranger, client.EvBattleScoreChanged)
		resp, err = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{
			{RoomID: s.room("c"), Score: 5}, {RoomID: s.room("b"), Score: 7},
		}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Result).To(Equal([]client.ScoreResult{{RoomID: s.room("c"), ResultCode: 1}, {RoomID: s.room("b"), ResultCode: 0}}))
		ev := next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(ev.Version).To(Equal(uint64(1)))
		Expect(ev.BattleUserList[2].Score).To(BeZero(), "the exited room's score is frozen")
		none(s, c, client.EvBattleScoreChanged) // the exited room no longer gets battle events
	})

	It("[REST-032] set_battle_score of an unknown, a pending or an ended battle fails with 100411, 100420, 100421", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		r := s.rest()
		set := func(id string) error {
			_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
			return err
		}
		expectCode(set(s.id("no-such-battle")), client.CodeBattleNotExist)
		pending, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		expectCode(set(pending.BattleInfo.BattleID), client.CodeBattleNotStarted)
		Expect(a.CancelBattleRequest(s.ctx, pending.BattleInfo.BattleID, b.UserID())).To(Succeed())
		short := startBattle(s, 1, c, []*client.Client{a})
		nextWithin[client.BattleEnded](s, c, client.EvBattleEnded, time.Second+target.EventTimeout)
		expectCode(set(short.BattleInfo.BattleID), client.CodeBattleAlreadyEnded)
	})

	It("[REST-034] a set_battle_score retried with the same IdempotencyKey is applied once and answered as the first time", func(ctx SpecContext) {
		s := newScene(ctx)
		a, _, id, r := restBattle(s)
		req := client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: s.id("gift-1"), ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 1200}}}
		first, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred())
		for i := 0; i < 3; i++ {
			again, err := r.SetBattleScore(s.ctx, req)
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(Equal(first), "retry %d", i+1)
		}
		other := req
		other.IdempotencyKey = s.id("gift-2")
		second, err := r.SetBattleScore(s.ctx, other)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.ScoreVersion).To(Equal(first.ScoreVersion + 1))
		Expect(a.Sync(s.ctx)).To(Succeed())
		last := expectVersions(a, id, 2)
		Expect(last.BattleUserList[1].Score).To(Equal(int64(2400)), "two distinct gifts of 1200")
	})

	It("[REST-034 REST-032] a set_battle_score retried after its battle ended gets its first response; a new key gets 100421", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := startBattle(s, 1, a, []*client.Client{b}).BattleInfo.BattleID
		r := s.rest()
		req := client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: s.id("gift-1"), ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 3}}}
		first, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred())
		nextWithin[client.BattleEnded](s, a, client.EvBattleEnded, time.Second+target.EventTimeout)
		again, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred(), "the retry of an acknowledged update, after the end")
		Expect(again).To(Equal(first))
		other := req
		other.IdempotencyKey = s.id("gift-2")
		_, err = r.SetBattleScore(s.ctx, other)
		expectCode(err, client.CodeBattleAlreadyEnded)
	})

	DescribeTable("[REST-030 REST-005] set_battle_score refuses bad bodies with 100002 and changes nothing",
		func(ctx SpecContext, body func(s *scene, id string) any) {
			s := newScene(ctx)
			hs := s.hosts("a", "b")
			battleWelcome(s)
			id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
			expectCode(s.rest().Call(s.ctx, client.APISetBattleScore, body(s, id), nil), client.CodeInvalidParameter)
			none(s, hs[0], client.EvBattleScoreChanged)
		},
		Entry("OpType 3", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "OpType": 3, "ScoreList": []any{map[string]any{"RoomId": s.room("a"), "Score": 1}}}
		}),
		Entry("no OpType", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "ScoreList": []any{map[string]any{"RoomId": s.room("a"), "Score": 1}}}
		}),
		Entry("a negative Score", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "OpType": 1, "ScoreList": []any{map[string]any{"RoomId": s.room("a"), "Score": -1}}}
		}),
		Entry("a Score as a string", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "OpType": 1, "ScoreList": []any{map[string]any{"RoomId": s.room("a"), "Score": "1"}}}
		}),
		Entry("a sum beyond 2^53-1", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "OpType": 1, "ScoreList": []any{
				map[string]any{"RoomId": s.room("a"), "Score": int64(1) << 52}, map[string]any{"RoomId": s.room("a"), "Score": int64(1) << 52},
			}}
		}),
		Entry("an empty ScoreList", func(s *scene, id string) any {
			return map[string]any{"BattleId": id, "OpType": 1, "ScoreList": []any{}}
		}),
		Entry("no BattleId", func(s *scene, id string) any {
			return map[string]any{"OpType": 1, "ScoreList": []any{map[string]any{"RoomId": s.room("a"), "Score": 1}}}
		}),
	)

	It("[REST-030] OpType may be sent as a string, as Tencent documents it", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
		var resp client.SetBattleScoreResponse
		Expect(s.rest().Call(s.ctx, client.APISetBattleScore, map[string]any{"BattleId": id, "OpType": "2", "ScoreList": []any{map[string]any{"RoomId": s.room("b"), "Score": 7}}}, &resp)).To(Succeed())
		Expect(resp.ScoreVersion).To(Equal(uint64(1)))
		Expect(next[client.BattleScoreChanged](s, hs[0], client.EvBattleScoreChanged).BattleUserList[1].Score).To(Equal(int64(7)))
	})

	It("[BATTLE-043 BATTLE-044 BATTLE-020] in a full group (maxConnectedRooms rooms × maxUsersPerRoom users) every user receives every score change once, in order, and the end carries the last version", Label("fanout"), func(ctx SpecContext) {
		s := newScene(ctx, time.Minute)
		first := s.host("h0")
		w := battleWelcome(s)
		rooms := fillable("maxConnectedRooms", w.Limits.MaxConnectedRooms)
		perRoom := fillable("maxUsersPerRoom", w.Limits.MaxUsersPerRoom)
		hosts := []*client.Client{first}
		for i := 1; i < rooms; i++ {
			hosts = append(hosts, s.host(fmt.Sprint("h", i)))
		}
		connect(s, first, hosts[1:]...)
		var names, rooms2 []string
		for i := range hosts {
			for j := 1; j < perRoom; j++ {
				names = append(names, fmt.Sprintf("u%d-%d", i, j))
				rooms2 = append(rooms2, s.room(fmt.Sprint("h", i)))
			}
		}
		audience := s.crowd(names, rooms2)
		everyone := append(append([]*client.Client{}, hosts...), audience...)
		Expect(everyone).To(HaveLen(rooms * perRoom))
		AddReportEntry("fan-out recipients", len(everyone))

		reply := startBattle(s, 300, first, hosts[1:], audience...)
		id := reply.BattleInfo.BattleID
		r := s.rest()
		for v := 1; v <= scoreUpdates; v++ {
			room := s.room(fmt.Sprint("h", v%rooms))
			resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: room, Score: int64(v)}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.ScoreVersion).To(Equal(uint64(v)))
		}
		Expect(first.ExitBattle(s.ctx, id)).NotTo(HaveOccurred())
		// Everyone but the first room's users must now hold versions 1..N (the first room
		// exited: it got every change before it exited, and no end).
		var want client.BattleScoreChanged
		for _, c := range everyone {
			Expect(c.Sync(s.ctx)).To(Succeed())
			last := expectVersions(c, id, scoreUpdates)
			if want.BattleID == "" {
				want = last
			}
			Expect(last.BattleUserList).To(Equal(want.BattleUserList), "%s: the same board everywhere", c.UserID())
		}
		if rooms == 2 {
			return // the exit ended the battle: covered by BATTLE-022's spec
		}
		for _, h := range hosts[1:] {
			Expect(h.ExitBattle(s.ctx, id)).To(Succeed())
			if h == hosts[len(hosts)-2] {
				break
			}
		}
		last := hosts[len(hosts)-1]
		ended := next[client.BattleEnded](s, last, client.EvBattleEnded)
		Expect(ended.Version).To(Equal(uint64(scoreUpdates)), "BATTLE-044: the end carries the last version")
		Expect(ended.BattleUserList).To(Equal(want.BattleUserList))
	})
})
