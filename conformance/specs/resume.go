package specs

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/fixtures/hostile"
)

// The resume specs (SPEC §21) drop a connection without a close handshake (Kill: the TCP
// connection closes, the server sees 1006) and resume its session on a new one. The ground
// truth of a replay is what the dropped connection itself received (its transcript) and what
// the other users received of the same changes.

// resumeWelcome skips the spec when the server advertises no resume window, and returns the
// window.
func resumeWelcome(s *scene) time.Duration {
	GinkgoHelper()
	w := s.welcome()
	if w.Limits.ResumeWindowMs <= 0 {
		Skip(results.Unsupported("resume", "the server advertises resumeWindowMs 0 (SPEC RESUME-001)"))
	}
	return time.Duration(w.Limits.ResumeWindowMs) * time.Millisecond
}

// dropped is a session whose connection a spec dropped: its old client, the token and the
// seq of the last frame the old connection read, and when it was dropped.
type dropped struct {
	name    string
	old     *client.Client
	token   string
	lastSeq uint64
	start   time.Time // just before the drop
	at      time.Time // the drop is done: the socket is closed
}

// drop stops c's heartbeats, waits for every frame already made for it (a heartbeat round
// trip: no reply of c is then in flight, so none is replayed to a client that did not send
// it) and closes its socket without a close frame.
func (s *scene) drop(name string) dropped {
	GinkgoHelper()
	c := s.named(name)
	c.StopHeartbeat()
	Expect(c.Sync(s.ctx)).To(Succeed())
	d := dropped{name: name, old: c, token: c.ResumeToken(), start: time.Now()}
	c.Kill()
	d.at, d.lastSeq = time.Now(), c.LastSeq()
	Expect(d.token).NotTo(BeEmpty(), "%s's welcome gave no resumeToken", name)
	return d
}

// inWindow fails the spec as the suite's own slowness when the window has (nearly) passed
// since d: the machine running the suite was too slow to resume in time.
func inWindow(s *scene, d dropped) {
	GinkgoHelper()
	window := time.Duration(s.welcome().Limits.ResumeWindowMs) * time.Millisecond
	if took := time.Since(d.start); took > window*9/10 {
		AddReportEntry(SlowSuiteEntry, fmt.Sprintf("the suite took %v after dropping %s to resume it, too close to the resume window %v: the machine running the suite was too busy to test it", took.Round(time.Millisecond), d.name, window), ReportEntryVisibilityFailureOrVerbose)
		Fail(fmt.Sprintf("the suite needed %v of the %v resume window before resuming", took.Round(time.Millisecond), window))
	}
}

// unrequestedReply is the client's violation for a reply to an id it did not send: a
// resumed connection gets those for the requests of the connection before it.
var unrequestedReply = regexp.MustCompile(`^reply \(seq (\d+)\) to id "([^"]*)", which no request is waiting for`)

// resumeDial resumes the session of user name with token and lastSeq.
func (s *scene) resumeDial(name, token string, lastSeq uint64) (*client.Client, error) {
	cfg := target.ClientConfig(s.id(name))
	cfg.Resume = &client.Resume{Token: token, LastSeq: lastSeq}
	return client.Dial(s.ctx, cfg)
}

// resume resumes d's session from lastSeq and makes the new client the scene's user d.name.
// Replies replayed to it (requests of the connection before, up to upTo, or with an id in
// ids) are not violations; every other protocol violation fails the spec.
func (s *scene) resume(d dropped, lastSeq, upTo uint64, ids ...string) *client.Client {
	GinkgoHelper()
	c, err := s.resumeDial(d.name, d.token, lastSeq)
	Expect(err).NotTo(HaveOccurred(), "resuming %s with lastseq %d", d.name, lastSeq)
	s.users[d.name] = c
	DeferCleanup(func() {
		attachTranscript(c)
		noteOwnSlowness(c)
		c.Close()
		var others []string
		for _, v := range c.Violations() {
			if m := unrequestedReply.FindStringSubmatch(v); m != nil {
				seq, _ := strconv.ParseUint(m[1], 10, 64)
				if seq <= upTo || containsString(ids, m[2]) {
					continue
				}
			}
			others = append(others, v)
		}
		Expect(others).To(BeEmpty(), "protocol violations seen by the resumed %s", c.UserID())
	})
	w := c.Welcome()
	Expect(w.Resumed).To(BeTrue(), "resumed")
	Expect(w.SessionID).To(Equal(d.old.Welcome().SessionID), "a resume continues the same session")
	Expect(w.ResumeToken).NotTo(BeEmpty())
	Expect(w.ResumeToken).NotTo(Equal(d.token), "each welcome of the session gives a new token")
	return c
}

// replayed waits until c, just resumed, has read the frames up to seq: a request sent before
// that may take a replayed reply to the earlier connection's request of the same id for its
// own.
func replayed(s *scene, c *client.Client, seq uint64) {
	GinkgoHelper()
	Eventually(s.ctx, c.LastSeq).WithTimeout(target.EventTimeout).Should(BeNumerically(">=", seq), "the replay up to seq %d", seq)
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// expectRefusedResume checks that err is a resume refused with 4010 and a reason.
func expectRefusedResume(err error, what string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "%s: the resume must be refused", what)
	var ce *websocket.CloseError
	Expect(errors.As(err, &ce)).To(BeTrue(), "%s: refused by a close frame, before any welcome: %v", what, err)
	Expect(ce.Code).To(Equal(client.CloseResumeRefused), "%s: close code", what)
	Expect(ce.Text).NotTo(BeEmpty(), "%s: the close reason says why", what)
}

