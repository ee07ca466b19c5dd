package server

import (
	"net"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

type msgKind uint8

const (
	msgOpen    msgKind = iota // a handshake completed; done receives whether it was registered
	msgRequest                // a parsed client frame (or the error parsing it)
	msgClosed                 // the reader stopped: the connection is gone
	msgREST                   // an authenticated REST call; rest.reply receives the outcome
)

// hubMsg is everything the hub is told by other goroutines.
type hubMsg struct {
	kind msgKind
	conn *conn
	req  protocol.Request
	err  *protocol.Error
	done chan<- openResult
	rest *restCall
	code int // msgClosed: how the reader saw the connection end (endCodeFor)
}

// openResult is the hub's answer to a handshake: registered, or refused (a resume the hub
// cannot honour, RESUME-006) with the close frame's reason, or neither once the server stops.
type openResult struct {
	registered bool
	refused    string
}

// restCall is a REST call for the core and the channel its outcome goes back on.
type restCall struct {
	api, operator string
	body          []byte
	reply         chan restOutcome // buffered: the hub never blocks on it
	arrived       time.Time        // when the request reached the server (score latency)
	remote        string           // the caller's address (http.Request.RemoteAddr)
}

// restOutcome is the core's answer to a REST call.
type restOutcome struct {
	resp any
	err  *protocol.Error
}

// hub owns the core, the sessions with their connections and the journal. Only its goroutine
// touches them.
//
// With a journal, nothing an operation caused leaves the server before the operation's
// records are synced: once an operation produced records, every output after it (frames,
// REST outcomes) is held, in order, until the commit at the end of the batch (group commit:
// one sync covers the messages the hub handled meanwhile, up to maxBatch).
type hub struct {
	s         *Server
	core      *core.Core
	sessions  map[core.SessionID]*session
	byUser    map[string]*session
	tokens    map[string]*session // by resume token (RESUME-001); empty when resume is off
	connected int                 // sessions with a connection
	nextID    core.SessionID
	timer     *time.Timer
	lost      []*session // ended sessions whose loss the core has not seen yet

	grace      []graceEntry // sessions waiting for their resume, the window ending first first
	graceLeft  int          // entries of grace whose session has left it (resumed, ended)
	graceTimer *time.Timer  // fires when the first of grace ends

	journal *journal  // nil: memory only
	holding bool      // records were appended since the last commit: outputs wait in held
	held    []heldOut // outputs waiting for the commit, in the order they were made
	failed  bool      // the journal failed: the server has stopped acknowledging anything

	gauges  *time.Ticker // setGauges runs on it when changed is set
	changed bool         // a message or a timer was handled since the gauges were last set

	panicked bool // reportPanic logged a panic: run's own report stays quiet

	hookRetry <-chan time.Time // fires when the durable webhooks given up are offered again; nil: none

	// The client whose message the hub is handling (handle): the webhooks the core makes
	// meanwhile carry its address (takeHooks). A REST caller's address, or a connection;
	// neither for a timer or a loss.
	originREST string
	originConn *conn
	madeHooks  []core.Hook // taken and stamped, for sendHooks (webhooks not durable)
}

// webhookRetryAfter is how long a durable webhook whose attempts ran out waits before it is
// offered again (Config.hookRetryAfter in tests).
const webhookRetryAfter = maxWebhookBackoff

func (h *hub) hookRetryAfter() time.Duration {
	if d := h.s.cfg.hookRetryAfter; d > 0 {
		return d
	}
	return webhookRetryAfter
}

// gaugeEvery is how often the hub sets the gauges of its state when it changed: a scrape
// reads them without the hub (the core's counts walk every room).
const gaugeEvery = 100 * time.Millisecond

// heldOut is an output waiting for the journal's commit: a frame for a connection, a REST
// call's outcome, or the moment a score update's frames were all made (the latency metric).
type heldOut struct {
	conn    *conn
	frame   *outFrame
	seq     uint64
	rest    *restCall
	outcome restOutcome
	scored  time.Time // the score update's arrival, to observe once its frames are queued
}

// maxBatch bounds the messages handled under one journal commit.
const maxBatch = 256

// errJournalFailed answers a REST call whose update could not be made durable.
var errJournalFailed = protocol.ErrInternal.With("the battle journal failed: the server is stopping and this call was not acknowledged")

func newHub(s *Server, c *core.Core) *hub {
	t := time.NewTimer(time.Hour)
	t.Stop()
	g := time.NewTimer(time.Hour)
	g.Stop()
	return &hub{s: s, core: c, sessions: make(map[core.SessionID]*session), byUser: make(map[string]*session),
		tokens: make(map[string]*session), timer: t, graceTimer: g, gauges: time.NewTicker(gaugeEvery)}
}

func (h *hub) run() {
	defer close(h.s.stopped)
	defer h.gauges.Stop()
	defer func() { // a panic outside handle (a timer, a commit): logged too, then let go on
		if r := recover(); r != nil {
			if !h.panicked {
				h.s.log.Error("the hub panicked: stopping (crash-only; a restart with -state-dir restores what was acknowledged)", "panic", r)
			}
			panic(r)
		}
	}()
	h.sendHooks() // those a restart restored
	for {
		select {
		case m := <-h.s.inbox:
			h.handle(m)
			h.batch()
		case <-h.timer.C:
			h.deliver(h.core.Tick())
		case <-h.graceTimer.C:
			h.endGrace(time.Now())
		case d := <-h.s.hooks.dones: // nil unless the webhooks are durable
			h.hookDone(d)
		case <-h.hookRetry: // nil unless a durable webhook was given up
			h.hookRetry = nil
			if !h.failed && h.journal.outbox.offerRetries(h.s.hooks.offer) > 0 {
				h.hookRetry = time.After(h.hookRetryAfter())
			}
		case <-h.gauges.C:
			if h.changed {
				h.setGauges()
				h.changed = false
			}
			continue
		case <-h.s.closing:
			h.shutdownAll()
			h.closeJournal()
			h.setGauges()
			return
		}
		h.changed = true
		h.settle()
		if h.failed {
			h.drainOpens()
			h.closeJournal()
			return
		}
		h.sendHooks()
		h.armTimer()
	}
}

// batch handles more waiting messages while outputs wait for the journal, so that one sync
// covers them all.
func (h *hub) batch() {
	for i := 0; h.holding && i < maxBatch; i++ {
		select {
		case m := <-h.s.inbox:
			h.handle(m)
		default:
			return
		}
	}
}

// settle lets the core act on every dropped connection, then commits the journal and sends
// what waited for it. Sending may cut off slow consumers, whose loss is settled in turn.
func (h *hub) settle() {
	for !h.failed {
		h.flushLost()
		h.commit()
		if len(h.lost) == 0 {
			return
		}
	}
}

// record takes the hooks the core's last operation made (takeHooks: while the origin of the
// message that made them is known) and appends its records to the journal with, durable, those
// hooks (to the outbox); not durable, the hooks wait in madeHooks for sendHooks. With records
// or hooks journaled, every output from then on waits for the commit.
func (h *hub) record() {
	hooks := h.takeHooks()
	if !h.s.hooks.durable {
		h.madeHooks = append(h.madeHooks, hooks...)
		hooks = nil
	}
	if h.journal == nil || h.failed {
		return
	}
	recs := h.core.TakeRecords()
	if len(recs) == 0 && len(hooks) == 0 {
		return
	}
	if err := h.journal.append(recs); err != nil {
		h.fail(err)
		return
	}
	if err := h.journal.appendHooks(hooks); err != nil {
		h.fail(err)
		return
	}
	h.s.metrics.journalRecords.Add(float64(len(recs)))
	h.holding = true
}

// sendHooks hands the webhooks made so far to the sender. Durable, these are the outbox's
// hooks not offered yet, in order, as many as the sender's queue takes: the rest wait in
// the outbox (and the journal) for the hookDone that makes room.
func (h *hub) sendHooks() {
	if !h.s.hooks.durable {
		hooks := append(h.madeHooks, h.takeHooks()...)
		h.madeHooks = nil
		h.s.hooks.enqueue(hooks)
		return
	}
	if h.failed {
		return
	}
	h.journal.outbox.offer(h.s.hooks.offer)
	h.s.metrics.outboxPending.Set(float64(h.journal.outbox.len()))
}

// takeHooks takes the webhooks the core made since the last take, each with the address of
// the client whose message made it (ClientIP: empty for a timer's or a loss's). Every core call
// that can make hooks is followed by a record (handle, deliver), so a message's hooks are
// taken while its origin is set and never carry the next message's.
func (h *hub) takeHooks() []core.Hook {
	hooks := h.core.TakeHooks()
	if len(hooks) == 0 {
		return nil
	}
	ip := ""
	switch {
	case h.originREST != "":
		ip = hostOf(h.originREST)
	case h.originConn != nil:
		ip = hostOf(h.originConn.ws.RemoteAddr().String())
	}
	if mutant.On(mutant.ClientIPWithPort) && h.originREST != "" {
		ip = h.originREST
	}
	for i := range hooks {
		hooks[i].ClientIP = ip
	}
	return hooks
}

// hostOf is the IP of the address addr ("host:port", or an IP alone), "" if it has none (a
// Unix socket's).
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if net.ParseIP(addr) == nil {
		return ""
	}
	return addr
}

