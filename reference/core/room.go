package core

import (
	"encoding/base64"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// room is one live room.
type room struct {
	id         string
	name       string
	public     bool
	template   int
	createTime int64
	seq        uint64 // creation order, the paging key of fetchLiveList

	owner   *member
	members []*member // owner first, then audience in join order
	seats   []seat

	group       *group
	joinedGroup time.Time           // when the room joined its group; zero when not connected
	outgoing    map[string]*pending // pending requests this room sent, by target liveID
	incoming    *pending            // the pending request this room received

	battle      *battle     // the battle the room is involved in, if any (BATTLE-021)
	lastScore   int64       // the room's score at its last battle's end (mutant.ScoreCarriedOver)
	shown       *battle     // the battle a joiner is shown (mutant.ExitedRoomShowsBattle)
	battleTimes []time.Time // when the room created battles, for BATTLE-004
}

func (r *room) sessions() []SessionID {
	out := make([]SessionID, len(r.members))
	for i, m := range r.members {
		out[i] = m.sess
	}
	return out
}

func (r *room) info() protocol.LiveInfo {
	li := protocol.LiveInfo{
		LiveID:           r.id,
		LiveName:         r.name,
		IsPublicVisible:  r.public,
		SeatTemplate:     r.template,
		MaxSeatCount:     len(r.seats),
		LiveOwner:        r.owner.liveUser(),
		CreateTime:       r.createTime,
		CurrentUserCount: len(r.members),
	}
	if mutant.On(mutant.TemplateNotKept) {
		li.SeatTemplate = 600 // the room store keeps no template
	}
	if mutant.On(mutant.OwnerIDOnly) {
		li.LiveOwner = protocol.LiveUserInfo{UserID: r.owner.user.ID} // the room index keeps the owner's ID only
	}
	return li
}

func (c *Core) createLive(m *member, req protocol.CreateLive) (any, *protocol.Error) {
	if m.room != nil {
		if r, ok := c.room(req.LiveID); ok && r != m.room && mutant.On(mutant.RefusedJoinCounted) {
			r.members = append(r.members, m) // counted as the request arrives, before the caller's state is checked
		}
		return nil, protocol.ErrAlreadyInLive.With("already in room %q", m.room.id)
	}
	if _, ok := c.room(req.LiveID); ok {
		return nil, protocol.ErrLiveIDAlreadyUsed.With("room %q already exists", req.LiveID)
	}
	if mutant.On(mutant.CreateStateFirst) {
		if err := checkCreateLiveFields(c, &req); err != nil {
			return nil, err
		}
	}
	seats := min(9, c.cfg.MaxSeatCount) // the default of ROOM-001: never more than the limit
	if req.MaxSeatCount != nil {
		seats = *req.MaxSeatCount
	}
	template := 600
	if req.SeatTemplate != nil {
		template = *req.SeatTemplate
	}
	public := req.IsPublicVisible == nil || *req.IsPublicVisible
	c.nextSeq++
	r := &room{
		id: req.LiveID, name: req.LiveName, public: public, template: template,
		createTime: c.nowMs(), seq: c.nextSeq, owner: m, members: []*member{m},
		seats: make([]seat, seats), outgoing: make(map[string]*pending),
	}
	if mutant.On(mutant.CreateTimeSeconds) {
		r.createTime /= 1000
	}
	c.rooms[r.id] = r
	c.listed = append(c.listed, r)
	m.room = r
	r.seats[0].user = m
	m.seat = 0
	info := r.info()
	// The reply says what was asked and who asked: the same as info() gives, but for the
	// mutants TemplateNotKept and OwnerIDOnly, whose rooms keep less.
	info.SeatTemplate, info.LiveOwner = template, m.liveUser()
	return protocol.CreateLiveReply{LiveInfo: info, SeatList: r.ownSeats()}, nil
}

// room finds the room liveID (regardless of case: mutant.RoomIDsFoldCase).
func (c *Core) room(liveID string) (*room, bool) {
	r, ok := c.rooms[liveID]
	if ok || !mutant.On(mutant.RoomIDsFoldCase) {
		return r, ok
	}
	for _, id := range slices.Sorted(maps.Keys(c.rooms)) {
		if strings.EqualFold(id, liveID) {
			return c.rooms[id], true
		}
	}
	return nil, false
}

// liveUser is m's user as a LiveInfo's liveOwner describes it.
func (m *member) liveUser() protocol.LiveUserInfo {
	return protocol.LiveUserInfo{UserID: m.user.ID, UserName: m.user.Name, AvatarURL: m.user.AvatarURL}
}

func (c *Core) endLive(m *member) (any, *protocol.Error) {
	if m.room == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if m.room.owner != m {
		return nil, protocol.ErrPermissionDenied.With("only the host may end room %q", m.room.id)
	}
	c.endRoom(m.room, protocol.EndedByHost)
	return protocol.Empty{}, nil
}

// endRoom ends r: pending requests closed, battle left, group left, audience told, room
// removed (ROOM-007, BATTLE-023).
func (c *Core) endRoom(r *room, reason int) {
	c.closeRequestsOf(r)
	if !mutant.On(mutant.GroupLeftBeforeBattle) {
		c.leaveBattle(r)
	}
	if r.group != nil {
		c.leaveGroup(r, true)
	}
	if mutant.On(mutant.GroupLeftBeforeBattle) {
		c.leaveBattle(r)
	}
	var audience []SessionID
	for _, m := range r.members {
		m.room = nil
		if !mutant.On(mutant.SeatKeptAfterRoomEnd) && !(mutant.On(mutant.HostSeatKeptAtEnd) && m == r.owner) {
			m.seat = -1
		}
		if m != r.owner {
			audience = append(audience, m.sess)
		}
	}
	msg := "ended by the host"
	if reason == protocol.EndedByServer {
		msg = "the host's connection was lost"
	}
	if mutant.On(mutant.NoLiveEnded) {
		audience = nil
	}
	c.emit(audience, protocol.EvLiveEnded, protocol.LiveEnded{LiveID: r.id, Reason: reason, Message: msg})
	delete(c.rooms, r.id)
	if mutant.On(mutant.EndedRoomListed) {
		return
	}
	i := sort.Search(len(c.listed), func(i int) bool { return c.listed[i].seq >= r.seq })
	c.listed = append(c.listed[:i], c.listed[i+1:]...)
}

func (c *Core) joinLive(m *member, req protocol.LiveRef) (any, *protocol.Error) {
	if r := m.room; r != nil && r.owner != m && r.id == req.LiveID && mutant.On(mutant.RejoinSameRoom) {
		return protocol.JoinLiveReply{LiveInfo: r.info(), SeatList: r.seatList(), ConnectedList: r.connectedList(), Battle: r.battleFor()}, nil
	}
	if m.room != nil {
		if r, ok := c.room(req.LiveID); ok && r != m.room && mutant.On(mutant.RefusedJoinCounted) {
			r.members = append(r.members, m) // counted as the request arrives, before the caller's state is checked
		}
		return nil, protocol.ErrAlreadyInLive.With("already in room %q", m.room.id)
	}
	r, ok := c.room(req.LiveID)
	if !ok || (mutant.On(mutant.PrivateNotJoinable) && !r.public) {
		return nil, protocol.ErrLiveNotExist.With("room %q does not exist", req.LiveID)
	}
	if len(r.members) >= c.cfg.MaxUsersPerRoom && !(mutant.On(mutant.FiftyFirstUser) && len(r.members) == c.cfg.MaxUsersPerRoom) {
		return nil, protocol.ErrLiveMembersFull.With("room %q holds %d users", r.id, len(r.members))
	}
	r.members = append(r.members, m)
	m.room = r
	if mutant.On(mutant.JoinSendsSeatEvent) {
		c.seatsChanged(r)
	}
	return protocol.JoinLiveReply{LiveInfo: r.info(), SeatList: r.seatList(), ConnectedList: r.connectedList(), Battle: r.battleFor()}, nil
}

func (c *Core) leaveLive(m *member) (any, *protocol.Error) {
	if m.room == nil {
		return nil, protocol.ErrNotLiveMember
	}
	if m.room.owner == m {
		return nil, protocol.ErrPermissionDenied.With("the host must use endLive")
	}
	c.leaveRoom(m)
	return protocol.Empty{}, nil
}

// leaveRoom removes an audience member, freeing its seat (SEAT-009).
// The member is gone before the seat event, so it does not get it after leaving.
func (c *Core) leaveRoom(m *member) {
	r := m.room
	for i, x := range r.members {
		if x == m {
			r.members = append(r.members[:i], r.members[i+1:]...)
			break
		}
	}
	m.room = nil
	if b := r.battle; b != nil && b.state == battleRunning && mutant.On(mutant.LeaverKeepsBattle) {
		b.left = append(b.left, m.sess)
	}
	if m.seat >= 0 {
		r.seats[m.seat] = seat{locked: r.seats[m.seat].locked && !mutant.On(mutant.LockLostOnLeave)}
		m.seat = -1
		c.seatsChanged(r)
	} else if mutant.On(mutant.SeatlessLeaveEvent) {
		c.seatsChanged(r) // a departure always republishes the seats
	}
}

const cursorPrefix = "pkarena-v1:"

func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatUint(seq, 10)))
}

