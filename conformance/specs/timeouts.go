package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// timerSlack is how early a timer may seem to fire, seen from the client: the server rounds
// nothing, but the request's send time and the client's clock are not the server's.
const timerSlack = 100 * time.Millisecond

var _ = Describe("Invitation timeouts", Label("timeout", "cohost"), func() {
	It("[COHOST-014 COHOST-016] a request with timeout 1 times out after a second and both hosts get onConnectionRequestTimeout", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		a, b := s.host("a"), s.host("b")
		sent := time.Now()
		codes, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(1)})
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		for _, c := range []*client.Client{a, b} {
			ev, e := nextWithin[client.ConnectionRequestOutcome](s, c, client.EvConnectionRequestTimeout, time.Second+target.EventTimeout)
			Expect(e.At.Sub(sent)).To(BeNumerically(">=", time.Second-timerSlack), "%s got the timeout after %v", c.UserID(), e.At.Sub(sent))
			Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
			Expect(ev.Invitee.LiveID).To(Equal(s.room("b")))
		}
		// Closed by the timeout: it cannot be answered, and b may be invited again.
		expectCode(b.AcceptConnection(s.ctx, s.room("a")), client.CodeConnectionNotExist)
		Expect(request(s, a, s.room("b"))).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		none(s, a, client.EvConnectionRequestTimeout)
		none(s, b, client.EvConnectionRequestTimeout)
	})

	It("[COHOST-014 WELCOME-003] a request without timeout times out after defaultInviteTimeoutS at both hosts", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		d := time.Duration(s.welcome().Timing.DefaultInviteTimeoutS) * time.Second
		s.allow(d)
		sent := time.Now()
		codes, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}})
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		for _, c := range []*client.Client{a, b} {
			_, e := nextWithin[client.ConnectionRequestOutcome](s, c, client.EvConnectionRequestTimeout, d+target.EventTimeout)
			Expect(e.At.Sub(sent)).To(BeNumerically(">=", d-timerSlack), "%s got the timeout after %v; the default is %v", c.UserID(), e.At.Sub(sent), d)
		}
	})

	It("[COHOST-015] a request with timeout 0 never times out", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		x, y := s.host("x"), s.host("y")
		d := time.Duration(s.welcome().Timing.DefaultInviteTimeoutS+1) * time.Second
		s.allow(d)
		request(s, a, s.room("b")) // timeout 0
		// A control request that times out after the default timeout plus a second: once it
		// has, the server's timers have run past every timeout the request could have got.
		_, err := x.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("y")}, Timeout: ptr(int(d / time.Second))})
		Expect(err).NotTo(HaveOccurred())
		nextWithin[client.ConnectionRequestOutcome](s, y, client.EvConnectionRequestTimeout, d+target.EventTimeout)
		none(s, a, client.EvConnectionRequestTimeout)
		none(s, b, client.EvConnectionRequestTimeout)
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed(), "the request is still pending")
	})

	It("[COHOST-016] a request accepted, rejected or cancelled before its timeout produces no timeout event", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Second)
		a, b, c, d := s.host("a"), s.host("b"), s.host("c"), s.host("d")
		x := s.host("x")
		s.host("y")
		one := func(from *client.Client, to string) {
			codes, err := from.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{to}, Timeout: ptr(1)})
			Expect(err).NotTo(HaveOccurred())
			Expect(codes).To(HaveKeyWithValue(to, client.ConnSuccess))
		}
		one(a, s.room("b"))
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		one(c, s.room("d"))
		Expect(d.RejectConnection(s.ctx, s.room("c"))).To(Succeed())
		one(a, s.room("c"))
		Expect(a.CancelConnectionRequest(s.ctx, s.room("c"))).To(Succeed())
		// The control request of x times out a second after all of the above would have.
		codes, err := x.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("y")}, Timeout: ptr(2)})
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("y"), client.ConnSuccess))
		nextWithin[client.ConnectionRequestOutcome](s, x, client.EvConnectionRequestTimeout, 2*time.Second+target.EventTimeout)
		for _, m := range []*client.Client{a, b, c, d} {
			none(s, m, client.EvConnectionRequestTimeout)
		}
	})
})
