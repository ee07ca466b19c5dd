package protocol

import "fmt"

// Error is a protocol error: a code from the table in SPEC §13 and a message. Replies carry
// both; the message may be more specific than the table's text (it names the field at fault).
type Error struct {
	Code    int
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, CodeName(e.Code), e.Message) }

// Is makes errors.Is match two *Error values with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e whose message is formatted from the arguments.
func (e *Error) With(format string, args ...any) *Error {
	return &Error{Code: e.Code, Message: fmt.Sprintf(format, args...)}
}

// The error table (SPEC §13). Each value carries the code and its default message.
var (
	// ErrInternal is a server fault; the client may retry.
	ErrInternal = &Error{100001, "server internal error, retry"}
	// ErrInvalidParameter is a missing, mistyped, out-of-range or oversized field.
	ErrInvalidParameter = &Error{100002, "invalid parameter"}
	// ErrLiveIDAlreadyUsed is createLive with the ID of an existing room.
	ErrLiveIDAlreadyUsed = &Error{100003, "the room ID is already in use"}
	// ErrLiveNotExist names a room that does not exist.
	ErrLiveNotExist = &Error{100004, "room does not exist"}
	// ErrNotLiveMember is an operation that needs the caller to be in a room.
	ErrNotLiveMember = &Error{100005, "not in a room"}
	// ErrPermissionDenied is a host-only operation called by someone else.
	ErrPermissionDenied = &Error{100006, "no permission"}
	// ErrRateLimited is a request over the connection's request rate limit (limits.
	// maxRequestsPerSecond, limits.requestBurst); the connection stays open.
	ErrRateLimited = &Error{100012, "too many requests on this connection"}
	// ErrLiveMembersFull is joinLive on a room that holds maxUsersPerRoom users.
	ErrLiveMembersFull = &Error{100008, "the room is full"}
	// ErrSeatIndexInvalid is a seat index outside the room's seats.
	ErrSeatIndexInvalid = &Error{100200, "seat index out of range"}
	// ErrSeatOccupied is a seat that already has a user.
	ErrSeatOccupied = &Error{100201, "the seat is occupied"}
	// ErrSeatLocked is a locked seat.
	ErrSeatLocked = &Error{100202, "the seat is locked"}
	// ErrNotOnSeat is a seat operation on a user without a seat.
	ErrNotOnSeat = &Error{100203, "the user is not on a seat"}
	// ErrAlreadyOnSeat is takeSeat by a user who has a seat.
	ErrAlreadyOnSeat = &Error{100204, "the user is already on a seat"}
	// ErrConnectionNotExist is an operation on a connection or request that does not exist.
	ErrConnectionNotExist = &Error{100400, "the connection or request does not exist or has ended"}
	// ErrPendingConnectionRequest is requestConnection by a room with a pending incoming request.
	ErrPendingConnectionRequest = &Error{100402, "there is a pending connection request for this room"}
	// ErrBattleNotExist names a battle that does not exist.
	ErrBattleNotExist = &Error{100411, "the battle does not exist or has ended"}
	// ErrNoValidBattleLive is a battle request none of whose targets can battle.
	ErrNoValidBattleLive = &Error{100412, "none of the rooms in the battle is valid"}
	// ErrBattleTooFrequent is a room creating more battles per minute than allowed.
	ErrBattleTooFrequent = &Error{100413, "creating battles too frequently"}
	// ErrLiveNotInBattle is an operation on a battle the caller's room is not part of.
	ErrLiveNotInBattle = &Error{100414, "the room is not in the battle"}
	// ErrLiveInOtherBattle is a battle request by a room that is in a running battle.
	ErrLiveInOtherBattle = &Error{100415, "the room is already in another battle"}
	// ErrPendingBattleRequest is a battle request by a room with a pending battle.
	ErrPendingBattleRequest = &Error{100416, "there is a pending battle request for this room"}
	// ErrLiveInBattle is cancelling a battle request that was already accepted.
	ErrLiveInBattle = &Error{100419, "a room already in the battle cannot be cancelled"}
	// ErrBattleNotStarted is an operation that needs a running battle on a pending one.
	ErrBattleNotStarted = &Error{100420, "the battle has not started yet"}
	// ErrBattleAlreadyEnded is an operation on an ended battle.
	ErrBattleAlreadyEnded = &Error{100421, "the battle has ended"}
	// ErrHTTPParse is a REST request that cannot be parsed (REST only).
	ErrHTTPParse = &Error{60002, "the HTTP request could not be parsed"}
	// ErrJSONParse is a REST body that is not a JSON object (REST only).
	ErrJSONParse = &Error{60003, "the body is not a JSON object"}
	// ErrAccountSignature is a REST usersig that is missing, invalid, expired or not for identifier.
	ErrAccountSignature = &Error{60004, "usersig missing, invalid, expired or not for identifier"}
	// ErrSDKAppIDInvalid is a REST sdkappid that is not served here.
	ErrSDKAppIDInvalid = &Error{60006, "sdkappid is not served here"}
	// ErrRESTRateLimited is a REST request over the rate limit.
	ErrRESTRateLimited = &Error{60007, "too many REST requests"}
	// ErrNeedAdminRole is a REST identifier that is not an app administrator.
	ErrNeedAdminRole = &Error{60010, "identifier is not an app administrator"}
	// ErrMissingSDKAppID is a REST request without sdkappid.
	ErrMissingSDKAppID = &Error{60012, "sdkappid is missing"}
	// ErrMalformedFrame is a frame that is not a JSON request envelope.
	ErrMalformedFrame = &Error{100901, "the frame is not a JSON request envelope"}
	// ErrUnknownType is a request type the server does not know.
	ErrUnknownType = &Error{100902, "unknown request type"}
	// ErrAlreadyInLive is createLive or joinLive by a user who is in a room.
	ErrAlreadyInLive = &Error{100903, "the user is already in a room"}
	// ErrFeatureNotSupported is a request of a feature the server advertises as unsupported.
	ErrFeatureNotSupported = &Error{100905, "the feature is not supported by this server"}
	// ErrUserSigExpired is a handshake with an expired UserSig.
	ErrUserSigExpired = &Error{70001, "UserSig expired"}
	// ErrUserSigInvalid is a handshake with a missing, malformed or wrongly signed UserSig.
	ErrUserSigInvalid = &Error{70003, "UserSig invalid"}
	// ErrUserSigUserIDMismatch is a UserSig signed for another userid.
	ErrUserSigUserIDMismatch = &Error{70013, "UserSig was signed for another userid"}
	// ErrUserSigAppIDMismatch is a UserSig signed for another sdkappid.
	ErrUserSigAppIDMismatch = &Error{70014, "UserSig was signed for another sdkappid"}
)

