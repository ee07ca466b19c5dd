package core

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// The fuzzed world: a few users and room IDs, and limits small enough for a short program to
// reach them (a full group, a full room, the battle rate limit).
const (
	numUsers    = 6
	numRooms    = 5
	maxSteps    = 96  // commands run per input, so that one input stays fast
	maxProgram  = 192 // bytes of an input read: the fuzzer minimizes in time quadratic in the length
	machineRate = 3   // battles a room may create per minute
)

// machineConfig is the core's configuration under fuzzing.
func machineConfig() Config {
	return Config{
		MaxConnectedRooms: 3, MaxUsersPerRoom: 3, MaxSeatCount: 3, DefaultInviteTimeout: 5 * time.Second,
		DefaultBattleDuration: 10 * time.Second, MaxBattleDuration: time.Minute,
		MaxBattleRequestsPerMinute: machineRate, BattleRetention: 30 * time.Second, IDPrefix: "b",
		Journal: true,
	}
}

// userID names user i; its room, when it creates one, is any roomID.
func userID(i int) string { return "u" + strconv.Itoa(i) }

// roomID names room ID i.
func roomID(i int) string { return "r" + strconv.Itoa(i) }

// Commands of a fuzzed program. Each is one byte, followed by the bytes of its arguments.
const (
	opCreateLive = iota
	opJoinLive
	opLeaveLive
	opEndLive
	opTakeSeat
	opLeaveSeat
	opSeatAdmin // lock, unlock, kick, move, mute, unmute
	opRequestConnection
	opAcceptConnection
	opRejectConnection
	opCancelConnection
	opExitConnection // the disconnect request: leave the connection group
	opRequestBattle
	opAcceptBattle
	opRejectBattle
	opCancelBattle
	opExitBattle
	opRESTCreateBattle
	opRESTSetScore
	opRESTGetBattle
	opLoseConnection
	opReconnect // a new connection of the same user replaces the old one (AUTH-006)
	opAdvance   // the clock moves without the hub's timer firing yet
	opTick      // the hub's timer fires
	opRaw       // an arbitrary payload from the program's bytes
	numOps
)

// Argument tables: indexes into them come from the program.
var (
	advances    = []time.Duration{time.Millisecond, 499 * time.Millisecond, 999 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 61 * time.Second, 10 * time.Minute}
	restMillis  = []int64{1000, 1499, 1500, 10_000, 60_000, 999, 60_001}
	scoreValues = []int64{0, 1, 7, 100, 1 << 40, protocol.MaxScore - 1, protocol.MaxScore, -1}
	idemKeys    = []string{"", "k1", "k2", "k3"}
	rawTypes    = []string{
		protocol.ReqHeartbeat, protocol.ReqCreateLive, protocol.ReqEndLive, protocol.ReqJoinLive, protocol.ReqLeaveLive,
		protocol.ReqFetchLiveList, protocol.ReqFetchLiveInfo, protocol.ReqTakeSeat, protocol.ReqLeaveSeat,
		protocol.ReqLockSeat, protocol.ReqUnlockSeat, protocol.ReqKickUserOutOfSeat, protocol.ReqMoveUserToSeat,
		protocol.ReqMuteMicrophone, protocol.ReqUnmuteMicrophone, protocol.ReqRequestConnection,
		protocol.ReqCancelConnectionRequest, protocol.ReqAcceptConnection, protocol.ReqRejectConnection,
		protocol.ReqDisconnect, protocol.ReqRequestBattle, protocol.ReqCancelBattleRequest,
		protocol.ReqAcceptBattle, protocol.ReqRejectBattle, protocol.ReqExitBattle, "bogus",
	}
)

// program reads a fuzzed program; past its end every byte reads as 0.
type program struct{ b []byte }

// more reports whether bytes are left.
func (p *program) more() bool { return len(p.b) > 0 }

// byte reads the next byte.
func (p *program) byte() byte {
	if len(p.b) == 0 {
		return 0
	}
	x := p.b[0]
	p.b = p.b[1:]
	return x
}

// pick returns a number in [0, n).
func (p *program) pick(n int) int { return int(p.byte()) % n }

