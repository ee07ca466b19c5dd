package specs

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
)

// faultEnv gives a fault server timing that a pause of faultPause does not break: heartbeats
// every second, a connection dropped after 10 s of silence.
var faultEnv = []string{"PKARENA_HEARTBEAT_INTERVAL=1s", "PKARENA_HEARTBEAT_TIMEOUT=10s"}

// faultPause is how long FAULT-001 freezes the server.
const faultPause = 3 * time.Second

// startFaultServer starts a container of the target image of its own for one spec, or skips
// the spec when the target is not an image.
func startFaultServer(s *scene) *harness.FaultServer {
	GinkgoHelper()
	if target.TargetImage == "" {
		Skip(results.NotApplicable("fault specs pause, kill and restart the server: run them against an image (-target-image)"))
	}
	fs, err := target.StartFaultServer(s.ctx, faultEnv)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fs.Stop)
	return fs
}

// faultBattle is a running battle on a fault server: hosts h and g connected, viewers ha and
// ga in their rooms.
type faultBattle struct {
	s            *scene
	fs           *harness.FaultServer
	h, g, ha, ga *client.Client
	id           string
	rest         *client.REST
}

// on points a scene user at the fault server fs instead of the target.
func on(fs *harness.FaultServer) func(*client.Config) {
	return func(cfg *client.Config) { cfg.URL = fs.URL }
}

func newFaultBattle(s *scene, fs *harness.FaultServer) *faultBattle {
	GinkgoHelper()
	b := &faultBattle{s: s, fs: fs, rest: fs.REST(time.Second)}
	b.h, b.g = s.user("h", on(fs)), s.user("g", on(fs))
	for _, c := range []*client.Client{b.h, b.g} {
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.roomOf(c)})
		Expect(err).NotTo(HaveOccurred())
	}
	b.ha, b.ga = s.user("ha", on(fs)), s.user("ga", on(fs))
	_, err := b.ha.JoinLive(s.ctx, s.room("h"))
	Expect(err).NotTo(HaveOccurred())
	_, err = b.ga.JoinLive(s.ctx, s.room("g"))
	Expect(err).NotTo(HaveOccurred())
	_, err = b.h.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("g")}, Timeout: ptr(0)})
	Expect(err).NotTo(HaveOccurred())
	next[client.ConnectionRequestReceived](s, b.g, client.EvConnectionRequestReceived)
	Expect(b.g.AcceptConnection(s.ctx, s.room("h"))).To(Succeed())
	reply, err := b.h.RequestBattle(s.ctx, client.RequestBattleRequest{
		UserIDs: userIDs(b.g), Config: client.BattleConfigRequest{Duration: ptr(300), NeedResponse: ptr(false)},
	})
	Expect(err).NotTo(HaveOccurred())
	b.id = reply.BattleInfo.BattleID
	for _, c := range b.all() {
		next[client.BattleStarted](s, c, client.EvBattleStarted)
	}
	settle(s, b.all()...)
	return b
}

func (b *faultBattle) all() []*client.Client { return []*client.Client{b.h, b.g, b.ha, b.ga} }

// request adds points to room with the idempotency key.
func (b *faultBattle) request(room, key string, points int64) client.SetBattleScoreRequest {
	return client.SetBattleScoreRequest{BattleID: b.id, OpType: client.OpAdd, IdempotencyKey: key,
		ScoreList: []client.ScoreItem{{RoomID: room, Score: points}}}
}

