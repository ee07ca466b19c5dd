package specs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

	It("[CLOSE-003] a connection the server closes ends at the client's close frame, not when the server's wait runs out", Label("transport"), func(ctx SpecContext) {
		// Two connections closed together alike (1003, TRANS-002); one answers with its close
		// frame at once and keeps its socket open, as a client that waits for the server to
		// close first does (RFC 6455 §7.1.1; browsers do); the other never answers. The
		// server's close shows to the client only as a reset in answer to a probe written
		// after it: the silent one's measures the server's wait, and the answering one's,
		// less the round trip its answer and the probe's reset take, must come within half
		// of that (100 ms at least) and a quarter of a second at most (RFC 6455 §5.5.1: an
		// endpoint that has both sent and received a close frame closes TCP; the cap holds
		// where the probes themselves put a server's wait off). The round trip is the one
		// from the binary frame to the close frame, the server's handling included. A server
		// that does not wait at all passes here (the spec above is the one it fails).
		s := newScene(ctx)
		binary, err := hostile.Wire{Fin: true, Opcode: websocket.BinaryMessage, Payload: "{}"}.Bytes(maskKey())
		Expect(err).NotTo(HaveOccurred())
		closeFrame, err := hostile.Wire{Fin: true, Opcode: websocket.CloseMessage, Payload: string(websocket.FormatCloseMessage(client.CloseUnsupportedData, ""))}.Bytes(maskKey())
		Expect(err).NotTo(HaveOccurred())
		var wss [2]*websocket.Conn // answers, silent
		for i, name := range []string{"answers", "silent"} {
			u := s.id(name)
			sig, err := target.Sign(u)
			Expect(err).NotTo(HaveOccurred())
			wss[i] = dialWelcomed(s, u, sig)
			defer wss[i].Close()
		}
		var wrote, closed [2]time.Time // the binary frame written, the server's close frame read
		for i, ws := range wss {
			Expect(ws.NetConn().SetWriteDeadline(time.Now().Add(target.EventTimeout))).To(Succeed())
			_, err := ws.NetConn().Write(binary)
			Expect(err).NotTo(HaveOccurred())
			wrote[i] = time.Now()
		}
		readClose := func(i int) {
			GinkgoHelper()
			ws := wss[i]
			ws.SetCloseHandler(func(int, string) error { return nil })
			var err error
			for err == nil {
				_, _, err = ws.ReadMessage()
			}
			closed[i] = time.Now()
			var ce *websocket.CloseError
			Expect(errors.As(err, &ce)).To(BeTrue(), "the connection ended without a close frame: %v", err)
			Expect(ce.Code).To(Equal(client.CloseUnsupportedData))
		}
		readClose(0)
		Expect(wss[0].NetConn().SetWriteDeadline(time.Now().Add(target.EventTimeout))).To(Succeed())
		_, err = wss[0].NetConn().Write(closeFrame)
		// Any other error is a reset: the server has closed already, as the probes see.
		Expect(errors.Is(err, os.ErrDeadlineExceeded)).To(BeFalse(), "the client's close frame could not be written in %v", target.EventTimeout)
		readClose(1)
		roundTrip := closed[0].Sub(wrote[0])
		bound := 2 * target.EventTimeout
		var ended [2]time.Duration
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			ended[1] = closedWithin(wss[1].NetConn(), closed[1], bound)
		}()
		ended[0] = closedWithin(wss[0].NetConn(), closed[0], bound)
		<-done
		AddReportEntry("the server's socket closed", fmt.Sprintf("%v after its close frame where the client answered at once, %v where it never answered; the round trip %v", ended[0].Round(time.Millisecond), ended[1].Round(time.Millisecond), roundTrip.Round(100*time.Microsecond)))
		Expect(ended[0]).To(BeNumerically("<", bound), "the server had not closed its socket %v after the client's close frame (where the client never answered: %v)", bound, ended[1])
		Expect(ended[0]-roundTrip).To(BeNumerically("<=", min(max(ended[1]/2, 100*time.Millisecond), 250*time.Millisecond)), "the server closed its socket %v after its close frame where the client answered at once (the round trip %v), and %v where the client never answered: it waited out its wait, not for the answer", ended[0], roundTrip, ended[1])
	})
})

// closedWithin probes nc, whose peer has closed it for sending, with a ping every 10 ms until
// a write fails other than by its deadline (the peer's socket is closed: the probe before was
// answered with a reset), and returns how long after since that was; bound if it had not been
// by then.
func closedWithin(nc net.Conn, since time.Time, bound time.Duration) time.Duration {
	ping, err := hostile.Wire{Fin: true, Opcode: websocket.PingMessage}.Bytes(maskKey())
	Expect(err).NotTo(HaveOccurred())
	for time.Since(since) < bound {
		if err := nc.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			return time.Since(since)
		}
		if _, err := nc.Write(ping); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return time.Since(since)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return bound
}