func decodeCursor(s string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, false
	}
	seq, err := strconv.ParseUint(strings.TrimPrefix(string(b), cursorPrefix), 10, 64)
	return seq, err == nil
}

func (c *Core) fetchLiveList(_ *member, req protocol.FetchLiveList) (any, *protocol.Error) {
	after := uint64(0)
	if req.Cursor != "" {
		seq, ok := decodeCursor(req.Cursor)
		if !ok {
			return nil, protocol.ErrInvalidParameter.With("cursor: not a cursor returned by fetchLiveList")
		}
		after = seq
	}
	count := req.Count
	if count == 0 {
		count = 20
	}
	reply := protocol.FetchLiveListReply{LiveInfoList: []protocol.LiveInfo{}}
	var last uint64
	i := sort.Search(len(c.listed), func(i int) bool { return c.listed[i].seq > after })
	if mutant.On(mutant.CursorByCreationMs) && req.Cursor != "" {
		i = sort.Search(len(c.listed), func(i int) bool { return uint64(c.listed[i].createTime) > after })
	}
	for ; i < len(c.listed); i++ {
		r := c.listed[i]
		if !r.public {
			continue
		}
		if len(reply.LiveInfoList) == count {
			// Another public room follows the page: hand out a cursor after the last one.
			reply.Cursor = encodeCursor(last)
			break
		}
		info := r.info()
		if mutant.On(mutant.ListCountAtCreation) {
			info.CurrentUserCount = 1 // the room as it was created: its host alone
		}
		reply.LiveInfoList = append(reply.LiveInfoList, info)
		last = r.seq
		if mutant.On(mutant.CursorByCreationMs) {
			last = uint64(r.createTime) // the next page starts after this millisecond
		}
	}
	return reply, nil
}

func (c *Core) fetchLiveInfo(_ *member, req protocol.LiveRef) (any, *protocol.Error) {
	r, ok := c.room(req.LiveID)
	if !ok {
		return nil, protocol.ErrLiveNotExist.With("room %q does not exist", req.LiveID)
	}
	return protocol.FetchLiveInfoReply{LiveInfo: r.info()}, nil
}
