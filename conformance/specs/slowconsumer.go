package specs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/internal/sockopt"
)

// maxFloodFrames bounds the frames the slow-consumer spec makes the server send before it
// gives up waiting for the cut-off.
const maxFloodFrames = 60000

// dialNonReader opens a raw connection of user name that joins liveID and then never reads,
// with a small socket receive buffer so that the server's send queue fills soon.
func dialNonReader(s *scene, name, liveID string) *websocket.Conn {
	GinkgoHelper()
	h := goodHandshake(s, name)
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   (&net.Dialer{Control: sockopt.ReceiveBuffer(4096)}).DialContext,
	}
	ws, _, err := d.DialContext(s.ctx, target.HandshakeURL(h.appID, h.userID, h.sig), nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ws.Close)
	Expect(ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"joinLive","id":"j","payload":{"liveID":"`+liveID+`"}}`))).To(Succeed())
	// It is alive, only slow: it keeps sending heartbeats so the server does not drop it for
	// silence (LIVE-020) before its queue fills. This goroutine is the connection's only writer.
	every := time.Duration(s.welcome().Timing.HeartbeatIntervalMs) * time.Millisecond
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = ws.SetWriteDeadline(time.Now().Add(every))
				if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"heartbeat","id":"hb"}`)) != nil {
					return
				}
			}
		}
	}()
	DeferCleanup(func() { close(stop); <-done })
	return ws
}

var _ = Describe("Slow consumers", Label("transport", "slow"), func() {
	It("[CLOSE-001 LIVE-021] a connection that stops reading is cut off once its send queue is full, and every other member keeps getting every frame", func(ctx SpecContext) {
		s := newScene(ctx)
		s.allow(time.Minute)
		h := s.host("h")
		fast := s.audience("fast", s.room("h"))
		slow := dialNonReader(s, "slow", s.room("h"))
		countUsers := func() int {
			info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
			Expect(err).NotTo(HaveOccurred())
			return info.CurrentUserCount
		}
		Eventually(s.ctx, countUsers).Should(Equal(3), "the non-reading user joined")
		settle(s, h, fast)

		// Each lock or unlock sends the full seat list to the three members.
		toggles := 0
		for ; toggles < maxFloodFrames; toggles++ {
			if toggles%2 == 0 {
				Expect(h.LockSeat(s.ctx, 5)).To(Succeed())
			} else {
				Expect(h.UnlockSeat(s.ctx, 5)).To(Succeed())
			}
			if toggles%500 == 499 && countUsers() == 2 {
				toggles++
				break
			}
		}
		Expect(countUsers()).To(Equal(2), "after %d seat changes the non-reading member is still in the room", toggles)

		// Everyone else got every frame, in order (the client checks seq on each).
		Expect(fast.Sync(s.ctx)).To(Succeed())
		Expect(fast.Unread(client.EvSeatListChanged)).To(HaveLen(toggles), "the reading audience member missed frames")
		Expect(h.Unread(client.EvSeatListChanged)).To(HaveLen(toggles))

		// The cut-off connection ends: with 4008 if the close frame got through, else dropped.
		drain, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		if dl, ok := drain.Deadline(); ok {
			_ = slow.SetReadDeadline(dl)
		}
		var err error
		for err == nil {
			_, _, err = slow.ReadMessage()
		}
		var ce *websocket.CloseError
		var ne net.Error
		switch {
		case errors.As(err, &ce):
			Expect(ce.Code).To(Equal(client.CloseSlowConsumer), "close code")
		case errors.As(err, &ne) && ne.Timeout():
			Fail("the cut-off connection was neither closed nor dropped within 30s: " + err.Error())
		default:
			// Dropped without a close frame (its socket was full): allowed by CLOSE-001.
		}
		AddReportEntry("slow consumer cut off after", strconv.Itoa(toggles)+" seat changes")
	})

	It("[CLOSE-001 INPUT-005] while one member has stopped reading, the delivery latency of the others does not move", func(ctx SpecContext) {
		s := newScene(ctx)
		s.allow(2 * time.Minute)
		h := s.host("h")
		var fast []*client.Client
		for _, name := range []string{"v1", "v2", "v3", "v4"} {
			fast = append(fast, s.audience(name, s.room("h")))
		}
		settle(s, append(fast, h)...)
		countUsers := func() int {
			info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
			Expect(err).NotTo(HaveOccurred())
			return info.CurrentUserCount
		}
		// One seat change, and how long each reading viewer took to get it: from the
		// request's send to the frame's arrival.
		toggle := 0
		change := func() []time.Duration {
			start := time.Now()
			if toggle++; toggle%2 == 1 {
				Expect(h.LockSeat(s.ctx, 5)).To(Succeed())
			} else {
				Expect(h.UnlockSeat(s.ctx, 5)).To(Succeed())
			}
			out := make([]time.Duration, 0, len(fast))
			for _, v := range fast {
				ev, err := v.Next(s.ctx, client.EvSeatListChanged)
				Expect(err).NotTo(HaveOccurred())
				out = append(out, ev.At.Sub(start))
			}
			return out
		}
		var before, during []time.Duration
		for i := 0; i < 300; i++ {
			before = append(before, change()...)
		}
		dialNonReader(s, "slow", s.room("h"))
		Eventually(s.ctx, countUsers).Should(Equal(2+len(fast)), "the non-reading user joined")
		for i := 1; i <= maxFloodFrames; i++ {
			during = append(during, change()...)
			if i%500 == 0 && countUsers() == 1+len(fast) {
				break
			}
		}
		Expect(countUsers()).To(Equal(1+len(fast)), "the non-reading member was never cut off")
		p := func(d []time.Duration, q float64) time.Duration {
			d = slices.Clone(d)
			slices.Sort(d)
			return d[int(q*float64(len(d)-1))]
		}
		AddReportEntry("delivery to the reading viewers, p50 / p99 / max",
			fmt.Sprintf("before: %v / %v / %v (%d deliveries); while one member was stalled: %v / %v / %v (%d deliveries)",
				p(before, .5), p(before, .99), p(before, 1), len(before), p(during, .5), p(during, .99), p(during, 1), len(during)))
		// A server that waits for the stalled reader holds everyone for its write timeout
		// (seconds); a quarter of a second over the baseline is far above a busy machine's noise.
		Expect(p(during, .99)).To(BeNumerically("<", p(before, .99)+250*time.Millisecond),
			"p99 delivery to the reading viewers rose from %v to %v while one member was stalled", p(before, .99), p(during, .99))
	})
})
