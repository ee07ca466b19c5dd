package specs

import (
	"context"
	"encoding/json"
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

// dialNonReader opens a raw connection of user name, reads its welcome, joins liveID, sends
// the frames of then, and never reads again, with a small socket receive buffer so that the
// server's send queue fills soon. It returns the connection and its welcome.
func dialNonReader(s *scene, name, liveID string, then ...string) (*websocket.Conn, client.Welcome) {
	GinkgoHelper()
	h := goodHandshake(s, name)
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   (&net.Dialer{Control: sockopt.ReceiveBuffer(4096)}).DialContext,
	}
	ws, _, err := d.DialContext(s.ctx, target.HandshakeURL(h.appID, h.userID, h.sig), nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ws.Close)
	_ = ws.SetReadDeadline(time.Now().Add(target.EventTimeout))
	var welcome struct {
		Type    string         `json:"type"`
		Payload client.Welcome `json:"payload"`
	}
	Expect(ws.ReadJSON(&welcome)).To(Succeed(), "%s's welcome", name)
	Expect(welcome.Type).To(Equal("welcome"))
	_ = ws.SetReadDeadline(time.Time{})
	for _, frame := range append([]string{`{"type":"joinLive","id":"j","payload":{"liveID":"` + liveID + `"}}`}, then...) {
		Expect(ws.WriteMessage(websocket.TextMessage, []byte(frame))).To(Succeed())
	}
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
	return ws, welcome.Payload
}

