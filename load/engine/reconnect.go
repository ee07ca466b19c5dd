package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/internal/seqwin"
	"github.com/pkarena/pkarena/load/internal/pace"
	"github.com/pkarena/pkarena/load/metrics"
)

// Session resume under load (SPEC §21, scenario key reconnect): a storm drops a share of the
// connections at once, blips drop single ones at a rate; each dropped connection (a TCP close
// without a close frame, client.Kill) reconnects after the scenario's pause with resume and
// lastseq, and the checks of the connection go on across the gap:
//
//   - the client checks the welcome (seq 0, nextSeq lastseq+1 when recovered) and the seq
//     continuity of the frames after it, replayed or new: a replayed frame skipped (or
//     renumbered) counts as lost, one repeated as out of order (TRANS-005, RESUME-003);
//   - the engine checks that every event's seq is above the last event's of the session
//     ("resume.duplicates" otherwise, and the event is not processed again);
//   - the score versions of the user's battle go on in order (BATTLE-043, RESUME-007) and
//     the battle's end counts the versions the user never got as lost, as without a drop.
//
// Caught up: right after the resumed welcome the engine sends a heartbeat (the probe). The
// server numbers and sends its reply after every replayed frame (RESUME-003: the replay comes
// first, then the frames made since), so when the reply arrives the connection has every
// frame it missed. The drop→caught-up time (metric resume_catchup) ends then, or at the
// welcome when the reply is numbered nextSeq (nothing was missed) or the resume was not
// recovered (the welcome's state is the catch-up); corrected is measured from the drop,
// service from the reconnect's dial. The frames numbered after the welcome and before the
// probe's reply are counted as replayed ("resume.replayed"; an event made during the probe's
// round trip counts too).

// Counters of the reconnect scenario.
const (
	counterDrops      = "resume.drops"      // connections dropped (storm and blips)
	counterStormDrops = "resume.storm"      // of them, by the storm
	counterRecovered  = "resume.recovered"  // resumes with recovered: true
	counterState      = "resume.state"      // resumes with recovered: false (the state taken as the baseline)
	counterRefused    = "resume.refused"    // resumes refused with 4010 (then a fresh connection)
	counterFailed     = "resume.failed"     // resumes that failed otherwise (then a fresh connection)
	counterReplayed   = "resume.replayed"   // frames before the probe's reply (see above)
	counterDuplicates = "resume.duplicates" // events handled already: their seq not above the session's highest, and not skipped
	counterRejoined   = "resume.rejoined"   // fresh connections after a failed resume that rejoined their room

	// PhaseStorm is the storm on the time charts: from the drop to the last of its
	// connections caught up.
	PhaseStorm = "storm"
)

// ErrNoResume is a reconnect scenario against a server that does not resume sessions (its
// welcome advertises resumeWindowMs 0), or whose window is not longer than the pause.
var ErrNoResume = errors.New("engine: the scenario resumes sessions and the server cannot")

// errDropped fails a request that would go out on a connection being dropped; it is not the
// server's error (countError ignores it).
var errDropped = errors.New("engine: connection being dropped")

// inflightWait bounds the wait, before a drop, for the connection's requests in flight: a
// reply the old connection never read would be replayed to a new one that never asked.
const inflightWait = 5 * time.Second

// checkResume dials one connection to every target and checks that its welcome advertises a
// resume window longer than the scenario's pause.
func (e *engine) checkResume(ctx context.Context) error {
	for i, t := range e.cfg.Targets {
		cfg := client.Config{URL: t.WS, SDKAppID: e.cfg.SDKAppID, Secret: e.cfg.Secret, UserID: fmt.Sprintf("%s-probe%d", e.cfg.RunID, i), NoHeartbeat: true}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := client.Dial(dctx, cfg)
		cancel()
		if err != nil {
			return fmt.Errorf("checking that %s resumes sessions: %w", t.WS, err)
		}
		w := c.Welcome()
		c.Close() // a close handshake: the session ends at once
		window := time.Duration(w.Limits.ResumeWindowMs) * time.Millisecond
		switch {
		case window <= 0:
			return fmt.Errorf("%w: %s advertises resumeWindowMs %d (resume off); start it with resume on, e.g. pkarena-server -resume-window 5s", ErrNoResume, t.WS, w.Limits.ResumeWindowMs)
		case window <= e.sc.Reconnect.Pause.D():
			return fmt.Errorf("%w: %s keeps a dropped session %v, not longer than the scenario's reconnect.pause %v", ErrNoResume, t.WS, window, e.sc.Reconnect.Pause.D())
		}
	}
	return nil
}