// received is the frames c received after its welcome, decoded, in order (from its
// transcript, which holds replies too).
func received(c *client.Client) []client.Frame {
	GinkgoHelper()
	frames, _ := c.Transcript()
	var out []client.Frame
	for _, t := range frames {
		if t.Sent || strings.HasPrefix(t.Text, `{"type":"welcome"`) {
			continue
		}
		var f client.Frame
		Expect(json.Unmarshal([]byte(t.Text), &f)).To(Succeed(), "a frame of the transcript: %.100s", t.Text)
		f.Raw = []byte(t.Text)
		out = append(out, f)
	}
	return out
}

// bySeq indexes frames by their seq.
func bySeq(frames []client.Frame) map[uint64]client.Frame {
	m := map[uint64]client.Frame{}
	for _, f := range frames {
		m[f.Seq] = f
	}
	return m
}

// expectSameFrame checks that a replayed frame is the frame first sent: type, id, code and
// payload.
func expectSameFrame(got, want client.Frame) {
	GinkgoHelper()
	Expect(got.Type).To(Equal(want.Type), "the frame of seq %d", want.Seq)
	Expect(got.ID).To(Equal(want.ID), "the id of the frame of seq %d", want.Seq)
	Expect(got.Code).To(Equal(want.Code), "the code of the frame of seq %d", want.Seq)
	Expect(string(got.Payload)).To(MatchJSON(string(want.Payload)), "the payload of the frame of seq %d", want.Seq)
}

// seqsFrom is from, from+1, … n numbers.
func seqsFrom(from uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = from + uint64(i)
	}
	return out
}

func seqsOf(frames []client.Frame) []uint64 {
	out := make([]uint64, len(frames))
	for i, f := range frames {
		out[i] = f.Seq
	}
	return out
}

// scoreVersions is the versions of the onBattleScoreChanged among frames, in order.
func scoreVersions(frames []client.Frame) []uint64 {
	GinkgoHelper()
	var out []uint64
	for _, f := range frames {
		if f.Type == client.EvBattleScoreChanged {
			var ev client.BattleScoreChanged
			Expect(f.Decode(&ev)).To(Succeed())
			out = append(out, ev.Version)
		}
	}
	return out
}

// expectIncreasing checks that each version is above the one before (BATTLE-042, RESUME-007).
func expectIncreasing(versions []uint64, what string) {
	GinkgoHelper()
	for i := 1; i < len(versions); i++ {
		Expect(versions[i]).To(BeNumerically(">", versions[i-1]), "%s: versions %v", what, versions)
	}
}

// addScores makes n score changes of room liveID in battle id over REST and returns the
// versions they were given. It keeps within four fifths of the REST rate limit (REST-004),
// which the calls of the specs before it may have used up.
func addScores(s *scene, r *client.REST, id, liveID string, n int) []uint64 {
	GinkgoHelper()
	var out []uint64
	every := time.Second * 5 / 4 / time.Duration(max(1, target.RESTRateLimit))
	for i, at := 0, time.Now(); i < n; i, at = i+1, at.Add(every) {
		time.Sleep(time.Until(at))
		resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: liveID, Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		out = append(out, resp.ScoreVersion)
	}
	return out
}

// takeOrLeave makes viewer v take seat 5 (i even) or leave it (i odd): one onSeatListChanged
// for every member of the room.
func takeOrLeave(s *scene, v *client.Client, i int) error {
	if i%2 == 0 {
		return v.TakeSeat(s.ctx, 5)
	}
	return v.LeaveSeat(s.ctx)
}

var printableToken = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)