var _ = Describe("Slow consumers", Label("transport", "slow"), func() {
	It("[CLOSE-001 LIVE-021] a connection that stops reading is cut off once its send queue is full, and every other member keeps getting every frame", func(ctx SpecContext) {
		s := newScene(ctx)
		s.allow(time.Minute)
		h := s.host("h")
		fast := s.audience("fast", s.room("h"))
		slow, _ := dialNonReader(s, "slow", s.room("h"))
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
		case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
			Expect(ce.Code).To(Equal(client.CloseSlowConsumer), "close code")
		case errors.As(err, &ne) && ne.Timeout():
			Fail("the cut-off connection was neither closed nor dropped within 30s: " + err.Error())
		default:
			// Dropped without a close frame (its socket was full): allowed by CLOSE-001.
		}
		AddReportEntry("slow consumer cut off after", strconv.Itoa(toggles)+" seat changes")
	})

	/*
		Testname: slow-consumer-session-ends
		Description: a connection cut off for a full send queue (4008, CLOSE-001) ended by
		the server's decision, so its session ends at once (RESUME-001), not after the resume
		window: the seat it held is freed well within resumeWindowMs of the cut-off (bounded by
		the frames it got before its close frame and sendQueueFrames; both times the server's
		own ts), and its token resumes nothing. A server that kept the session for a resume
		would free the seat a whole window later.
	*/
	It("[RESUME-001 CLOSE-001] a connection cut off with 4008 ends its session at once: its seat is freed well within resumeWindowMs of the cut-off, and its token resumes nothing", Label("resume"), func(ctx SpecContext) {
		s := newScene(ctx)
		s.allow(time.Minute)
		h := s.host("h")
		window := resumeWelcome(s)
		fast := s.audience("fast", s.room("h"))
		settle(s, h, fast)
		const seat = 1
		slow, welcome := dialNonReader(s, "slow", s.room("h"), fmt.Sprintf(`{"type":"takeSeat","id":"t","payload":{"seatIndex":%d}}`, seat))
		slowID := s.id("slow")
		seated := func(ch client.SeatListChanged) bool {
			si := seatOf(ch.SeatList, slowID)
			return si != nil && si.Index == seat
		}
		onSeat := func(e client.Event) bool {
			var ch client.SeatListChanged
			Expect(e.Decode(&ch)).To(Succeed())
			return seated(ch)
		}
		Expect(seated(next[client.SeatListChanged](s, fast, client.EvSeatListChanged))).To(BeTrue(), "the non-reading viewer took seat %d", seat)
		settle(s, h, fast)

		// Seat 5 locked and unlocked until the non-reading viewer's seat is freed: the
		// reading viewer gets each change, and one more where the seat is freed. The host
		// keeps within four fifths of its request limit, if any (RATE-001), so that a server
		// slow to free the seat fails here and not at the limit.
		lim := h.Welcome().Limits
		toggles, freedAt, start := 0, -1, time.Now()
		var all []client.Event
		for freedAt < 0 {
			Expect(toggles).To(BeNumerically("<", maxFloodFrames), "after %d seat changes the non-reading viewer still holds its seat", toggles)
			for lim.MaxRequestsPerSecond > 0 && float64(toggles) >= 0.8*(float64(lim.RequestBurst)+lim.MaxRequestsPerSecond*time.Since(start).Seconds()) {
				time.Sleep(time.Millisecond)
			}
			if toggles%2 == 0 {
				Expect(h.LockSeat(s.ctx, 5)).To(Succeed())
			} else {
				Expect(h.UnlockSeat(s.ctx, 5)).To(Succeed())
			}
			if toggles++; toggles%50 == 0 {
				Expect(fast.Sync(s.ctx)).To(Succeed())
				seen := len(all)
				all = fast.Unread(client.EvSeatListChanged)
				if i := slices.IndexFunc(all[seen:], func(e client.Event) bool { return !onSeat(e) }); i >= 0 {
					freedAt = seen + i
				}
			}
		}
		Expect(all).To(HaveLen(toggles+1), "the reading viewer got each of %d seat changes and the seat freed", toggles)
		free := all[freedAt]
		changes := slices.Delete(slices.Clone(all), freedAt, freedAt+1)
		for _, e := range changes[freedAt:] {
			Expect(onSeat(e)).To(BeFalse(), "the seat of the viewer cut off stays free")
		}

		// What the cut-off connection got: the changes it was sent before it was cut off.
		_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, lastSeq := 0, uint64(0)
		var err error
		for {
			var data []byte
			if _, data, err = slow.ReadMessage(); err != nil {
				break
			}
			var f client.Frame
			Expect(json.Unmarshal(data, &f)).To(Succeed())
			lastSeq = f.Seq
			// The toggles start with a lock: the first change with seat 5 locked is the first.
			var ch client.SeatListChanged
			if f.Type == client.EvSeatListChanged && json.Unmarshal(f.Payload, &ch) == nil && (got > 0 || slices.ContainsFunc(ch.SeatList, func(si client.SeatInfo) bool { return si.Index == 5 && si.IsLocked })) {
				got++
			}
		}
		var ne net.Error
		Expect(errors.As(err, &ne) && ne.Timeout()).To(BeFalse(), "the cut-off connection was neither closed nor dropped within 30s")
		Expect(got).To(BeNumerically("<", toggles), "the non-reading viewer got every change: it was never cut off")
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code == websocket.CloseAbnormalClosure {
			// Dropped without a close frame: what was written before may be lost, so what it
			// got does not say when it was cut off. Only its token is checked.
			AddReportEntry("slow consumer's seat freed", "the connection was dropped without a close frame: the time of its cut-off is not known")
		} else {
			Expect(ce.Code).To(Equal(client.CloseSlowConsumer), "close code")
			// Before its close frame it got every frame the server wrote; the frame that did
			// not fit came after those and at most sendQueueFrames more (twice that, to allow
			// for frames a writer holds outside its queue), so the cut-off was no later than
			// when that change was made. A session kept for a resume frees the seat a whole
			// window after the cut-off.
			last := min(got+2*welcome.Limits.SendQueueFrames, len(changes)-1)
			cut := changes[last].TS
			AddReportEntry("slow consumer's seat freed", fmt.Sprintf("%d ms after seat change %d of %d (it got %d; sendQueueFrames %d), by which it was cut off; resume window %v",
				free.TS-cut, last+1, toggles, got, welcome.Limits.SendQueueFrames, window))
			Expect(time.Duration(free.TS-cut)*time.Millisecond).To(BeNumerically("<", window/2),
				"the seat of the viewer cut off with 4008 was freed %d ms after seat change %d (ts %d, then %d), by which the server had cut it off: its session waited for a resume", free.TS-cut, last+1, cut, free.TS)
		}
		_, err = s.resumeDial("slow", welcome.ResumeToken, lastSeq)
		expectRefusedResume(err, "a resume of the session the server cut off with 4008")
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