// take returns up to n bytes.
func (p *program) take(n int) []byte {
	n = min(n, len(p.b))
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

// scoreModel is what the test expects of a battle's scores: the sum of the accepted
// set_battle_score items (OpType 1 adds, 2 sets; SPEC REST-030), one version per accepted
// request that named a participant (BATTLE-042), and the first reply per idempotency key.
type scoreModel struct {
	scores  map[string]int64
	version uint64
	replies map[string]protocol.SetBattleScoreResponse
}

// sessionBattle keys the last score version a session saw of a battle.
type sessionBattle struct {
	s  SessionID
	id string
}

// machine drives a Core exactly as the hub does (reference/server/hub.go) and checks it after
// every step.
type machine struct {
	t     testing.TB
	c     *Core
	clock *fakeClock
	sess  [numUsers]SessionID // 0: the user has no connection
	next  SessionID

	scores  map[string]*scoreModel
	seen    map[sessionBattle]uint64
	journal []Record // every record so far, through JSON as a journal keeps them
	trace   []string
}

// newMachine is a machine around an empty core with machineConfig and a fake clock.
func newMachine(t testing.TB) *machine {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	return &machine{
		t: t, c: New(machineConfig(), clock), clock: clock,
		scores: map[string]*scoreModel{}, seen: map[sessionBattle]uint64{},
	}
}

// newScene is a machine with a bit of everything: r0 (host u0, viewer u2 on seat 1) and r1
// (host u1) connected and battling in b1; r2 (host u3) inviting r3 (host u4); u5 in no room.
func newScene(t testing.TB) *machine {
	m := newMachine(t)
	m.request(0, protocol.ReqCreateLive, protocol.CreateLive{LiveID: roomID(0)})
	m.request(1, protocol.ReqCreateLive, protocol.CreateLive{LiveID: roomID(1)})
	m.request(3, protocol.ReqCreateLive, protocol.CreateLive{LiveID: roomID(2)})
	m.request(4, protocol.ReqCreateLive, protocol.CreateLive{LiveID: roomID(3)})
	m.request(2, protocol.ReqJoinLive, protocol.LiveRef{LiveID: roomID(0)})
	m.request(2, protocol.ReqTakeSeat, protocol.SeatRef{SeatIndex: ptr(1)})
	m.request(0, protocol.ReqRequestConnection, protocol.RequestConnection{LiveIDs: []string{roomID(1)}})
	m.request(1, protocol.ReqAcceptConnection, protocol.LiveRef{LiveID: roomID(0)})
	m.request(0, protocol.ReqRequestBattle, map[string]any{"userIDs": []string{userID(1)}, "config": map[string]any{"duration": 30}})
	m.request(3, protocol.ReqRequestConnection, protocol.RequestConnection{LiveIDs: []string{roomID(3)}})
	m.online(5)
	if b := m.c.battles["b1"]; b == nil || b.state != battleRunning {
		t.Fatalf("scene: battle b1 is not running")
	}
	return m
}

// fail stops the test with the message and the last steps of the program.
func (m *machine) fail(format string, args ...any) {
	m.t.Helper()
	tail := m.trace[max(0, len(m.trace)-40):]
	m.t.Fatalf("%s\nlast steps:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

// note adds a step to the trace that fail prints.
func (m *machine) note(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

// noteOutcome adds a request's outcome to the last step of the trace.
func (m *machine) noteOutcome(perr *protocol.Error, out []Delivery) {
	code := 0
	if perr != nil {
		code = perr.Code
	}
	types := make([]string, len(out))
	for i, d := range out {
		types[i] = d.Type
	}
	m.trace[len(m.trace)-1] += fmt.Sprintf(" -> %d %v", code, types)
}

// online returns u's session, connecting u first if it has none.
func (m *machine) online(u int) SessionID {
	if m.sess[u] == 0 {
		m.next++
		m.sess[u] = m.next
		m.c.Connect(m.next, User{ID: userID(u), Name: "N-" + userID(u)})
		m.note("connect %s as session %d", userID(u), m.next)
	}
	return m.sess[u]
}

// lose is a lost connection (LIVE-021): the hub drops it and tells the core.
func (m *machine) lose(u int) {
	s := m.sess[u]
	if s == 0 {
		return
	}
	m.note("lose %s (session %d)", userID(u), s)
	pre := place(m.c)
	m.sess[u] = 0
	out := m.c.Disconnect(s)
	m.noteOutcome(nil, out)
	m.deliver(pre, out, s)
}

// request runs a request whose payload is marshalled from v.
func (m *machine) request(u int, typ string, v any) (any, *protocol.Error) {
	raw, err := json.Marshal(v)
	if err != nil {
		m.fail("marshal %T: %v", v, err)
	}
	return m.handle(u, typ, raw)
}

// handle runs one request as the hub does: reply, then the events it caused.
func (m *machine) handle(u int, typ string, raw []byte) (any, *protocol.Error) {
	m.t.Helper()
	s := m.online(u)
	m.note("%s %s %s", userID(u), typ, raw)
	pre := place(m.c)
	before := digest(m.c)
	reply, perr, out := m.c.Handle(s, typ, raw)
	m.noteOutcome(perr, out)
	if perr != nil {
		m.checkRefusal(fmt.Sprintf("%s %s", typ, raw), perr, out, before)
		return nil, perr
	}
	if _, err := json.Marshal(reply); err != nil {
		m.fail("%s: the reply %T does not marshal: %v", typ, reply, err)
	}
	m.deliver(pre, out, 0)
	return reply, nil
}

// rest runs one REST call as the hub does and, for an accepted set_battle_score, updates the
// score model from the reply's ResultCodes.
func (m *machine) rest(api string, body []byte) (any, *protocol.Error) {
	m.t.Helper()
	m.note("REST %s %s", api, body)
	pre := place(m.c)
	before := digest(m.c)
	var req protocol.SetBattleScore
	var participants map[string]bool
	if api == protocol.APISetBattleScore && decode(body, &req) == nil {
		participants = map[string]bool{}
		if b := m.c.battles[req.BattleID]; b != nil {
			for _, e := range b.board {
				if e.room != nil {
					participants[e.liveID] = true
				}
			}
		}
	}
	resp, perr, out := m.c.REST(api, "administrator", body)
	m.noteOutcome(perr, out)
	if perr != nil {
		m.checkRefusal("REST "+api, perr, out, before)
		return nil, perr
	}
	if _, err := json.Marshal(resp); err != nil {
		m.fail("REST %s: the response %T does not marshal: %v", api, resp, err)
	}
	if r, ok := resp.(protocol.SetBattleScoreResponse); ok {
		m.applyScores(req, r, participants)
	}
	m.deliver(pre, out, 0)
	return resp, nil
}

// checkRefusal checks a refused request: a code of the table, never 100001, no event, and
// nothing changed (INPUT-004, REST-005).
func (m *machine) checkRefusal(what string, perr *protocol.Error, out []Delivery, before string) {
	m.t.Helper()
	if !slices.ContainsFunc(protocol.Errors, func(e *protocol.Error) bool { return e.Code == perr.Code }) {
		m.fail("%s: code %d is not in the error table", what, perr.Code)
	}
	if perr.Code == protocol.ErrInternal.Code {
		m.fail("%s: %v", what, perr)
	}
	if len(out) != 0 {
		m.fail("%s: refused with %v, yet caused %d events", what, perr, len(out))
	}
	if recs := m.c.TakeRecords(); len(recs) != 0 {
		m.fail("%s: refused with %v, yet produced journal records %+v", what, perr, recs)
	}
	if after := digest(m.c); after != before {
		m.fail("%s: refused with %v, yet changed the state:\nbefore:\n%s\nafter:\n%s", what, perr, before, after)
	}
}

// model returns the score model of battle id.
func (m *machine) model(id string) *scoreModel {
	sm := m.scores[id]
	if sm == nil {
		sm = &scoreModel{scores: map[string]int64{}, replies: map[string]protocol.SetBattleScoreResponse{}}
		m.scores[id] = sm
	}
	return sm
}

// applyScores applies an accepted set_battle_score to the model: each item whose ResultCode is
// 0 adds (OpType 1) or sets (OpType 2) its room's score, in list order (REST-030, REST-031);
// a request naming a participant makes one version (REST-033); a repeated idempotency key
// gets the first reply and changes nothing (REST-034).
func (m *machine) applyScores(req protocol.SetBattleScore, resp protocol.SetBattleScoreResponse, participants map[string]bool) {
	m.t.Helper()
	sm := m.model(req.BattleID)
	if req.IdempotencyKey != "" {
		if first, ok := sm.replies[req.IdempotencyKey]; ok {
			if !reflect.DeepEqual(first, resp) {
				m.fail("set_battle_score repeated key %q: reply %+v; want the first reply %+v", req.IdempotencyKey, resp, first)
			}
			return
		}
	}
	if len(resp.Result) != len(req.ScoreList) {
		m.fail("set_battle_score: %d results for %d items", len(resp.Result), len(req.ScoreList))
	}
	applied := false
	for i, it := range req.ScoreList {
		code := resp.Result[i].ResultCode
		if resp.Result[i].RoomID != it.RoomID || (code == 0) != participants[it.RoomID] {
			m.fail("set_battle_score item %d (%s): result %+v; participants %v", i, it.RoomID, resp.Result[i], participants)
		}
		if code != 0 {
			continue
		}
		applied = true
		if *req.OpType == protocol.OpOverwrite {
			sm.scores[it.RoomID] = *it.Score
		} else {
			sm.scores[it.RoomID] += *it.Score
		}
	}
	if applied {
		sm.version++
	}
	if resp.ScoreVersion != sm.version {
		m.fail("set_battle_score: ScoreVersion %d; want %d", resp.ScoreVersion, sm.version)
	}
	if req.IdempotencyKey != "" {
		sm.replies[req.IdempotencyKey] = resp
	}
}

// placement is where every session and room is, to judge who may receive an event.
type placement struct {
	roomOf  map[SessionID]string // session -> its room's ID
	groupOf map[string][]string  // room ID -> the IDs of its group's rooms, itself included
}

// place records where everyone is in c now.
func place(c *Core) placement {
	p := placement{roomOf: map[SessionID]string{}, groupOf: map[string][]string{}}
	for s, mem := range c.sessions {
		if mem.room != nil {
			p.roomOf[s] = mem.room.id
		}
	}
	for id, r := range c.rooms {
		p.groupOf[id] = []string{id}
		if r.group != nil {
			p.groupOf[id] = nil
			for _, x := range r.group.rooms {
				p.groupOf[id] = append(p.groupOf[id], x.id)
			}
		}
	}
	return p
}

// eventRooms lists the rooms an event is about, and its battle's ID if it is about a battle.
func eventRooms(d Delivery) (rooms []string, battleID string, ok bool) {
	conn := func(us ...protocol.ConnectionUser) {
		for _, u := range us {
			rooms = append(rooms, u.LiveID)
		}
	}
	battle := func(us ...protocol.BattleUser) {
		for _, u := range us {
			rooms = append(rooms, u.LiveID)
		}
	}
	switch p := d.Payload.(type) {
	case protocol.LiveEnded:
		rooms = append(rooms, p.LiveID)
	case protocol.SeatListChanged:
		rooms = append(rooms, p.LiveID)
	case protocol.ConnectionRequestReceived:
		conn(p.Inviter)
		conn(p.InviteeList...)
	case protocol.ConnectionRequestOutcome:
		conn(p.Inviter, p.Invitee)
	case protocol.ConnectionUserListChanged:
		conn(p.ConnectedList...)
		conn(p.JoinedList...)
		conn(p.LeavedList...)
	case protocol.BattleRequestEvent:
		battle(p.Inviter, p.Invitee)
		battleID = p.BattleInfo.BattleID
	case protocol.BattleStarted:
		battle(p.Inviter)
		battle(p.Invitees...)
		battleID = p.BattleInfo.BattleID
	case protocol.UserExitBattle:
		battle(p.BattleUser)
		battleID = p.BattleID
	case protocol.BattleScoreChanged:
		battle(p.BattleUserList...)
		battleID = p.BattleID
	case protocol.BattleEnded:
		battle(p.BattleUserList...)
		battleID = p.BattleInfo.BattleID
	default:
		return nil, "", false
	}
	return rooms, battleID, true
}

// deliver checks the events of one step, as the hub would queue them, then every invariant.
// gone is the session the step disconnected, if any: events may still name it (the hub skips
// it), but no other session without a connection.
func (m *machine) deliver(pre placement, out []Delivery, gone SessionID) {
	m.t.Helper()
	post := place(m.c)
	for _, d := range out {
		if _, err := json.Marshal(d.Payload); err != nil {
			m.fail("%s: payload %T does not marshal: %v", d.Type, d.Payload, err)
		}
		rooms, battleID, ok := eventRooms(d)
		if !ok {
			m.fail("%s: unexpected payload %T", d.Type, d.Payload)
		}
		// Who may receive it: the members, before or after the step, of the rooms it names,
		// of their groups before or after, and of the rooms of its battle.
		related := map[string]bool{}
		for _, id := range rooms {
			for _, x := range append(pre.groupOf[id], post.groupOf[id]...) {
				related[x] = true
			}
			related[id] = true
		}
		if b := m.c.battles[battleID]; b != nil {
			related[b.inviter.liveID] = true
			for _, iv := range b.invitees {
				related[iv.liveID] = true
			}
		}
		seen := map[SessionID]bool{}
		for _, s := range d.To {
			if seen[s] {
				m.fail("%s: session %d listed twice", d.Type, s)
			}
			seen[s] = true
			if _, ok := m.c.sessions[s]; !ok && s != gone {
				m.fail("%s: sent to session %d, which is not connected", d.Type, s)
			}
			if !related[pre.roomOf[s]] && !related[post.roomOf[s]] {
				m.fail("%s %+v: sent to session %d, in room %q before and %q after, which it is not about (%v)",
					d.Type, d.Payload, s, pre.roomOf[s], post.roomOf[s], rooms)
			}
		}
		m.checkScoreEvent(d)
	}
	for _, h := range m.c.TakeHooks() {
		if _, err := json.Marshal(h.Body); err != nil {
			m.fail("webhook %s: body %T does not marshal: %v", h.Command, h.Body, err)
		}
	}
	m.checkInvariants()
	m.checkJournal()
}

// checkScoreEvent checks score changes and battle ends: a score change reaches exactly the
// members of the participant rooms (BATTLE-042) with the model's scores, and no session sees
// a battle's versions go back (BATTLE-043, BATTLE-044).
func (m *machine) checkScoreEvent(d Delivery) {
	m.t.Helper()
	switch p := d.Payload.(type) {
	case protocol.BattleScoreChanged:
		b := m.c.battles[p.BattleID]
		if b == nil || b.state != battleRunning {
			m.fail("a score change of battle %q, which is not running", p.BattleID)
		}
		var want []SessionID
		for _, r := range m.c.rooms {
			if r.battle == b {
				want = append(want, r.sessions()...)
			}
		}
		got := slices.Clone(d.To)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			m.fail("score change of %s sent to %v; want every member of its participant rooms %v", b.id, got, want)
		}
		sm := m.model(p.BattleID)
		if p.Version != sm.version {
			m.fail("score change of %s: version %d; want %d", b.id, p.Version, sm.version)
		}
		for _, u := range p.BattleUserList {
			if u.Score != sm.scores[u.LiveID] {
				m.fail("score change of %s: %s scores %d; want %d", b.id, u.LiveID, u.Score, sm.scores[u.LiveID])
			}
		}
		for _, s := range d.To {
			k := sessionBattle{s, p.BattleID}
			if last, ok := m.seen[k]; ok && p.Version <= last {
				m.fail("session %d got version %d of %s after version %d", s, p.Version, p.BattleID, last)
			}
			m.seen[k] = p.Version
		}
	case protocol.BattleEnded:
		for _, s := range d.To {
			if last := m.seen[sessionBattle{s, p.BattleInfo.BattleID}]; p.Version < last {
				m.fail("session %d: %s ended at version %d after it saw version %d", s, p.BattleInfo.BattleID, p.Version, last)
			}
		}
	}
}

// checkInvariants checks the whole state: membership, seats, groups and their limits,
// pending requests, battles (a room in at most one), scores against the model, and timers
// (every live deadline in the heap, nothing else).
func (m *machine) checkInvariants() {
	m.t.Helper()
	c := m.c
	cfg := c.cfg
	for s, mem := range c.sessions {
		switch r := mem.room; {
		case mem.sess != s:
			m.fail("session %d holds member of session %d", s, mem.sess)
		case r == nil && mem.seat != -1:
			m.fail("session %d is in no room but on seat %d", s, mem.seat)
		case r == nil:
		case c.rooms[r.id] != r:
			m.fail("session %d is in room %q, which has ended", s, r.id)
		case mem.seat >= 0 && (mem.seat >= len(r.seats) || r.seats[mem.seat].user != mem):
			m.fail("session %d thinks it is on seat %d of %q", s, mem.seat, r.id)
		}
	}
	if len(c.listed) != len(c.rooms) {
		m.fail("%d rooms listed, %d exist", len(c.listed), len(c.rooms))
	}
	for i, r := range c.listed {
		if c.rooms[r.id] != r || (i > 0 && c.listed[i-1].seq >= r.seq) {
			m.fail("listed room %d (%q) is stale or out of order", i, r.id)
		}
	}
	groups := map[*group]bool{}
	timers := 0
	for id, r := range c.rooms {
		switch {
		case r.id != id:
			m.fail("room %q is kept as %q", r.id, id)
		case len(r.members) == 0 || r.members[0] != r.owner || r.owner.room != r:
			m.fail("room %q: the owner is not its first member", id)
		case len(r.members) > cfg.MaxUsersPerRoom:
			m.fail("room %q holds %d users; the limit is %d", id, len(r.members), cfg.MaxUsersPerRoom)
		case len(r.seats) < 1 || len(r.seats) > cfg.MaxSeatCount:
			m.fail("room %q has %d seats", id, len(r.seats))
		}
		for _, mem := range r.members {
			if c.sessions[mem.sess] != mem || mem.room != r || count(r.members, mem) != 1 {
				m.fail("room %q: member %d is stale or listed twice", id, mem.sess)
			}
		}
		for i, st := range r.seats {
			if st.user != nil && (st.user.room != r || st.user.seat != i) {
				m.fail("room %q seat %d: its user is elsewhere", id, i)
			}
			if st.user == nil && st.mic != protocol.MicOff {
				m.fail("room %q seat %d: free with the microphone on", id, i)
			}
		}
		if g := r.group; g != nil {
			groups[g] = true
			if count(g.rooms, r) != 1 || r.joinedGroup.IsZero() {
				m.fail("room %q: not listed once in its group", id)
			}
		} else if !r.joinedGroup.IsZero() || 1+len(r.outgoing) > cfg.MaxConnectedRooms {
			m.fail("room %q: unconnected with a join time or %d requests out", id, len(r.outgoing))
		}
		for to, p := range r.outgoing {
			if p.from != r || p.to.id != to || c.rooms[to] != p.to || p.to.incoming != p {
				m.fail("request %q -> %q is stale", id, to)
			}
			if p.timer != nil {
				m.checkTimer(p.timer, "request "+id+" -> "+to)
				timers++
			}
		}
		if p := r.incoming; p != nil {
			if p.to != r || c.rooms[p.from.id] != p.from || p.from.outgoing[id] != p {
				m.fail("request %q -> %q is stale", p.from.id, id)
			}
			if len(r.outgoing) > 0 || r.group != nil {
				m.fail("room %q has a request in while connected or inviting", id)
			}
		}
	}
	for g := range groups {
		if len(g.rooms) < 2 || len(g.rooms)+g.pendingRequests() > cfg.MaxConnectedRooms {
			m.fail("a group of %d rooms with %d requests out; the limit is %d", len(g.rooms), g.pendingRequests(), cfg.MaxConnectedRooms)
		}
		for _, r := range g.rooms {
			if r.group != g || c.rooms[r.id] != r {
				m.fail("group member %q is stale", r.id)
			}
		}
	}

	involved := map[*room][]*battle{}
	ended := 0
	for id, b := range c.battles {
		if b.id != id {
			m.fail("battle %q is kept as %q", b.id, id)
		}
		sm := m.model(id)
		if b.version != sm.version {
			m.fail("battle %s: version %d; want %d", id, b.version, sm.version)
		}
		for _, e := range b.board {
			if e.score != sm.scores[e.liveID] {
				m.fail("battle %s: %s scores %d; want %d (the sum of its accepted updates)", id, e.liveID, e.score, sm.scores[e.liveID])
			}
		}
		if b.state == battleEnded {
			ended++
			continue
		}
		if r := b.inviter.room; r != nil {
			involved[r] = append(involved[r], b)
		} else if b.state == battlePending {
			m.fail("battle %s is pending without its inviter's room", id)
		}
		for _, iv := range b.invitees {
			live := iv.answer == answerPending || iv.answer == answerAccepted
			switch {
			case live && iv.room != nil:
				involved[iv.room] = append(involved[iv.room], b)
			case live && b.state == battlePending:
				m.fail("battle %s: a pending or accepted invitee %q without its room", id, iv.liveID)
			case !live && iv.room != nil:
				m.fail("battle %s: invitee %q answered %d but still has its room", id, iv.liveID, iv.answer)
			}
			if iv.answer == answerPending {
				if b.state != battlePending {
					m.fail("battle %s is %v with a request unanswered", id, b.state)
				}
				if iv.timer != nil {
					m.checkTimer(iv.timer, "battle request "+id+" -> "+iv.liveID)
					timers++
				}
			}
		}
		switch b.state {
		case battlePending:
			if b.board != nil || b.version != 0 {
				m.fail("pending battle %s has a scoreboard", id)
			}
		case battleRunning:
			if len(b.participants()) < 2 || b.board[0] != b.inviter {
				m.fail("running battle %s has %d participants", id, len(b.participants()))
			}
			m.checkTimer(b.endTimer, "end of "+id)
			timers++
		}
	}
	for _, r := range c.rooms {
		bs := involved[r]
		if len(bs) > 1 || (len(bs) == 1) != (r.battle != nil) || (len(bs) == 1 && bs[0] != r.battle) {
			m.fail("room %q is in %d battles (its own link: %v)", r.id, len(bs), r.battle != nil)
		}
	}
	for r := range involved {
		if c.rooms[r.id] != r {
			m.fail("battle of ended room %q", r.id)
		}
	}
	if ended != len(c.ended) || len(c.ended) > maxEndedBattles {
		m.fail("%d ended battles kept, %d listed", ended, len(c.ended))
	}
	if c.timers.Len() != timers {
		m.fail("%d timers in the heap, %d deadlines alive", c.timers.Len(), timers)
	}
	for i, t := range c.timers {
		if t.index != i || (i > 0 && c.timers.Less(i, (i-1)/2)) {
			m.fail("timer heap is broken at %d", i)
		}
	}
}

// count is how many times x is in s.
func count[T comparable](s []T, x T) int {
	n := 0
	for _, y := range s {
		if y == x {
			n++
		}
	}
	return n
}

// checkTimer checks that t is scheduled.
func (m *machine) checkTimer(t *timer, what string) {
	m.t.Helper()
	if t == nil || t.index < 0 || t.index >= m.c.timers.Len() || m.c.timers[t.index] != t {
		m.fail("%s: its timer is not scheduled", what)
	}
}

// battleRef picks a battle ID: one the core made, one it may make next, or an unknown one.
func (m *machine) battleRef(p *program) string {
	i := p.pick(int(m.c.battleSeq) + 2)
	if i == 0 {
		return "nope"
	}
	return m.c.cfg.IDPrefix + strconv.Itoa(i)
}

// rooms picks a non-empty list of distinct room IDs from a bit mask.
func rooms(mask byte) []string {
	var out []string
	for i := 0; i < numRooms; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, roomID(i))
		}
	}
	if out == nil {
		out = []string{roomID(int(mask>>5) % numRooms)}
	}
	return out
}

