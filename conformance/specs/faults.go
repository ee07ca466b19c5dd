package specs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
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

// startFaultServer starts a container of the target image of its own for one spec, with
// faultEnv and the extra settings (KEY=VALUE), or skips the spec when the target is not an
// image.
func startFaultServer(s *scene, extra ...string) *harness.FaultServer {
	GinkgoHelper()
	if target.TargetImage == "" {
		Skip(results.NotApplicable("fault specs pause, kill and restart the server: run them against an image (-target-image)"))
	}
	fs, err := target.StartFaultServer(s.ctx, append(append([]string(nil), faultEnv...), extra...))
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

// hookReceiver returns the suite's webhook receiver and the setting that points a fault
// server at it, or skips the spec when the suite receives no webhooks.
func hookReceiver() (*harness.Receiver, string) {
	GinkgoHelper()
	r := receiver()
	return r, "PKARENA_WEBHOOK_URL=" + r.URL
}

// failHooksOf makes r answer 500 to every webhook of a battle the room takes part in while
// the returned switch is on (it starts on, and is turned off when the spec ends).
func failHooksOf(r *harness.Receiver, room string) *atomic.Bool {
	var failing atomic.Bool
	failing.Store(true)
	DeferCleanup(func() { failing.Store(false) })
	r.FailNext(math.MaxInt32, func(d harness.Delivery) bool {
		var b client.Webhook
		return failing.Load() && d.Decode(&b) == nil && (b.FromRoomID == room || b.FromRoomInfo.RoomID == room)
	})
	return &failing
}

// createdOverREST starts a battle of room from against room to over REST (300 s, so that
// only a fault ends it) and returns its ID.
func createdOverREST(s *scene, rest *client.REST, from, to string) string {
	GinkgoHelper()
	cb, err := rest.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: from, ToRoomIDList: []string{to}, Duration: 300000})
	Expect(err).NotTo(HaveOccurred())
	return cb.BattleID
}