// score adds points to room with the idempotency key, retrying while the server does not
// answer (REST-034). It returns the attempts made.
func (b *faultBattle) score(ctx context.Context, room, key string, points int64) (attempts int, err error) {
	req := b.request(room, key, points)
	for attempt := 1; ; attempt++ {
		_, err := b.rest.SetBattleScore(ctx, req)
		var refused *client.RESTError
		if err == nil || errors.As(err, &refused) {
			return attempt, err
		}
		select {
		case <-ctx.Done():
			return attempt, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var _ = Describe("Faults", Label("disruptive"), Serial, func() {
	It("[FAULT-001 REST-034 BATTLE-042] a server frozen mid-battle for less than the heartbeat timeout keeps every connection; score updates retried with their IdempotencyKey through the freeze count once, and everyone sees every version once, in order", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Minute)
		fs := startFaultServer(s)
		b := newFaultBattle(s, fs)
		for i := 1; i <= 3; i++ {
			_, err := b.score(s.ctx, s.room("h"), fmt.Sprintf("before-%d", i), 10)
			Expect(err).NotTo(HaveOccurred())
		}

		Expect(fs.Pause(s.ctx)).To(Succeed())
		type result struct {
			attempts int
			err      error
		}
		done := make(chan result, 2)
		for i, room := range []string{s.room("g"), s.room("h")} {
			go func() {
				defer GinkgoRecover()
				attempts, err := b.score(s.ctx, room, fmt.Sprintf("during-%d", i), 7)
				done <- result{attempts, err}
			}()
		}
		time.Sleep(faultPause) // the freeze itself: nothing to poll while the server is frozen
		Expect(fs.Unpause(s.ctx)).To(Succeed())
		for range 2 {
			r := <-done
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.attempts).To(BeNumerically(">", 1), "a request made during the freeze timed out and was retried")
		}

		// Every connection survived, and every member saw versions 1..5 exactly once, in order.
		for _, c := range b.all() {
			Expect(c.Heartbeat(s.ctx)).To(Succeed(), "%s still connected", c.UserID())
			_, _, closed := c.CloseCode()
			Expect(closed).To(BeFalse())
			for v := uint64(1); v <= 5; v++ {
				ev := next[client.BattleScoreChanged](s, c, client.EvBattleScoreChanged)
				Expect(ev.Version).To(Equal(v), "%s: versions in order", c.UserID())
			}
			none(s, c, client.EvBattleScoreChanged)
		}
		info, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.ScoreVersion).To(Equal(uint64(5)), "five updates acknowledged, five versions")
		Expect(info.FromRoomInfo.Score).To(Equal(int64(37)), "h: 3 × 10 + 7, each counted once")
		Expect(info.ToRoomList[0].Score).To(Equal(int64(7)), "g: 7, counted once")
	})

	It("[FAULT-002 REST-034 WELCOME-004] a server killed mid-battle and restarted: every connection ends, clients reconnect, and no acknowledged score update is lost or counted twice: the battle keeps exactly its acknowledged scores (required when the server advertises durableScores) or is gone (100411)", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Minute)
		fs := startFaultServer(s)
		b := newFaultBattle(s, fs)
		durable := b.h.Welcome().Features.DurableScores
		var acked []client.SetBattleScoreResponse
		for i := 1; i <= 3; i++ {
			resp, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
			Expect(err).NotTo(HaveOccurred())
			acked = append(acked, resp)
		}

		Expect(fs.Kill(s.ctx)).To(Succeed())
		for _, c := range b.all() {
			wait, cancel := context2(s, target.EventTimeout)
			code, err := c.WaitClosed(wait)
			cancel()
			Expect(err).NotTo(HaveOccurred(), "%s noticed the crash", c.UserID())
			Expect(code).To(Equal(client.CloseAbnormal), "a killed server sends no close frame")
		}
		Expect(fs.Restart(s.ctx)).To(Succeed())

		// Everyone reconnects and gets a fresh welcome.
		for _, name := range []string{"h", "g", "ha", "ga"} {
			Expect(s.user(name, on(fs)).Welcome().UserID).To(Equal(s.id(name)))
		}
		info, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		if err != nil {
			expectCode(err, client.CodeBattleNotExist)
			Expect(durable).To(BeFalse(), "the server advertises durableScores, yet lost battle %s and its 3 acknowledged updates", b.id)
			// A retried update must not resurrect or count anything.
			for i := 1; i <= 3; i++ {
				_, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
				expectCode(err, client.CodeBattleNotExist)
			}
			AddReportEntry("after the restart", "the battle is gone: its rooms and scores were not kept (100411)")
			return
		}
		Expect(info.Status).To(Equal(client.BattleStatusEnded), "its rooms are gone: the battle has ended")
		Expect(info.ScoreVersion).To(Equal(uint64(3)), "three updates acknowledged, three versions")
		Expect(info.FromRoomInfo.Score).To(Equal(int64(30)), "the battle kept exactly its three acknowledged updates")
		Expect(info.ToRoomList).To(HaveLen(1))
		Expect(info.ToRoomList[0].Score).To(BeZero())
		for i := 1; i <= 3; i++ {
			again, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
			Expect(err).NotTo(HaveOccurred(), "k%d retried after the restart", i)
			Expect(again).To(Equal(acked[i-1]), "k%d retried after the restart gets its first response", i)
		}
		_, err = b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), "k4", 10))
		expectCode(err, client.CodeBattleAlreadyEnded)
		after, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.ScoreVersion).To(Equal(uint64(3)), "the retries counted nothing")
		AddReportEntry("after the restart", fmt.Sprintf("the battle was kept, ended, with its acknowledged scores (durableScores %v)", durable))
	})

	It("[FAULT-003 LIVE-020 LIVE-022 BATTLE-023] a host whose client goes silent mid-battle (no close, no FIN) is dropped within heartbeatTimeoutMs: the others get onUserExitBattle, then onBattleEnded", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, aa, timeout := twoHostBattle(s)
		silent := time.Now()
		b.StopHeartbeat()
		lost := timeout + lossGrace(s.welcome()) // closed for silence, then its resume window (RESUME-005)
		for _, at := range expectExitThenEnd(s, b, lost+target.EventTimeout, a, aa) {
			Expect(at.Sub(silent)).To(BeNumerically("<=", lost+target.EventTimeout))
		}
		code, err := b.WaitClosed(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(client.CloseHeartbeatTimeout))
	})

	It("[FAULT-004 AUTH-007] a server stopped with SIGTERM mid-battle ends the battle and the rooms as if their hosts had left, tells the members, closes every connection with 1001 and exits 0 in time", func(ctx SpecContext) {
		s := newScene(ctx, time.Minute)
		fs := startFaultServer(s)
		b := newFaultBattle(s, fs)
		const grace = 10 * time.Second // docker stop's wait before SIGKILL
		start := time.Now()
		Expect(fs.Terminate(s.ctx, grace)).To(Succeed())
		took := time.Since(start)
		for _, c := range b.all() {
			code, err := c.WaitClosed(s.ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(client.CloseGoingAway), "%s: close code", c.UserID())
		}
		// The first host's connection ends first: its battle partner hears the battle end,
		// and each room's audience hears its room end.
		Expect(b.g.EventsOf(client.EvBattleEnded)).NotTo(BeEmpty(), "the other host heard the battle end")
		for _, v := range []*client.Client{b.ha, b.ga} {
			ended := v.EventsOf(client.EvLiveEnded)
			Expect(ended).To(HaveLen(1), "%s heard its room end", v.UserID())
		}
		exit, err := fs.ExitCode(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(exit).To(Equal(0), "the server exited by itself (137 would be docker's SIGKILL)")
		Expect(took).To(BeNumerically("<", grace))
		AddReportEntry("stopped in", took.String())
	})
})
