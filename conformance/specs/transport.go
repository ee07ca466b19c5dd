package specs

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

var _ = Describe("Transport", Label("transport"), func() {
	It("[TRANS-001 WELCOME-001 WELCOME-002 WELCOME-003 WELCOME-004] the first frame at /v1/ws is a welcome that advertises version, limits, timing and features", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a")
		w := c.Welcome()
		Expect(w.Protocol).To(Equal("v1"))
		Expect(w.UserID).To(Equal(c.UserID()))
		Expect(w.Server).NotTo(BeEmpty())
		Expect(w.SessionID).NotTo(BeEmpty())
		Expect(w.Limits.MaxConnectedRooms).To(BeNumerically(">=", 2), "maxConnectedRooms")
		Expect(w.Limits.MaxUsersPerRoom).To(BeNumerically(">=", 2), "maxUsersPerRoom")
		Expect(w.Limits.MaxSeatCount).To(BeNumerically(">=", 1), "maxSeatCount")
		Expect(w.Limits.MaxFrameBytes).To(BeNumerically(">=", 1024), "maxFrameBytes")
		Expect(w.Limits.SendQueueFrames).To(BeNumerically(">=", 1), "sendQueueFrames")
		Expect(w.Timing.HeartbeatIntervalMs).To(BeNumerically(">", 0))
		Expect(w.Timing.HeartbeatTimeoutMs).To(BeNumerically(">", w.Timing.HeartbeatIntervalMs),
			"heartbeatTimeoutMs must exceed heartbeatIntervalMs")
		Expect(w.Timing.DefaultInviteTimeoutS).To(BeNumerically(">", 0))
	})

	It("[TRANS-004 TRANS-005 TRANS-010] every server frame carries type, seq and ts; seq counts 1, 2, 3, ...; ts is the server's Unix time in ms; events carry no id, code or message", func(ctx SpecContext) {
		s := newScene(ctx)
		// ts is the server's clock: allow five minutes of skew against the suite's.
		before := time.Now().Add(-5 * time.Minute).UnixMilli()
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		Expect(a.TakeSeat(s.ctx, 1)).To(Succeed())
		Expect(a.LeaveSeat(s.ctx)).To(Succeed())
		// Enough traffic that both connections read 20 frames or more: the client checks that
		// every one is numbered exactly one more than the one before.
		for i := 0; i < 5; i++ {
			Expect(h.LockSeat(s.ctx, 2)).To(Succeed())
			Expect(h.UnlockSeat(s.ctx, 2)).To(Succeed())
		}
		Expect(h.Sync(s.ctx)).To(Succeed())
		Expect(a.Sync(s.ctx)).To(Succeed())
		after := time.Now().Add(5 * time.Minute).UnixMilli()
		// The client checks seq contiguity on every frame it reads and records any gap as a
		// violation; here we look at the events themselves too.
		events := h.Events()
		Expect(len(events)).To(BeNumerically(">=", 2), "the host sees the seat taken and freed")
		for i, e := range events {
			Expect(e.ID).To(BeNil(), "id on %s", e.Type)
			Expect(e.Code).To(BeNil(), "code on %s", e.Type)
			Expect(e.Message).To(BeNil(), "message on %s", e.Type)
			Expect(e.TS).To(BeNumerically(">=", before), "ts of %s", e.Type)
			Expect(e.TS).To(BeNumerically("<=", after), "ts of %s", e.Type)
			if i > 0 {
				Expect(e.Seq).To(BeNumerically(">", events[i-1].Seq))
				Expect(e.TS).To(BeNumerically(">=", events[i-1].TS), "ts never goes back on one connection")
			}
		}
	})

	It("[TRANS-006] every request gets exactly one reply that echoes its id, with code 0 and an empty message on success and an error code and a message otherwise", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a")
		f, err := c.Send(s.ctx, "my-id-1", client.ReqHeartbeat, []byte(`{"type":"heartbeat","id":"my-id-1"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.ID).To(Equal("my-id-1"))
		Expect(*f.Code).To(Equal(0))
		Expect(*f.Message).To(BeEmpty())
		f, err = c.Send(s.ctx, "my-id-2", client.ReqJoinLive, []byte(`{"type":"joinLive","id":"my-id-2","payload":{"liveID":"`+s.room("nowhere")+`"}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.ID).To(Equal("my-id-2"))
		Expect(*f.Code).To(Equal(client.CodeLiveNotExist))
		Expect(*f.Message).NotTo(BeEmpty())
		// Exactly one: after a barrier, no second reply to either id has arrived (the client
		// records an unrequested reply as a violation, checked when the spec ends).
		Expect(c.Sync(s.ctx)).To(Succeed())
	})

	It("[TRANS-007] the reply to a request is sent before the events the request caused on the same connection", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		f, err := h.Send(s.ctx, "lock", client.ReqLockSeat, []byte(`{"type":"lockSeat","id":"lock","payload":{"seatIndex":2}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0))
		ev, e := nextWithin[client.SeatListChanged](s, h, client.EvSeatListChanged, target.EventTimeout)
		Expect(ev.SeatList[2].IsLocked).To(BeTrue())
		Expect(e.Seq).To(BeNumerically(">", f.Seq), "the event (seq %d) came before the reply (seq %d)", e.Seq, f.Seq)
	})

	It("[TRANS-008 TRANS-011] events reach a connection in the order of the changes, and a heartbeat reply follows every event produced before the heartbeat was read", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		settle(s, h, a)
		for i := 1; i <= 5; i++ {
			Expect(h.LockSeat(s.ctx, i)).To(Succeed())
		}
		// No waiting: the audience's heartbeat reply must come after all five events.
		Expect(a.Sync(s.ctx)).To(Succeed())
		evs := a.Unread(client.EvSeatListChanged)
		Expect(evs).To(HaveLen(5), "the five changes had all been made before the heartbeat was sent")
		for i, e := range evs {
			var p client.SeatListChanged
			Expect(e.Decode(&p)).To(Succeed())
			locked := 0
			for _, si := range p.SeatList {
				if si.IsLocked {
					locked++
				}
			}
			Expect(locked).To(Equal(i+1), "event %d shows %d locked seats", i+1, locked)
		}
	})

	It("[TRANS-003] an omitted or null payload is the same as {}", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		f, err := a.Send(s.ctx, "n1", client.ReqLeaveLive, []byte(`{"type":"leaveLive","id":"n1","payload":null}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0), "leaveLive with a null payload: %s", *f.Message)
		f, err = h.Send(s.ctx, "n2", client.ReqEndLive, []byte(`{"type":"endLive","id":"n2"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0), "endLive without payload: %s", *f.Message)
		// A request that needs fields and gets null misses them.
		f, err = h.Send(s.ctx, "n3", client.ReqJoinLive, []byte(`{"type":"joinLive","id":"n3","payload":null}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(client.CodeInvalidParameter))
	})

	It("[TRANS-012] fields a request carries beyond the documented ones are ignored", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a")
		liveID := s.room("a")
		f, err := c.Send(s.ctx, "x", client.ReqCreateLive, []byte(`{"type":"createLive","id":"x","x-trace":"t1","payload":{"liveID":"`+liveID+`","x-vendor":{"a":1}}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0), "message: %s", *f.Message)
		info, err := c.FetchLiveInfo(s.ctx, liveID)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.LiveOwner.UserID).To(Equal(c.UserID()))
	})

	It("[HEART-001] a heartbeat is answered with success and an empty payload", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a", func(cfg *client.Config) { cfg.NoHeartbeat = true })
		f, err := c.Send(s.ctx, "hb", client.ReqHeartbeat, []byte(`{"type":"heartbeat","id":"hb","payload":{}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0))
		Expect(json.RawMessage(f.Payload)).To(MatchJSON(`{}`))
	})

	It("[TRANS-009] a frame of maxFrameBytes is accepted and a larger one closes the connection with 1009", Label("input"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a")
		max := c.Welcome().Limits.MaxFrameBytes
		frame := func(size int) []byte {
			head := `{"type":"heartbeat","id":"big","payload":{"x-pad":"`
			tail := `"}}`
			return []byte(head + strings.Repeat("p", size-len(head)-len(tail)) + tail)
		}
		f, err := c.Send(s.ctx, "big", client.ReqHeartbeat, frame(max))
		Expect(err).NotTo(HaveOccurred(), "a frame of exactly maxFrameBytes (%d)", max)
		Expect(*f.Code).To(Equal(0))
		Expect(c.WriteFrame(s.ctx, websocket.TextMessage, frame(max+1))).To(Succeed())
		Expect(c.WaitClosed(s.ctx)).To(Equal(client.CloseMessageTooBig))
	})

	It("[TRANS-002] a binary frame closes the connection with 1003", Label("input"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("a")
		Expect(c.WriteFrame(s.ctx, websocket.BinaryMessage, []byte(`{"type":"heartbeat","id":"b"}`))).To(Succeed())
		Expect(c.WaitClosed(s.ctx)).To(Equal(client.CloseUnsupportedData))
	})
})
