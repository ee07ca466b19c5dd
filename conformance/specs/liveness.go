package specs

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// livenessSlack is how much later than heartbeatTimeoutMs after its last frame the suite
// accepts a silent connection's removal: the client cannot know exactly when the server read
// that frame.
const livenessSlack = time.Second

// lossWorld is a group of rooms a, b, c with audiences, in which one user will leave.
type lossWorld struct {
	leaver    *client.Client
	observers []*client.Client
}

// buildHostLoss: rooms a, b, c connected, audiences aa, ba, ca (ca seated), and c has a
// pending request to room d. c's host leaves.
func buildHostLoss(s *scene) lossWorld {
	GinkgoHelper()
	a, b, c, d := s.host("a"), s.host("b"), s.host("c"), s.host("d")
	aa, ba, ca := s.audience("aa", s.room("a")), s.audience("ba", s.room("b")), s.audience("ca", s.room("c"))
	connect(s, a, b, c)
	Expect(ca.TakeSeat(s.ctx, 1)).To(Succeed())
	request(s, c, s.room("d"))
	obs := []*client.Client{a, b, aa, ba, ca, d}
	settle(s, obs...)
	return lossWorld{leaver: c, observers: obs}
}

// buildAudienceLoss: rooms a, b connected, audiences aa (seated) and ba. aa leaves.
func buildAudienceLoss(s *scene) lossWorld {
	GinkgoHelper()
	a, b := s.host("a"), s.host("b")
	aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
	connect(s, a, b)
	Expect(aa.TakeSeat(s.ctx, 2)).To(Succeed())
	Expect(aa.UnmuteMicrophone(s.ctx)).To(Succeed())
	obs := []*client.Client{a, b, ba}
	settle(s, append(obs, aa)...)
	return lossWorld{leaver: aa, observers: obs}
}

// normalised returns the events as comparable JSON lines: the scene's prefix replaced by "P",
// times and onLiveEnded's reason and message blanked (they may differ between a clean and a
// lost exit: SPEC LIVE-021).
func normalised(s *scene, events []client.Event) []string {
	GinkgoHelper()
	out := make([]string, len(events))
	for i, e := range events {
		var v any
		Expect(json.Unmarshal(e.Payload, &v)).To(Succeed())
		v = blank(v, s.prefix+"-")
		if m, ok := v.(map[string]any); ok && e.Type == client.EvLiveEnded {
			m["reason"], m["message"] = "-", "-"
		}
		b, err := json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
		out[i] = e.Type + " " + string(b)
	}
	return out
}

func blank(v any, prefix string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "joinConnectionTime" || k == "createTime" {
				x[k] = 0
				continue
			}
			x[k] = blank(val, prefix)
		}
	case []any:
		for i := range x {
			x[i] = blank(x[i], prefix)
		}
	case string:
		return strings.ReplaceAll(x, prefix, "P-")
	}
	return v
}