// requestIDs records the RequestId of every REST answer a client reads (REST-002), so that a
// spec can check them unique across a restart.
type requestIDs struct {
	mu   sync.Mutex
	seen []string
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper: it reads the answer's RequestId and hands the
// answer on unread.
func (r *requestIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var env client.Envelope
	if json.Unmarshal(body, &env) == nil && env.RequestID != "" {
		r.mu.Lock()
		r.seen = append(r.seen, env.RequestID)
		r.mu.Unlock()
	}
	return resp, nil
}

// take returns the RequestIds recorded since the last take.
func (r *requestIDs) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// recordingREST is fs's administrator REST client (requests time out after a second), with
// the RequestIds of its answers recorded in ids.
func recordingREST(fs *harness.FaultServer, ids *requestIDs) *client.REST {
	ids.next = http.DefaultTransport
	return client.NewREST(client.RESTConfig{
		BaseURL: fs.RESTURL, SDKAppID: target.SDKAppID, Secret: target.Secret, Identifier: target.Admin,
		HTTPClient: &http.Client{Timeout: time.Second, Transport: ids},
	})
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

	It("[FAULT-002 REST-034 REST-035 REST-020 RESUME-006 WELCOME-004] a server killed mid-battle and restarted, twice: every connection ends, clients reconnect, a resume token from before the crash is refused, and no acknowledged score update is lost or counted twice: the battle keeps exactly its acknowledged scores, with or without a key, its StartTime, and an EndTime of the crash (required when the server advertises durableScores, as are the battles that had ended and the keys of requests that changed nothing) or is gone (100411)", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Minute)
		fs := startFaultServer(s)
		b := newFaultBattle(s, fs)
		var ids requestIDs
		b.rest = recordingREST(fs, &ids)
		durable := b.h.Welcome().Features.DurableScores
		resume := b.h.Welcome().Limits.ResumeWindowMs > 0
		hToken := b.h.ResumeToken()
		// A battle of two other rooms, created over REST, that ends (time up) before the crash.
		x, y := s.user("x", on(fs)), s.user("y", on(fs))
		for _, c := range []*client.Client{x, y} {
			_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.roomOf(c)})
			Expect(err).NotTo(HaveOccurred())
		}
		short, err := b.rest.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: 1000})
		Expect(err).NotTo(HaveOccurred())

		var acked []client.SetBattleScoreResponse
		for i := 1; i <= 3; i++ {
			resp, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
			Expect(err).NotTo(HaveOccurred())
			acked = append(acked, resp)
		}
		keyless := b.request(s.room("g"), "", 7)
		_, err = b.rest.SetBattleScore(s.ctx, keyless)
		Expect(err).NotTo(HaveOccurred(), "an update without an IdempotencyKey")
		// A keyed request that changes nothing: it names a room outside the battle (REST-035).
		noop, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("x"), "k-noop", 5))
		Expect(err).NotTo(HaveOccurred())
		Expect(noop.Result).To(HaveLen(1))
		Expect(noop.Result[0].ResultCode).To(Equal(1), "a room outside the battle is not scored (REST-035)")
		running, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(running.Status).To(Equal(client.BattleStatusRunning))
		next[client.BattleEnded](s, x, client.EvBattleEnded) // the short battle's time is up
		ended, err := b.rest.GetBattleInfo(s.ctx, short.BattleID, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(ended.Status).To(Equal(client.BattleStatusEnded))

		// crash kills the server, waits until every client noticed, and restarts it; everyone
		// reconnects (h first: a session of the same number as before) and gets a fresh welcome.
		crash := func(round int) (killed, restarted time.Time) {
			GinkgoHelper()
			killed = time.Now()
			Expect(fs.Kill(s.ctx)).To(Succeed())
			for _, c := range b.all() {
				wait, cancel := context2(s, target.EventTimeout)
				code, err := c.WaitClosed(wait)
				cancel()
				Expect(err).NotTo(HaveOccurred(), "crash %d: %s noticed the crash", round, c.UserID())
				Expect(code).To(Equal(client.CloseAbnormal), "a killed server sends no close frame")
			}
			Expect(fs.Restart(s.ctx)).To(Succeed())
			restarted = time.Now()
			b.h, b.g, b.ha, b.ga = s.user("h", on(fs)), s.user("g", on(fs)), s.user("ha", on(fs)), s.user("ga", on(fs))
			for _, c := range b.all() {
				Expect(c.Welcome().UserID).NotTo(BeEmpty(), "crash %d: %s logged in again", round, c.UserID())
			}
			return killed, restarted
		}
		before := ids.take()
		Expect(before).NotTo(BeEmpty(), "the RequestIds of the REST answers before the crash")
		killed, restarted := crash(1)
		if resume {
			cfg := target.ClientConfig(s.id("h"))
			cfg.URL = fs.URL
			cfg.Resume = &client.Resume{Token: hToken, LastSeq: 0}
			_, err := client.Dial(s.ctx, cfg)
			expectRefusedResume(err, "h's token from before the crash, h having logged in again since")
		}
		// A battle of after the restart takes no ID of one from before it (HOOK-003: the
		// reference server's EventIds derive from it).
		for _, name := range []string{"x", "y"} {
			_, err := s.user(name, on(fs)).CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name)})
			Expect(err).NotTo(HaveOccurred())
		}
		fresh, err := b.rest.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: 1000})
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh.BattleID).NotTo(BeElementOf(b.id, short.BattleID), "a battle created after the restart took the ID of one from before it")
		Expect(ids.take()).NotTo(ContainElement(BeElementOf(before)), "a REST answer after the restart repeats the RequestId of one from before it (REST-002: unique per request)")
		info, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		if err != nil {
			expectCode(err, client.CodeBattleNotExist)
			Expect(durable).To(BeFalse(), "the server advertises durableScores, yet lost battle %s and its 4 acknowledged updates", b.id)
			// A retried update must not resurrect or count anything.
			for i := 1; i <= 3; i++ {
				_, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
				expectCode(err, client.CodeBattleNotExist)
			}
			AddReportEntry("after the restart", "the battle is gone: its rooms and scores were not kept (100411)")
			return
		}
		Expect(info.Status).To(Equal(client.BattleStatusEnded), "its rooms are gone: the battle has ended")
		Expect(info.ScoreVersion).To(Equal(running.ScoreVersion), "every acknowledged update, and only those, has its version")
		Expect(info.FromRoomInfo.Score).To(Equal(int64(30)), "h kept exactly its three acknowledged updates")
		Expect(info.ToRoomList).To(HaveLen(1))
		Expect(info.ToRoomList[0].Score).To(Equal(int64(7)), "g kept its acknowledged update without a key")
		Expect(info.StartTime).To(Equal(running.StartTime), "a kept battle keeps its StartTime")
		Expect(info.EndTime).To(BeNumerically(">=", killed.Unix()-1), "it ended at the crash (or the restart), not before")
		Expect(info.EndTime).To(BeNumerically("<=", restarted.Unix()+1), "it ended at the crash (or the restart), not at its scheduled end")
		// retried checks what a retry of each key gets, and that it counts nothing.
		retried := func(when string) {
			GinkgoHelper()
			for i := 1; i <= 3; i++ {
				again, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), fmt.Sprintf("k%d", i), 10))
				Expect(err).NotTo(HaveOccurred(), "k%d retried %s", i, when)
				Expect(again).To(Equal(acked[i-1]), "k%d retried %s gets its first response", i, when)
			}
			again, err := b.rest.SetBattleScore(s.ctx, b.request(s.room("x"), "k-noop", 5))
			Expect(err).NotTo(HaveOccurred(), "k-noop retried %s", when)
			Expect(again).To(Equal(noop), "k-noop, which changed nothing, retried %s gets its first response", when)
			_, err = b.rest.SetBattleScore(s.ctx, b.request(s.room("h"), "k4", 10))
			expectCode(err, client.CodeBattleAlreadyEnded)
			_, err = b.rest.SetBattleScore(s.ctx, keyless)
			expectCode(err, client.CodeBattleAlreadyEnded)
			was, err := b.rest.GetBattleInfo(s.ctx, short.BattleID, "")
			Expect(err).NotTo(HaveOccurred(), "the battle that ended before the crash is kept %s (durableScores, REST-020)", when)
			Expect(was).To(Equal(ended), "the battle that ended before the crash is unchanged %s", when)
		}
		retried("after the restart")
		after, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(Equal(info), "the retries changed nothing")
		if durable {
			// A second crash: what the restart kept (its journal rewritten) is kept again, as it was.
			crash(2)
			again, err := b.rest.GetBattleInfo(s.ctx, b.id, "")
			Expect(err).NotTo(HaveOccurred(), "a second restart keeps battle %s", b.id)
			Expect(again).To(Equal(info), "a second restart changes nothing of the ended battle: scores, ScoreVersion, StartTime and EndTime")
			retried("after a second restart")
		}
		AddReportEntry("after the restart", fmt.Sprintf("the battle was kept, ended, with its acknowledged scores (durableScores %v)", durable))
	})

	It("[HOOK-001 HOOK-006 FAULT-002 FAULT-004] webhooks through a crash and a stop: a server killed while its receiver failed delivers, after the restart and in order, the webhooks it had not delivered, then the end of the battle the crash interrupted (OpType 1, its acknowledged scores; OptPlatform RESTAPI for a REST battle); stopped with SIGTERM, it POSTs the end of the battle it ended before it exits", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Minute)
		r, hookURL := hookReceiver()
		fs := startFaultServer(s, hookURL)
		rest := fs.REST(2 * time.Second)
		login := func() {
			GinkgoHelper()
			for _, name := range []string{"h", "g"} {
				_, err := s.user(name, on(fs)).CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name)})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		login()
		if !s.named("h").Welcome().Features.DurableScores {
			Skip(results.NotApplicable("the server does not advertise durableScores: a crash may lose its battles and their webhooks"))
		}
		failing := failHooksOf(r, s.room("h"))
		id := createdOverREST(s, rest, s.room("h"), s.room("g"))
		_, err := rest.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: "k1",
			ScoreList: []client.ScoreItem{{RoomID: s.room("h"), Score: 10}}})
		Expect(err).NotTo(HaveOccurred())
		// The create webhook failed twice: it and the start wait to be delivered at the crash.
		wait, cancel := context2(s, hookRetryWait)
		err = r.Wait(wait, func([]harness.Delivery) bool { return len(attemptsOf(r, id, client.HookCreateBattle)) >= 2 })
		cancel()
		Expect(err).NotTo(HaveOccurred(), "waiting for a retry of battle %s's create webhook", id)

		Expect(fs.Kill(s.ctx)).To(Succeed())
		failing.Store(false)
		Expect(fs.Restart(s.ctx)).To(Succeed())
		hooks := hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)
		end := hooks[2]
		Expect(end.OpType).NotTo(BeNil(), "the end webhook carries OpType")
		Expect(*end.OpType).To(Equal(1), "the crash ended the battle as if its hosts had left (HOOK-002: OpType 1)")
		Expect(end.FromRoomInfo.Score).NotTo(BeNil(), "the end webhook carries the inviter's score")
		Expect(*end.FromRoomInfo.Score).To(Equal(int64(10)), "the end webhook carries the acknowledged score")
		for _, d := range r.Deliveries() {
			var b client.Webhook
			if d.Decode(&b) == nil && b.BattleID == id {
				Expect(d.Query.Get("OptPlatform")).To(Equal("RESTAPI"), "%s of a battle created over REST (HOOK-001)", b.CallbackCommand)
			}
		}

		// A battle of after the restart, ended by SIGTERM: its end is POSTed before the exit.
		login()
		id2 := createdOverREST(s, rest, s.room("h"), s.room("g"))
		hooksOf(s, r, id2, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle)
		Expect(fs.Terminate(s.ctx, 10*time.Second)).To(Succeed())
		exited := time.Now()
		exit, err := fs.ExitCode(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(exit).To(Equal(0), "the server exited by itself (137 would be docker's SIGKILL)")
		hooks = hooksOf(s, r, id2, time.Second, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)
		Expect(hooks[2].OpType).NotTo(BeNil(), "the end webhook carries OpType")
		Expect(*hooks[2].OpType).To(Equal(1), "SIGTERM ended the battle as if its hosts had left (FAULT-004)")
		for _, d := range attemptsOf(r, id2, client.HookEndBattle) {
			Expect(d.At).To(BeTemporally("<=", exited), "the end webhook was POSTed before the server exited")
		}
	})

	It("[FAULT-004 RESUME-001] a server stopped with SIGTERM while a host's dropped session waits for its resume, its webhook receiver failing every POST: the viewer of that host's room hears the room end before its 1001, and the server exits 0 within 10 s", func(ctx SpecContext) {
		s := newScene(ctx, time.Minute)
		r, hookURL := hookReceiver()
		fs := startFaultServer(s, hookURL)
		failHooksOf(r, s.room("h"))
		b := newFaultBattle(s, fs)
		if b.g.Welcome().Limits.ResumeWindowMs <= 0 {
			Skip(results.NotApplicable("resume is off: a dropped connection ends its session at once"))
		}
		b.g.Kill() // g's network drops: its session waits for a resume, its room and battle go on
		// Nothing any client sees marks the server noticing the drop (RESUME-001: the session
		// waits silently); a closed socket is noticed at once, so a short wait does.
		time.Sleep(300 * time.Millisecond)
		const grace = 10 * time.Second // docker stop's wait before SIGKILL
		start := time.Now()
		Expect(fs.Terminate(s.ctx, grace)).To(Succeed())
		took := time.Since(start)
		code, err := b.ga.WaitClosed(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(client.CloseGoingAway), "ga: close code")
		Expect(b.ga.EventsOf(client.EvLiveEnded)).To(HaveLen(1), "the viewer of the room whose host waited for its resume heard the room end before the 1001")
		exit, err := fs.ExitCode(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(exit).To(Equal(0), "the server exited by itself, its webhooks undelivered (137 would be docker's SIGKILL after %v)", grace)
		Expect(took).To(BeNumerically("<", grace))
		AddReportEntry("stopped in", took.String())
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
