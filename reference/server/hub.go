package server

import (
	"slices"
	"strconv"
	"time"

	"github.com/pkarena/pkarena/reference/core"
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
	done chan<- bool
	rest *restCall
	code int // msgClosed: how the reader saw the connection end (endCodeFor)
}

// restCall is a REST call for the core and the channel its outcome goes back on.
type restCall struct {
	api, operator string
	body          []byte
	reply         chan restOutcome // buffered: the hub never blocks on it
	arrived       time.Time        // when the request reached the server (score latency)
}

// restOutcome is the core's answer to a REST call.
type restOutcome struct {
	resp any
	err  *protocol.Error
}

// hub owns the core, the table of live connections and the journal. Only its goroutine
// touches them.
//
// With a journal, nothing an operation caused leaves the server before the operation's
// records are synced: once an operation produced records, every output after it (frames,
// REST outcomes) is held, in order, until the commit at the end of the batch (group commit:
// one sync covers the messages the hub handled meanwhile, up to maxBatch).
type hub struct {
	s      *Server
	core   *core.Core
	conns  map[core.SessionID]*conn
	byUser map[string]*conn
	nextID core.SessionID
	timer  *time.Timer
	lost   []*conn // dropped connections whose loss the core has not seen yet

	journal *journal  // nil: memory only
	holding bool      // records were appended since the last commit: outputs wait in held
	held    []heldOut // outputs waiting for the commit, in the order they were made
	failed  bool      // the journal failed: the server has stopped acknowledging anything

	gauges  *time.Ticker // setGauges runs on it when changed is set
	changed bool         // a message or a timer was handled since the gauges were last set

	panicked bool // reportPanic logged a panic: run's own report stays quiet

	hookRetry <-chan time.Time // fires when the durable webhooks given up are offered again; nil: none
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
	return &hub{s: s, core: c, conns: make(map[core.SessionID]*conn), byUser: make(map[string]*conn), timer: t,
		gauges: time.NewTicker(gaugeEvery)}
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

// record appends the records of the core's last operation to the journal, and with durable
// webhooks the hooks it made (to the outbox); every output from then on waits for the commit.
func (h *hub) record() {
	if h.journal == nil || h.failed {
		return
	}
	recs := h.core.TakeRecords()
	var hooks []core.Hook
	if h.s.hooks.durable {
		hooks = h.core.TakeHooks()
	}
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
		h.s.hooks.enqueue(h.core.TakeHooks())
		return
	}
	if h.failed {
		return
	}
	h.journal.outbox.offer(h.s.hooks.offer)
	h.s.metrics.outboxPending.Set(float64(h.journal.outbox.len()))
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
		case h.conns[o.conn.id] == o.conn:
			h.send(o.conn, o.frame)
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
	for _, c := range h.conns {
		c.shutdown(closeInternalError)
		h.drop(c, closeInternalError)
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
				m.done <- false
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
	switch m.kind {
	case msgOpen:
		h.open(m.conn)
		m.done <- true
	case msgClosed:
		h.drop(m.conn, m.code)
	case msgREST:
		if h.s.cfg.beforeREST != nil {
			h.s.cfg.beforeREST(m.rest.api)
		}
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
		if h.conns[m.conn.id] != m.conn {
			return // already dropped (replaced, slow): its late frames change nothing
		}
		if m.err != nil {
			h.enqueue(m.conn, replyFrame(m.req.ID, nil, m.err))
			return
		}
		reply, err, out := h.core.Handle(m.conn.id, m.req.Type, m.req.Payload)
		h.record()
		h.enqueue(m.conn, replyFrame(m.req.ID, reply, err))
		h.deliver(out)
	}
}

// open registers a connection, replacing an earlier one of the same user (AUTH-006).
func (h *hub) open(c *conn) {
	if old := h.byUser[c.user.ID]; old != nil {
		old.shutdown(closeReplaced)
		h.drop(old, closeReplaced)
		h.flushLost()
	}
	h.nextID++
	c.id = h.nextID
	h.s.connWG.Add(2) // its reader and writer; on the hub, so before Close waits

	h.conns[c.id] = c
	h.byUser[c.user.ID] = c
	h.s.metrics.connsOpened.Inc()
	h.s.metrics.connsOpen.Set(float64(len(h.conns)))
	h.core.Connect(c.id, c.user)
	// The welcome goes to the queue at once, never among the outputs held for a journal
	// commit: it says nothing the journal must hold back, and a connection replaced before
	// the commit (whose held frames are then let go) must still get it first (WELCOME-001).
	if !h.failed {
		h.send(c, &outFrame{typ: protocol.TypeWelcome, payload: marshalPayload(h.welcome(c))})
	}
	h.s.log.Debug("connected", "user", c.user.ID, "session", c.id)
}

func (h *hub) welcome(c *conn) protocol.Welcome {
	cfg := h.s.cfg
	return protocol.Welcome{
		Protocol:  protocol.Version,
		Server:    "pkarena-server/" + Version,
		UserID:    c.user.ID,
		SessionID: "s-" + strconv.FormatUint(uint64(c.id), 10),
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
		},
		Timing: protocol.Timing{
			HeartbeatIntervalMs:    cfg.HeartbeatInterval.Milliseconds(),
			HeartbeatTimeoutMs:     cfg.HeartbeatTimeout.Milliseconds(),
			DefaultInviteTimeoutS:  int(cfg.DefaultInviteTimeout / time.Second),
			DefaultBattleDurationS: int(cfg.DefaultBattleDuration / time.Second),
		},
		Features: protocol.Features{Battle: true, DurableScores: h.journal != nil},
	}
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
	m.connsOpen.Set(float64(len(h.conns)))
}