// hookDone records the acknowledgement of a delivered hook (durable webhooks). Whether
// delivered or given up, the hook has left the sender's queue: sendHooks offers the next.
func (h *hub) hookDone(d hookDone) {
	if h.failed {
		return
	}
	if !d.acked {
		// Given up for now (its attempts ran out): durable webhooks are never given up for
		// good, so it is offered again after a cool-down, and at the next start if this
		// process ends first.
		h.journal.outbox.gaveUp(d.id)
		if h.hookRetry == nil {
			h.hookRetry = time.After(h.hookRetryAfter())
		}
		return
	}
	if err := h.journal.ackHook(d.id); err != nil {
		h.fail(err)
	}
}

// commit syncs the records appended since the last commit, then sends the held outputs in
// order: REST outcomes, and frames to the connections still registered. A journal past its
// size bound is then rewritten as a snapshot.
func (h *hub) commit() {
	if !h.holding {
		return
	}
	start := time.Now()
	if err := h.journal.commit(); err != nil {
		h.fail(err)
		return
	}
	h.s.metrics.journalSync.Observe(time.Since(start).Seconds())
	h.holding = false
	held := h.held
	h.held = nil
	for _, o := range held {
		switch {
		case o.rest != nil:
			o.rest.reply <- o.outcome
		case !o.scored.IsZero():
			h.s.metrics.scoreLatency.Observe(time.Since(o.scored).Seconds())
		case o.conn.sess != nil && o.conn.sess.conn == o.conn:
			h.send(o.conn, o.frame, o.seq)
		}
	}
	if h.journal.oversized() {
		if err := h.journal.rewrite(h.core.Snapshot()); err != nil {
			h.fail(err)
		}
	}
}