var _ = Describe("Liveness", Label("liveness"), func() {
	DescribeTable("[LIVE-021] a connection that drops without a close frame produces, for everyone else, exactly the events of the clean exit",
		func(ctx SpecContext, build func(*scene) lossWorld, clean func(*scene, *client.Client) error, reason int) {
			// The clean run is the oracle.
			s1 := newScene(ctx)
			w1 := build(s1)
			Expect(clean(s1, w1.leaver)).To(Succeed())
			want := make([][]string, len(w1.observers))
			for i, o := range w1.observers {
				Expect(o.Sync(s1.ctx)).To(Succeed())
				want[i] = normalised(s1, o.Unread(""))
			}
			Expect(want).To(ContainElement(Not(BeEmpty())), "the clean exit produces events")

			s2 := newScene(ctx)
			w2 := build(s2)
			// A lost connection waits for its resume first (RESUME-005).
			timeout := time.Duration(s2.welcome().Timing.HeartbeatTimeoutMs)*time.Millisecond + lossGrace(s2.welcome())
			s2.allow(timeout)
			before := make([]int, len(w2.observers))
			for i, o := range w2.observers {
				before[i] = len(o.Events())
			}
			w2.leaver.Kill()
			for i, o := range w2.observers {
				wctx, cancel := context.WithTimeout(s2.ctx, timeout+target.EventTimeout)
				err := o.WaitFor(wctx, func(evs []client.Event) bool { return len(evs) >= before[i]+len(want[i]) })
				cancel()
				Expect(err).NotTo(HaveOccurred(), "%s: waiting for the %d events of the clean exit", o.UserID(), len(want[i]))
				Expect(o.Sync(s2.ctx)).To(Succeed())
				Expect(normalised(s2, o.Unread(""))).To(Equal(want[i]), "observer %d (%s)", i, o.UserID())
				for _, e := range o.EventsOf(client.EvLiveEnded) {
					var p client.LiveEnded
					Expect(e.Decode(&p)).To(Succeed())
					Expect(p.Reason).To(Equal(reason), "onLiveEnded reason after a lost host connection")
				}
			}
		},
		Entry("a host in a group with a pending request [COHOST-017 COHOST-030 ROOM-007]", buildHostLoss,
			func(s *scene, c *client.Client) error { return c.EndLive(s.ctx) }, client.EndedByServer),
		Entry("a seated audience member of a connected room [SEAT-009 ROOM-006]", buildAudienceLoss,
			func(s *scene, c *client.Client) error { return c.LeaveLive(s.ctx) }, client.EndedByServer),
	)

	It("[LIVE-020 LIVE-022 LIVE-021] a host that goes silent with its connection open is closed with 4000 within heartbeatTimeoutMs and leaves its group", func(ctx SpecContext) {
		s := newScene(ctx)
		a := s.host("a")
		c := s.user("c", func(cfg *client.Config) { cfg.NoHeartbeat = true })
		_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("c")})
		Expect(err).NotTo(HaveOccurred())
		timeout := time.Duration(c.Welcome().Timing.HeartbeatTimeoutMs) * time.Millisecond
		s.allow(timeout)
		connect(s, a, c)
		lastSent := time.Now() // connect's barrier was c's last frame
		wctx, cancel := context.WithTimeout(s.ctx, timeout+livenessSlack+target.EventTimeout)
		defer cancel()
		code, err := c.WaitClosed(wctx)
		Expect(err).NotTo(HaveOccurred(), "the silent connection must be closed")
		closedAfter := time.Since(lastSent)
		Expect(code).To(Equal(client.CloseHeartbeatTimeout))
		Expect(closedAfter).To(BeNumerically("<=", timeout+livenessSlack), "closed %v after its last frame; heartbeatTimeoutMs is %v", closedAfter, timeout)
		Expect(closedAfter).To(BeNumerically(">=", timeout-timerSlack), "closed %v after its last frame, before heartbeatTimeoutMs %v", closedAfter, timeout)
		grace := lossGrace(s.welcome()) // a session closed for silence waits for its resume first (RESUME-001)
		s.allow(timeout + grace)
		ev, _ := nextWithin[client.ConnectionUserListChanged](s, a, client.EvConnectionUserListChanged, grace+target.EventTimeout)
		Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("c")}))
		Expect(ev.ConnectedList).To(BeEmpty())
	})

	It("[LIVE-020] a connection that keeps sending heartbeats stays open past heartbeatTimeoutMs", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.host("c")
		timeout := time.Duration(c.Welcome().Timing.HeartbeatTimeoutMs) * time.Millisecond
		s.allow(2 * timeout)
		// A silent control connection shows when the server's liveness timer has run.
		ctl := s.user("ctl", func(cfg *client.Config) { cfg.NoHeartbeat = true })
		wctx, cancel := context.WithTimeout(s.ctx, timeout+livenessSlack+target.EventTimeout)
		defer cancel()
		Expect(ctl.WaitClosed(wctx)).To(Equal(client.CloseHeartbeatTimeout), "the silent control connection must be closed (LIVE-020)")
		Expect(c.Sync(s.ctx)).To(Succeed())
		_, _, closed := c.CloseCode()
		Expect(closed).To(BeFalse())
	})

	It("[LIVE-021 COHOST-017] the pending requests of a host whose connection drops are cancelled", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		request(s, a, s.room("b"))
		settle(s, b)
		a.Kill()
		timeout := time.Duration(b.Welcome().Timing.HeartbeatTimeoutMs)*time.Millisecond + lossGrace(b.Welcome())
		s.allow(timeout)
		ev, _ := nextWithin[client.ConnectionRequestOutcome](s, b, client.EvConnectionRequestCancelled, timeout+target.EventTimeout)
		Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
	})
})