// storm is the storm's span, for the time charts.
type storm struct {
	mu         sync.Mutex
	start, end time.Time
}

func (s *storm) caught(at time.Time) {
	s.mu.Lock()
	if at.After(s.end) {
		s.end = at
	}
	s.mu.Unlock()
}

// startReconnects starts the storm and the blips of the measured phase. Drops stop with ctx;
// a reconnection under way goes on to its end (wg counts it), so that the drain counts its
// frames.
func (e *engine) startReconnects(ctx context.Context, wg *sync.WaitGroup) {
	r := e.sc.Reconnect
	if !e.sc.Reconnects() {
		return
	}
	bg := context.WithoutCancel(ctx)
	if r.StormFraction > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !pace.Until(ctx, e.measure.Add(r.StormAt.D())) {
				return
			}
			rng := e.rng(3)
			var live []*user
			for _, u := range e.users {
				if u.open() {
					live = append(live, u)
				}
			}
			n := int(r.StormFraction*float64(len(live)) + 0.5)
			rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
			e.storm.mu.Lock()
			e.storm.start = time.Now()
			e.storm.end = e.storm.start
			e.storm.mu.Unlock()
			for _, u := range live[:n] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.drop(bg, u, true)
				}()
			}
		}()
	}
	if rate := r.BlipRate / float64(e.cfg.Shards); rate > 0 && len(e.users) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := e.rng(4)
			for next := time.Now(); ; {
				next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
				if !pace.Until(ctx, next) {
					return
				}
				u := e.users[rng.IntN(len(e.users))]
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.drop(bg, u, false)
				}()
			}
		}()
	}
}

// open reports whether u's connection is open.
func (u *user) open() bool {
	c := u.conn()
	if c == nil {
		return false
	}
	_, _, closed := c.CloseCode()
	return !closed
}

// begin counts a request about to go out on u's connection; false while u is being dropped.
func (u *user) begin() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dropping {
		return false
	}
	u.inflight++
	return true
}

// end counts a request's reply (or failure).
func (u *user) end() {
	u.mu.Lock()
	u.inflight--
	u.mu.Unlock()
}

// beginWait is begin that waits for a drop under way to end (or ctx).
func (u *user) beginWait(ctx context.Context) bool {
	for !u.begin() {
		if !sleep(ctx, 2*time.Millisecond) {
			return false
		}
	}
	return true
}

// reconnecting reports whether u is being dropped and resumed: it is still a member of its
// battles (connectedMembers).
func (u *user) reconnecting() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.dropping
}

// drop kills u's connection, waits the scenario's pause and resumes the session, then
// measures the time to caught up. It does nothing if u is not connected or already dropped.
func (e *engine) drop(ctx context.Context, u *user, inStorm bool) {
	c := u.conn()
	if c == nil || !u.open() {
		return
	}
	u.mu.Lock()
	if u.dropping {
		u.mu.Unlock()
		return
	}
	u.dropping = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.dropping = false
		u.mu.Unlock()
	}()
	for deadline := time.Now().Add(inflightWait); ; {
		u.mu.Lock()
		n := u.inflight
		u.mu.Unlock()
		if n == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	dropAt := time.Now()
	c.Kill()
	e.rec.Add(counterDrops, 1)
	if inStorm {
		e.rec.Add(counterStormDrops, 1)
	}
	token, last := c.ResumeToken(), c.LastSeq()
	e.retire(u, c)
	time.Sleep(e.sc.Reconnect.Pause.D())

	dialStart := time.Now()
	c2, err := e.dialResume(ctx, u, token, last)
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == client.CloseResumeRefused {
			e.rec.Add(counterRefused, 1)
			e.log.Warn("resume refused", "user", u.id, "reason", ce.Text)
		} else {
			e.rec.Add(counterFailed, 1)
			e.countError(err)
			e.log.Warn("resume failed", "user", u.id, "err", err)
		}
		e.rejoin(ctx, u)
		return
	}
	w := c2.Welcome()
	welcomeAt := time.Now()
	if w.Recovered {
		e.rec.Add(counterRecovered, 1)
	} else {
		e.rec.Add(counterState, 1)
	}
	// The probe: its reply comes after every replayed frame.
	type answer struct {
		f   client.Frame
		err error
	}
	probe := make(chan answer, 1)
	e.rec.Add(metrics.Ops, 1)
	c2.Go(client.ReqHeartbeat, nil, func(f client.Frame, err error) {
		probe <- answer{client.Frame{Seq: f.Seq, At: f.At}, err}
	})
	var a answer
	select {
	case a = <-probe:
	case <-time.After(30 * time.Second):
		a.err = fmt.Errorf("%s: no reply to the heartbeat after the resume: %w", u.id, context.DeadlineExceeded)
	}
	if a.err != nil {
		e.countError(a.err)
		return
	}
	caught := welcomeAt
	if w.Recovered && a.f.Seq > w.NextSeq {
		e.rec.Add(counterReplayed, int64(a.f.Seq-w.NextSeq))
		caught = a.f.At
	}
	e.rec.Record(metricResumeCatchup, u.index, dropAt, dialStart, caught)
	if inStorm {
		e.storm.caught(caught)
	}
}

