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

// Errors lists the table in code order; SPEC.md §13 must list the same rows.
var Errors = []*Error{
	ErrUserSigExpired, ErrUserSigInvalid, ErrUserSigUserIDMismatch, ErrUserSigAppIDMismatch,
	ErrInternal, ErrInvalidParameter, ErrLiveIDAlreadyUsed, ErrLiveNotExist, ErrNotLiveMember,
	ErrPermissionDenied, ErrLiveMembersFull, ErrSeatIndexInvalid, ErrSeatOccupied, ErrSeatLocked,
	ErrNotOnSeat, ErrAlreadyOnSeat, ErrConnectionNotExist, ErrPendingConnectionRequest,
	ErrMalformedFrame, ErrUnknownType, ErrAlreadyInLive, ErrFeatureNotSupported,
}

var codeNames = map[int]string{
	70001: "USERSIG_EXPIRED", 70003: "USERSIG_INVALID", 70013: "USERSIG_USERID_MISMATCH",
	70014: "USERSIG_SDKAPPID_MISMATCH", 100001: "INTERNAL_ERROR", 100002: "INVALID_PARAMETER",
	100003: "LIVE_ID_ALREADY_USED", 100004: "LIVE_NOT_EXIST", 100005: "NOT_LIVE_MEMBER",
	100006: "PERMISSION_DENIED", 100008: "LIVE_MEMBERS_FULL", 100200: "SEAT_INDEX_INVALID",
	100201: "SEAT_OCCUPIED", 100202: "SEAT_LOCKED", 100203: "NOT_ON_SEAT",
	100204: "ALREADY_ON_SEAT", 100400: "CONNECTION_NOT_EXIST",
	100402: "PENDING_CONNECTION_REQUEST", 100901: "MALFORMED_FRAME", 100902: "UNKNOWN_TYPE",
	100903: "ALREADY_IN_LIVE", 100905: "FEATURE_NOT_SUPPORTED",
}

// CodeName returns the table name of a code, or "UNKNOWN".
func CodeName(code int) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return "UNKNOWN"
}
