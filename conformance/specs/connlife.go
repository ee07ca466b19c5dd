package specs

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after a hunt of the connection's life (2026-12-07, 17:40): bugs planted by a
// reviewer in the reference server's resume, loss and login handling, each of which passed
// the whole suite. reference/mutant keeps each as a mutant.

var _ = Describe("Connection life", func() {
	/*
		Testname: silence-keeps-session
		Description: a connection the server closes for silence (4000, LIVE-020) ended without
		a close handshake, so its session waits for a resume (RESUME-001): resumed inside the
		window it continues, still the host of its room, and the viewer saw nothing.
	*/
	It("[RESUME-001 LIVE-020 RESUME-002] a connection closed for silence (4000) keeps its session: resumed in the window, its host still owns the room and nobody saw a loss", Label("resume", "liveness"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.user("h", func(cfg *client.Config) { cfg.NoHeartbeat = true })
		window := resumeWelcome(s)
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		v := s.audience("v", s.room("h"))
		timeout := time.Duration(h.Welcome().Timing.HeartbeatTimeoutMs) * time.Millisecond
		s.allow(timeout + window)
		Expect(h.Sync(s.ctx)).To(Succeed())
		d := dropped{name: "h", old: h, token: h.ResumeToken(), start: time.Now()}
		wctx, cancel := context.WithTimeout(s.ctx, timeout+livenessSlack+target.EventTimeout)
		defer cancel()
		code, err := h.WaitClosed(wctx)
		Expect(err).NotTo(HaveOccurred(), "the silent connection must be closed")
		Expect(code).To(Equal(client.CloseHeartbeatTimeout))
		d.at, d.lastSeq = time.Now(), h.LastSeq()
		d.start = d.at // the window runs from the close
		inWindow(s, d)
		h2 := s.resume(d, d.lastSeq, d.lastSeq)
		Expect(h2.Welcome().Recovered).To(BeTrue())
		none(s, v, client.EvLiveEnded)
		Expect(h2.LockSeat(s.ctx, 2)).To(Succeed(), "the resumed host still owns its room")
	})

	/*
		Testname: bare-close-ends-session
		Description: a close frame from the client ends its session at once (RESUME-001),
		whether or not it carries a status code: one without (1005, what a browser's close()
		sends) ends the host's room for its viewer at once, not after the resume window
		(LIVE-021), and the session's token resumes nothing (RESUME-006).
	*/
	It("[RESUME-001 LIVE-021 RESUME-006] a close frame without a status code ends the session at once: the room ends for its viewer before the resume window and the token is refused", Label("resume"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		window := resumeWelcome(s)
		v := s.audience("v", s.room("h"))
		settle(s, h, v)
		token, last := h.ResumeToken(), h.LastSeq()
		closed := time.Now()
		h.CloseWithoutStatus()
		// The viewer's onLiveEnded shows the server has handled the close (a resume sent before
		// that could find the session still connected and take it over, RESUME-002); its
		// arrival is the kernel's receive time, which the suite's own stalls do not move.
		ev, e := nextWithin[client.LiveEnded](s, v, client.EvLiveEnded, target.EventTimeout)
		Expect(ev.Reason).To(Equal(client.EndedByServer), "the room ends as on a lost connection")
		Expect(e.At.Sub(closed)).To(BeNumerically("<", window), "the viewer heard of the end %v after the close; the resume window is %v", e.At.Sub(closed), window)
		_, err := s.resumeDial("h", token, last)
		expectRefusedResume(err, "a resume of a session ended by a close frame without a status code")
	})

	/*
		Testname: refused-resume-changes-nothing
		Description: a refused resume changes nothing (RESUME-006): one whose lastseq is ahead
		of the session, made with the token of a session that is connected, is refused with
		4010 and leaves that connection open and working; nobody sees anything.
	*/
	It("[RESUME-006 RESUME-002] a resume refused for a lastseq ahead leaves the session's open connection alone", Label("resume"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		resumeWelcome(s)
		a, b := hs[0], hs[1]
		settle(s, a, b)
		_, err := s.resumeDial("a", a.ResumeToken(), a.LastSeq()+50)
		expectRefusedResume(err, "a resume with a lastseq ahead of a connected session")
		Expect(a.Sync(s.ctx)).To(Succeed(), "a's connection still works")
		_, _, closed := a.CloseCode()
		Expect(closed).To(BeFalse(), "a's connection is still open")
		none(s, b)
	})

	/*
		Testname: lost-invitee-rejects
		Description: a room that ends by its host's loss (LIVE-021) has its incoming pending
		request rejected (COHOST-017): the inviter host gets onConnectionRequestReject, as when
		the room's host ends it.
	*/
	It("[LIVE-021 COHOST-017] the pending request to a host whose connection drops is rejected: the inviter gets onConnectionRequestReject", Label("liveness", "cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		request(s, a, s.room("b"))
		next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		settle(s, a)
		b.Kill()
		wait := time.Duration(a.Welcome().Timing.HeartbeatTimeoutMs)*time.Millisecond + lossGrace(a.Welcome())
		s.allow(wait)
		ev, _ := nextWithin[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestReject, wait+target.EventTimeout)
		Expect(ev.Inviter.LiveID).To(Equal(s.room("a")))
		Expect(ev.Invitee.LiveID).To(Equal(s.room("b")))
	})

	/*
		Testname: state-without-frames
		Description: a resume that cannot replay every missed frame carries the session's state
		(RESUME-004): room as joinLive describes it — the seat list merged across the group, as
		a joinLive reply gives it now; host true for the room's host only, false for a seated
		viewer; and only the invitations waiting for the room's answer — not the room's own
		outgoing request, not a battle request it has accepted.
	*/
	It("[RESUME-004 SEAT-010] the state of a resume without its frames: the group's merged seats, host true for the host alone, and no invitation that waits for no answer of the room", Label("resume", "battle", "cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "e")
		battleWelcome(s)
		resumeWelcome(s)
		a, b, e := hs[0], hs[1], hs[2]
		c := s.host("c")
		v, w := s.audience("v", s.room("b")), s.audience("w", s.room("b"))
		n := s.welcome().Limits.ResumeHistoryFrames + 6
		if n > 600 {
			Skip(fmt.Sprintf("the server keeps %d frames: too many to overflow in a spec", n-6))
		}
		Expect(v.TakeSeat(s.ctx, 1)).To(Succeed())
		Expect(request(s, b, s.room("c"))).To(HaveKeyWithValue(s.room("c"), client.ConnSuccess))
		id := requestPending(s, a, b, e)
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		settle(s, a, b, c, e, v, w)

		fromB, fromV := b.LastSeq(), v.LastSeq()
		for i := 0; i < n; i++ {
			Expect(takeOrLeave(s, w, i)).To(Succeed())
		}
		db, dv := s.drop("b"), s.drop("v")
		inWindow(s, db)
		b2, v2 := s.resume(db, fromB, db.lastSeq), s.resume(dv, fromV, dv.lastSeq)
		if b2.Welcome().Recovered || v2.Welcome().Recovered {
			Skip(fmt.Sprintf("the server kept more than the %d frames it promised: no state to check", n-6))
		}
		fresh, err := s.user("x").JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())

		st := b2.Welcome().State
		Expect(st).NotTo(BeNil())
		Expect(st.Host).To(BeTrue())
		Expect(st.Room).NotTo(BeNil())
		Expect(st.Room.SeatList).To(Equal(fresh.SeatList), "the group's merged seats, as joinLive gives them")
		Expect(st.ConnectionRequests).To(BeEmpty(), "b's own request to c waits for c's answer, not b's")
		Expect(st.BattleRequests).To(BeEmpty(), "b has accepted: the battle waits for e, not for b")

		sv := v2.Welcome().State
		Expect(sv).NotTo(BeNil())
		Expect(sv.Host).To(BeFalse(), "v is seated, not the host")
		Expect(sv.Room).NotTo(BeNil())
		Expect(sv.Room.LiveInfo.LiveID).To(Equal(s.room("b")))
		Expect(sv.ConnectionRequests).To(BeEmpty())
		Expect(sv.BattleRequests).To(BeEmpty())
	})

	/*
		Testname: second-drop-new-window
		Description: a session's window runs from the drop the server saw last (RESUME-001): a
		session dropped, resumed and dropped again is kept for a whole window from the second
		drop, not lost when the first drop's window ends (RESUME-005); resumed after the first
		window has passed, it continues, and nobody saw anything.
	*/
	It("[RESUME-001 RESUME-005] a session dropped, resumed and dropped again waits a whole window from the second drop, not the first", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		window := resumeWelcome(s)
		s.allow(2 * window)
		b := hs[1]
		settle(s, hs...)
		d1 := s.drop("a")
		time.Sleep(window / 4)
		inWindow(s, d1)
		s.resume(d1, d1.lastSeq, d1.lastSeq)
		// The second drop comes late enough for the second window's last fifth to lie past the
		// first drop's window, the interval RESUME-005 allows a server to act on it and a
		// tenth of the window more: a server that lost the session at the first window's end,
		// checking its windows once an interval, has lost it by then.
		interval := time.Duration(s.welcome().Timing.HeartbeatIntervalMs) * time.Millisecond
		time.Sleep(max(window/4, time.Until(d1.at.Add(window*3/10+interval))))
		d2 := s.drop("a")
		// Sleep that long, or, if that would not leave the second window a tenth to spare,
		// past the first window by a tenth of it.
		wake := d1.at.Add(window + interval + window/10)
		if latest := d2.start.Add(window * 8 / 10); wake.After(latest) {
			wake = latest
		}
		if first := d1.at.Add(window + window/10); wake.Before(first) {
			wake = first
		}
		time.Sleep(time.Until(wake))
		inWindow(s, d2)
		AddReportEntry("resumed", fmt.Sprintf("%v after the first drop, %v after the second; window %v, interval %v",
			time.Since(d1.at).Round(time.Millisecond), time.Since(d2.at).Round(time.Millisecond), window, interval))
		a3 := s.resume(d2, d2.lastSeq, d2.lastSeq)
		Expect(a3.Welcome().Recovered).To(BeTrue())
		none(s, b)
	})

	/*
		Testname: each-session-own-window
		Description: each waiting session is lost when its own window ends (RESUME-005: within
		resumeWindowMs + heartbeatIntervalMs of its drop, and the suite's lateness allowance),
		whatever other sessions dropped after it: a host dropped nine tenths of a window after
		another does not hold back the first one's loss.
	*/
	It("[RESUME-005 LIVE-021] a dropped session is lost at the end of its own window, though another dropped later", Label("liveness"), func(ctx SpecContext) {
		s := newScene(ctx)
		x, y := s.host("x"), s.host("y")
		window := resumeWelcome(s)
		z := s.host("z")
		connect(s, x, y)
		interval := time.Duration(s.welcome().Timing.HeartbeatIntervalMs) * time.Millisecond
		late := lateness(s.welcome())
		s.allow(2*window + interval + late)
		settle(s, x, y, z)
		d := s.drop("x")
		time.Sleep(window * 9 / 10)
		s.drop("z")
		ev, e := nextWithin[client.ConnectionUserListChanged](s, y, client.EvConnectionUserListChanged, window+interval+late+target.EventTimeout)
		Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("x")}))
		Expect(e.At.Sub(d.at)).To(BeNumerically("<=", window+interval+late), "x was lost %v after its drop; its window and a heartbeat interval are %v, and the suite accepts %v more", e.At.Sub(d.at), window+interval, late)
	})

	/*
		Testname: history-kept-after-replay
		Description: the history a replay came from is kept (RESUME-004: the last
		resumeHistoryFrames frames, whatever was replayed): a session resumed from before four
		frames, then dropped at once and resumed again from the same lastseq, gets
		recovered true and the same frames with their original seq.
	*/
	It("[RESUME-004 RESUME-003] a second resume from before a replay gets the replayed frames again", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		resumeWelcome(s)
		if lim := s.welcome().Limits; lim.ResumeHistoryFrames < 8 || lim.ResumeHistoryBytes < 8*4096 {
			Skip(fmt.Sprintf("the server keeps %d frames, %d bytes: the spec needs 8 frames of up to 4 KiB", lim.ResumeHistoryFrames, lim.ResumeHistoryBytes))
		}
		w := s.audience("w", s.room("h"))
		settle(s, h, w)
		from := h.LastSeq()
		for i := 0; i < 4; i++ {
			Expect(takeOrLeave(s, w, i)).To(Succeed())
		}
		d1 := s.drop("h")
		inWindow(s, d1)
		h2 := s.resume(d1, from, d1.lastSeq)
		Expect(h2.Welcome().Recovered).To(BeTrue())
		replayed(s, h2, d1.lastSeq)
		Expect(h2.Sync(s.ctx)).To(Succeed())
		first := bySeq(received(h2))
		d2 := s.drop("h")
		inWindow(s, d2)
		h3 := s.resume(d2, from, d2.lastSeq)
		Expect(h3.Welcome().Recovered).To(BeTrue(), "the frames replayed once are kept")
		replayed(s, h3, d2.lastSeq)
		Expect(h3.Sync(s.ctx)).To(Succeed())
		again := bySeq(received(h3))
		for seq := from + 1; seq <= d1.lastSeq; seq++ {
			Expect(again).To(HaveKey(seq))
			Expect(first).To(HaveKey(seq))
			expectSameFrame(again[seq], first[seq])
		}
	})

	/*
		Testname: history-bytes-released
		Description: the history's byte bound applies to the frames kept, not to all a session
		was ever sent (RESUME-004: the last frames whose sizes, each its encoded length plus
		128 bytes, add up to at most resumeHistoryBytes): after more than resumeHistoryBytes
		of frames in its life, a session resumed from before its last two frames gets
		recovered true and both.
	*/
	It("[RESUME-004] after more than resumeHistoryBytes of frames in a session's life, its last two frames are still replayed", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		resumeWelcome(s)
		limit := int64(s.welcome().Limits.ResumeHistoryBytes)
		if limit > 4<<20 || s.welcome().Limits.ResumeHistoryFrames < 3 || limit < 3*4096 {
			Skip(fmt.Sprintf("the server keeps %d bytes and %d frames of history: the spec fills at most 4 MiB and needs 3 frames of up to 4 KiB kept", limit, s.welcome().Limits.ResumeHistoryFrames))
		}
		w := s.audience("w", s.room("h"))
		settle(s, h, w)
		// The transcript keeps the last frames only: each frame is counted once, by its seq,
		// every 50 changes (far fewer than the transcript holds).
		sent, counted, i := int64(0), h.LastSeq(), 0
		for ; sent <= limit; i++ {
			Expect(i).To(BeNumerically("<", 40000), "%d bytes of frames sent and still not past %d", sent, limit)
			Expect(takeOrLeave(s, w, i)).To(Succeed())
			if i%50 == 49 {
				Expect(h.Sync(s.ctx)).To(Succeed())
				for _, f := range received(h) {
					if f.Seq > counted {
						sent += int64(len(f.Raw)) + 128
						counted = f.Seq
					}
				}
			}
		}
		Expect(h.Sync(s.ctx)).To(Succeed())
		from := h.LastSeq()
		Expect(takeOrLeave(s, w, i)).To(Succeed())
		Expect(takeOrLeave(s, w, i+1)).To(Succeed())
		d := s.drop("h")
		inWindow(s, d)
		h2 := s.resume(d, from, d.lastSeq)
		Expect(h2.Welcome().Recovered).To(BeTrue(), "the last frames fit in resumeHistoryBytes")
		replayed(s, h2, d.lastSeq)
		Expect(h2.Sync(s.ctx)).To(Succeed())
		got := bySeq(received(h2))
		for seq := from + 1; seq <= d.lastSeq; seq++ {
			Expect(got).To(HaveKey(seq))
		}
	})
})
