package specs

import (
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Every timer is checked from both sides: its event comes neither before the time asked for
// nor later than that time plus the lateness below. A spec that only waits "long enough"
// cannot tell a server that waits twice as long from a correct one.

// lateness is how late after its due time the suite accepts a timed event (a timeout, the end
// of a battle): the slack the server leaves its own clients between two heartbeats
// (heartbeatTimeoutMs − heartbeatIntervalMs), which the suite's clients already need to keep
// their heartbeats on time, and never more than the suite's event timeout. A server later than
// that is either wrong or too busy to keep its own liveness promise. The reference server in
// the suite: 1 s (3.5 s under the race detector).
func lateness(w client.Welcome) time.Duration {
	slack := time.Duration(w.Timing.HeartbeatTimeoutMs-w.Timing.HeartbeatIntervalMs) * time.Millisecond
	return max(0, min(slack, target.EventTimeout))
}

// probeSeconds is the timeout or duration, in whole seconds, that the upper-bound specs ask
// for: a second more than the lateness, so that a server that waits twice as long as asked is
// later than the bound by at least a second.
func probeSeconds(w client.Welcome) int {
	return int(math.Ceil(lateness(w).Seconds())) + 1
}

// timed is an event caused by a timer of length d that the server armed between sent and
// replied (the request was sent at sent, its reply read by replied).
type timed struct {
	what          string
	sent, replied time.Time
	d             time.Duration
}

// expectOnTime checks that e came neither before t.d after the request (less timerSlack) nor
// later than t.d plus the lateness after its reply.
func expectOnTime(e client.Event, t timed, late time.Duration) {
	GinkgoHelper()
	early, after := e.At.Sub(t.sent), e.At.Sub(t.replied)
	Expect(early).To(BeNumerically(">=", t.d-timerSlack), "%s came %v after the request, before the %v asked for", t.what, early, t.d)
	Expect(after).To(BeNumerically("<=", t.d+late), "%s came %v after the reply: later than the %v asked for plus the %v the suite accepts (heartbeatTimeoutMs − heartbeatIntervalMs, at most the event timeout)",
		t.what, after.Round(time.Millisecond), t.d, late)
}

var _ = Describe("Timers from both sides", Label("timeout"), func() {
	It("[COHOST-014 WELCOME-003] a connection request times out at both hosts neither before its timeout nor later than the suite's lateness after it, with a timeout given and with the default", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, x, y := s.host("a"), s.host("b"), s.host("x"), s.host("y")
		w := s.welcome()
		late := lateness(w)
		given := timed{what: "the timeout of a request with timeout", d: time.Duration(probeSeconds(w)) * time.Second}
		def := timed{what: "the timeout of a request without timeout (defaultInviteTimeoutS)", d: time.Duration(w.Timing.DefaultInviteTimeoutS) * time.Second}
		s.allow(max(given.d, def.d) + late)

		given.sent = time.Now()
		codes, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(probeSeconds(w))})
		given.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		def.sent = time.Now()
		codes, err = x.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("y")}})
		def.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("y"), client.ConnSuccess))

		for _, c := range []struct {
			host, invitee *client.Client
			t             timed
		}{{a, b, given}, {b, b, given}, {x, y, def}, {y, y, def}} {
			ev, e := nextWithin[client.ConnectionRequestOutcome](s, c.host, client.EvConnectionRequestTimeout, time.Until(c.t.replied.Add(c.t.d+late+target.EventTimeout)))
			Expect(ev.Invitee.LiveID).To(Equal(s.roomOf(c.invitee)))
			expectOnTime(e, timed{what: c.t.what + " at " + c.host.UserID(), sent: c.t.sent, replied: c.t.replied, d: c.t.d}, late)
		}
	})

	It("[BATTLE-009] a battle request times out at both hosts neither before its timeout nor later than the suite's lateness after it, with a timeout given and with the default", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		ab, xy := s.hosts("a", "b"), s.hosts("x", "y")
		w := battleWelcome(s)
		late := lateness(w)
		given := timed{what: "the timeout of a battle request with timeout", d: time.Duration(probeSeconds(w)) * time.Second}
		def := timed{what: "the timeout of a battle request without timeout (defaultInviteTimeoutS)", d: time.Duration(w.Timing.DefaultInviteTimeoutS) * time.Second}
		s.allow(max(given.d, def.d) + late)

		given.sent = time.Now()
		_, err := ab[0].RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(ab[1]), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(probeSeconds(w))})
		given.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())
		def.sent = time.Now()
		_, err = xy[0].RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(xy[1]), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}})
		def.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())

		for _, c := range []struct {
			host, invitee *client.Client
			t             timed
		}{{ab[0], ab[1], given}, {ab[1], ab[1], given}, {xy[0], xy[1], def}, {xy[1], xy[1], def}} {
			ev, e := nextWithin[client.BattleRequestEvent](s, c.host, client.EvBattleRequestTimeout, time.Until(c.t.replied.Add(c.t.d+late+target.EventTimeout)))
			Expect(ev.Invitee.UserID).To(Equal(c.invitee.UserID()))
			expectOnTime(e, timed{what: c.t.what + " at " + c.host.UserID(), sent: c.t.sent, replied: c.t.replied, d: c.t.d}, late)
		}
	})

	It("[BATTLE-030 BATTLE-044] a battle that runs out of time ends for every member neither before its duration nor later than the suite's lateness after it, with reason 0 and the last scores", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		ba := s.audience("ba", s.room("b"))
		late := lateness(w)
		d := probeSeconds(w)
		t := timed{what: "the end of a battle", d: time.Duration(d) * time.Second}
		s.allow(t.d + late)

		t.sent = time.Now()
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{Duration: ptr(d), NeedResponse: ptr(false)}})
		t.replied = time.Now()
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		_, err = s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 5}, {RoomID: s.room("b"), Score: 7}}})
		Expect(err).NotTo(HaveOccurred())

		for _, m := range []*client.Client{a, b, ba} {
			ev, e := nextWithin[client.BattleEnded](s, m, client.EvBattleEnded, time.Until(t.replied.Add(t.d+late+target.EventTimeout)))
			expectOnTime(e, timed{what: "the end of a battle of " + t.d.String() + " at " + m.UserID(), sent: t.sent, replied: t.replied, d: t.d}, late)
			Expect(ev.BattleInfo.BattleID).To(Equal(id))
			Expect(ev.Reason).To(Equal(client.BattleEndTimeOver))
			Expect(ev.BattleInfo.EndTime-ev.BattleInfo.StartTime).To(BeNumerically(">=", d-1), "endTime is when it ended, in Unix seconds")
			Expect(ev.Version).To(Equal(uint64(1)), "BATTLE-044: the version of the last score change")
			Expect(client.UserIDs(ev.BattleUserList)).To(Equal(userIDs(a, b)))
			Expect([]int64{ev.BattleUserList[0].Score, ev.BattleUserList[1].Score}).To(Equal([]int64{5, 7}), "BATTLE-044: the last scores")
			Expect([]int{ev.BattleUserList[0].Rank, ev.BattleUserList[1].Rank}).To(Equal([]int{2, 1}))
		}
	})
})