// users picks a list of distinct user IDs from a bit mask (empty when the mask is 0).
func users(mask byte) []string {
	var out []string
	for i := 0; i < numUsers; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, userID(i))
		}
	}
	return out
}

// step runs the next command of p.
func (m *machine) step(p *program) {
	m.t.Helper()
	op := p.pick(numOps)
	switch op {
	case opCreateLive, opJoinLive, opLeaveLive, opEndLive, opTakeSeat, opLeaveSeat, opSeatAdmin,
		opRequestConnection, opAcceptConnection, opRejectConnection, opCancelConnection, opExitConnection:
		m.stepRoom(op, p.pick(numUsers), p)
	case opRequestBattle, opAcceptBattle, opRejectBattle, opCancelBattle, opExitBattle:
		m.stepBattle(op, p.pick(numUsers), p)
	case opRESTCreateBattle:
		from := p.pick(numRooms)
		var to []string
		for _, id := range rooms(p.byte()) {
			if id != roomID(from) {
				to = append(to, id)
			}
		}
		m.restJSON(protocol.APICreateBattle, map[string]any{"FromRoomId": roomID(from), "ToRoomIdList": to, "Duration": restMillis[p.pick(len(restMillis))]})
	case opRESTSetScore:
		id := m.battleRef(p)
		var opType any = []any{1, 2, "1", "2"}[p.pick(4)]
		items := make([]map[string]any, 1+p.pick(3))
		for i := range items {
			items[i] = map[string]any{"RoomId": roomID(p.pick(numRooms)), "Score": scoreValues[p.pick(len(scoreValues))]}
		}
		m.restJSON(protocol.APISetBattleScore, map[string]any{"BattleId": id, "OpType": opType, "ScoreList": items, "IdempotencyKey": idemKeys[p.pick(len(idemKeys))]})
	case opRESTGetBattle:
		if p.pick(2) == 0 {
			m.restJSON(protocol.APIGetBattleInfo, map[string]any{"BattleId": m.battleRef(p)})
		} else {
			m.restJSON(protocol.APIGetBattleInfo, map[string]any{"RoomId": roomID(p.pick(numRooms))})
		}
	case opLoseConnection:
		m.lose(p.pick(numUsers))
	case opReconnect:
		u := p.pick(numUsers)
		m.lose(u)
		m.online(u)
	case opAdvance, opTick:
		d := advances[p.pick(len(advances))]
		m.clock.Advance(d)
		if op == opTick {
			m.note("advance %v and tick", d)
			pre := place(m.c)
			out := m.c.Tick()
			m.noteOutcome(nil, out)
			m.deliver(pre, out, 0)
			if at, ok := m.c.NextDeadline(); ok && !at.After(m.clock.now) {
				m.fail("Tick left a deadline due at %v (now %v)", at, m.clock.now)
			}
		} else {
			m.note("advance %v", d)
			m.checkInvariants()
		}
	case opRaw:
		typ := rawTypes[p.pick(len(rawTypes))]
		m.handle(p.pick(numUsers), typ, p.take(p.pick(48)))
	}
}

