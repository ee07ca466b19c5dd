// Package core is the reference server's deterministic heart: rooms, seats, co-host connection
// groups and invitation timers as plain state, driven by calls and an injected clock. It does
// no I/O and starts no goroutine; the transport (reference/server) owns one Core from a single
// goroutine and turns the Deliveries it returns into frames.
package core

import (
	"encoding/json"
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// SessionID identifies one client connection.
type SessionID uint64

// Clock tells the core the time. Tests inject a fake one and advance it by hand.
type Clock interface {
	Now() time.Time
}

// Config holds the limits the core enforces.
type Config struct {
	MaxConnectedRooms    int
	MaxUsersPerRoom      int
	MaxSeatCount         int
	DefaultInviteTimeout time.Duration
	// DefaultBattleDuration applies when requestBattle sets no duration (300 s).
	DefaultBattleDuration time.Duration
	// MaxBattleDuration bounds a battle's duration.
	MaxBattleDuration time.Duration
	// MaxBattleRequestsPerMinute bounds the battles one room creates per minute; 0: no bound.
	MaxBattleRequestsPerMinute int
	// BattleRetention is how long an ended battle stays queryable (REST-020).
	BattleRetention time.Duration
	// IDPrefix starts every battle ID; the transport makes it unique per server instance.
	IDPrefix string
	// Journal makes the core produce Records for a journal (TakeRecords).
	Journal bool
}

// User is an authenticated user as the transport saw it at the handshake.
type User struct {
	ID        string
	Name      string
	AvatarURL string
}

// Delivery is one event for a list of sessions, in the order the core produced it.
type Delivery struct {
	To      []SessionID
	Type    string
	Payload any
}

// Core is the whole signalling state. It is not safe for concurrent use: one goroutine owns it.
type Core struct {
	cfg   Config
	clock Clock

	sessions map[SessionID]*member
	rooms    map[string]*room
	listed   []*room // every room in creation order (for fetchLiveList paging)
	nextSeq  uint64
	timers   timerHeap
	timerSeq uint64

	battles   map[string]*battle // pending, running and retained ended battles by ID
	ended     []*battle          // ended battles, oldest first (retention)
	battleSeq uint64
	hooks     []Hook   // webhooks of the operations since TakeHooks
	records   []Record // journal records of the operations since TakeRecords (Config.Journal)

	out []Delivery // deliveries of the operation in progress

	scoreChanges uint64 // every battle's score changes: mutant.VersionAcrossBattles only
}

// member is a session's user and where it is.
type member struct {
	sess SessionID
	user User
	room *room
	seat int // seat index in room, -1 when not seated

	lastBeat time.Time // the last heartbeat request (or the connect): mutant.OnlyHeartbeatsKeepAlive only
}

// New returns an empty core.
func New(cfg Config, clock Clock) *Core {
	return &Core{
		cfg:      cfg,
		clock:    clock,
		sessions: make(map[SessionID]*member),
		rooms:    make(map[string]*room),
		battles:  make(map[string]*battle),
	}
}

// Connect registers a session. The transport calls it once per connection, after the
// handshake and after any earlier session of the same user was disconnected.
func (c *Core) Connect(s SessionID, u User) {
	c.sessions[s] = &member{sess: s, user: u, seat: -1}
	if mutant.On(mutant.OnlyHeartbeatsKeepAlive) {
		c.sessions[s].lastBeat = c.clock.Now()
	}
}

// mutantLivenessWindow is how long mutant.OnlyHeartbeatsKeepAlive lets a session go without a
// heartbeat request. The liveness timer is the transport's and the core does not know
// heartbeatTimeoutMs; a second lies between the interval (500 ms) and the timeout (1500 ms) the
// conformance suite gives the embedded server.
const mutantLivenessWindow = time.Second

// heartbeatsOnly is mutant.OnlyHeartbeatsKeepAlive: a server whose liveness timer only heartbeat
// requests reset. The core cannot close the connection, so it does what the server would do
// next: a session that sends other requests but no heartbeat for mutantLivenessWindow is
// treated as lost (LIVE-021) while its socket stays open.
func (c *Core) heartbeatsOnly(m *member, typ string) {
	now := c.clock.Now()
	if typ == protocol.ReqHeartbeat {
		m.lastBeat = now
		return
	}
	if now.Sub(m.lastBeat) < mutantLivenessWindow || m.room == nil {
		return
	}
	if m.room.owner == m {
		c.endRoom(m.room, protocol.EndedByServer)
	} else {
		c.leaveRoom(m)
	}
}

// Disconnect handles a lost connection as the clean leave it stands for (LIVE-021): a host's
// room ends with reason 2, an audience member leaves its room.
func (c *Core) Disconnect(s SessionID) []Delivery {
	m, ok := c.sessions[s]
	if !ok {
		return nil
	}
	if r := m.room; r != nil {
		if r.owner == m {
			if p := r.incoming; p != nil && mutant.On(mutant.LostInviteeSilent) {
				c.closeRequest(p) // nobody is left to answer it
			}
			c.endRoom(r, protocol.EndedByServer)
			if mutant.On(mutant.NoLeftOnLoss) {
				kept := c.out[:0]
				for _, d := range c.out {
					if d.Type != protocol.EvConnectionUserListChanged {
						kept = append(kept, d)
					}
				}
				c.out = kept
			}
		} else {
			c.leaveRoom(m)
		}
	}
	delete(c.sessions, s)
	return c.flush()
}

// KnownType reports whether typ is a request type of the protocol (§5, §7-§9, §12).
func KnownType(typ string) bool {
	_, ok := handlers[typ]
	return ok
}

// Handle runs one request of session s. It returns the reply payload (nil on error), the
// error (nil on success) and the events the request caused. Decoding and validation of the
// payload happen here, so a malformed payload changes nothing.
func (c *Core) Handle(s SessionID, typ string, payload json.RawMessage) (any, *protocol.Error, []Delivery) {
	m, ok := c.sessions[s]
	if !ok {
		return nil, protocol.ErrInternal.With("session %d is not connected", s), nil
	}
	h, ok := handlers[typ]
	if !ok {
		return nil, protocol.ErrUnknownType.With("unknown request type %q", typ), nil
	}
	if mutant.On(mutant.OnlyHeartbeatsKeepAlive) {
		c.heartbeatsOnly(m, typ)
	}
	reply, err := h(c, m, payload)
	if err != nil {
		if mutant.On(mutant.OnlyHeartbeatsKeepAlive) {
			return nil, err, c.flush() // the loss happened, whatever the request's fate
		}
		c.out = c.out[:0]
		return nil, err, nil
	}
	return reply, nil, c.flush()
}

// Tick fires every timer due at the clock's current time: request timeouts, battle ends.
func (c *Core) Tick() []Delivery {
	now := c.clock.Now()
	for t := c.timers.popDue(now); t != nil; t = c.timers.popDue(now) {
		t.fire()
	}
	return c.flush()
}

// NextDeadline reports when Tick next has work, if ever.
func (c *Core) NextDeadline() (time.Time, bool) { return c.timers.next() }

func (c *Core) emit(to []SessionID, typ string, payload any) {
	if len(to) == 0 {
		return
	}
	c.out = append(c.out, Delivery{To: to, Type: typ, Payload: payload})
}

func (c *Core) flush() []Delivery {
	out := c.out
	c.out = nil
	return out
}

func (c *Core) nowMs() int64 { return c.clock.Now().UnixMilli() }
