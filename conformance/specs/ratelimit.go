package specs

import (
	"encoding/json"
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

		// A refused request is not acted on: right after the flood emptied the bucket, some
		// heartbeats and then createLive requests go back to back; no room whose createLive was
		// refused with 100012 exists.
		k := max(1, min(lim.RequestBurst, c.Welcome().Limits.SendQueueFrames/2-3))
		rooms := []string{s.room("c1"), s.room("c2"), s.room("c3")}
		var mu sync.Mutex
		roomOf := map[string]string{} // request id -> liveID
		refused := map[string]bool{}  // liveID -> createLive got 100012
		var wg sync.WaitGroup
		wg.Add(k + len(rooms))
		beatsRefused := 0
		c.GoBatch(client.ReqHeartbeat, struct{}{}, k, func(_ client.Frame, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if client.CodeOf(err) == client.CodeRateLimited {
				beatsRefused++
			}
		})
		sent := 0
		c.GoBatchFrames(client.ReqCreateLive, len(rooms), func(id string) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			roomOf[id] = rooms[sent]
			sent++
			return json.Marshal(map[string]any{"type": client.ReqCreateLive, "id": id, "payload": client.CreateLiveRequest{LiveID: roomOf[id]}})
		}, func(f client.Frame, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if f.ID != nil && client.CodeOf(err) == client.CodeRateLimited {
				refused[roomOf[*f.ID]] = true
			}
		})
		// Its reply carries the id as INPUT-003 reads it: one over 64 bytes is "".
		wait, cancel := context2(s, target.EventTimeout)
		defer cancel()
		long := strings.Repeat("l", 65)
		reply, err := c.Send(wait, "", client.ReqHeartbeat, []byte(`{"type":"heartbeat","id":"`+long+`"}`))
		Expect(err).NotTo(HaveOccurred(), "a reply with id \"\" to a heartbeat whose id is 65 bytes, sent over the limit")
		Expect(*reply.Code).To(BeElementOf(client.CodeRateLimited, client.CodeInvalidParameter), "reply %s", *reply.Message)
		AddReportEntry("a 65-byte id over the limit", fmt.Sprintf("code %d", *reply.Code))
		wg.Wait()
		AddReportEntry("createLive refused with 100012 after the flood", fmt.Sprintf("%d of %d (heartbeats before them: %d of %d)", len(refused), len(rooms), beatsRefused, k))
		for _, room := range rooms {
			if refused[room] {
				_, err := h.FetchLiveInfo(s.ctx, room)
				expectCode(err, client.CodeLiveNotExist)
			}
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
