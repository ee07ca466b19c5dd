package core

import (
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// State is where session s stands: its room as joinLive describes it and the invitations
// waiting for its room's answer. The transport sends it to a session that resumed after the
// frames it missed were let go (RESUME-004); ok is false when s is not connected.
func (c *Core) State(s SessionID) (st protocol.SessionState, ok bool) {
	m, ok := c.sessions[s]
	if !ok {
		return st, false
	}
	st.ConnectionRequests = []protocol.ConnectionRequestOutcome{}
	st.BattleRequests = []protocol.BattleRequestEvent{}
	r := m.room
	if r == nil {
		return st, true
	}
	st.Room = &protocol.JoinLiveReply{LiveInfo: r.info(), SeatList: r.seatList(), ConnectedList: r.connectedList(), Battle: r.battleFor()}
	if mutant.On(mutant.StateOwnSeatsOnly) {
		st.Room.SeatList = r.ownSeats()
	}
	st.Host = r.owner == m
	if mutant.On(mutant.StateHostBySeat) {
		st.Host = m.seat >= 0
	}
	if !st.Host {
		return st, true
	}
	if p := r.incoming; p != nil {
		st.ConnectionRequests = append(st.ConnectionRequests, protocol.ConnectionRequestOutcome{Inviter: p.from.connUser(), Invitee: p.to.connUser()})
	}
	if mutant.On(mutant.StateListsOutgoing) {
		for _, p := range sortedPending(r.outgoing) {
			st.ConnectionRequests = append(st.ConnectionRequests, protocol.ConnectionRequestOutcome{Inviter: p.from.connUser(), Invitee: p.to.connUser()})
		}
	}
	if b := r.battle; b != nil && b.state == battlePending {
		if iv := b.inviteeOf(r); iv != nil && (iv.answer == answerPending || mutant.On(mutant.StateListsAccepted) && iv.answer == answerAccepted) {
			st.BattleRequests = append(st.BattleRequests, b.requestEvent(iv))
		}
	}
	return st, true
}
