package server

import (
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
}

// restCall is a REST call for the core and the channel its outcome goes back on.
type restCall struct {
	api, operator string
	body          []byte
	reply         chan restOutcome // buffered: the hub never blocks on it
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
			for _, c := range h.conns {
				c.shutdown(closeGoingAway)
			}
			h.drainOpens()
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
		h.drop(m.conn)
	case msgREST:
		resp, err, out := h.core.REST(m.rest.api, m.rest.operator, m.rest.body)
		m.rest.reply <- restOutcome{resp: resp, err: err}
		h.deliver(out)
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
		h.drop(old)
		h.flushLost()
	}
	h.nextID++
	c.id = h.nextID
	h.s.connWG.Add(2) // its reader and writer; on the hub, so before Close waits

	h.conns[c.id] = c
	h.byUser[c.user.ID] = c
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

// drop forgets a connection at once, so nothing more is queued for it, and remembers it for
// flushLost. Idempotent.
func (h *hub) drop(c *conn) {
	if h.conns[c.id] != c {
		return
	}
	delete(h.conns, c.id)
	if h.byUser[c.user.ID] == c {
		delete(h.byUser, c.user.ID)
	}
	c.shutdown(closeNone)
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

// enqueue never blocks: a connection whose queue is full is cut off (CLOSE-001).
func (h *hub) enqueue(c *conn, f *outFrame) {
	select {
	case c.send <- f:
	default:
		h.s.log.Warn("slow consumer cut off", "user", c.user.ID, "session", c.id, "queue", cap(c.send))
		c.shutdown(closeSlowConsumer)
		h.drop(c)
	}
}
