package client

// Path is the WebSocket endpoint of protocol v1 (TRANS-001).
const Path = "/v1/ws"

// Frame types that are not events of a feature.
const (
	TypeReply   = "reply"
	TypeWelcome = "welcome"
)

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
	EvUserJoinBattle             = "onUserJoinBattle"
	EvUserExitBattle             = "onUserExitBattle"
	EvBattleScoreChanged         = "onBattleScoreChanged"
)

// TUIBattleCode values, one per user of requestBattle (BATTLE-005).
const (
	BattleSuccess           = 0
	BattleRoomNotExist      = 1
	BattleBattling          = 2
	BattleBattlingOtherRoom = 3
	BattleRoomExit          = 4
	BattleRetry             = 5
)

// Reasons carried by onBattleEnded (BATTLE-030).
const (
	BattleEndTimeOver  = 0
	BattleEndOtherExit = 1
)

// TUIConnectionCode values, one per target of requestConnection (COHOST-002..006).
const (
	ConnSuccess             = 0
	ConnRoomNotExist        = 1
	ConnConnecting          = 2
	ConnConnectingOtherRoom = 3
	ConnFull                = 4
	ConnRetry               = 5
)

// Reasons carried by onLiveEnded.
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

// The error codes of SPEC §13 (CodeX) are generated into codes_table.go from
// fixtures/errors.tsv, the data file of reference/protocol's table too.
//
//go:generate go run ../../tools/gencodes -root ../..

// WebSocket close codes of SPEC §2 (checked as the error codes are), and CloseAbnormal, which
// no endpoint sends: RFC 6455 reserves 1006 for a connection that ended without a close frame
// (CLOSE-001, FAULT-002).
const (
	CloseNormal           = 1000
	CloseGoingAway        = 1001
	CloseProtocolError    = 1002 // a frame broke RFC 6455 (TRANS-013)
	CloseUnsupportedData  = 1003
	CloseAbnormal         = 1006 // no close frame was received
	CloseInvalidData      = 1007 // a text message that is not UTF-8 (TRANS-013)
	CloseMessageTooBig    = 1009
	CloseInternalError    = 1011 // the server stops: it cannot keep its promises
	CloseHeartbeatTimeout = 4000
	CloseSlowConsumer     = 4008
	CloseReplaced         = 4009
	CloseResumeRefused    = 4010
	CloseTokenExpired     = 4001 // the UserSig expired (AUTHZ-003)
)
