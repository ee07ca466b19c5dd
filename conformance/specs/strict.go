package specs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/hostile"
)

// The strict tier: SHOULDs of SPEC.md. A failure here is a warning in the reports; it does not
// make a server non-conformant.
var _ = Describe("Recommendations", Label("strict"), func() {
	It("[COHOST-032] inviteeList lists the invited rooms in the order of the request", func(ctx SpecContext) {
		s := newScene(ctx)
		a := s.host("a")
		targets := []*client.Client{s.host("c"), s.host("b"), s.host("d")}
		ids := []string{s.room("c"), s.room("b"), s.room("d")}
		request(s, a, ids...)
		for _, t := range targets {
			ev := next[client.ConnectionRequestReceived](s, t, client.EvConnectionRequestReceived)
			Expect(client.LiveIDs(ev.InviteeList)).To(Equal(ids))
		}
	})

	It("[ROOM-010] every page of fetchLiveList but the last holds count rooms", func(ctx SpecContext) {
		s := newScene(ctx)
		for i := 0; i < 5; i++ {
			s.host(fmt.Sprint("p", i))
		}
		viewer := s.user("viewer")
		cursor := ""
		for pages := 0; ; pages++ {
			Expect(pages).To(BeNumerically("<", 10000))
			page, err := viewer.FetchLiveList(s.ctx, cursor, 2)
			Expect(err).NotTo(HaveOccurred())
			if page.Cursor == "" {
				break
			}
			Expect(page.LiveInfoList).To(HaveLen(2), "page %d is short but not the last", pages+1)
			cursor = page.Cursor
		}
	})

	It("[BATTLE-045] a battle that runs out of time is announced within a second of its end", func(ctx SpecContext) {
		s := newScene(ctx, 2*time.Second)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		ba := s.audience("ba", s.room("b"))
		startBattle(s, 1, a, []*client.Client{b}, ba)
		started := b.EventsOf(client.EvBattleStarted)[0].At
		for _, m := range []*client.Client{a, b, ba} {
			_, e := nextWithin[client.BattleEnded](s, m, client.EvBattleEnded, 2*time.Second+target.EventTimeout)
			Expect(e.At.Sub(started)).To(BeNumerically("<=", 2*time.Second), "%s got the end %v after the start of a 1 s battle", m.UserID(), e.At.Sub(started))
		}
	})

	It("[HOOK-007] the start webhook arrives within two seconds of the start", func(ctx SpecContext) {
		s := newScene(ctx)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
		started := hs[0].EventsOf(client.EvBattleStarted)[0].At
		hooksOf(s, r, id, 2*time.Second+target.EventTimeout, client.HookCreateBattle, client.HookStartBattle)
		for _, d := range r.Deliveries() {
			if strings.Contains(string(d.Body), id) && d.Command == client.HookStartBattle {
				Expect(d.At.Sub(started)).To(BeNumerically("<=", 2*time.Second), "start webhook after %v", d.At.Sub(started))
			}
		}
	})

	It("[CLOSE-003] a connection the server closes ends with the end of the stream, not a reset, though the client's frames were unread", Label("transport"), func(ctx SpecContext) {
		s := newScene(ctx)
		u := s.id("linger")
		sig, err := target.Sign(u)
		Expect(err).NotTo(HaveOccurred())
		ws := dialWelcomed(s, u, sig)
		defer ws.Close()
		// A binary frame, which the server closes with 1003 (TRANS-002), and behind it, in the
		// same write, 32 KB of heartbeats it has not read when it closes.
		raw, err := hostile.Wire{Fin: true, Opcode: websocket.BinaryMessage, Payload: "{}"}.Bytes(maskKey())
		Expect(err).NotTo(HaveOccurred())
		heartbeat, err := hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Payload: `{"type":"heartbeat","id":"h"}`}.Bytes(maskKey())
		Expect(err).NotTo(HaveOccurred())
		for len(raw) < 32<<10 {
			raw = append(raw, heartbeat...)
		}
		Expect(ws.NetConn().SetWriteDeadline(time.Now().Add(target.EventTimeout))).To(Succeed())
		_, err = ws.NetConn().Write(raw)
		Expect(err).NotTo(HaveOccurred())
		// The client answers the close frame only after it read what follows it: a write into a
		// reset socket would take the reset's error, and the read would then see the end of
		// the stream either way. A server that waits for the answer before it ends its stream
		// ends it when its own wait runs out.
		ws.SetCloseHandler(func(int, string) error { return nil })
		for err == nil {
			_, _, err = ws.ReadMessage()
		}
		var ce *websocket.CloseError
		Expect(errors.As(err, &ce)).To(BeTrue(), "the connection ended without a close frame: %v", err)
		Expect(ce.Code).To(Equal(client.CloseUnsupportedData))
		n, err := ws.NetConn().Read(make([]byte, 1))
		Expect(n).To(BeZero(), "bytes after the close frame")
		Expect(errors.Is(err, io.EOF)).To(BeTrue(), "after the close frame the client read %v, not the end of the stream: the server closed its socket with the client's frames unread", err)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(client.CloseUnsupportedData, ""), time.Now().Add(time.Second))
	})
})