// metricResumeCatchup is the drop→caught-up time of a resumed connection.
const metricResumeCatchup = metrics.ResumeCatchup

// retire counts what a connection that ends saw: its missing and disordered frames and its
// protocol violations (countConnectionLosses counts only the connections open at the end),
// and keeps its frames read for the generator's totals.
func (e *engine) retire(u *user, c *client.Client) {
	m, d := c.SeqStats()
	e.lose(metrics.LostGap, int64(m))
	e.rec.Add(metrics.OutOfOrder, int64(d))
	e.rec.Add(counterViolations, int64(c.ViolationCount()))
	u.retiredFrames.Add(c.Frames())
	u.retiredBytes.Add(c.Bytes())
}

// dialResume dials u's connection again with resume and lastseq. On a welcome with
// recovered false, the state's battle version is taken as the baseline of u's score checks,
// on the reader before any event of the new connection.
func (e *engine) dialResume(ctx context.Context, u *user, token string, last uint64) (*client.Client, error) {
	cfg := e.clientConfig(u)
	cfg.Resume = &client.Resume{Token: token, LastSeq: last}
	seen := false
	cfg.Check = func(raw []byte, _ string) error {
		if seen {
			return nil
		}
		seen = true // the welcome comes first
		var f struct {
			Payload struct {
				Recovered bool                 `json:"recovered"`
				State     *client.SessionState `json:"state"`
			} `json:"payload"`
		}
		if json.Unmarshal(raw, &f) == nil && !f.Payload.Recovered && f.Payload.State != nil && f.Payload.State.Room != nil {
			u.rebase(f.Payload.State.Room.Battle)
		}
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e.rec.Add(metrics.Ops, 1)
	c, err := client.Dial(dctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", u.id, err)
	}
	u.cmu.Lock()
	u.c = c
	u.cmu.Unlock()
	return c, nil
}

// rejoin connects u afresh after a failed resume: a new session (its seqs start again), in
// its room again (a viewer joins it, a host creates it), the battle's version in the room's
// state taken as the baseline of its score checks.
func (e *engine) rejoin(ctx context.Context, u *user) {
	u.events = seqwin.Window{} // no reader of u runs: the old one has exited, the new one is not dialed
	if err := e.open(ctx, u); err != nil {
		e.countError(err)
		return
	}
	c := u.conn()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e.rec.Add(metrics.Ops, 1)
	if u.host {
		err := c.Call(cctx, client.ReqCreateLive, client.CreateLiveRequest{LiveID: u.room.liveID, LiveName: "load " + u.room.liveID}, nil)
		if err != nil {
			e.countError(err)
			return
		}
	} else {
		var reply client.JoinLiveReply
		if err := c.Call(cctx, client.ReqJoinLive, liveRef{LiveID: u.room.liveID}, &reply); err != nil {
			e.countError(err)
			return
		}
		u.rebase(reply.Battle)
	}
	e.rec.Add(counterRejoined, 1)
}

// rebase takes a battle's state (a resume's or a join's) as the baseline of u's score checks:
// the versions up to it count as received; a battle u had not seen start is claimed.
func (u *user) rebase(bs *client.BattleState) {
	if bs == nil {
		return
	}
	id := bs.BattleInfo.BattleID
	u.mu.Lock()
	if u.scoreBattle == id {
		if high := u.scores.High(); bs.Version > high {
			u.scoreGot += bs.Version - high
			u.scores.Raise(bs.Version) // the versions up to it count as arrived
		}
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	if b := u.room.group.current(); b != nil && b.claim(id) == fateCount {
		u.mu.Lock()
		u.scoreBattle, u.scores, u.scoreGot = id, seqwin.At(bs.Version), bs.Version
		u.mu.Unlock()
	}
}