// stepRoom runs a room, seat or co-host command of user u.
func (m *machine) stepRoom(op, u int, p *program) {
	switch op {
	case opCreateLive:
		req := map[string]any{"liveID": roomID(p.pick(numRooms))}
		if n := p.pick(4); n > 0 {
			req["maxSeatCount"] = n
		}
		m.request(u, protocol.ReqCreateLive, req)
	case opJoinLive:
		m.request(u, protocol.ReqJoinLive, protocol.LiveRef{LiveID: roomID(p.pick(numRooms))})
	case opLeaveLive:
		m.request(u, protocol.ReqLeaveLive, nil)
	case opEndLive:
		m.request(u, protocol.ReqEndLive, nil)
	case opTakeSeat:
		m.request(u, protocol.ReqTakeSeat, protocol.SeatRef{SeatIndex: ptr(p.pick(4))})
	case opLeaveSeat:
		m.request(u, protocol.ReqLeaveSeat, nil)
	case opSeatAdmin:
		switch p.pick(6) {
		case 0:
			m.request(u, protocol.ReqLockSeat, protocol.SeatRef{SeatIndex: ptr(p.pick(4))})
		case 1:
			m.request(u, protocol.ReqUnlockSeat, protocol.SeatRef{SeatIndex: ptr(p.pick(4))})
		case 2:
			m.request(u, protocol.ReqKickUserOutOfSeat, protocol.UserRef{UserID: userID(p.pick(numUsers))})
		case 3:
			m.request(u, protocol.ReqMoveUserToSeat, protocol.MoveUserToSeat{UserID: userID(p.pick(numUsers)), TargetIndex: ptr(p.pick(4)), Policy: p.pick(3)})
		case 4:
			m.request(u, protocol.ReqMuteMicrophone, nil)
		default:
			m.request(u, protocol.ReqUnmuteMicrophone, nil)
		}
	case opRequestConnection:
		req := map[string]any{"liveIDs": rooms(p.byte())}
		if t := p.pick(4); t > 0 {
			req["timeout"] = []int{0, 1, 5}[t-1]
		}
		m.request(u, protocol.ReqRequestConnection, req)
	case opAcceptConnection:
		m.request(u, protocol.ReqAcceptConnection, protocol.LiveRef{LiveID: roomID(p.pick(numRooms))})
	case opRejectConnection:
		m.request(u, protocol.ReqRejectConnection, protocol.LiveRef{LiveID: roomID(p.pick(numRooms))})
	case opCancelConnection:
		m.request(u, protocol.ReqCancelConnectionRequest, protocol.LiveIDList{LiveIDs: rooms(p.byte())})
	case opExitConnection:
		m.request(u, protocol.ReqDisconnect, nil)
	}
}

