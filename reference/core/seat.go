package core

import (
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// seat is one seat of a room.
type seat struct {
	locked bool
	user   *member // nil when free
	mic    int
}

// ownSeats is r's own seats, each tagged with r's liveID.
func (r *room) ownSeats() []protocol.SeatInfo {
	out := make([]protocol.SeatInfo, 0, len(r.seats))
	return r.appendSeats(out)
}

func (r *room) appendSeats(out []protocol.SeatInfo) []protocol.SeatInfo {
	for i, s := range r.seats {
		si := protocol.SeatInfo{LiveID: r.id, Index: i, IsLocked: s.locked}
		if s.user != nil {
			si.UserInfo = protocol.SeatUserInfo{
				UserID: s.user.user.ID, UserName: s.user.user.Name, AvatarURL: s.user.user.AvatarURL,
				LiveID: r.id, MicrophoneStatus: s.mic,
			}
		} else if mutant.On(mutant.EmptySeatLiveID) {
			si.UserInfo.LiveID = r.id // the seat's room, not the occupant's: there is none
		}
		out = append(out, si)
	}
	return out
}

// seatList is the seat list r's members see: the merged list of its group, or its own (SEAT-010).
func (r *room) seatList() []protocol.SeatInfo {
	if r.group == nil {
		return r.ownSeats()
	}
	return r.group.seatList()
}

// seatsChanged sends the new seat list to everyone who sees r's seats (SEAT-008).
func (c *Core) seatsChanged(r *room) {
	if r.group == nil {
		c.emit(r.sessions(), protocol.EvSeatListChanged, protocol.SeatListChanged{LiveID: r.id, SeatList: r.ownSeats()})
		return
	}
	c.groupSeatsChanged(r.group)
}

func (c *Core) groupSeatsChanged(g *group) {
	merged := g.seatList()
	for _, r := range g.rooms {
		c.emit(r.sessions(), protocol.EvSeatListChanged, protocol.SeatListChanged{LiveID: r.id, SeatList: merged})
	}
}

func (c *Core) seatIndex(r *room, idx *int, field string) (int, *protocol.Error) {
	if idx == nil {
		return 0, protocol.ErrInvalidParameter.With("%s: required", field)
	}
	hi := len(r.seats)
	if mutant.On(mutant.SeatIndexCappedAtNine) {
		hi = min(hi, 9)
	}
	if *idx < 0 || *idx >= hi {
		return 0, protocol.ErrSeatIndexInvalid.With("%s %d: room %q has seats 0..%d", field, *idx, r.id, len(r.seats)-1)
	}
	return *idx, nil
}

func (c *Core) takeSeat(m *member, req protocol.SeatRef) (any, *protocol.Error) {
	r := m.room
	if r == nil {
		return nil, protocol.ErrNotLiveMember
	}
	i, err := c.seatIndex(r, req.SeatIndex, "seatIndex")
	if err != nil {
		return nil, err
	}
	switch {
	case m.seat >= 0:
		return nil, protocol.ErrAlreadyOnSeat.With("already on seat %d", m.seat)
	case r.seats[i].locked:
		return nil, protocol.ErrSeatLocked.With("seat %d is locked", i)
	case r.seats[i].user != nil:
		return nil, protocol.ErrSeatOccupied.With("seat %d is occupied", i)
	case mutant.On(mutant.SeatIndexAcrossGroup) && r.group != nil:
		for _, o := range r.group.rooms {
			if i < len(o.seats) && o.seats[i].user != nil {
				return nil, protocol.ErrSeatOccupied.With("seat %d is occupied", i)
			}
		}
	}
	mic := protocol.MicOff
	if mutant.On(mutant.MicInherited) {
		mic = r.seats[i].mic // the microphone as the last occupant left it
	}
	r.seats[i].user, r.seats[i].mic, m.seat = m, mic, i
	c.seatsChanged(r)
	return protocol.Empty{}, nil
}

func (c *Core) leaveSeat(m *member) (any, *protocol.Error) {
	if m.room == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if m.seat < 0 {
		return nil, protocol.ErrNotOnSeat
	}
	c.vacate(m)
	c.seatsChanged(m.room)
	return protocol.Empty{}, nil
}

// vacate frees m's seat without sending an event.
func (c *Core) vacate(m *member) {
	s := &m.room.seats[m.seat]
	if mutant.On(mutant.MicInherited) {
		s.user = nil // the microphone stays as it was, for the next occupant
	} else {
		s.user, s.mic = nil, protocol.MicOff
	}
	if mutant.On(mutant.VacateClearsLock) {
		s.locked = false
	}
	m.seat = -1
}

func (c *Core) hostRoom(m *member) (*room, *protocol.Error) {
	if m.room == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if m.room.owner != m {
		return nil, protocol.ErrPermissionDenied.With("only the host of room %q may do this", m.room.id)
	}
	return m.room, nil
}

func (c *Core) setLock(m *member, req protocol.SeatRef, locked bool) (any, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	i, err := c.seatIndex(r, req.SeatIndex, "seatIndex")
	if err != nil {
		return nil, err
	}
	if mutant.On(mutant.LockLastSeatRefused) && i == len(r.seats)-1 {
		return nil, protocol.ErrSeatIndexInvalid.With("seatIndex %d: room %q has seats 0..%d", i, r.id, len(r.seats)-2)
	}
	if r.seats[i].locked != locked {
		r.seats[i].locked = locked
		c.seatsChanged(r)
	}
	return protocol.Empty{}, nil
}

// seated finds the member with userID on a seat of r.
func (r *room) seated(userID string) *member {
	for _, s := range r.seats {
		if s.user != nil && s.user.user.ID == userID {
			return s.user
		}
	}
	return nil
}

func (c *Core) kickUserOutOfSeat(m *member, req protocol.UserRef) (any, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	u := r.seated(req.UserID)
	if u == nil {
		return nil, protocol.ErrNotOnSeat.With("user %q is not on a seat of room %q", req.UserID, r.id)
	}
	c.vacate(u)
	c.seatsChanged(r)
	return protocol.Empty{}, nil
}

func (c *Core) moveUserToSeat(m *member, req protocol.MoveUserToSeat) (any, *protocol.Error) {
	r := m.room
	if r == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if r.owner != m && req.UserID != m.user.ID {
		return nil, protocol.ErrPermissionDenied.With("only the host may move other users")
	}
	if r.owner != m && req.Policy != protocol.MoveAbortWhenOccupied && !(mutant.On(mutant.MemberPolicyOntoFreeSeat) && freeSeat(r, req.TargetIndex)) {
		// Replacing or swapping displaces another user: a host-only power (SEAT-005, SEAT-007).
		return nil, protocol.ErrPermissionDenied.With("policy %d: only the host may replace or swap users", req.Policy)
	}
	to, err := c.seatIndex(r, req.TargetIndex, "targetIndex")
	if err != nil {
		return nil, err
	}
	if mutant.On(mutant.MoveLastSeatRefused) && to >= len(r.seats)-1 {
		return nil, protocol.ErrSeatIndexInvalid.With("targetIndex %d: room %q has seats 0..%d", to, r.id, len(r.seats)-2)
	}
	u := r.seated(req.UserID)
	if u == nil && mutant.On(mutant.MoveSeatsUnseated) {
		for _, x := range r.members { // a member on no seat is put on the target
			if x.user.ID == req.UserID && !r.seats[to].locked && r.seats[to].user == nil {
				r.seats[to].user, r.seats[to].mic, x.seat = x, protocol.MicOff, to
				c.seatsChanged(r)
				return protocol.Empty{}, nil
			}
		}
	}
	if u == nil {
		return nil, protocol.ErrNotOnSeat.With("user %q is not on a seat of room %q", req.UserID, r.id)
	}
	if u.seat == to {
		if mutant.On(mutant.MoveToOwnSeatEvent) {
			c.seatsChanged(r)
		}
		return protocol.Empty{}, nil
	}
	target := &r.seats[to]
	if target.locked {
		return nil, protocol.ErrSeatLocked.With("seat %d is locked", to)
	}
	from := u.seat
	occupant, mic := target.user, r.seats[from].mic
	switch {
	case occupant == nil:
		r.seats[from].user, r.seats[from].mic = nil, protocol.MicOff
	case req.Policy == protocol.MoveAbortWhenOccupied:
		return nil, protocol.ErrSeatOccupied.With("seat %d is occupied", to)
	case req.Policy == protocol.MoveForceReplace:
		if !mutant.On(mutant.ForceReplaceKeepsSeat) {
			occupant.seat = -1
		}
		r.seats[from].user, r.seats[from].mic = nil, protocol.MicOff
	default: // MoveSwapPosition
		r.seats[from].user, r.seats[from].mic = occupant, target.mic
		if mutant.On(mutant.MicStaysWithSeat) {
			r.seats[from].mic = mic
		}
		occupant.seat = from
	}
	if mutant.On(mutant.MicStaysWithSeat) {
		mic = target.mic // each seat keeps its microphone
	}
	target.user, target.mic = u, mic
	u.seat = to
	if mutant.On(mutant.MoveEventOwnRoomOnly) {
		c.emit(r.sessions(), protocol.EvSeatListChanged, protocol.SeatListChanged{LiveID: r.id, SeatList: r.seatList()})
		return protocol.Empty{}, nil
	}
	c.seatsChanged(r)
	return protocol.Empty{}, nil
}

// freeSeat reports whether idx names a seat of r no one is on (mutant.MemberPolicyOntoFreeSeat).
func freeSeat(r *room, idx *int) bool {
	return idx != nil && *idx >= 0 && *idx < len(r.seats) && r.seats[*idx].user == nil
}

func (c *Core) setMicrophone(m *member, status int) (any, *protocol.Error) {
	if m.room == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if m.seat < 0 {
		return nil, protocol.ErrNotOnSeat
	}
	if s := &m.room.seats[m.seat]; s.mic != status || (mutant.On(mutant.MuteWhenMutedEvent) && status == protocol.MicOff) {
		s.mic = status
		if r := m.room; mutant.On(mutant.MicChangeOwnRoomOnly) && r.group != nil {
			c.emit(r.sessions(), protocol.EvSeatListChanged, protocol.SeatListChanged{LiveID: r.id, SeatList: r.group.seatList()})
			return protocol.Empty{}, nil
		}
		c.seatsChanged(m.room)
	}
	return protocol.Empty{}, nil
}