// fail stops the server because the journal cannot be written: what waited for the commit
// is not acknowledged (REST calls get 100001, frames are dropped), every connection is closed
// with 1011, and Failed is closed. The core's state is no longer trusted, so it is not
// touched again.
func (h *hub) fail(err error) {
	h.s.log.Error("battle journal failed: stopping, nothing more is acknowledged", "dir", h.s.cfg.StateDir, "err", err)
	h.failed, h.holding = true, false
	for _, o := range h.held {
		if o.rest != nil {
			o.rest.reply <- restOutcome{err: errJournalFailed}
		}
	}
	h.held = nil
	for _, s := range h.sessions {
		if s.conn != nil {
			s.conn.shutdown(closeInternalError)
			h.drop(s.conn, closeInternalError)
		}
		h.end(s)
	}
	h.lost = nil
	h.journal.abandon()
	h.s.failErr = err
	close(h.s.failed)
	h.s.stop.Do(func() { close(h.s.closing) })
}

// closeJournal commits and closes the journal as the hub stops. With durable webhooks it
// records the acknowledgements waiting on dones, commits, and hands the journal (nil if it
// failed) over to the webhook sender, which records the acknowledgements of the deliveries
// still to come and closes it.
func (h *hub) closeJournal() {
	if h.s.hooks.durable {
		for drained := false; !drained && !h.failed; {
			select {
			case d := <-h.s.hooks.dones:
				h.hookDone(d)
			default:
				drained = true
			}
		}
		if !h.failed {
			if err := h.journal.commit(); err != nil {
				h.fail(err)
			}
		}
		j := h.journal
		if h.failed {
			j = nil
		}
		h.s.hooks.handover <- j // buffered: the hub hands over once
		return
	}
	if h.journal == nil || h.failed {
		return
	}
	if err := h.journal.close(); err != nil {
		h.s.log.Error("battle journal: close", "err", err)
	}
}

