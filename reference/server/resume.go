package server

import (
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// The hub's side of session resume (SPEC §21): resuming a session on a new connection, and
// the sessions waiting for their resume. drop decides which sessions wait.

// resume continues the session c's token names on c (RESUME-002), or refuses (RESUME-006):
// resume off, a token the hub does not hold (never issued, replaced by a later resume, its
// window passed, a newer login), a token of another user, or a lastSeq the session never
// reached. The session's earlier connection, if the hub has not seen it drop yet, is closed
// with 4009 and is not a loss. The welcome (seq 0, outside the session's numbering) says
// whether every frame after lastSeq follows with its original seq (recovered), or the
// session's current state instead (RESUME-004); the numbering then goes on.
func (h *hub) resume(c *conn) openResult {
	s, why := h.tokens[c.resume.token], ""
	switch {
	case h.s.cfg.ResumeWindow == 0:
		why = refusedOff
	case s == nil:
		why = refusedUnknown
	case s.user.ID != c.user.ID && !mutant.On(mutant.ResumeAnyUser):
		why = refusedUser
	case c.resume.lastSeq > s.seq && !(mutant.On(mutant.LastSeqOneAhead) && c.resume.lastSeq == s.seq+1):
		why = refusedAhead
	}
	if why == refusedAhead && mutant.On(mutant.RefusedResumeTakesOver) && s.conn != nil {
		old := s.conn // the session is the resumer's before the check that refuses it
		old.shutdown(closeReplaced)
		h.detach(old, closeReplaced)
		s.graceUntil = time.Now().Add(h.s.cfg.ResumeWindow)
		h.grace = append(h.grace, graceEntry{s, s.graceUntil})
		if len(h.grace) == 1 {
			h.graceTimer.Reset(h.s.cfg.ResumeWindow)
		}
	}
	if why != "" {
		h.s.metrics.resumeRefused.WithLabelValues(why).Inc()
		return openResult{refused: why}
	}
	if old := s.conn; old != nil {
		old.shutdown(closeReplaced)
		h.detach(old, closeReplaced)
	}
	h.leaveGrace(s)
	if !mutant.On(mutant.ResumeOldTokenKept) {
		delete(h.tokens, s.token)
	}
	s.token = newResumeToken(s)
	h.tokens[s.token] = s
	h.attach(s, c)
	replay, recovered := s.hist.after(c.resume.lastSeq, s.seq)
	if mutant.On(mutant.HistoryClearedOnReplay) {
		s.hist.reset() // replayed: delivered now, no need to keep them
	}
	if mutant.On(mutant.ResumeClaimsRecovered) && !recovered {
		replay, recovered = s.hist.frames[s.hist.head:], true
	}
	var st *protocol.SessionState
	if !recovered {
		state, _ := h.core.State(s.id)
		st = &state
		h.s.metrics.resumes.WithLabelValues(resumeState).Inc()
	} else {
		h.s.metrics.resumes.WithLabelValues(resumeRecovered).Inc()
	}
	if h.failed {
		return openResult{registered: true}
	}
	h.send(c, &outFrame{typ: protocol.TypeWelcome, payload: marshalPayload(h.welcome(s, st))}, 0)
	for _, n := range replay {
		seq := n.seq
		if mutant.On(mutant.ResumeRenumbers) {
			seq = 0 // numbered below as if new
		}
		h.queueTo(c, n.f, seq, s)
	}
	h.s.metrics.replayed.Add(float64(len(replay)))
	h.s.log.Debug("resumed", "user", c.user.ID, "session", s.id, "lastSeq", c.resume.lastSeq, "replayed", len(replay), "recovered", recovered)
	return openResult{registered: true}
}

// queueTo sends f to c, numbered seq (0: numbered now on s), or holds it for the journal's
// commit.
func (h *hub) queueTo(c *conn, f *outFrame, seq uint64, s *session) {
	if seq == 0 {
		seq = s.number(f)
	}
	if h.holding {
		h.held = append(h.held, heldOut{conn: c, frame: f, seq: seq})
		return
	}
	h.send(c, f, seq)
}

// leaveGrace takes s out of the sessions waiting for their resume; its entry in grace is
// skipped when it comes up.
func (h *hub) leaveGrace(s *session) {
	if !s.graceUntil.IsZero() {
		s.graceUntil = time.Time{}
		h.graceLeft++
	}
}

// endGrace ends the sessions whose resume window has passed at now: their loss is handled
// as any other (LIVE-021, RESUME-005). It arms the timer for the next.
func (h *hub) endGrace(now time.Time) {
	for len(h.grace) > 0 && !h.grace[0].until.After(now) {
		e := h.grace[0]
		h.grace[0] = graceEntry{}
		h.grace = h.grace[1:]
		if (e.s.graceUntil.Equal(e.until) || mutant.On(mutant.GraceOldTimer) && !e.s.graceUntil.IsZero()) && e.s.conn == nil {
			h.s.metrics.graceExpired.Inc()
			e.s.graceUntil = time.Time{}
			h.end(e.s)
		} else {
			h.graceLeft--
		}
	}
	h.compactGrace()
	if len(h.grace) > 0 {
		h.graceTimer.Reset(h.grace[0].until.Sub(now))
	}
	h.s.metrics.inGrace.Set(float64(len(h.grace) - h.graceLeft))
}

// compactGrace drops the entries of sessions that left grace when they are most of it, so
// that resumes do not grow the queue for ever.
func (h *hub) compactGrace() {
	if h.graceLeft < 64 || h.graceLeft*2 < len(h.grace) {
		return
	}
	kept := h.grace[:0]
	for _, e := range h.grace {
		if e.s.graceUntil.Equal(e.until) && e.s.conn == nil {
			kept = append(kept, e)
		}
	}
	clear(h.grace[len(kept):])
	h.grace, h.graceLeft = kept, 0
}
