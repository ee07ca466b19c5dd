package client

import "context"

// Heartbeat sends a heartbeat (HEART-001).
func (c *Client) Heartbeat(ctx context.Context) error {
	return c.Call(ctx, ReqHeartbeat, nil, nil)
}

// CreateLive creates a room hosted by the caller (ROOM-001).
func (c *Client) CreateLive(ctx context.Context, req CreateLiveRequest) (CreateLiveReply, error) {
	var r CreateLiveReply
	err := c.Call(ctx, ReqCreateLive, req, &r)
	return r, err
}

// EndLive ends the caller's room (ROOM-007).
func (c *Client) EndLive(ctx context.Context) error {
	return c.Call(ctx, ReqEndLive, nil, nil)
}

// JoinLive joins a room as audience (ROOM-005).
func (c *Client) JoinLive(ctx context.Context, liveID string) (JoinLiveReply, error) {
	var r JoinLiveReply
	err := c.Call(ctx, ReqJoinLive, liveRef{liveID}, &r)
	return r, err
}

// LeaveLive leaves the room the caller is audience of (ROOM-006).
func (c *Client) LeaveLive(ctx context.Context) error {
	return c.Call(ctx, ReqLeaveLive, nil, nil)
}

// FetchLiveList returns a page of public rooms (ROOM-008); count 0 lets the server choose.
func (c *Client) FetchLiveList(ctx context.Context, cursor string, count int) (FetchLiveListReply, error) {
	var r FetchLiveListReply
	err := c.Call(ctx, ReqFetchLiveList, struct {
		Cursor string `json:"cursor,omitempty"`
		Count  int    `json:"count,omitempty"`
	}{cursor, count}, &r)
	return r, err
}

// FetchLiveInfo returns a room's info (ROOM-009).
func (c *Client) FetchLiveInfo(ctx context.Context, liveID string) (LiveInfo, error) {
	var r FetchLiveInfoReply
	err := c.Call(ctx, ReqFetchLiveInfo, liveRef{liveID}, &r)
	return r.LiveInfo, err
}

type liveRef struct {
	LiveID string `json:"liveID"`
}

type seatRef struct {
	SeatIndex int `json:"seatIndex"`
}

// TakeSeat puts the caller on seat index (SEAT-001).
func (c *Client) TakeSeat(ctx context.Context, index int) error {
	return c.Call(ctx, ReqTakeSeat, seatRef{index}, nil)
}

// LeaveSeat frees the caller's seat (SEAT-002).
func (c *Client) LeaveSeat(ctx context.Context) error {
	return c.Call(ctx, ReqLeaveSeat, nil, nil)
}

// LockSeat locks a seat of the caller's room (SEAT-003).
func (c *Client) LockSeat(ctx context.Context, index int) error {
	return c.Call(ctx, ReqLockSeat, seatRef{index}, nil)
}

// UnlockSeat unlocks a seat of the caller's room (SEAT-003).
func (c *Client) UnlockSeat(ctx context.Context, index int) error {
	return c.Call(ctx, ReqUnlockSeat, seatRef{index}, nil)
}

// KickUserOutOfSeat frees the seat of userID (SEAT-004).
func (c *Client) KickUserOutOfSeat(ctx context.Context, userID string) error {
	return c.Call(ctx, ReqKickUserOutOfSeat, struct {
		UserID string `json:"userID"`
	}{userID}, nil)
}

// MoveUserToSeat moves userID to seat target with a MoveXxx policy (SEAT-005).
func (c *Client) MoveUserToSeat(ctx context.Context, userID string, target, policy int) error {
	return c.Call(ctx, ReqMoveUserToSeat, struct {
		UserID      string `json:"userID"`
		TargetIndex int    `json:"targetIndex"`
		Policy      int    `json:"policy"`
	}{userID, target, policy}, nil)
}

// MuteMicrophone sets the caller's microphone off (SEAT-006).
func (c *Client) MuteMicrophone(ctx context.Context) error {
	return c.Call(ctx, ReqMuteMicrophone, nil, nil)
}

// UnmuteMicrophone sets the caller's microphone on (SEAT-006).
func (c *Client) UnmuteMicrophone(ctx context.Context) error {
	return c.Call(ctx, ReqUnmuteMicrophone, nil, nil)
}

// RequestConnection invites rooms to connect (COHOST-002) and returns the code per room.
func (c *Client) RequestConnection(ctx context.Context, req RequestConnectionRequest) (map[string]int, error) {
	var r RequestConnectionReply
	err := c.Call(ctx, ReqRequestConnection, req, &r)
	return r.Results, err
}

// CancelConnectionRequest cancels the caller's pending requests to liveIDs (COHOST-010).
func (c *Client) CancelConnectionRequest(ctx context.Context, liveIDs ...string) error {
	return c.Call(ctx, ReqCancelConnectionRequest, struct {
		LiveIDs []string `json:"liveIDs"`
	}{liveIDs}, nil)
}

// AcceptConnection accepts the pending request from the inviter's room liveID (COHOST-011).
func (c *Client) AcceptConnection(ctx context.Context, liveID string) error {
	return c.Call(ctx, ReqAcceptConnection, liveRef{liveID}, nil)
}

// RejectConnection rejects the pending request from the inviter's room liveID (COHOST-012).
func (c *Client) RejectConnection(ctx context.Context, liveID string) error {
	return c.Call(ctx, ReqRejectConnection, liveRef{liveID}, nil)
}

// Disconnect takes the caller's room out of its connection group (COHOST-030).
func (c *Client) Disconnect(ctx context.Context) error {
	return c.Call(ctx, ReqDisconnect, nil, nil)
}

// RequestBattle invites hosts to a battle (BATTLE-002..008).
func (c *Client) RequestBattle(ctx context.Context, req RequestBattleRequest) (RequestBattleReply, error) {
	var r RequestBattleReply
	err := c.Call(ctx, ReqRequestBattle, req, &r)
	return r, err
}

type battleRef struct {
	BattleID string `json:"battleID"`
}

// CancelBattleRequest cancels the pending requests of a battle to userIDs (BATTLE-010).
func (c *Client) CancelBattleRequest(ctx context.Context, battleID string, userIDs ...string) error {
	return c.Call(ctx, ReqCancelBattleRequest, struct {
		BattleID string   `json:"battleID"`
		UserIDs  []string `json:"userIDs"`
	}{battleID, userIDs}, nil)
}

// AcceptBattle accepts the caller's pending request in a battle (BATTLE-009).
func (c *Client) AcceptBattle(ctx context.Context, battleID string) error {
	return c.Call(ctx, ReqAcceptBattle, battleRef{battleID}, nil)
}

// RejectBattle rejects the caller's pending request in a battle (BATTLE-009).
func (c *Client) RejectBattle(ctx context.Context, battleID string) error {
	return c.Call(ctx, ReqRejectBattle, battleRef{battleID}, nil)
}

// ExitBattle takes the caller's room out of a running battle (BATTLE-022).
func (c *Client) ExitBattle(ctx context.Context, battleID string) error {
	return c.Call(ctx, ReqExitBattle, battleRef{battleID}, nil)
}
