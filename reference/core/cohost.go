package core

import (
	"cmp"
	"slices"
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// group is a co-host connection group: 2..MaxConnectedRooms rooms in join order.
type group struct {
	rooms []*room
}

func (g *group) users() []protocol.ConnectionUser {
	out := make([]protocol.ConnectionUser, len(g.rooms))
	for i, r := range g.ordered() {
		out[i] = r.connUser()
	}
	return out
}

// ordered is the group's rooms in join order (COHOST-020, SEAT-010).
func (g *group) ordered() []*room {
	if !mutant.On(mutant.ConnectedByCreation) {
		return g.rooms
	}
	out := slices.Clone(g.rooms)
	slices.SortFunc(out, func(a, b *room) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func (g *group) seatList() []protocol.SeatInfo {
	n := 0
	for _, r := range g.rooms {
		n += len(r.seats)
	}
	out := make([]protocol.SeatInfo, 0, n)
	for _, r := range g.ordered() {
		out = r.appendSeats(out)
	}
	return out
}

// pendingRequests counts the requests sent by the group's rooms that are still open.
func (g *group) pendingRequests() int {
	n := 0
	for _, r := range g.rooms {
		n += len(r.outgoing)
	}
	return n
}

// pending is an open connection request from one room to another.
type pending struct {
	from, to *room
	timer    *timer // nil: never times out
}

// connUser is r's host as the co-host feature shows it.
func (r *room) connUser() protocol.ConnectionUser {
	u := protocol.ConnectionUser{LiveID: r.id, UserID: r.owner.user.ID, UserName: r.owner.user.Name, AvatarURL: r.owner.user.AvatarURL}
	if !r.joinedGroup.IsZero() {
		u.JoinConnectionTime = r.joinedGroup.UnixMilli()
	}
	return u
}

// connectedList is what r's members see as connected: every room of the group, or [].
func (r *room) connectedList() []protocol.ConnectionUser {
	if r.group == nil {
		return []protocol.ConnectionUser{}
	}
	return r.group.users()
}

// inGroupOf reports whether r is a or in a's group.
func (r *room) inGroupOf(a *room) bool {
	return r == a || (a.group != nil && r.group == a.group)
}

func (c *Core) requestConnection(m *member, req protocol.RequestConnection) (any, *protocol.Error) {
	a, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	if a.incoming != nil {
		return nil, protocol.ErrPendingConnectionRequest.With("room %q has a pending request from %q: answer it first", a.id, a.incoming.from.id)
	}
	timeout := c.cfg.DefaultInviteTimeout
	if req.Timeout != nil && !(mutant.On(mutant.TimeoutZeroDefault) && *req.Timeout == 0) {
		timeout = time.Duration(*req.Timeout) * time.Second
	}
	if mutant.On(mutant.ConnTimeoutDoubled) {
		timeout *= 2
	}
	used := 1 + len(a.outgoing)
	if a.group != nil {
		used = len(a.group.rooms) + a.group.pendingRequests()
	}
	if mutant.On(mutant.EarlierRequestsUncounted) {
		used = 1
		if a.group != nil {
			used = len(a.group.rooms)
		}
	}
	results := make(map[string]int, len(req.LiveIDs))
	var created []*pending
	for _, id := range req.LiveIDs {
		t, ok := c.rooms[id]
		switch {
		case !ok:
			results[id] = protocol.ConnRoomNotExist
		case t.inGroupOf(a) || (t.incoming != nil && t.incoming.from.inGroupOf(a)):
			results[id] = protocol.ConnConnecting
		case t.group != nil || t.incoming != nil || len(t.outgoing) > 0:
			results[id] = protocol.ConnConnectingOtherRoom
		case used >= c.cfg.MaxConnectedRooms && !(mutant.On(mutant.TenthRoom) && used == c.cfg.MaxConnectedRooms):
			results[id] = protocol.ConnFull
		default:
			p := &pending{from: a, to: t}
			if timeout > 0 {
				p.timer = c.after(timeout, func() { c.timeoutRequest(p) })
			}
			a.outgoing[t.id] = p
			t.incoming = p
			used++
			created = append(created, p)
			results[id] = protocol.ConnSuccess
		}
	}
	if len(created) > 0 {
		invitees := make([]protocol.ConnectionUser, len(created))
		for i, p := range created {
			invitees[i] = p.to.connUser()
		}
		ev := protocol.ConnectionRequestReceived{Inviter: a.connUser(), InviteeList: invitees, ExtensionInfo: req.ExtensionInfo}
		if mutant.On(mutant.InviterJoinTimeZero) {
			ev.Inviter.JoinConnectionTime = 0
		}
		for _, p := range created {
			c.emit(c.hostOf(p.to), protocol.EvConnectionRequestReceived, ev)
		}
	}
	return protocol.RequestConnectionReply{Results: results}, nil
}

func (c *Core) cancelConnectionRequest(m *member, req protocol.LiveIDList) (any, *protocol.Error) {
	a, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	for _, id := range req.LiveIDs {
		if c.outgoingOf(a, id) == nil {
			return nil, protocol.ErrConnectionNotExist.With("room %q has no pending request to %q", a.id, id)
		}
	}
	for _, id := range req.LiveIDs {
		c.cancelRequest(c.outgoingOf(a, id))
	}
	return protocol.Empty{}, nil
}

// outgoingOf is a's pending request to the room id, or nil.
func (c *Core) outgoingOf(a *room, id string) *pending {
	if p := a.outgoing[id]; p != nil || !mutant.On(mutant.GroupmateCancels) || a.group == nil {
		return p
	}
	for _, r := range a.group.rooms { // any request of the caller's group
		if p := r.outgoing[id]; p != nil {
			return p
		}
	}
	return nil
}

func (c *Core) cancelRequest(p *pending) {
	c.closeRequest(p)
	c.emit(c.hostOf(p.to), protocol.EvConnectionRequestCancelled, outcome(p))
}

func (c *Core) rejectRequest(p *pending) {
	c.closeRequest(p)
	c.emit(c.hostOf(p.from), protocol.EvConnectionRequestReject, outcome(p))
}

func (c *Core) timeoutRequest(p *pending) {
	c.closeRequest(p)
	to := append(c.hostOf(p.from), c.hostOf(p.to)...)
	if mutant.On(mutant.TimeoutOneSide) {
		to = to[:1]
	}
	c.emit(to, protocol.EvConnectionRequestTimeout, outcome(p))
}

// hostOf is the session of r's host, the recipient of a connection request's events
// (COHOST-002..014).
func (c *Core) hostOf(r *room) []SessionID {
	if mutant.On(mutant.ConnRequestsToAudience) {
		return r.sessions()
	}
	return []SessionID{r.owner.sess}
}

func outcome(p *pending) protocol.ConnectionRequestOutcome {
	return protocol.ConnectionRequestOutcome{Inviter: p.from.connUser(), Invitee: p.to.connUser()}
}

// closeRequest removes p from both rooms and cancels its timer.
func (c *Core) closeRequest(p *pending) {
	p.timer.cancel()
	delete(p.from.outgoing, p.to.id)
	p.to.incoming = nil
}

// closeRequestsOf closes every request r sent or received because r is ending (COHOST-017).
func (c *Core) closeRequestsOf(r *room) {
	for _, p := range sortedPending(r.outgoing) {
		c.cancelRequest(p)
	}
	if r.incoming != nil {
		c.rejectRequest(r.incoming)
	}
}

// answer finds the pending request from liveID to the caller's room.
func (c *Core) answer(m *member, req protocol.LiveRef) (*pending, *protocol.Error) {
	t, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	if t.incoming == nil || t.incoming.from.id != req.LiveID {
		return nil, protocol.ErrConnectionNotExist.With("room %q has no pending request from %q", t.id, req.LiveID)
	}
	return t.incoming, nil
}

func (c *Core) acceptConnection(m *member, req protocol.LiveRef) (any, *protocol.Error) {
	p, err := c.answer(m, req)
	if err != nil {
		return nil, err
	}
	if g := p.from.group; g != nil && len(g.rooms) >= c.cfg.MaxConnectedRooms && !mutant.On(mutant.TenthRoom) {
		// requestConnection reserves a place for every pending request, so this cannot happen.
		return nil, protocol.ErrInternal.With("group of %q is full", p.from.id)
	}
	c.closeRequest(p)
	ev := protocol.EvConnectionRequestAccept
	if g := p.from.group; mutant.On(mutant.GrownGroupAcceptAsReject) && g != nil && len(g.rooms) >= 3 {
		ev = protocol.EvConnectionRequestReject
	}
	c.emit(c.hostOf(p.from), ev, outcome(p))
	c.joinGroup(p.from, p.to)
	return protocol.Empty{}, nil
}

func (c *Core) rejectConnection(m *member, req protocol.LiveRef) (any, *protocol.Error) {
	p, err := c.answer(m, req)
	if err != nil {
		return nil, err
	}
	c.rejectRequest(p)
	return protocol.Empty{}, nil
}

func (c *Core) disconnect(m *member) (any, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	if r.group == nil {
		return nil, protocol.ErrConnectionNotExist.With("room %q is not connected", r.id)
	}
	c.leaveBattle(r)
	c.leaveGroup(r, false)
	return protocol.Empty{}, nil
}

// joinGroup adds t to a's group, forming one if a is not connected (COHOST-011, COHOST-020).
func (c *Core) joinGroup(a, t *room) {
	now := c.clock.Now()
	var joined []*room
	if a.group == nil {
		a.group = &group{rooms: []*room{a}}
		a.joinedGroup = now
		joined = append(joined, a)
	}
	g := a.group
	if mutant.On(mutant.GroupTimeRestamped) {
		a.joinedGroup = now
	}
	g.rooms = append(g.rooms, t)
	t.group, t.joinedGroup = g, now
	joined = append(joined, t)

	joinedUsers := make([]protocol.ConnectionUser, len(joined))
	for i, r := range joined {
		joinedUsers[i] = r.connUser()
	}
	ev := protocol.ConnectionUserListChanged{ConnectedList: g.users(), JoinedList: joinedUsers, LeavedList: []protocol.ConnectionUser{}}
	for _, r := range g.rooms {
		to := r.sessions()
		if mutant.On(mutant.GroupHostsOnly) {
			to = to[:1]
		}
		c.emit(to, protocol.EvConnectionUserListChanged, ev)
	}
	c.groupSeatsChanged(g)
}

// leaveGroup removes r from its group, dissolving it when one room is left (COHOST-030).
// An ending room's own members get no events: its audience learns from onLiveEnded.
func (c *Core) leaveGroup(r *room, ending bool) {
	g := r.group
	leaver := []protocol.ConnectionUser{r.connUser()}
	for i, x := range g.rooms {
		if x == r {
			g.rooms = append(g.rooms[:i], g.rooms[i+1:]...)
			break
		}
	}
	r.group, r.joinedGroup = nil, time.Time{}
	if len(g.rooms) == 1 {
		last := g.rooms[0]
		last.group, last.joinedGroup = nil, time.Time{}
		c.emit(last.sessions(), protocol.EvConnectionUserListChanged, protocol.ConnectionUserListChanged{
			ConnectedList: []protocol.ConnectionUser{}, JoinedList: []protocol.ConnectionUser{}, LeavedList: leaver})
	} else {
		ev := protocol.ConnectionUserListChanged{ConnectedList: g.users(), JoinedList: []protocol.ConnectionUser{}, LeavedList: leaver}
		for _, x := range g.rooms {
			c.emit(x.sessions(), protocol.EvConnectionUserListChanged, ev)
		}
	}
	if !ending {
		c.emit(r.sessions(), protocol.EvConnectionUserListChanged, protocol.ConnectionUserListChanged{
			ConnectedList: []protocol.ConnectionUser{}, JoinedList: []protocol.ConnectionUser{}, LeavedList: leaver})
	}
	if len(g.rooms) == 1 {
		c.seatsChanged(g.rooms[0])
	} else {
		c.groupSeatsChanged(g)
	}
	if !ending {
		c.seatsChanged(r)
	}
}
