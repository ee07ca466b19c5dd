package specs

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
)

// hookRetryWait bounds the wait for a webhook that failed twice: HOOK-005 sets no backoff, so
// the suite allows what the reference server's defaults take with room to spare (1 s + 2 s).
const hookRetryWait = 30 * time.Second

// receiver returns the suite's webhook receiver, or skips the spec when there is none.
func receiver() *harness.Receiver {
	GinkgoHelper()
	if target.Webhooks == nil {
		Skip(results.Unsupported("webhook", "the suite receives no webhooks from this target: set "+harness.EnvWebhookListen+" and configure the server to POST there"))
	}
	// The violations since the spec began are its own (a late webhook of the spec before it
	// aside): one broken delivery does not fail every later spec.
	before := len(target.Webhooks.Violations())
	DeferCleanup(func() {
		Expect(target.Webhooks.Violations()[before:]).To(BeEmpty(), "webhooks that break SPEC §16")
	})
	return target.Webhooks
}

// createFrom matches the create webhook of a battle room from invited to.
func createFrom(from string) func(harness.Delivery) bool {
	return func(d harness.Delivery) bool {
		var body client.Webhook
		return d.Decode(&body) == nil && body.FromRoomID == from && body.CallbackCommand == client.HookCreateBattle
	}
}

// startFrom matches the start webhook of a battle room from invited to.
func startFrom(from string) func(harness.Delivery) bool {
	return func(d harness.Delivery) bool {
		var body client.Webhook
		return d.Decode(&body) == nil && body.FromRoomInfo.RoomID == from && body.CallbackCommand == client.HookStartBattle
	}
}

// hookTimeoutSlack is how long past HOOK-005's 5 s the suite allows a server to give up on a
// POST the receiver holds: the timer of a busy server, and the receiver seeing the drop.
const hookTimeoutSlack = 1500 * time.Millisecond

// attemptsOf is every POST of command for battle id the receiver got, in arrival order.
func attemptsOf(r *harness.Receiver, id, command string) []harness.Delivery {
	var out []harness.Delivery
	for _, d := range r.Deliveries() {
		var body client.Webhook
		if d.Decode(&body) == nil && body.BattleID == id && d.Command == command {
			out = append(out, d)
		}
	}
	return out
}

// answersOf lists the status each delivery was answered with.
func answersOf(ds []harness.Delivery) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = d.Answered
	}
	return out
}

// hooksOf waits until the receiver has delivered (answered 2xx) the given commands for battle
// id, and returns the delivered bodies in arrival order. It stops waiting as soon as what was
// delivered cannot become commands (one delivered out of order, or in place of another).
func hooksOf(s *scene, r *harness.Receiver, id string, wait time.Duration, commands ...string) []client.Webhook {
	GinkgoHelper()
	ctx, cancel := context2(s, wait)
	defer cancel()
	var got []client.Webhook
	err := r.Wait(ctx, func(all []harness.Delivery) bool {
		got = got[:0]
		for _, d := range all {
			var b client.Webhook
			if d.Decode(&b) == nil && b.BattleID == id && d.Answered/100 == 2 {
				got = append(got, b)
			}
		}
		for i, b := range got {
			if i >= len(commands) || b.CallbackCommand != commands[i] {
				return true // no longer a prefix: the order check below fails it
			}
		}
		return len(got) >= len(commands)
	})
	Expect(err).NotTo(HaveOccurred(), "waiting for %v of battle %s", commands, id)
	var cmds []string
	for _, b := range got {
		cmds = append(cmds, b.CallbackCommand)
	}
	Expect(cmds).To(Equal(commands), "HOOK-006: delivered in the order they happened")
	return got
}