// drop forgets a connection at once, so nothing more is queued for it, and remembers it for
// flushLost. Idempotent. ended is how the connection ended when the server sent no close
// frame (the client's close code, or 1006), for the metrics.
func (h *hub) drop(c *conn, ended int) {
	if h.conns[c.id] != c {
		return
	}
	delete(h.conns, c.id)
	if h.byUser[c.user.ID] == c {
		delete(h.byUser, c.user.ID)
	}
	c.shutdown(closeNone)
	if c.closeCode != closeNone { // final: shutdown's Once has run
		ended = c.closeCode
	}
	h.s.metrics.closed(ended)
	h.s.metrics.connsOpen.Set(float64(len(h.conns)))
	h.lost = append(h.lost, c)
}

// flushLost lets the core act on every dropped connection (LIVE-021). It runs after the
// deliveries in progress are all queued, so the events of a loss never overtake the events of
// the change that caused it (TRANS-008). A loss may cut off further slow consumers.
func (h *hub) flushLost() {
	for len(h.lost) > 0 {
		c := h.lost[0]
		h.lost = h.lost[1:]
		h.s.log.Debug("disconnected", "user", c.user.ID, "session", c.id)
		h.deliver(h.core.Disconnect(c.id))
	}
}

// deliver queues each event for its recipients, marshalling its payload once. It first
// journals the records of the operation that made them.
func (h *hub) deliver(out []core.Delivery) {
	h.record()
	for _, d := range out {
		f := &outFrame{typ: d.Type, payload: marshalPayload(d.Payload)}
		for _, id := range d.To {
			if c := h.conns[id]; c != nil {
				h.enqueue(c, f)
			}
		}
	}
}

// enqueue sends f to c, or holds it for the journal's commit (dropped once the journal has
// failed).
func (h *hub) enqueue(c *conn, f *outFrame) {
	switch {
	case h.failed:
	case h.holding:
		h.held = append(h.held, heldOut{conn: c, frame: f})
	default:
		h.send(c, f)
	}
}

// send never blocks: a connection whose queue is full (CLOSE-001), or would hold more than
// SendQueueBytes with f (CLOSE-002), is cut off.
func (h *hub) send(c *conn, f *outFrame) {
	switch bound, waiting := c.queue.put(f); bound {
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
	ids := make([]core.SessionID, 0, len(h.conns))
	for id := range h.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := h.conns[id]
		c.shutdown(closeGoingAway)
		h.drop(c, closeGoingAway)
		h.flushLost()
		h.commit() // the members still connected get the events before their own 1001
		if h.failed {
			break
		}
	}
	h.sendHooks()
	h.drainOpens()
}
