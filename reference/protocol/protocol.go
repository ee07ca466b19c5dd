// Package protocol holds the reference server's types for the pkarena signalling protocol v1
// (conformance/SPEC.md): the envelope, one struct per request and event payload, and the
// data types they carry. The conformance client keeps its own copy of these types on purpose,
// so that a mistake here cannot hide from the suite; fixtures/agreement_test.go proves that both
// copies agree with SPEC.md and the JSON Schemas.
package protocol

import "encoding/json"

// Version is the protocol version advertised in the welcome.
const Version = "v1"

// Path is the WebSocket endpoint (TRANS-001).
const Path = "/v1/ws"

// Request is a client frame (TRANS-003).
type Request struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Frame is a server frame (TRANS-004): a reply when Type is TypeReply, an event otherwise.
type Frame struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	TS      int64           `json:"ts"`
	ID      *string         `json:"id,omitempty"`
	Code    *int            `json:"code,omitempty"`
	Message *string         `json:"message,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// TypeReply is the type of every reply frame (TRANS-006).
const TypeReply = "reply"

// TypeWelcome is the type of the first frame of every connection (WELCOME-001).
const TypeWelcome = "welcome"

// Request types (SPEC §5, §7, §8, §9, §12).
const (
	ReqHeartbeat               = "heartbeat"
	ReqCreateLive              = "createLive"
	ReqEndLive                 = "endLive"
	ReqJoinLive                = "joinLive"
	ReqLeaveLive               = "leaveLive"
	ReqFetchLiveList           = "fetchLiveList"
	ReqFetchLiveInfo           = "fetchLiveInfo"
	ReqTakeSeat                = "takeSeat"
	ReqLeaveSeat               = "leaveSeat"
	ReqLockSeat                = "lockSeat"
	ReqUnlockSeat              = "unlockSeat"
	ReqKickUserOutOfSeat       = "kickUserOutOfSeat"
	ReqMoveUserToSeat          = "moveUserToSeat"
	ReqMuteMicrophone          = "muteMicrophone"
	ReqUnmuteMicrophone        = "unmuteMicrophone"
	ReqRequestConnection       = "requestConnection"
	ReqCancelConnectionRequest = "cancelConnectionRequest"
	ReqAcceptConnection        = "acceptConnection"
	ReqRejectConnection        = "rejectConnection"
	ReqDisconnect              = "disconnect"
	ReqRequestBattle           = "requestBattle"
	ReqCancelBattleRequest     = "cancelBattleRequest"
	ReqAcceptBattle            = "acceptBattle"
	ReqRejectBattle            = "rejectBattle"
	ReqExitBattle              = "exitBattle"
)

// Event types.
const (
	EvLiveEnded                  = "onLiveEnded"
	EvSeatListChanged            = "onSeatListChanged"
	EvConnectionRequestReceived  = "onConnectionRequestReceived"
	EvConnectionRequestCancelled = "onConnectionRequestCancelled"
	EvConnectionRequestAccept    = "onConnectionRequestAccept"
	EvConnectionRequestReject    = "onConnectionRequestReject"
	EvConnectionRequestTimeout   = "onConnectionRequestTimeout"
	EvConnectionUserListChanged  = "onConnectionUserListChanged"
	EvBattleRequestReceived      = "onBattleRequestReceived"
	EvBattleRequestCancelled     = "onBattleRequestCancelled"
	EvBattleRequestAccept        = "onBattleRequestAccept"
	EvBattleRequestReject        = "onBattleRequestReject"
	EvBattleRequestTimeout       = "onBattleRequestTimeout"
	EvBattleStarted              = "onBattleStarted"
	EvBattleEnded                = "onBattleEnded"
	EvUserExitBattle             = "onUserExitBattle"
	EvBattleScoreChanged         = "onBattleScoreChanged"
)

// Connection codes (TUIConnectionCode), one per target of requestConnection (COHOST-002).
const (
	ConnSuccess             = 0
	ConnRoomNotExist        = 1
	ConnConnecting          = 2
	ConnConnectingOtherRoom = 3
	ConnFull                = 4
	ConnRetry               = 5
)

// Live ended reasons carried by onLiveEnded.
const (
	EndedByHost   = 1
	EndedByServer = 2
)

// Seat move policies (SEAT-005).
const (
	MoveAbortWhenOccupied = 0
	MoveForceReplace      = 1
	MoveSwapPosition      = 2
)

// Microphone statuses.
const (
	MicOff = 0
	MicOn  = 1
)
