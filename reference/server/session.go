package server

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// session is a client's session: its core session, the numbering of the frames it is sent
// (TRANS-005) and, with resume on, the frames it was last sent, for a replay (RESUME-003).
// With resume on it outlives a connection that dropped without a close handshake, for the
// resume window (RESUME-001). Only the hub touches it.
type session struct {
	id    core.SessionID
	user  core.User
	conn  *conn  // nil while the session waits for its resume
	seq   uint64 // the seq of the last frame numbered
	token string // the token that resumes it; "" when resume is off
	hist  history

	graceUntil time.Time // when a session waiting for its resume is lost; zero while connected
}

// name is the session's ID as the welcome gives it.
func (s *session) name() string { return "s-" + strconv.FormatUint(uint64(s.id), 10) }

// number gives f the session's next seq and, with resume on, keeps it for a replay.
func (s *session) number(f *outFrame) uint64 {
	s.seq++
	if mutant.On(mutant.SeqGap) && s.seq == 7 {
		s.seq++
	}
	seq := s.seq
	if mutant.On(mutant.SeqSwapped) && (seq == 7 || seq == 8) {
		seq = 15 - seq
	}
	if s.hist.maxFrames > 0 && f.typ != protocol.TypeWelcome { // a welcome's token goes stale
		s.hist.add(seq, f)
	}
	return seq
}

// numbered is a frame with the seq it carries on one session.
type numbered struct {
	seq uint64
	f   *outFrame
}

// history is the frames a session was last sent, oldest first, bounded in frames and in bytes
// (RESUME-004): the oldest are let go to make room. Every frame numbered after the first it
// holds is in it, so it can replay from lastSeq exactly when it holds lastSeq+1 or nothing
// was numbered after lastSeq.
type history struct {
	frames    []numbered // frames[head:] are held
	head      int
	bytes     int64
	maxFrames int // 0: resume is off, nothing is kept
	maxBytes  int64
}

func (h *history) add(seq uint64, f *outFrame) {
	n := f.size()
	if n > h.maxBytes { // it can never be kept: nothing before it can be replayed either
		h.reset()
		return
	}
	for h.len() > 0 && (h.len() >= h.maxFrames || h.bytes+n > h.maxBytes) {
		if !mutant.On(mutant.HistoryBytesKept) {
			h.bytes -= h.frames[h.head].f.size()
		}
		h.frames[h.head] = numbered{}
		h.head++
	}
	if h.head > 0 && h.head >= len(h.frames)/2 { // compact: the slice does not grow for ever
		live := copy(h.frames, h.frames[h.head:])
		clear(h.frames[live:])
		h.frames, h.head = h.frames[:live], 0
	}
	h.frames = append(h.frames, numbered{seq, f})
	h.bytes += n
}

func (h *history) len() int { return len(h.frames) - h.head }

func (h *history) reset() {
	h.frames, h.head, h.bytes = nil, 0, 0
}

// after returns the frames numbered after lastSeq, and whether they are all there: false when
// some of them were let go (or lastSeq is not one the session numbered, which the hub refuses
// before asking). last is the seq of the last frame numbered.
func (h *history) after(lastSeq, last uint64) ([]numbered, bool) {
	if lastSeq == last || mutant.On(mutant.LastSeqOneAhead) && lastSeq > last {
		return nil, true
	}
	held := h.frames[h.head:]
	if len(held) == 0 || held[0].seq > lastSeq+1 {
		return nil, false
	}
	if mutant.On(mutant.ResumeReplaysLastAgain) && lastSeq >= held[0].seq {
		lastSeq--
	}
	i := int(lastSeq + 1 - held[0].seq)
	return held[i:], true
}

// newResumeToken returns a token no one can guess (RESUME-001).
func newResumeToken(s *session) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return "r" + strconv.FormatUint(uint64(s.id), 10) + "." + hex.EncodeToString(b)
}

// resumeRequest is what a handshake that resumes a session asks (RESUME-002).
type resumeRequest struct {
	token   string
	lastSeq uint64
}

// graceEntry is a session waiting for its resume, in the order their windows end.
type graceEntry struct {
	s     *session
	until time.Time
}