var _ = Describe("Resume", Label("resume"), func() {
	It("[RESUME-001 WELCOME-001] a server that resumes sessions advertises its window and history, and each welcome gives a new token of 1–64 printable ASCII bytes", func(ctx SpecContext) {
		s := newScene(ctx)
		a := s.user("a")
		resumeWelcome(s)
		b := s.user("b")
		w := a.Welcome()
		Expect(w.Limits.ResumeHistoryFrames).To(BeNumerically(">=", 1))
		Expect(w.Limits.ResumeHistoryBytes).To(BeNumerically(">=", 1))
		Expect(w.Resumed).To(BeFalse(), "a new session is not resumed")
		for _, c := range []*client.Client{a, b} {
			Expect(c.ResumeToken()).To(MatchRegexp(printableToken.String()), "%s's resumeToken", c.UserID())
		}
		Expect(a.ResumeToken()).NotTo(Equal(b.ResumeToken()))
		d := s.drop("a")
		again := s.resume(d, d.lastSeq, d.lastSeq)
		Expect(again.ResumeToken()).To(MatchRegexp(printableToken.String()))
		Expect(again.ResumeToken()).NotTo(Equal(a.ResumeToken()), "the resumed welcome gives a new token")
	})

	It("[RESUME-006] a server that does not resume sessions refuses a resume with 4010", func(ctx SpecContext) {
		s := newScene(ctx)
		a := s.user("a")
		if a.Welcome().Limits.ResumeWindowMs > 0 {
			Skip("the server resumes sessions (resumeWindowMs above 0): the other resume specs test its refusals")
		}
		_, err := s.resumeDial("a", "made-up-token", 0)
		expectRefusedResume(err, "a resume against a server that does not resume")
		_, err = s.resumeDial("a", a.ResumeToken()+"x", a.LastSeq())
		expectRefusedResume(err, "a resume with the token of the welcome (if any) against a server that does not resume")
	})

	It("[RESUME-001 AUTHZ-003] a connection the server closed with 4001 (its token expired) ends its session at once: its token resumes nothing", func(ctx SpecContext) {
		s := newScene(ctx, 10*time.Second)
		const lifetime = 3 * time.Second
		h := s.user("h", func(cfg *client.Config) { cfg.SigExpire = lifetime })
		resumeWelcome(s)
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		a := s.audience("a", s.room("h"))
		settle(s, a)
		token := h.ResumeToken()
		wait, cancel := context2(s, lifetime+target.EventTimeout)
		defer cancel()
		code, err := h.WaitClosed(wait)
		Expect(err).NotTo(HaveOccurred(), "the connection outlived its token")
		Expect(code).To(Equal(client.CloseTokenExpired))
		_, err = s.resumeDial("h", token, h.LastSeq())
		expectRefusedResume(err, "a resume, with a fresh usersig, of the session its server closed with 4001")
		Expect(next[client.LiveEnded](s, a, client.EvLiveEnded).Reason).To(Equal(client.EndedByServer), "the room ends as on a lost connection")
	})

	It("[RESUME-001 LIVE-021] a connection closed with a close frame ends its session at once, while one dropped without a close handshake keeps it: the others see nothing", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		window := resumeWelcome(s)
		a, b := hs[0], hs[1]
		token, last := hs[2].ResumeToken(), hs[2].LastSeq()
		closed := time.Now()
		hs[2].Close()
		for _, c := range []*client.Client{a, b} {
			_, e := nextWithin[client.ConnectionUserListChanged](s, c, client.EvConnectionUserListChanged, target.EventTimeout)
			Expect(e.At.Sub(closed)).To(BeNumerically("<", window), "%s heard of the clean exit at once, not after the resume window", c.UserID())
		}
		_, err := s.resumeDial("c", token, last)
		expectRefusedResume(err, "a resume of a session ended by a close frame")
		settle(s, a, b)

		d := s.drop("b")
		none(s, a)
		inWindow(s, d)
		Expect(time.Since(d.at)).To(BeNumerically("<", window))
		b2 := s.resume(d, d.lastSeq, d.lastSeq)
		none(s, a)
		none(s, b2)
	})

	// A connection the server closes for what its client sent ended with a close frame, not a
	// drop: the session ends at once (RESUME-001), whoever's code wrote the close frame (the
	// reference server's own checks, or its WebSocket library's for a broken frame).
	DescribeTable("[RESUME-001 LIVE-021 TRANS-013 TRANS-002 TRANS-009] a connection the server closed for a frame it refused ends its session at once: the group hears of the loss before the resume window passes, and its token resumes nothing",
		func(ctx SpecContext, code int, frame func(max int) hostile.Wire) {
			s := newScene(ctx)
			hs := s.hosts("a", "b", "c")
			window := resumeWelcome(s)
			a, b, c := hs[0], hs[1], hs[2]
			token := c.ResumeToken()
			raw, err := frame(c.Welcome().Limits.MaxFrameBytes).Bytes(maskKey())
			Expect(err).NotTo(HaveOccurred())
			sent := time.Now()
			Expect(c.WriteWire(s.ctx, raw)).To(Succeed())
			Expect(c.WaitClosed(s.ctx)).To(Equal(code), "the close code of the refused frame")
			last := c.LastSeq()
			for _, o := range []*client.Client{a, b} {
				_, e := nextWithin[client.ConnectionUserListChanged](s, o, client.EvConnectionUserListChanged, target.EventTimeout)
				Expect(e.At.Sub(sent)).To(BeNumerically("<", window), "%s heard of c's loss at once, not after the resume window", o.UserID())
			}
			_, err = s.resumeDial("c", token, last)
			expectRefusedResume(err, fmt.Sprintf("a resume of a session its server closed with %d", code))
		},
		Entry("1002, a reserved opcode", client.CloseProtocolError, func(int) hostile.Wire {
			return hostile.Wire{Fin: true, Opcode: 3}
		}),
		Entry("1003, a binary frame", client.CloseUnsupportedData, func(int) hostile.Wire {
			return hostile.Wire{Fin: true, Opcode: websocket.BinaryMessage, Payload: "{}"}
		}),
		Entry("1007, a text frame that is not UTF-8", client.CloseInvalidData, func(int) hostile.Wire {
			return hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Payload: "%FF"}
		}),
		Entry("1009, a frame of maxFrameBytes + 1", client.CloseMessageTooBig, func(max int) hostile.Wire {
			return hostile.Wire{Fin: true, Opcode: websocket.TextMessage, Payload: strings.Repeat(" ", max+1)}
		}),
	)

	It("[RESUME-002 RESUME-001 RESUME-005] a host of a nine-room PK battle dropped mid-battle resumes its session: still host, still in the group and the battle, and nobody saw anything", func(ctx SpecContext) {
		s := newScene(ctx)
		names := []string{"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"}
		hs := s.hosts(names...)
		battleWelcome(s)
		resumeWelcome(s)
		v := s.audience("v", s.room("h5"))
		reply := startBattle(s, 300, hs[0], hs[1:], v)
		id := reply.BattleInfo.BattleID
		others := append(append([]*client.Client{}, hs[:5]...), hs[6:]...)
		others = append(others, v)

		d := s.drop("h5")
		for _, o := range others {
			none(s, o)
		}
		inWindow(s, d)
		h5 := s.resume(d, d.lastSeq, d.lastSeq)
		Expect(h5.Welcome().Recovered).To(BeTrue(), "nothing was missed")
		info, err := h5.FetchLiveInfo(s.ctx, s.room("h5"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.LiveOwner.UserID).To(Equal(h5.UserID()), "still the room's host")
		Expect(info.CurrentUserCount).To(Equal(2), "the host and its viewer")
		for _, o := range others {
			none(s, o)
		}
		// Still in the battle: its exit is everyone's news.
		Expect(h5.ExitBattle(s.ctx, id)).To(Succeed())
		for _, o := range []*client.Client{hs[0], hs[8], v} {
			ev := next[client.UserExitBattle](s, o, client.EvUserExitBattle)
			Expect(ev.BattleUser.UserID).To(Equal(h5.UserID()))
		}
		// Still in the group.
		Expect(h5.Disconnect(s.ctx)).To(Succeed())
		ev := next[client.ConnectionUserListChanged](s, hs[0], client.EvConnectionUserListChanged)
		Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("h5")}))
		for _, o := range others {
			Expect(o.EventsOf(client.EvLiveEnded)).To(BeEmpty(), "%s", o.UserID())
		}
	})

	It("[RESUME-002 RESUME-001] a seated viewer dropped and resumed keeps its seat and its place in the room", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		resumeWelcome(s)
		v := s.audience("v", s.room("h"))
		o := s.audience("o", s.room("h"))
		Expect(v.TakeSeat(s.ctx, 3)).To(Succeed())
		settle(s, h, v, o)
		d := s.drop("v")
		none(s, h)
		none(s, o)
		inWindow(s, d)
		v2 := s.resume(d, d.lastSeq, d.lastSeq)
		info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(3), "the viewer is still in the room")
		none(s, h)
		Expect(v2.LeaveSeat(s.ctx)).To(Succeed(), "the seat is still the viewer's")
		for _, c := range []*client.Client{h, o, v2} {
			ev := next[client.SeatListChanged](s, c, client.EvSeatListChanged)
			Expect(seatOf(ev.SeatList, v2.UserID())).To(BeNil())
		}
	})

	It("[RESUME-002] a resume while the earlier connection is still open closes it with 4009, and nobody sees a loss", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		resumeWelcome(s)
		a, b := hs[0], hs[1]
		aa := s.audience("aa", s.room("a"))
		settle(s, a, b, aa)
		// The old connection stays open: silent (no heartbeat in flight) but not yet timed out.
		a.StopHeartbeat()
		Expect(a.Sync(s.ctx)).To(Succeed())
		d := dropped{name: "a", old: a, token: a.ResumeToken(), lastSeq: a.LastSeq(), start: time.Now()}
		a2 := s.resume(d, d.lastSeq, d.lastSeq)
		code, err := a.WaitClosed(s.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(client.CloseReplaced), "the earlier connection is closed with 4009")
		Expect(a2.Welcome().Recovered).To(BeTrue())
		none(s, b)
		none(s, aa)
		info, err := a2.FetchLiveInfo(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.LiveOwner.UserID).To(Equal(a2.UserID()))
		Expect(info.CurrentUserCount).To(Equal(2))
		Expect(a2.Disconnect(s.ctx)).To(Succeed(), "still in the group")
		next[client.ConnectionUserListChanged](s, b, client.EvConnectionUserListChanged)
	})

	DescribeTable("[RESUME-002 AUTH-001] a malformed resume query is refused with HTTP 400 and 100002",
		func(ctx SpecContext, extra string) {
			s := newScene(ctx)
			s.user("first")
			resumeWelcome(s)
			h := goodHandshake(s, "u")
			h.extra = extra
			expectRefused(s, h, 400, client.CodeInvalidParameter)
		},
		Entry("lastseq not a number", "&resume=tok&lastseq=abc"),
		Entry("lastseq negative", "&resume=tok&lastseq=-1"),
		Entry("lastseq missing", "&resume=tok"),
		Entry("lastseq without resume", "&lastseq=3"),
		Entry("resume longer than 64 bytes", "&resume="+strings.Repeat("t", 65)+"&lastseq=0"),
		Entry("resume empty", "&resume=&lastseq=0"),
		Entry("resume with a control character", "&resume=to%01k&lastseq=0"),
	)

	It("[RESUME-003 RESUME-007 TRANS-005] the frames made while a session waits are replayed in order with their original seq, once each, and new frames are numbered on", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		resumeWelcome(s)
		a, b := hs[0], hs[1]
		bb := s.audience("bb", s.room("b"))
		id := startBattle(s, 300, a, []*client.Client{b}, bb).BattleInfo.BattleID
		r := s.rest()
		seen := len(bb.Events())
		d := s.drop("b")
		versions := addScores(s, r, id, s.room("b"), 3)
		expectIncreasing(versions, "the REST answers")
		Expect(bb.TakeSeat(s.ctx, 2)).To(Succeed())
		// bb, in b's room, got the same four changes.
		Expect(bb.WaitFor(s.ctx, func(evs []client.Event) bool {
			n := 0
			for _, e := range evs[seen:] {
				if e.Type == client.EvBattleScoreChanged || e.Type == client.EvSeatListChanged {
					n++
				}
			}
			return n >= 4
		})).To(Succeed())
		inWindow(s, d)
		b2 := s.resume(d, d.lastSeq, d.lastSeq)
		Expect(b2.Welcome().Recovered).To(BeTrue())
		Expect(b2.Welcome().NextSeq).To(Equal(d.lastSeq + 1))
		Expect(b2.Sync(s.ctx)).To(Succeed())
		got := received(b2)
		Expect(len(got)).To(BeNumerically(">=", 5), "four frames of the gap and the reply to the heartbeat")
		gap := got[:4]
		Expect(seqsOf(gap)).To(Equal(seqsFrom(d.lastSeq+1, 4)), "the replay's seqs")
		Expect([]string{gap[0].Type, gap[1].Type, gap[2].Type, gap[3].Type}).To(Equal([]string{client.EvBattleScoreChanged, client.EvBattleScoreChanged, client.EvBattleScoreChanged, client.EvSeatListChanged}))
		Expect(scoreVersions(gap)).To(Equal(versions), "the score changes of the gap, in version order")
		// The replayed events are the events the others got of the same changes.
		bbScores := bb.EventsOf(client.EvBattleScoreChanged)
		Expect(len(bbScores)).To(BeNumerically(">=", 3))
		for i, e := range bbScores[len(bbScores)-3:] {
			Expect(string(gap[i].Payload)).To(MatchJSON(string(e.Payload)), "score change %d", i)
		}
		Expect(seqsOf(got)).To(Equal(seqsFrom(d.lastSeq+1, len(got))), "no frame twice, none skipped")
		// New frames are numbered on from the replay.
		more := addScores(s, r, id, s.room("a"), 1)
		ev, e := nextWithin[client.BattleScoreChanged](s, b2, client.EvBattleScoreChanged, target.EventTimeout)
		for i := 0; i < 3; i++ { // the replayed ones come first
			Expect(ev.Version).To(Equal(versions[i]))
			ev, e = nextWithin[client.BattleScoreChanged](s, b2, client.EvBattleScoreChanged, target.EventTimeout)
		}
		Expect(ev.Version).To(Equal(more[0]))
		Expect(ev.Version).To(BeNumerically(">", versions[2]))
		Expect(e.Seq).To(Equal(got[len(got)-1].Seq+1), "the first new frame is numbered after the last one")
		expectIncreasing(scoreVersions(received(b2)), "every onBattleScoreChanged the resumed connection got")
	})

	It("[RESUME-003] a resume from before a request replays the request's reply and its event with their original seq, as the earlier connection got them", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		resumeWelcome(s)
		o := s.audience("o", s.room("h"))
		settle(s, h, o)
		Expect(h.Sync(s.ctx)).To(Succeed())
		from := h.LastSeq()
		// The client crashes after the server answered, before it processed the answer: it
		// resumes from the seq before the request.
		Expect(h.LockSeat(s.ctx, 4)).To(Succeed())
		ev := next[client.SeatListChanged](s, o, client.EvSeatListChanged)
		Expect(ev.SeatList[4].IsLocked).To(BeTrue())
		d := s.drop("h")
		sent := bySeq(received(h))
		inWindow(s, d)
		h2 := s.resume(d, from, d.lastSeq)
		Expect(h2.Welcome().Recovered).To(BeTrue())
		Expect(h2.Welcome().NextSeq).To(Equal(from + 1))
		Expect(h2.Sync(s.ctx)).To(Succeed())
		got := received(h2)
		Expect(seqsOf(got)).To(Equal(seqsFrom(from+1, len(got))), "no frame twice, none skipped")
		Expect(got[len(got)-1].Seq).To(BeNumerically(">", d.lastSeq), "the replay, then the reply to the new connection's heartbeat")
		replies, seats := 0, 0
		for _, f := range got {
			if f.Seq > d.lastSeq {
				continue
			}
			old, ok := sent[f.Seq]
			Expect(ok).To(BeTrue(), "the earlier connection got seq %d", f.Seq)
			expectSameFrame(f, old)
			switch f.Type {
			case client.TypeReply:
				replies++
			case client.EvSeatListChanged:
				seats++
			}
		}
		Expect(replies).To(BeNumerically(">=", 2), "the replies to lockSeat and to the heartbeat before the drop")
		Expect(seats).To(Equal(1), "the seat change")
	})
	It("[RESUME-004 RESUME-003] a session that missed exactly resumeHistoryFrames frames resumes with recovered true and all of them, as first sent", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		resumeWelcome(s)
		w := s.welcome()
		v := s.audience("v", s.room("h"))
		settle(s, h, v)
		n := w.Limits.ResumeHistoryFrames
		if n > 180 {
			Skip(fmt.Sprintf("the server keeps %d frames; the suite's transcript of a connection holds the last 200", n))
		}
		// Frames to h while it is connected; it resumes as if it had read none of the last n.
		for i := 0; i < n+5; i++ {
			Expect(takeOrLeave(s, v, i)).To(Succeed())
		}
		d := s.drop("h")
		sent := received(h)
		Expect(len(sent)).To(BeNumerically(">=", n))
		missed := sent[len(sent)-n:]
		Expect(missed[len(missed)-1].Seq).To(Equal(d.lastSeq))
		bytes := 0
		for _, f := range missed {
			bytes += len(f.Raw) + 128
		}
		if bytes > w.Limits.ResumeHistoryBytes {
			Skip(fmt.Sprintf("%d frames of this spec take %d bytes, above the advertised resumeHistoryBytes %d", n, bytes, w.Limits.ResumeHistoryBytes))
		}
		from := d.lastSeq - uint64(n)
		inWindow(s, d)
		h2 := s.resume(d, from, d.lastSeq)
		Expect(h2.Welcome().Recovered).To(BeTrue(), "the server keeps at least the last %d frames", n)
		Expect(h2.Welcome().NextSeq).To(Equal(from + 1))
		Expect(h2.Sync(s.ctx)).To(Succeed())
		got := received(h2)
		Expect(len(got)).To(BeNumerically(">", n))
		Expect(seqsOf(got)).To(Equal(seqsFrom(from+1, len(got))), "no frame twice, none skipped")
		for i, f := range got[:n] {
			expectSameFrame(f, missed[i])
		}
	})

	It("[RESUME-004 RESUME-007 RESUME-002] a session that missed more frames than its history resumes with recovered false and its state: the room, the battle's current version and scores; the next score change has a higher version", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		resumeWelcome(s)
		a, b := hs[0], hs[1]
		w := s.welcome()
		id := startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
		r := s.rest()
		Expect(b.Sync(s.ctx)).To(Succeed())
		from := b.LastSeq()
		changes := w.Limits.ResumeHistoryFrames + 6
		if changes > 300 {
			Skip(fmt.Sprintf("the server keeps %d frames: too many to overflow in a spec", w.Limits.ResumeHistoryFrames))
		}
		versions := addScores(s, target.FastREST(), id, s.room("b"), changes)
		expectIncreasing(versions, "the REST answers")
		d := s.drop("b")
		inWindow(s, d)
		b2 := s.resume(d, from, d.lastSeq)
		wel := b2.Welcome()
		Expect(b2.Sync(s.ctx)).To(Succeed())
		got := received(b2)
		if wel.Recovered { // the server kept more than it promised: then it replays all of them
			Expect(seqsOf(got)).To(Equal(seqsFrom(from+1, len(got))))
			replayed := scoreVersions(got)
			Expect(replayed[:changes]).To(Equal(versions), "every score change missed, in order")
		} else {
			Expect(wel.NextSeq).To(Equal(d.lastSeq+1), "nextSeq goes on past the frames let go")
			Expect(got).NotTo(BeEmpty())
			Expect(got[0].Seq).To(Equal(wel.NextSeq), "no frame of the gap")
			Expect(scoreVersions(got)).To(BeEmpty(), "no frame of the gap")
			st := wel.State
			Expect(st).NotTo(BeNil())
			Expect(st.Host).To(BeTrue())
			Expect(st.Room).NotTo(BeNil())
			Expect(st.Room.LiveInfo.LiveID).To(Equal(s.room("b")))
			Expect(client.LiveIDs(st.Room.ConnectedList)).To(ConsistOf(s.room("a"), s.room("b")))
			Expect(st.Room.Battle).NotTo(BeNil(), "the room is still in the battle")
			Expect(st.Room.Battle.BattleInfo.BattleID).To(Equal(id))
			Expect(st.Room.Battle.Version).To(Equal(versions[len(versions)-1]), "the current version")
			info, err := r.GetBattleInfo(s.ctx, id, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ScoreVersion).To(Equal(st.Room.Battle.Version))
			for _, u := range st.Room.Battle.BattleUserList {
				if u.LiveID == s.room("b") {
					Expect(u.Score).To(Equal(int64(changes)), "the current score")
				}
			}
		}
		more := addScores(s, r, id, s.room("a"), 1)
		var last client.BattleScoreChanged
		Eventually(s.ctx, func() uint64 {
			evs := b2.EventsOf(client.EvBattleScoreChanged)
			if len(evs) == 0 {
				return 0
			}
			Expect(evs[len(evs)-1].Decode(&last)).To(Succeed())
			return last.Version
		}).WithTimeout(target.EventTimeout).Should(Equal(more[0]))
		Expect(last.Version).To(BeNumerically(">", versions[len(versions)-1]), "the next change has a higher version")
		expectIncreasing(scoreVersions(received(b2)), "every onBattleScoreChanged the resumed connection got")
		Expect(b2.ExitBattle(s.ctx, id)).To(Succeed(), "the resumed host acts in its battle")
		Expect(next[client.UserExitBattle](s, a, client.EvUserExitBattle).BattleUser.UserID).To(Equal(b2.UserID()))
	})

	It("[RESUME-004 RESUME-002 RESUME-001] the invitations waiting for a dropped host's answer are in the state of a resume without its frames, and it can accept them after", func(ctx SpecContext) {
		s := newScene(ctx)
		b, dd := s.host("b"), s.host("d")
		battleWelcome(s)
		resumeWelcome(s)
		w := s.welcome()
		v := s.audience("v", s.room("b"))
		n := w.Limits.ResumeHistoryFrames + 6
		if n > 600 {
			Skip(fmt.Sprintf("the server keeps %d frames: too many to overflow in a spec", w.Limits.ResumeHistoryFrames))
		}
		// overflow makes n frames for b, then drops and resumes it from before them.
		overflow := func(name string) (*client.Client, client.Welcome) {
			c := s.named(name)
			Expect(c.Sync(s.ctx)).To(Succeed())
			from := c.LastSeq()
			for i := 0; i < n; i++ {
				Expect(takeOrLeave(s, v, i)).To(Succeed())
			}
			d := s.drop(name)
			inWindow(s, d)
			c2 := s.resume(d, from, d.lastSeq)
			wel := c2.Welcome()
			if wel.Recovered { // the server kept more than it promised: then it replays all of them
				Expect(c2.Sync(s.ctx)).To(Succeed())
				got := received(c2)
				Expect(seqsOf(got)).To(Equal(seqsFrom(from+1, len(got))))
				Expect(len(got)).To(BeNumerically(">", n), "every seat change missed")
				return c2, wel
			}
			Expect(wel.State).NotTo(BeNil())
			Expect(wel.State.Host).To(BeTrue())
			Expect(wel.State.Room).NotTo(BeNil())
			Expect(wel.State.Room.LiveInfo.LiveID).To(Equal(s.room("b")))
			Expect(wel.State.Room.Battle).To(BeNil())
			return c2, wel
		}

		// A connection request to b's room, waiting for its answer.
		codes, err := dd.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(60)})
		Expect(err).NotTo(HaveOccurred())
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		b2, wel := overflow("b")
		if !wel.Recovered {
			st := wel.State
			Expect(st.ConnectionRequests).To(HaveLen(1), "the connection request waiting for b's answer")
			Expect(st.ConnectionRequests[0].Inviter.LiveID).To(Equal(s.room("d")))
			Expect(st.ConnectionRequests[0].Invitee.LiveID).To(Equal(s.room("b")))
			Expect(st.BattleRequests).To(BeEmpty())
		}
		Expect(b2.AcceptConnection(s.ctx, s.room("d"))).To(Succeed(), "the connection request is still pending")
		next[client.ConnectionRequestOutcome](s, dd, client.EvConnectionRequestAccept)
		settle(s, b2, dd, v)

		// A battle request to b, waiting for its answer.
		reply, err := dd.RequestBattle(s.ctx, client.RequestBattleRequest{
			Config: client.BattleConfigRequest{Duration: ptr(300), NeedResponse: ptr(true)}, UserIDs: []string{b.UserID()}, Timeout: ptr(60),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(HaveKeyWithValue(b.UserID(), client.BattleSuccess))
		next[client.BattleRequestEvent](s, b2, client.EvBattleRequestReceived)
		b3, wel := overflow("b")
		if !wel.Recovered {
			st := wel.State
			Expect(client.LiveIDs(st.Room.ConnectedList)).To(ConsistOf(s.room("b"), s.room("d")), "b's room is in the group it joined")
			Expect(st.ConnectionRequests).To(BeEmpty())
			Expect(st.BattleRequests).To(HaveLen(1), "the battle request waiting for b's answer")
			Expect(st.BattleRequests[0].BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
			Expect(st.BattleRequests[0].Inviter.UserID).To(Equal(dd.UserID()))
			Expect(st.BattleRequests[0].Invitee.UserID).To(Equal(b.UserID()))
		}
		Expect(b3.AcceptBattle(s.ctx, reply.BattleInfo.BattleID)).To(Succeed(), "the battle request is still pending")
		ev := next[client.BattleStarted](s, dd, client.EvBattleStarted)
		Expect(ev.BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
	})

	It("[RESUME-005 LIVE-021] a session not resumed in its window is lost then, once: everyone gets exactly the events of the clean exit, no sooner than resumeWindowMs after the drop and within resumeWindowMs + heartbeatIntervalMs; its token is refused after", func(ctx SpecContext) {
		// The clean exit is the oracle.
		s1 := newScene(ctx)
		w1 := buildHostLoss(s1)
		Expect(w1.leaver.EndLive(s1.ctx)).To(Succeed())
		want := make([][]string, len(w1.observers))
		for i, o := range w1.observers {
			Expect(o.Sync(s1.ctx)).To(Succeed())
			want[i] = normalised(s1, o.Unread(""))
		}
		Expect(want).To(ContainElement(Not(BeEmpty())), "the clean exit produces events")

		s := newScene(ctx)
		w := buildHostLoss(s)
		window := resumeWelcome(s)
		interval := time.Duration(s.welcome().Timing.HeartbeatIntervalMs) * time.Millisecond
		late := lateness(s.welcome())
		s.allow(window + interval + late)
		before := make([]int, len(w.observers))
		for i, o := range w.observers {
			before[i] = len(o.Events())
		}
		name := strings.TrimPrefix(w.leaver.UserID(), s.prefix+"-")
		d := s.drop(name)
		for i, o := range w.observers {
			wctx, cancel := context2(s, window+interval+late+target.EventTimeout)
			err := o.WaitFor(wctx, func(evs []client.Event) bool { return len(evs) >= before[i]+len(want[i]) })
			cancel()
			Expect(err).NotTo(HaveOccurred(), "%s: waiting for the %d events of the clean exit", o.UserID(), len(want[i]))
			if len(want[i]) == 0 {
				continue
			}
			first := o.Events()[before[i]].At
			Expect(first.Sub(d.start)).To(BeNumerically(">=", window-timerSlack), "%s heard of the loss %v after the drop, before the resume window %v", o.UserID(), first.Sub(d.start), window)
			Expect(first.Sub(d.at)).To(BeNumerically("<=", window+interval+late), "%s heard of the loss %v after the drop; the window and a heartbeat interval are %v, and the suite accepts %v more", o.UserID(), first.Sub(d.at), window+interval, late)
		}
		// Once: nothing more comes in another heartbeat interval.
		time.Sleep(interval)
		for i, o := range w.observers {
			Expect(o.Sync(s.ctx)).To(Succeed())
			Expect(normalised(s, o.Unread(""))).To(Equal(want[i]), "observer %d (%s): the events of the clean exit, once", i, o.UserID())
		}
		_, err := s.resumeDial(name, d.token, d.lastSeq)
		expectRefusedResume(err, "a resume after the window passed")
	})

	It("[RESUME-006 RESUME-002] a resume is refused with 4010 and no welcome for another user's token, a made-up token, a lastseq ahead of the session (by one too), a token already used, or a token of a session replaced by a new login; a refused resume leaves the waiting session waiting", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		resumeWelcome(s)
		a, b := hs[0], hs[1]
		settle(s, a, b)
		s.user("x")
		d := s.drop("a")

		_, err := s.resumeDial("x", d.token, d.lastSeq)
		expectRefusedResume(err, "a resume with another user's token")
		_, err = s.resumeDial("a", "r0."+strings.Repeat("0", 32), d.lastSeq)
		expectRefusedResume(err, "a resume with a made-up token")
		_, err = s.resumeDial("a", d.token, d.lastSeq+50)
		expectRefusedResume(err, "a resume with a lastseq ahead of the session")
		_, err = s.resumeDial("a", d.token, d.lastSeq+1)
		expectRefusedResume(err, "a resume with a lastseq one past the session's last frame")
		none(s, b)
		inWindow(s, d)
		a2 := s.resume(d, d.lastSeq, d.lastSeq) // the session kept waiting
		Expect(a2.Welcome().Recovered).To(BeTrue())

		_, err = s.resumeDial("a", d.token, d.lastSeq)
		expectRefusedResume(err, "a resume with a token already used")
		_, _, closed := a2.CloseCode()
		Expect(closed).To(BeFalse(), "a refused resume does not touch the session's connection")
		Expect(a2.Sync(s.ctx)).To(Succeed())

		d2 := s.drop("a")
		_, err = s.resumeDial("a", d.token, d2.lastSeq)
		expectRefusedResume(err, "a resume with a token already used, while the session waits")
		inWindow(s, d2)
		a3 := s.resume(d2, d2.lastSeq, d2.lastSeq)
		none(s, b)

		d3 := s.drop("a")
		window := time.Duration(s.welcome().Limits.ResumeWindowMs) * time.Millisecond
		time.Sleep(window / 4) // the server has seen the drop: the session waits, not connected
		fresh := s.user("a")   // a new login ends the waiting session at once (AUTH-006)
		if took := time.Since(d3.start); took > window/2 {
			AddReportEntry(SlowSuiteEntry, fmt.Sprintf("the suite took %v after dropping a to log it in again, half the resume window %v or more: the machine running the suite was too busy to tell a loss at the login from one at the window's end", took.Round(time.Millisecond), window), ReportEntryVisibilityFailureOrVerbose)
			Fail(fmt.Sprintf("the suite needed %v of the %v resume window to log in again", took.Round(time.Millisecond), window))
		}
		Expect(fresh.Welcome().SessionID).NotTo(Equal(a3.Welcome().SessionID))
		_, err = s.resumeDial("a", d3.token, d3.lastSeq)
		expectRefusedResume(err, "a resume of a session replaced by a new login")
		_, _, closed = fresh.CloseCode()
		Expect(closed).To(BeFalse(), "the refused resume leaves the new login alone")
		ev, e := nextWithin[client.ConnectionUserListChanged](s, b, client.EvConnectionUserListChanged, target.EventTimeout)
		Expect(client.LiveIDs(ev.LeavedList)).To(Equal([]string{s.room("a")}), "the replaced session was lost")
		Expect(e.At.Sub(d3.start)).To(BeNumerically("<", window-timerSlack), "lost at the new login, not when its resume window ended")
	})
})