// replyREST sends a REST call's outcome, or holds it for the journal's commit.
func (h *hub) replyREST(call *restCall, o restOutcome) {
	switch {
	case h.failed:
		call.reply <- restOutcome{err: errJournalFailed}
	case h.holding:
		h.held = append(h.held, heldOut{rest: call, outcome: o})
	default:
		call.reply <- o
	}
}

// drainOpens refuses handshakes that raced with Close, so their handlers do not wait forever.
func (h *hub) drainOpens() {
	for {
		select {
		case m := <-h.s.inbox:
			switch m.kind {
			case msgOpen:
				m.done <- openResult{}
			case msgREST:
				m.rest.reply <- restOutcome{err: protocol.ErrInternal.With("server shutting down")}
			}
		default:
			return
		}
	}
}

// reportPanic logs what the hub was handling when it panicked, then lets the panic go on and
// stop the process: the reference server is crash-only. The core's state may be half
// changed by the operation that panicked, so recovering and going on could serve, and
// journal, a state no sequence of operations leads to. What the operation changed was
// neither synced nor acknowledged; with -state-dir a restart restores every acknowledged
// score from the journal (RELIABILITY.md, "Server killed"), as after a SIGKILL.
func (h *hub) reportPanic(m hubMsg) {
	r := recover()
	if r == nil {
		return
	}
	attrs := []any{"panic", r, "message", int(m.kind)}
	switch {
	case m.rest != nil:
		attrs = append(attrs, "rest", m.rest.api)
	case m.conn != nil:
		attrs = append(attrs, "user", m.conn.user.ID, "request", m.req.Type, "id", m.req.ID)
	}
	h.s.log.Error("the hub panicked: stopping (crash-only; a restart with -state-dir restores what was acknowledged)", attrs...)
	h.panicked = true
	panic(r)
}

func (h *hub) armTimer() {
	h.timer.Stop()
	if at, ok := h.core.NextDeadline(); ok {
		h.timer.Reset(time.Until(at))
	}
}

func (h *hub) handle(m hubMsg) {
	defer h.reportPanic(m)
	defer func() { h.originREST, h.originConn = "", nil }()
	switch m.kind {
	case msgOpen:
		m.done <- h.open(m.conn)
	case msgClosed:
		h.drop(m.conn, m.code)
	case msgREST:
		if h.s.cfg.beforeREST != nil {
			h.s.cfg.beforeREST(m.rest.api)
		}
		h.originREST = m.rest.remote
		resp, err, out := h.core.REST(m.rest.api, m.rest.operator, m.rest.body)
		h.record()
		// The frames first, then the answer: the goroutine the answer wakes is then the last
		// one readied, and runs next, where before the 450 writers of a full group's fan-out
		// went ahead of it and a set_battle_score took 5 ms to answer on a busy server.
		h.deliver(out)
		h.replyREST(m.rest, restOutcome{resp: resp, err: err})
		if m.rest.api == protocol.APISetBattleScore && err == nil {
			if h.holding {
				h.held = append(h.held, heldOut{scored: m.rest.arrived})
			} else {
				h.s.metrics.scoreLatency.Observe(time.Since(m.rest.arrived).Seconds())
			}
		}
	case msgRequest:
		s := m.conn.sess
		if s == nil || s.conn != m.conn {
			return // already dropped (replaced, slow, resumed elsewhere): its late frames change nothing
		}
		if m.err != nil && (mutant.On(mutant.BadIDRequestRuns) && m.err.Code == protocol.ErrInvalidParameter.Code ||
			mutant.On(mutant.RateLimitedRuns) && m.err.Code == protocol.ErrRateLimited.Code) && m.req.Type != "" {
			// the request runs all the same; only its reply carries the refusal
			h.originConn = m.conn
			_, _, out := h.core.Handle(s.id, m.req.Type, m.req.Payload)
			h.record()
			h.enqueue(s, replyFrame(m.req.ID, nil, m.err))
			h.deliver(out)
			return
		}
		if m.err != nil {
			h.enqueue(s, replyFrame(m.req.ID, nil, m.err))
			return
		}
		h.originConn = m.conn
		reply, err, out := h.core.Handle(s.id, m.req.Type, m.req.Payload)
		h.record()
		h.enqueue(s, replyFrame(m.req.ID, reply, err))
		if mutant.On(mutant.ReplyTwice) && s.seq%4 == 0 {
			h.enqueue(s, replyFrame(m.req.ID, reply, err)) // now and then a reply goes out again
		}
		h.deliver(out)
	}
}

