package specs

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/results"
)

// flood sends n frames on c, k at a time by send (each answered to done), as fast as the
// connection carries them, and returns the replies by code (-1: no reply, 0: success) and
// the time they took. Twice the burst and a second's refill is more than the bucket holds;
// batches of many frames to a write let even a slow machine offer them faster than the
// refill. At most half the send queue is in flight, so that the replies never fill it (a
// client SHOULD NOT have more unanswered, RATE-001).
func flood(c *client.Client, n int, send func(k int, done func(client.Frame, error))) (map[int]int, time.Duration) {
	inFlight := max(2, min(64, c.Welcome().Limits.SendQueueFrames/2))
	batch := inFlight / 2
	window := make(chan struct{}, inFlight)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for sent := 0; sent < n; sent += batch {
		k := min(batch, n-sent)
		for range k {
			wg.Add(1)
			window <- struct{}{}
		}
		send(k, func(f client.Frame, err error) {
			defer func() { <-window }()
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				codes[0]++
			case client.CodeOf(err) != 0:
				codes[client.CodeOf(err)]++
			default:
				codes[-1]++
			}
		})
	}
	wg.Wait()
	return codes, time.Since(start)
}

// rateLimited is the limits c's welcome advertises, or skips the spec when they set no
// per-connection request limit.
func rateLimited(c *client.Client) client.Limits {
	GinkgoHelper()
	lim := c.Welcome().Limits
	if lim.MaxRequestsPerSecond <= 0 || lim.RequestBurst <= 0 {
		Skip(results.NotApplicable("the server advertises no per-connection request limit (RATE-001 is a MAY)"))
	}
	return lim
}

var _ = Describe("Rate limits", Label("input", "rate"), func() {
	It("[RATE-001 INPUT-005] requests over the advertised limit of a connection get 100012 with their id and are not carried out, the connection stays open and others are served", func(ctx SpecContext) {
		s := newScene(ctx, 10*time.Second)
		c := s.user("c")
		lim := rateLimited(c)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		settle(s, h, a)

		n := 2*lim.RequestBurst + int(lim.MaxRequestsPerSecond)
		codes, elapsed := flood(c, n, func(k int, done func(client.Frame, error)) {
			c.GoBatch(client.ReqHeartbeat, struct{}{}, k, done)
		})
		AddReportEntry("replies", fmt.Sprintf("%d requests in %v: %v", n, elapsed, codes))
		Expect(codes[-1]).To(BeZero(), "every request gets a reply")
		Expect(codes[0]+codes[client.CodeRateLimited]).To(Equal(n), "only successes and 100012: %v", codes)
		allowed := lim.RequestBurst + int(lim.MaxRequestsPerSecond*elapsed.Seconds()) + 1
		Expect(codes[0]).To(BeNumerically("<=", allowed), "at most the burst plus the refill of %v may pass", elapsed)
		Expect(codes[client.CodeRateLimited]).To(BeNumerically(">", 0))

		// A refused request is not acted on, and its reply carries the id as INPUT-003 reads it:
		// "" for one over 64 bytes. Right after the flood emptied the bucket, heartbeats, a
		// createLive and a heartbeat with a 65-byte id go back to back, in rounds till each of
		// the two was refused with 100012 (a createLive that passed is ended, and the next round
		// tries another room). The room of the refused createLive must not exist.
		k := max(1, min(lim.RequestBurst, c.Welcome().Limits.SendQueueFrames/2-3))
		var refusedRoom string
		longRefused := false
		rounds := 0
		for ; rounds < 5 && (refusedRoom == "" || !longRefused); rounds++ {
			var wg sync.WaitGroup
			wg.Add(k)
			c.GoBatch(client.ReqHeartbeat, struct{}{}, k, func(client.Frame, error) { wg.Done() })
			var createErr error
			room := s.room(fmt.Sprintf("c%d", rounds))
			if refusedRoom == "" {
				wg.Add(1)
				c.GoBatch(client.ReqCreateLive, client.CreateLiveRequest{LiveID: room}, 1, func(_ client.Frame, err error) {
					defer wg.Done()
					createErr = err
				})
			}
			if !longRefused {
				wait, cancel := context2(s, target.EventTimeout)
				reply, err := c.Send(wait, "", client.ReqHeartbeat, []byte(`{"type":"heartbeat","id":"`+strings.Repeat("l", 65)+`"}`))
				cancel()
				Expect(err).NotTo(HaveOccurred(), "a reply with id \"\" to a heartbeat whose id is 65 bytes")
				Expect(*reply.Code).To(BeElementOf(client.CodeRateLimited, client.CodeInvalidParameter), "reply %s", *reply.Message)
				longRefused = *reply.Code == client.CodeRateLimited
			}
			wg.Wait()
			if refusedRoom == "" {
				switch client.CodeOf(createErr) {
				case client.CodeRateLimited:
					refusedRoom = room
				case 0:
					Expect(c.EndLive(s.ctx)).To(Succeed())
				}
			}
		}
		AddReportEntry("after the flood", fmt.Sprintf("%d rounds; a createLive refused with 100012: %v; a 65-byte id refused with 100012: %v", rounds, refusedRoom != "", longRefused))
		if refusedRoom != "" {
			_, err := h.FetchLiveInfo(s.ctx, refusedRoom)
			expectCode(err, client.CodeLiveNotExist)
		}

		// Nobody else noticed, and once the bucket refills the connection is served again.
		none(s, h)
		none(s, a)
		refill := time.Duration(float64(time.Second) / lim.MaxRequestsPerSecond * 2)
		Eventually(s.ctx, func() error { return c.Heartbeat(s.ctx) }).WithPolling(refill).Should(Succeed())
	})

	It("[RATE-001 INPUT-003] malformed frames count against the connection's limit too: over it they get 100012, not the malformed frame's own code", func(ctx SpecContext) {
		s := newScene(ctx, 10*time.Second)
		c := s.user("c")
		lim := rateLimited(c)
		n := 2*lim.RequestBurst + int(lim.MaxRequestsPerSecond)
		codes, elapsed := flood(c, n, func(k int, done func(client.Frame, error)) {
			c.GoBatchFrames("malformed", k, func(id string) ([]byte, error) {
				return []byte(`{"type":7,"id":"` + id + `"}`), nil // a type that is not a string: 100901
			}, done)
		})
		AddReportEntry("replies", fmt.Sprintf("%d malformed frames in %v: %v", n, elapsed, codes))
		Expect(codes[-1]).To(BeZero(), "every frame gets a reply")
		Expect(codes[client.CodeMalformedFrame]+codes[client.CodeRateLimited]).To(Equal(n), "only 100901 and 100012: %v", codes)
		allowed := lim.RequestBurst + int(lim.MaxRequestsPerSecond*elapsed.Seconds()) + 1
		Expect(codes[client.CodeMalformedFrame]).To(BeNumerically("<=", allowed), "at most the burst plus the refill of %v may be read", elapsed)
		Expect(codes[client.CodeRateLimited]).To(BeNumerically(">", 0), "every text frame counts, malformed ones included")
	})
})