// stepBattle runs a battle command of user u.
func (m *machine) stepBattle(op, u int, p *program) {
	switch op {
	case opRequestBattle:
		cfg := map[string]any{}
		need := p.pick(3)
		if need > 0 {
			cfg["needResponse"] = need == 2
		}
		if d := p.pick(4); d > 0 {
			cfg["duration"] = []int{1, 10, 60}[d-1]
		}
		req := map[string]any{"userIDs": users(p.byte()), "config": cfg}
		if t := p.pick(4); t > 0 && need == 2 {
			req["timeout"] = []int{0, 1, 5}[t-1]
		}
		m.request(u, protocol.ReqRequestBattle, req)
	case opAcceptBattle:
		m.request(u, protocol.ReqAcceptBattle, protocol.BattleRef{BattleID: m.battleRef(p)})
	case opRejectBattle:
		m.request(u, protocol.ReqRejectBattle, protocol.BattleRef{BattleID: m.battleRef(p)})
	case opCancelBattle:
		m.request(u, protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: m.battleRef(p), UserIDs: users(p.byte())})
	case opExitBattle:
		m.request(u, protocol.ReqExitBattle, protocol.BattleRef{BattleID: m.battleRef(p)})
	}
}

// restJSON runs a REST call whose body is marshalled from v.
func (m *machine) restJSON(api string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		m.fail("marshal %T: %v", v, err)
	}
	m.rest(api, body)
}