// open registers a connection: a new session, replacing an earlier one of the same user
// (AUTH-006), or the resume of a session (RESUME-002), which open may refuse.
func (h *hub) open(c *conn) openResult {
	if c.resume != nil {
		return h.resume(c)
	}
	if old := h.byUser[c.user.ID]; old != nil {
		replaced := old.conn != nil
		if replaced {
			old.conn.shutdown(closeReplaced)
			h.drop(old.conn, closeReplaced)
		}
		switch {
		case replaced && mutant.On(mutant.ReplacedWaits): // its drop left it waiting for a resume
		case old.conn == nil && mutant.On(mutant.NewLoginWaitsWindow): // no longer resumable; its window ends it
			delete(h.tokens, old.token)
			delete(h.byUser, old.user.ID)
		default:
			h.end(old) // a session waiting for its resume ends too: a newer login wins (RESUME-006)
			h.flushLost()
		}
	}
	h.nextID++
	s := &session{id: h.nextID, user: c.user}
	if w := h.s.cfg.ResumeWindow; w > 0 {
		s.hist = history{maxFrames: h.s.cfg.ResumeHistoryFrames, maxBytes: int64(h.s.cfg.ResumeHistoryBytes)}
		s.token = newResumeToken(s)
		h.tokens[s.token] = s
	}
	h.sessions[s.id] = s
	h.byUser[s.user.ID] = s
	h.attach(s, c)
	h.core.Connect(s.id, s.user)
	// The welcome goes to the queue at once, never among the outputs held for a journal
	// commit: it says nothing the journal must hold back, and a connection replaced before
	// the commit (whose held frames are then let go) must still get it first (WELCOME-001).
	if !h.failed {
		f := &outFrame{typ: protocol.TypeWelcome, payload: marshalPayload(h.welcome(s, nil))}
		h.send(c, f, s.number(f))
	}
	h.s.log.Debug("connected", "user", c.user.ID, "session", s.id)
	return openResult{registered: true}
}

// attach makes c the connection of s.
func (h *hub) attach(s *session, c *conn) {
	c.id, c.sess, s.conn = s.id, s, c
	h.connected++
	h.s.connWG.Add(2) // its reader and writer; on the hub, so before Close waits
	h.s.metrics.connsOpened.Inc()
	h.s.metrics.connsOpen.Set(float64(h.connected))
}

