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
	msgStats                  // a metrics scrape: set the gauges of the core's state, then done
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

// hub owns the core and the table of live connections. Only its goroutine touches them.
type hub struct {
	s      *Server
	core   *core.Core
	conns  map[core.SessionID]*conn
	byUser map[string]*conn
	nextID core.SessionID
	timer  *time.Timer
	lost   []*conn // dropped connections whose loss the core has not seen yet
}

func newHub(s *Server, c *core.Core) *hub {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &hub{s: s, core: c, conns: make(map[core.SessionID]*conn), byUser: make(map[string]*conn), timer: t}
}

func (h *hub) run() {
	defer close(h.s.stopped)
	for {
		select {
		case m := <-h.s.inbox:
			h.handle(m)
		case <-h.timer.C:
			h.deliver(h.core.Tick())
		case <-h.s.closing:
			h.shutdownAll()
			return
		}
		h.flushLost()
		h.s.hooks.enqueue(h.core.TakeHooks())
		h.armTimer()
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
			case msgStats:
				m.done <- false
			}
		default:
			return
		}
	}
}

func (h *hub) armTimer() {
	h.timer.Stop()
	if at, ok := h.core.NextDeadline(); ok {
		h.timer.Reset(time.Until(at))
	}
}

func (h *hub) handle(m hubMsg) {
	switch m.kind {
	case msgOpen:
		h.open(m.conn)
		m.done <- true
	case msgClosed:
		h.drop(m.conn, m.code)
	case msgStats:
		h.setGauges()
		m.done <- true
	case msgREST:
		resp, err, out := h.core.REST(m.rest.api, m.rest.operator, m.rest.body)
		m.rest.reply <- restOutcome{resp: resp, err: err}
		h.deliver(out)
		if m.rest.api == protocol.APISetBattleScore && err == nil {
			h.s.metrics.scoreLatency.Observe(time.Since(m.rest.arrived).Seconds())
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
	h.enqueue(c, &outFrame{typ: protocol.TypeWelcome, payload: marshalPayload(h.welcome(c))})
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
		Features: protocol.Features{Battle: true},
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

// deliver queues each event for its recipients, marshalling its payload once.
func (h *hub) deliver(out []core.Delivery) {
	for _, d := range out {
		f := &outFrame{typ: d.Type, payload: marshalPayload(d.Payload)}
		for _, id := range d.To {
			if c := h.conns[id]; c != nil {
				h.enqueue(c, f)
			}
		}
	}
}

// enqueue never blocks: a connection whose queue is full (CLOSE-001), or would hold more than
// SendQueueBytes with f (CLOSE-002), is cut off.
func (h *hub) enqueue(c *conn, f *outFrame) {
	n := f.size()
	if waiting := c.queuedBytes - c.takenBytes.Load(); waiting+n > int64(h.s.cfg.SendQueueBytes) {
		h.cutOff(c, boundBytes, "queued_bytes", waiting, "frame_bytes", n, "limit", h.s.cfg.SendQueueBytes)
		return
	}
	select {
	case c.send <- f:
		c.queuedBytes += n
	default:
		h.cutOff(c, boundFrames, "limit", cap(c.send))
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
	}
	h.s.hooks.enqueue(h.core.TakeHooks())
	h.drainOpens()
}