// run interprets a whole program, checking after every step.
func (m *machine) run(code []byte) {
	p := &program{b: code[:min(len(code), maxProgram)]}
	for i := 0; i < maxSteps && p.more(); i++ {
		m.step(p)
	}
}

// FuzzCore interprets its input as a program of commands (program, step) over six users and
// five room IDs: rooms, seats, co-host requests and groups, battles over WebSocket and REST,
// scores, lost and replacing connections, and a fake clock moved by varied amounts with and
// without the hub's timer firing. It drives the core as the hub does and, after every step,
// checks the invariants of checkInvariants, the recipients of every event (deliver), the
// scores against the sum of the accepted set_battle_score updates, and that a refused
// request changes nothing.
func FuzzCore(f *testing.F) {
	for _, s := range machineSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		newMachine(t).run(code)
	})
}

// cmd encodes a command for the seeds.
func cmd(op int, args ...int) []byte {
	out := []byte{byte(op)}
	for _, a := range args {
		out = append(out, byte(a))
	}
	return out
}

// machineSeeds are programs that reach the interesting states: a full group, a full room, a
// battle with scores of both kinds, timeouts, lost hosts, the rate limit.
func machineSeeds() [][]byte {
	join := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	// u0..u3 host r0..r3; u0 invites r1 and r2, both accept: a full group of 3.
	group := join(
		cmd(opCreateLive, 0, 0, 0), cmd(opCreateLive, 1, 1, 3), cmd(opCreateLive, 2, 2, 0), cmd(opCreateLive, 3, 3, 1),
		cmd(opRequestConnection, 0, 0b0110, 0), cmd(opAcceptConnection, 1, 0), cmd(opAcceptConnection, 2, 0),
		cmd(opRequestConnection, 1, 0b1000, 0), // r3: full (code 4)
	)
	// A battle without responses between u0 and u1, scores added, overwritten, replayed.
	battle := join(group,
		cmd(opRequestBattle, 0, 0, 2, 0b10, 0),      // needResponse false, 10 s, user u1
		cmd(opRESTSetScore, 1, 0, 1, 0, 3, 1, 1, 1), // b1 add: r0 +100, r1 +1, key k1
		cmd(opRESTSetScore, 1, 0, 1, 0, 3, 1, 1, 1), // replayed key k1
		cmd(opRESTSetScore, 1, 1, 0, 0, 6, 0),       // b1 overwrite: r0 = MaxScore
		cmd(opRESTSetScore, 1, 0, 0, 0, 1, 0),       // r0 + 1 overflows: refused
		cmd(opRESTGetBattle, 0, 1),
		cmd(opExitBattle, 1, 1),
	)
	// Battle requests that need answers: accept, reject, time out, cancel.
	answers := join(group,
		cmd(opRequestBattle, 0, 2, 1, 0b110, 2), // needResponse, 1 s, u1 and u2, timeout 1 s
		cmd(opAcceptBattle, 1, 1), cmd(opTick, 3),
		cmd(opRESTSetScore, 1, 0, 0, 1, 2, 0),
		cmd(opTick, 3), cmd(opTick, 3),
		cmd(opRequestBattle, 1, 2, 3, 0b101, 0), cmd(opCancelBattle, 1, 2, 0b100), cmd(opRejectBattle, 0, 2),
	)
	// A REST battle between unconnected rooms; the host of one is lost mid-battle.
	rest := join(
		cmd(opCreateLive, 0, 0, 0), cmd(opCreateLive, 1, 1, 0), cmd(opCreateLive, 2, 2, 0),
		cmd(opJoinLive, 3, 0), cmd(opJoinLive, 4, 0), cmd(opJoinLive, 5, 0), // the 4th user of r0: full
		cmd(opRESTCreateBattle, 0, 0b110, 4),
		cmd(opRESTSetScore, 1, 0, 2, 1, 2, 2, 3, 0),
		cmd(opLoseConnection, 1), cmd(opRESTSetScore, 1, 0, 2, 1, 2, 2, 3, 0),
		cmd(opReconnect, 0), cmd(opRESTGetBattle, 0, 1), cmd(opTick, 9),
	)
	// Connection requests that time out, are cancelled, rejected; a lost inviter.
	requests := join(
		cmd(opCreateLive, 0, 0, 0), cmd(opCreateLive, 1, 1, 0), cmd(opCreateLive, 2, 2, 0),
		cmd(opRequestConnection, 0, 0b0110, 2), cmd(opAdvance, 3), cmd(opRejectConnection, 1, 0),
		cmd(opTick, 3), cmd(opRequestConnection, 2, 0b0011, 1), cmd(opCancelConnection, 2, 0b0001),
		cmd(opLoseConnection, 2), cmd(opExitConnection, 0),
	)
	// Seats: take, lock, move with each policy, kick, mute, leave.
	seats := join(
		cmd(opCreateLive, 0, 0, 3), cmd(opJoinLive, 1, 0), cmd(opJoinLive, 2, 0),
		cmd(opTakeSeat, 1, 1), cmd(opTakeSeat, 2, 2), cmd(opSeatAdmin, 0, 3, 1, 2, 2),
		cmd(opSeatAdmin, 0, 3, 2, 0, 1), cmd(opSeatAdmin, 0, 0, 1), cmd(opSeatAdmin, 1, 5),
		cmd(opSeatAdmin, 0, 2, 1), cmd(opLeaveSeat, 2), cmd(opLeaveLive, 1), cmd(opEndLive, 0),
	)
	// The battle rate limit: four battles within a minute.
	rate := slices.Clone(group)
	for i := 0; i < 4; i++ {
		rate = join(rate, cmd(opRequestBattle, 0, 0, 1, 0b10, 0), cmd(opTick, 3))
	}
	// Raw payloads: hostile bytes inside a program.
	raw := join(group, cmd(opRaw, 20, 0, 24), []byte(`{"userIDs":["u1"],"x":1}`), cmd(opRaw, 1, 3, 10), []byte("{\"liveID\xff"))
	return [][]byte{nil, group, battle, answers, rest, requests, seats, rate, raw}
}