// welcome is the welcome of s's connection: st is the state of a session resumed without its
// missed frames, nil otherwise.
func (h *hub) welcome(s *session, st *protocol.SessionState) protocol.Welcome {
	cfg := h.s.cfg
	w := protocol.Welcome{
		Protocol:  protocol.Version,
		Server:    "pkarena-server/" + Version,
		UserID:    s.user.ID,
		SessionID: s.name(),
		Limits: protocol.Limits{
			MaxConnectedRooms: cfg.MaxConnectedRooms,
			MaxUsersPerRoom:   cfg.MaxUsersPerRoom,
			MaxSeatCount:      cfg.MaxSeatCount,
			MaxFrameBytes:     cfg.MaxFrameBytes,
			SendQueueFrames:   cfg.SendQueueFrames,
			SendQueueBytes:    cfg.SendQueueBytes,

			MaxRequestsPerSecond: cfg.ConnRequestRate,
			RequestBurst:         requestBurst(cfg),

			MaxBattleDurationS:         int(cfg.MaxBattleDuration / time.Second),
			MaxBattleRequestsPerMinute: cfg.MaxBattleRequestsPerMinute,

			ResumeWindowMs: cfg.ResumeWindow.Milliseconds(),
		},
		Timing: protocol.Timing{
			HeartbeatIntervalMs:    cfg.HeartbeatInterval.Milliseconds(),
			HeartbeatTimeoutMs:     cfg.HeartbeatTimeout.Milliseconds(),
			DefaultInviteTimeoutS:  int(cfg.DefaultInviteTimeout / time.Second),
			DefaultBattleDurationS: int(cfg.DefaultBattleDuration / time.Second),
		},
		Features: protocol.Features{Battle: true, DurableScores: h.journal != nil},

		ResumeToken: s.token,
		State:       st,
	}
	if cfg.ResumeWindow > 0 {
		w.Limits.ResumeHistoryFrames = cfg.ResumeHistoryFrames
		w.Limits.ResumeHistoryBytes = cfg.ResumeHistoryBytes
	}
	if s.conn != nil && s.conn.resume != nil { // a resume: numbering goes on from s.seq
		w.Resumed, w.Recovered = true, st == nil
		w.NextSeq = s.conn.resume.lastSeq + 1
		if st != nil {
			w.NextSeq = s.seq + 1
		}
	} else {
		w.NextSeq = s.seq + 2 // after the welcome, numbered next
	}
	return w
}

// requestBurst is the burst the welcome advertises: 0 when requests are not limited.
func requestBurst(cfg Config) int {
	if cfg.ConnRequestRate == 0 {
		return 0
	}
	return cfg.ConnRequestBurst
}

// setGauges sets the gauges of the core's state and of the connection table.
func (h *hub) setGauges() {
	st := h.core.Stats()
	m := h.s.metrics
	m.rooms.Set(float64(st.Rooms))
	m.groups.Set(float64(st.Groups))
	m.battlesRunning.Set(float64(st.BattlesRunning))
	m.connsOpen.Set(float64(h.connected))
	m.inGrace.Set(float64(len(h.grace) - h.graceLeft))
}

// drop forgets a connection at once, so nothing more is queued for it. Its session then
// waits for a resume when resume is on and the connection dropped without a close handshake
// (RESUME-001: 1006, or the heartbeat timeout's 4000), else it ends, and flushLost lets the
// core act on its loss. Idempotent. ended is how the connection ended when the server sent
// no close frame (the client's close code, or 1006), for the metrics.
func (h *hub) drop(c *conn, ended int) {
	s := c.sess
	if s == nil || s.conn != c {
		return
	}
	if code := h.detach(c, ended); h.s.cfg.ResumeWindow > 0 && !h.failed && (code == websocket.CloseAbnormalClosure || code == closeHeartbeatTimeout && !mutant.On(mutant.SilenceEndsSession) ||
		mutant.On(mutant.ExpiredSessionKept) && code == closeTokenExpired || mutant.On(mutant.BareCloseKeepsSession) && code == websocket.CloseNoStatusReceived ||
		mutant.On(mutant.ReplacedWaits) && code == closeReplaced || mutant.On(mutant.SlowConsumerKept) && code == closeSlowConsumer ||
		mutant.On(mutant.RefusedFrameKeepsSession) && (code == closeUnsupportedData || code == closeInvalidData || code == websocket.CloseMessageTooBig)) {
		if mutant.On(mutant.ResumeLossAtOnce) {
			h.end(s)
			return
		}
		window := h.s.cfg.ResumeWindow
		if mutant.On(mutant.ResumeWindowEndless) {
			window = 1000 * time.Hour
		}
		s.graceUntil = time.Now().Add(window)
		h.grace = append(h.grace, graceEntry{s, s.graceUntil})
		if len(h.grace) == 1 || mutant.On(mutant.GraceTimerRearmed) {
			h.graceTimer.Reset(window)
		}
		h.s.metrics.inGrace.Set(float64(len(h.grace) - h.graceLeft))
		return
	}
	h.end(s)
}

// detach forgets c, the connection of its session, and returns how it ended: the close code
// the server sent, else ended.
func (h *hub) detach(c *conn, ended int) int {
	c.sess.conn = nil
	h.connected--
	c.shutdown(closeNone)
	if c.closeCode != closeNone { // final: shutdown's Once has run
		ended = c.closeCode
	}
	h.s.metrics.closed(ended)
	h.s.metrics.connsOpen.Set(float64(h.connected))
	return ended
}