// Errors lists the table; SPEC.md §13 must list the same rows, with the names of codeNames and
// the same messages (fixtures/agreement_test.go checks, and the conformance client's codes too).
var Errors = []*Error{
	ErrUserSigExpired, ErrUserSigInvalid, ErrUserSigUserIDMismatch, ErrUserSigAppIDMismatch,
	ErrInternal, ErrInvalidParameter, ErrLiveIDAlreadyUsed, ErrLiveNotExist, ErrNotLiveMember,
	ErrPermissionDenied, ErrLiveMembersFull, ErrRateLimited, ErrSeatIndexInvalid, ErrSeatOccupied, ErrSeatLocked,
	ErrNotOnSeat, ErrAlreadyOnSeat, ErrConnectionNotExist, ErrPendingConnectionRequest,
	ErrBattleNotExist, ErrNoValidBattleLive, ErrBattleTooFrequent, ErrLiveNotInBattle,
	ErrLiveInOtherBattle, ErrPendingBattleRequest, ErrLiveInBattle, ErrBattleNotStarted,
	ErrBattleAlreadyEnded, ErrMalformedFrame, ErrUnknownType, ErrAlreadyInLive,
	ErrFeatureNotSupported, ErrHTTPParse, ErrJSONParse, ErrAccountSignature, ErrSDKAppIDInvalid,
	ErrRESTRateLimited, ErrNeedAdminRole, ErrMissingSDKAppID,
}

var codeNames = map[int]string{
	70001: "USERSIG_EXPIRED", 70003: "USERSIG_INVALID", 70013: "USERSIG_USERID_MISMATCH",
	70014: "USERSIG_SDKAPPID_MISMATCH", 100001: "INTERNAL_ERROR", 100002: "INVALID_PARAMETER",
	100003: "LIVE_ID_ALREADY_USED", 100004: "LIVE_NOT_EXIST", 100005: "NOT_LIVE_MEMBER",
	100006: "PERMISSION_DENIED", 100008: "LIVE_MEMBERS_FULL", 100012: "RATE_LIMITED", 100200: "SEAT_INDEX_INVALID",
	100201: "SEAT_OCCUPIED", 100202: "SEAT_LOCKED", 100203: "NOT_ON_SEAT",
	100204: "ALREADY_ON_SEAT", 100400: "CONNECTION_NOT_EXIST",
	100402: "PENDING_CONNECTION_REQUEST", 100411: "BATTLE_NOT_EXIST", 100412: "NO_VALID_BATTLE_LIVE",
	100413: "BATTLE_TOO_FREQUENT", 100414: "LIVE_NOT_IN_BATTLE", 100415: "LIVE_IN_OTHER_BATTLE",
	100416: "PENDING_BATTLE_REQUEST", 100419: "LIVE_IN_BATTLE", 100420: "BATTLE_NOT_STARTED",
	100421: "BATTLE_ALREADY_ENDED", 100901: "MALFORMED_FRAME", 100902: "UNKNOWN_TYPE",
	100903: "ALREADY_IN_LIVE", 100905: "FEATURE_NOT_SUPPORTED", 60002: "HTTP_PARSE_ERROR",
	60003: "JSON_PARSE_ERROR", 60004: "ACCOUNT_SIGNATURE_ERROR", 60006: "SDK_APP_ID_INVALID",
	60007: "REST_API_RATE_LIMITED", 60010: "NEED_ADMIN_ROLE", 60012: "MISSING_SDK_APP_ID",
}

// CodeName returns the table name of a code, or "UNKNOWN".
func CodeName(code int) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return "UNKNOWN"
}