// digest describes the core's state, to compare it before and after a refused request.
// Timestamps of battle creations (pruned by every requestBattle) are left out.
func digest(c *Core) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d timers %d battles %d hooks %d\n", c.nextSeq, c.timerSeq, c.battleSeq, len(c.hooks))
	sess := make([]SessionID, 0, len(c.sessions))
	for s := range c.sessions {
		sess = append(sess, s)
	}
	slices.Sort(sess)
	for _, s := range sess {
		mem := c.sessions[s]
		room := ""
		if mem.room != nil {
			room = mem.room.id
		}
		fmt.Fprintf(&b, "session %d %s room %q seat %d\n", s, mem.user.ID, room, mem.seat)
	}
	ids := make([]string, 0, len(c.rooms))
	for id := range c.rooms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := c.rooms[id]
		fmt.Fprintf(&b, "room %q %q %v %d %d %d owner %d members", r.id, r.name, r.public, r.template, r.createTime, r.seq, r.owner.sess)
		for _, mem := range r.members {
			fmt.Fprintf(&b, " %d", mem.sess)
		}
		for i, st := range r.seats {
			var u SessionID
			if st.user != nil {
				u = st.user.sess
			}
			fmt.Fprintf(&b, " seat%d{%v %d %d}", i, st.locked, u, st.mic)
		}
		if r.group != nil {
			b.WriteString(" group")
			for _, x := range r.group.rooms {
				fmt.Fprintf(&b, " %s", x.id)
			}
		}
		fmt.Fprintf(&b, " joined %d out", r.joinedGroup.UnixNano())
		for _, p := range sortedPending(r.outgoing) {
			fmt.Fprintf(&b, " %s", p.to.id)
		}
		if r.incoming != nil {
			fmt.Fprintf(&b, " in %s", r.incoming.from.id)
		}
		if r.battle != nil {
			fmt.Fprintf(&b, " battle %s", r.battle.id)
		}
		b.WriteString("\n")
	}
	for _, r := range c.listed {
		fmt.Fprintf(&b, "listed %s\n", r.id)
	}
	entrant := func(e *entrant) string {
		return fmt.Sprintf("%s/%v/%d", e.liveID, e.room != nil, e.score)
	}
	for _, id := range c.sortedBattleIDs() {
		bt := c.battles[id]
		fmt.Fprintf(&b, "battle %s %v %+v %d %v %s v%d %d/%d/%d inviter %s invitees", id, bt.state, bt.cfg, bt.timeoutS,
			bt.viaREST, bt.operator, bt.version, bt.created.UnixNano(), bt.started.UnixNano(), bt.ended.UnixNano(), entrant(bt.inviter))
		for _, iv := range bt.invitees {
			fmt.Fprintf(&b, " %s:%d", entrant(&iv.entrant), iv.answer)
		}
		b.WriteString(" board")
		for _, e := range bt.board {
			fmt.Fprintf(&b, " %s", entrant(e))
		}
		keys := make([]string, 0, len(bt.idempotent))
		for k := range bt.idempotent {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, " keys %q\n", keys)
	}
	for _, bt := range c.ended {
		fmt.Fprintf(&b, "ended %s\n", bt.id)
	}
	deadlines := make([]string, len(c.timers))
	for i, t := range c.timers {
		deadlines[i] = fmt.Sprintf("%d/%d", t.at.UnixNano(), t.seq)
	}
	sort.Strings(deadlines)
	fmt.Fprintf(&b, "deadlines %v\n", deadlines)
	return b.String()
}