// end forgets session s, which has no connection, and remembers it for flushLost.
// Idempotent.
func (h *hub) end(s *session) {
	if h.sessions[s.id] != s {
		return
	}
	delete(h.sessions, s.id)
	if h.byUser[s.user.ID] == s {
		delete(h.byUser, s.user.ID)
	}
	if h.tokens[s.token] == s {
		delete(h.tokens, s.token)
	}
	s.hist.reset()
	h.leaveGrace(s)
	h.lost = append(h.lost, s)
}

// flushLost lets the core act on every ended session (LIVE-021). It runs after the
// deliveries in progress are all queued, so the events of a loss never overtake the events of
// the change that caused it (TRANS-008). A loss may cut off further slow consumers.
func (h *hub) flushLost() {
	for len(h.lost) > 0 {
		s := h.lost[0]
		h.lost = h.lost[1:]
		h.s.log.Debug("disconnected", "user", s.user.ID, "session", s.id)
		h.deliver(h.core.Disconnect(s.id))
	}
}

// deliver queues each event for its recipients, marshalling its payload once. It first
// journals the records of the operation that made them.
func (h *hub) deliver(out []core.Delivery) {
	h.record()
	for _, d := range out {
		f := &outFrame{typ: d.Type, payload: marshalPayload(d.Payload)}
		for _, id := range d.To {
			if s := h.sessions[id]; s != nil {
				h.enqueue(s, f)
			}
		}
	}
}

// enqueue numbers f on session s and sends it to s's connection, or holds it for the
// journal's commit (dropped once the journal has failed). A session waiting for its resume
// keeps it for the replay only.
func (h *hub) enqueue(s *session, f *outFrame) {
	if h.failed {
		return
	}
	seq := s.number(f)
	switch {
	case s.conn == nil:
	case h.holding:
		h.held = append(h.held, heldOut{conn: s.conn, frame: f, seq: seq})
	default:
		h.send(s.conn, f, seq)
	}
}

// send never blocks: a connection whose queue is full (CLOSE-001), or would hold more than
// SendQueueBytes with f (CLOSE-002), is cut off.
func (h *hub) send(c *conn, f *outFrame, seq uint64) {
	bound, waiting, start := c.queue.put(f, seq)
	if start {
		go c.write()
	}
	switch bound {
	case boundBytes:
		h.cutOff(c, boundBytes, "queued_bytes", waiting, "frame_bytes", f.size(), "limit", h.s.cfg.SendQueueBytes)
	case boundFrames:
		h.cutOff(c, boundFrames, "limit", h.s.cfg.SendQueueFrames)
	}
}

// cutOff closes a slow consumer with 4008 and drops it; bound says which bound it hit.
func (h *hub) cutOff(c *conn, bound string, logArgs ...any) {
	h.s.log.Warn("slow consumer cut off", append([]any{"user", c.user.ID, "session", c.id, "bound", bound}, logArgs...)...)
	h.s.metrics.cutoffs.WithLabelValues(bound).Inc()
	c.shutdown(closeSlowConsumer)
	h.drop(c, closeSlowConsumer)
}

// shutdownAll ends every connection as lost (LIVE-021), one after the other in session order,
// so that rooms and battles end as when their hosts leave: the members still connected get the
// events, and the end webhooks are queued. Each connection is closed with 1001 once its
// writer has sent what was queued for it.
func (h *hub) shutdownAll() {
	if h.journal != nil {
		h.journal.lazy = true // one sync at close, not one per connection ended (journal.lazy)
	}
	ids := make([]core.SessionID, 0, len(h.sessions))
	for id := range h.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := h.sessions[id]
		if c := s.conn; c != nil {
			c.shutdown(closeGoingAway)
			h.drop(c, closeGoingAway)
		}
		h.end(s) // a session waiting for its resume too
		h.flushLost()
		h.commit() // the members still connected get the events before their own 1001
		if h.failed {
			break
		}
	}
	h.sendHooks()
	h.drainOpens()
}