var _ = Describe("Webhooks", Label("webhook"), func() {
	It("[HOOK-001 HOOK-002 HOOK-003 HOOK-004 HOOK-006] a battle's creation, start and end (time up) are POSTed in order with Tencent's fields, an EventId and a signature", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		before := time.Now().Add(-5 * time.Minute)
		reply := startBattle(s, 1, a, []*client.Client{b})
		id := reply.BattleInfo.BattleID
		rest := s.rest()
		_, err := rest.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 1314}}})
		Expect(err).NotTo(HaveOccurred())
		hooks := hooksOf(s, r, id, time.Second+target.EventTimeout, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)

		create, start, end := hooks[0], hooks[1], hooks[2]
		Expect(create.OperatorAccount).To(Equal(a.UserID()))
		Expect(create.FromRoomID).To(Equal(s.room("a")))
		Expect(create.ToRoomIDList).To(Equal([]string{s.room("b")}))
		Expect(create.Duration).To(Equal(int64(1000)), "Duration in ms")
		Expect(create.Timeout).To(BeZero())
		Expect(create.NeedResponse).To(BeFalse())
		Expect(create.EventTime).To(BeNumerically(">=", before.UnixMilli()), "EventTime in ms")

		Expect(start.StartTime).To(Equal(reply.BattleInfo.StartTime))
		Expect(start.CreateTime).To(BeNumerically("<=", start.StartTime))
		Expect(start.FromRoomInfo).To(Equal(client.HookRoom{RoomID: s.room("a"), OwnerAccount: a.UserID()}), "no Score in the start webhook")
		Expect(start.ToRoomList).To(Equal([]client.HookRoom{{RoomID: s.room("b"), OwnerAccount: b.UserID()}}))

		Expect(*end.OpType).To(Equal(0), "time up")
		Expect(end.EndTime).To(BeNumerically(">=", end.StartTime+1))
		Expect(*end.FromRoomInfo.Score).To(BeZero())
		Expect(end.ToRoomList).To(HaveLen(1))
		Expect(*end.ToRoomList[0].Score).To(Equal(int64(1314)))
		Expect([]string{create.EventID, start.EventID, end.EventID}).To(HaveEach(Not(BeEmpty())))
		Expect(map[string]bool{create.EventID: true, start.EventID: true, end.EventID: true}).To(HaveLen(3), "EventIds are unique")
	})

	It("[HOOK-002] the end webhook says OpType 1 when all other hosts exited and 2 when the battle never started; the create webhook gives the request's timeout in ms", func(ctx SpecContext) {
		s := newScene(ctx)
		r := receiver()
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		exited := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		Expect(b.ExitBattle(s.ctx, exited)).To(Succeed())
		Expect(*hooksOf(s, r, exited, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)[2].OpType).To(Equal(1))

		never, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(c), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(30)})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RejectBattle(s.ctx, never.BattleInfo.BattleID)).To(Succeed())
		hooks := hooksOf(s, r, never.BattleInfo.BattleID, target.EventTimeout, client.HookCreateBattle, client.HookEndBattle)
		Expect(hooks[0].NeedResponse).To(BeTrue())
		Expect(hooks[0].Timeout).To(Equal(int64(30000)), "the request's timeout of 30 s, in ms")
		Expect(*hooks[1].OpType).To(Equal(2))
		Expect(hooks[1].StartTime).To(BeZero())
	})

	It("[HOOK-001] a battle created over REST is reported with OptPlatform RESTAPI in each of its webhooks, its end's too, and the administrator as operator", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		r := receiver()
		s.host("a")
		s.host("b")
		battleWelcome(s)
		resp, err := s.rest().CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b")}, Duration: 1000})
		Expect(err).NotTo(HaveOccurred())
		hooks := hooksOf(s, r, resp.BattleID, time.Second+target.EventTimeout, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)
		Expect(hooks[0].OperatorAccount).To(Equal(target.Admin))
		for _, d := range r.Deliveries() {
			var body client.Webhook
			if d.Decode(&body) == nil && body.BattleID == resp.BattleID {
				Expect(d.Query.Get("OptPlatform")).To(Equal("RESTAPI"), d.Command)
			}
		}
	})

	It("[HOOK-005] a webhook answered 300, 302 (without a Location), 400 or 404 is retried with the same EventId, like one answered 500", func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		from := s.room("a")
		create := createFrom(from)
		for _, status := range []int{http.StatusMultipleChoices, http.StatusFound, http.StatusBadRequest, http.StatusNotFound} {
			r.AnswerNext(1, status, create)
		}
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		attempts := attemptsOf(r, id, client.HookCreateBattle)
		Expect(answersOf(attempts)).To(Equal([]int{300, 302, 400, 404, 200}), "a 3xx or a 4xx is no delivery: retried until a 2xx")
		for _, a := range attempts[1:] {
			Expect(a.EventID).To(Equal(attempts[0].EventID))
		}
	})

	/*
		Testname: webhook-redirect-not-followed
		Description: a 3xx is a failed attempt even with a Location (HOOK-005): the server
		retries the configured URL and never follows the redirect, which for a 302 or 303
		would turn the POST into a GET without its body whose 200 counted as a delivery.
		The receiver answers the creation's first four attempts 302, 303, 307 and 308, each
		with a Location on the receiver itself; nothing may reach that Location, and the
		fifth attempt, answered 200, is the delivery.
	*/
	It("[HOOK-005] a webhook answered 302, 303, 307 or 308 with a Location is retried to the configured URL: the redirect is not followed", func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		create := createFrom(s.room("a"))
		const moved = "/pkarena-hooks-moved"
		redirects := []int{http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect}
		for _, status := range redirects {
			r.RedirectNext(1, status, moved, create)
		}
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		for _, d := range r.Deliveries() {
			Expect(d.Path).NotTo(Equal(moved), "a %s to the Location of a redirect: HOOK-005 counts a 3xx as a failure, not followed", d.Method)
		}
		attempts := attemptsOf(r, id, client.HookCreateBattle)
		Expect(answersOf(attempts)).To(Equal(append(redirects, http.StatusOK)), "each redirect is a failed attempt, retried to the configured URL until a 2xx")
		for _, a := range attempts[1:] {
			Expect(a.EventID).To(Equal(attempts[0].EventID))
		}
	})

	/*
		Testname: webhook-answer-body-ignored
		Description: whether a webhook was delivered is its answer's status alone (HOOK-005:
		the answer's body is ignored): a 200 whose body is Tencent's failure envelope
		(ErrorCode 1) and a 204 without a body are each one delivery, not retried; the
		battle's next webhook follows, which HOOK-006 holds back until the one before it is
		delivered or given up.
	*/
	It("[HOOK-005 HOOK-006] a webhook answered 200 with a body that says failure, or 204 without a body, is delivered: not retried", func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		from := s.room("a")
		r.AnswerNextWith(1, http.StatusOK, `{"ActionStatus":"FAIL","ErrorInfo":"refused by the receiver","ErrorCode":1}`, createFrom(from))
		r.AnswerNextWith(1, http.StatusNoContent, "", startFrom(from))
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		Expect(hs[0].ExitBattle(s.ctx, id)).To(Succeed())
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)
		Expect(answersOf(attemptsOf(r, id, client.HookCreateBattle))).To(Equal([]int{200}), "the create, answered 200 with ErrorCode 1, is delivered")
		Expect(answersOf(attemptsOf(r, id, client.HookStartBattle))).To(Equal([]int{204}), "the start, answered 204 without a body, is delivered")
	})

	It("[HOOK-005 HOOK-004] a webhook POST not answered within 5 s is given up by then and retried with the same EventId, signed anew", Label("slow"), func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		from := s.room("a")
		r.HoldNext(1, createFrom(from))
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		attempts := attemptsOf(r, id, client.HookCreateBattle)
		Expect(answersOf(attempts)).To(Equal([]int{0, 200}), "the held POST (no answer), then its retry")
		Expect(attempts[1].EventID).To(Equal(attempts[0].EventID))
		// The receiver lets the held POST go after HoldLimit, past the wait above: a retry in
		// time is one the server made because it gave up on its own, and it gave up on the
		// held POST (dropped it, or retried beside it) 5 s after sending it.
		held := attempts[0]
		gaveUp := attempts[1].At
		if !held.Dropped.IsZero() && held.Dropped.Before(gaveUp) {
			gaveUp = held.Dropped
		}
		dropped := "never dropped"
		if !held.Dropped.IsZero() {
			dropped = "dropped after " + held.Dropped.Sub(held.At).Round(time.Millisecond).String()
		}
		AddReportEntry("a held POST", fmt.Sprintf("given up %v after it came (%s), retried %v after it came",
			gaveUp.Sub(held.At).Round(time.Millisecond), dropped, attempts[1].At.Sub(held.At).Round(time.Millisecond)))
		Expect(gaveUp.Sub(held.At)).To(BeNumerically("<=", 5*time.Second+hookTimeoutSlack), "the server waited %v for the answer to a webhook POST; HOOK-005 gives it 5 s", gaveUp.Sub(held.At))
	})

	It("[HOOK-005 HOOK-003 HOOK-006] a webhook the receiver fails is retried with the same EventId, and later events wait for it", func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		from := s.room("a")
		r.FailNext(2, createFrom(from))
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		var attempts []harness.Delivery
		for _, d := range r.Deliveries() {
			var body client.Webhook
			if d.Decode(&body) == nil && body.BattleID == id {
				attempts = append(attempts, d)
			}
		}
		Expect(len(attempts)).To(BeNumerically(">=", 4), "two failed attempts, the successful one, then the start")
		Expect(attempts[0].Answered).To(Equal(500))
		Expect(attempts[1].Answered).To(Equal(500))
		Expect(attempts[2].Answered).To(Equal(200))
		Expect(attempts[0].EventID).To(Equal(attempts[2].EventID), "a retry carries the same EventId")
		Expect(attempts[1].EventID).To(Equal(attempts[2].EventID))
		Expect(attempts[2].At.Sub(attempts[1].At)).To(BeNumerically(">", attempts[1].At.Sub(attempts[0].At)/2), "the backoff does not shrink")
		Expect(attempts[3].Command).To(Equal(client.HookStartBattle), "the start waits until the creation is delivered")
	})
})
