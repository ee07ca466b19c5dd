package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// handler runs one request type: decode and validate the payload, then change state.
type handler func(c *Core, m *member, payload json.RawMessage) (any, *protocol.Error)

// Field limits (SPEC ROOM-002, COHOST-007).
const (
	maxLiveIDBytes   = 48
	maxUserIDBytes   = 32
	maxLiveNameBytes = 100
	maxExtInfoBytes  = 1024
	maxCursorBytes   = 256
	maxListCount     = 100
	maxInviteTimeout = 3600
)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		protocol.ReqHeartbeat:               bare(func(*Core, *member) (any, *protocol.Error) { return protocol.Empty{}, nil }),
		protocol.ReqCreateLive:              rawMutants(typed((*Core).createLive, checkCreateLive)),
		protocol.ReqEndLive:                 bare((*Core).endLive),
		protocol.ReqJoinLive:                typed((*Core).joinLive, checkLiveRef),
		protocol.ReqLeaveLive:               bare((*Core).leaveLive),
		protocol.ReqFetchLiveList:           rawMutants(typed((*Core).fetchLiveList, checkFetchLiveList)),
		protocol.ReqFetchLiveInfo:           typed((*Core).fetchLiveInfo, checkInfoRef),
		protocol.ReqTakeSeat:                typed((*Core).takeSeat, checkSeatRef),
		protocol.ReqLeaveSeat:               bare((*Core).leaveSeat),
		protocol.ReqLockSeat:                typed(func(c *Core, m *member, r protocol.SeatRef) (any, *protocol.Error) { return c.setLock(m, r, true) }, checkLockRef),
		protocol.ReqUnlockSeat:              typed(func(c *Core, m *member, r protocol.SeatRef) (any, *protocol.Error) { return c.setLock(m, r, false) }, checkLockRef),
		protocol.ReqKickUserOutOfSeat:       typed((*Core).kickUserOutOfSeat, checkUserRef),
		protocol.ReqMoveUserToSeat:          typed((*Core).moveUserToSeat, checkMove),
		protocol.ReqMuteMicrophone:          bare(func(c *Core, m *member) (any, *protocol.Error) { return c.setMicrophone(m, protocol.MicOff) }),
		protocol.ReqUnmuteMicrophone:        bare(func(c *Core, m *member) (any, *protocol.Error) { return c.setMicrophone(m, protocol.MicOn) }),
		protocol.ReqRequestConnection:       typed((*Core).requestConnection, checkRequestConnection),
		protocol.ReqCancelConnectionRequest: typed((*Core).cancelConnectionRequest, checkLiveIDList),
		protocol.ReqAcceptConnection:        typed((*Core).acceptConnection, checkLiveRef),
		protocol.ReqRejectConnection:        typed((*Core).rejectConnection, checkLiveRef),
		protocol.ReqDisconnect:              bare((*Core).disconnect),
		protocol.ReqRequestBattle:           typed((*Core).requestBattle, checkRequestBattle),
		protocol.ReqCancelBattleRequest:     typed((*Core).cancelBattleRequest, checkCancelBattle),
		protocol.ReqAcceptBattle:            typed((*Core).acceptBattle, checkBattleRef),
		protocol.ReqRejectBattle:            typed((*Core).rejectBattle, checkBattleRef),
		protocol.ReqExitBattle:              typed((*Core).exitBattle, checkBattleRef),
	}
}

// typed decodes the payload into T, validates it with check (if any) and calls fn.
func typed[T any](fn func(*Core, *member, T) (any, *protocol.Error), check func(*Core, *T) *protocol.Error) handler {
	return func(c *Core, m *member, raw json.RawMessage) (any, *protocol.Error) {
		var req T
		if err := decode(raw, &req); err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(c, &req); err != nil {
				return nil, err
			}
		}
		return fn(c, m, req)
	}
}

// rawMutants runs h after the mutants that read the raw payload: SeatCountFractionDropped
// (a number's fraction dropped, as a parseInt would) and ExplicitCountZeroRefused.
func rawMutants(h handler) handler {
	return func(c *Core, m *member, raw json.RawMessage) (any, *protocol.Error) {
		if !mutant.On(mutant.SeatCountFractionDropped) && !mutant.On(mutant.ExplicitCountZeroRefused) {
			return h(c, m, raw)
		}
		var fields map[string]any
		if json.Unmarshal(raw, &fields) == nil {
			if n, ok := fields["count"].(float64); ok && n == 0 && mutant.On(mutant.ExplicitCountZeroRefused) {
				return nil, protocol.ErrInvalidParameter.With("count: must be 1..%d", maxListCount)
			}
			if n, ok := fields["maxSeatCount"].(float64); ok && mutant.On(mutant.SeatCountFractionDropped) {
				fields["maxSeatCount"] = math.Trunc(n)
				raw, _ = json.Marshal(fields)
			}
		}
		return h(c, m, raw)
	}
}

// bare is a request whose payload carries nothing (it must still be an object).
func bare(fn func(*Core, *member) (any, *protocol.Error)) handler {
	return func(c *Core, m *member, raw json.RawMessage) (any, *protocol.Error) {
		var req protocol.Empty
		if err := decode(raw, &req); err != nil && !mutant.On(mutant.BarePayloadIgnored) {
			return nil, err
		}
		return fn(c, m)
	}
}

func decode(raw json.RawMessage, v any) *protocol.Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) { // TRANS-003: absent or null is {}
		return nil
	}
	if raw[0] == '"' && mutant.On(mutant.StringPayloadDecoded) { // a payload sent as a string holding the object
		var inner string
		if json.Unmarshal(raw, &inner) == nil {
			if raw = bytes.TrimSpace([]byte(inner)); len(raw) == 0 {
				return nil
			}
		}
	}
	if raw[0] != '{' {
		return protocol.ErrInvalidParameter.With("payload: must be a JSON object")
	}
	raw, perr := normalize(raw, reflect.TypeOf(v))
	if perr != nil {
		return perr
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return protocol.ErrInvalidParameter.With("%s: must be %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
		}
		return protocol.ErrInvalidParameter.With("payload: %v", err)
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "uint64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "ptr":
		return "a value of the documented type"
	}
	return "an object"
}

func validID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func checkLiveID(field, id string) *protocol.Error {
	if !validID(id, maxLiveIDBytes) {
		return protocol.ErrInvalidParameter.With("%s: must be 1-%d bytes of printable ASCII without spaces", field, maxLiveIDBytes)
	}
	return nil
}

func checkCreateLive(c *Core, r *protocol.CreateLive) *protocol.Error {
	if mutant.On(mutant.LiveIDTrimmed) {
		r.LiveID = strings.TrimSpace(r.LiveID)
	}
	if err := checkLiveID("liveID", r.LiveID); err != nil {
		return err
	}
	if mutant.On(mutant.CreateStateFirst) {
		return nil // createLive checks the rest after the caller's state
	}
	return checkCreateLiveFields(c, r)
}

// checkCreateLiveFields checks createLive's fields other than liveID (ROOM-002).
func checkCreateLiveFields(c *Core, r *protocol.CreateLive) *protocol.Error {
	size := len(r.LiveName)
	if mutant.On(mutant.LiveNameInRunes) {
		size = utf8.RuneCountInString(r.LiveName)
	}
	if size > maxLiveNameBytes || !utf8.ValidString(r.LiveName) {
		return protocol.ErrInvalidParameter.With("liveName: must be at most %d bytes of UTF-8", maxLiveNameBytes)
	}
	if r.MaxSeatCount != nil && (*r.MaxSeatCount < 1 || *r.MaxSeatCount > c.cfg.MaxSeatCount) {
		return protocol.ErrInvalidParameter.With("maxSeatCount: must be 1..%d", c.cfg.MaxSeatCount)
	}
	if r.SeatTemplate != nil && *r.SeatTemplate < 0 {
		if mutant.On(mutant.TemplateMessageVague) {
			return protocol.ErrInvalidParameter.With("the seat layout template must not be negative")
		}
		return protocol.ErrInvalidParameter.With("seatTemplate: must not be negative")
	}
	if r.SeatTemplate != nil && *r.SeatTemplate > math.MaxInt32 && mutant.On(mutant.TemplateInt32) {
		return protocol.ErrInvalidParameter.With("seatTemplate: must be a 32-bit integer")
	}
	return nil
}

func checkLiveRef(_ *Core, r *protocol.LiveRef) *protocol.Error {
	return checkLiveID("liveID", r.LiveID)
}

// checkInfoRef is fetchLiveInfo's check: checkLiveRef.
func checkInfoRef(c *Core, r *protocol.LiveRef) *protocol.Error {
	if mutant.On(mutant.FetchInfoUnchecked) {
		return nil // a lookup needs no validation
	}
	return checkLiveRef(c, r)
}

func checkUserRef(_ *Core, r *protocol.UserRef) *protocol.Error {
	if !validID(r.UserID, maxUserIDBytes) {
		return protocol.ErrInvalidParameter.With("userID: must be 1-%d bytes of printable ASCII", maxUserIDBytes)
	}
	return nil
}

// checkSeatRef requires the seat index; its range depends on the room and is checked there.
func checkSeatRef(_ *Core, r *protocol.SeatRef) *protocol.Error {
	if r.SeatIndex == nil {
		return protocol.ErrInvalidParameter.With("seatIndex: required")
	}
	return nil
}

// checkLockRef is lockSeat's and unlockSeat's check: checkSeatRef.
func checkLockRef(c *Core, r *protocol.SeatRef) *protocol.Error {
	if mutant.On(mutant.LockPermissionFirst) {
		return nil // setLock asks for the host first, then finds seatIndex missing
	}
	return checkSeatRef(c, r)
}

func checkMove(c *Core, r *protocol.MoveUserToSeat) *protocol.Error {
	if err := checkUserRef(c, &protocol.UserRef{UserID: r.UserID}); err != nil {
		return err
	}
	if r.TargetIndex == nil {
		return protocol.ErrInvalidParameter.With("targetIndex: required")
	}
	if r.Policy < protocol.MoveAbortWhenOccupied || r.Policy > protocol.MoveSwapPosition {
		return protocol.ErrInvalidParameter.With("policy: must be 0, 1 or 2")
	}
	return nil
}

func checkFetchLiveList(_ *Core, r *protocol.FetchLiveList) *protocol.Error {
	if r.Count < 0 || r.Count > maxListCount {
		return protocol.ErrInvalidParameter.With("count: must be 1..%d (0 or absent: 20)", maxListCount)
	}
	if len(r.Cursor) > maxCursorBytes {
		return protocol.ErrInvalidParameter.With("cursor: longer than %d bytes", maxCursorBytes)
	}
	return nil
}

func (c *Core) checkLiveIDs(ids []string) *protocol.Error {
	if len(ids) == 0 || len(ids) > c.cfg.MaxConnectedRooms-1 {
		return protocol.ErrInvalidParameter.With("liveIDs: must list 1..%d rooms", c.cfg.MaxConnectedRooms-1)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := checkLiveID("liveIDs", id); err != nil {
			return err
		}
		if seen[id] {
			return protocol.ErrInvalidParameter.With("liveIDs: %q is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

func checkLiveIDList(c *Core, r *protocol.LiveIDList) *protocol.Error {
	return c.checkLiveIDs(r.LiveIDs)
}

func checkRequestConnection(c *Core, r *protocol.RequestConnection) *protocol.Error {
	if err := c.checkLiveIDs(r.LiveIDs); err != nil {
		return err
	}
	if r.Timeout != nil && (*r.Timeout < 0 || *r.Timeout > maxInviteTimeout) {
		return protocol.ErrInvalidParameter.With("timeout: must be 0..%d seconds", maxInviteTimeout)
	}
	if len(r.ExtensionInfo) > maxExtInfoBytes || (mutant.On(mutant.ExtInfoAtLimitRefused) && len(r.ExtensionInfo) == maxExtInfoBytes) {
		return protocol.ErrInvalidParameter.With("extensionInfo: longer than %d bytes", maxExtInfoBytes)
	}
	return nil
}

func checkBattleID(id string) *protocol.Error {
	if id == "" || len(id) > maxBattleIDBytes {
		return protocol.ErrInvalidParameter.With("battleID: required, at most %d bytes", maxBattleIDBytes)
	}
	return nil
}

func checkBattleRef(_ *Core, r *protocol.BattleRef) *protocol.Error { return checkBattleID(r.BattleID) }

// checkUserIDs requires 1..maxConnectedRooms-1 distinct valid user IDs.
func (c *Core) checkUserIDs(ids []string) *protocol.Error {
	if len(ids) == 0 || len(ids) > c.cfg.MaxConnectedRooms-1 {
		return protocol.ErrInvalidParameter.With("userIDs: must list 1..%d users", c.cfg.MaxConnectedRooms-1)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !validID(id, maxUserIDBytes) {
			return protocol.ErrInvalidParameter.With("userIDs: %q is not 1-%d bytes of printable ASCII", id, maxUserIDBytes)
		}
		if seen[id] {
			return protocol.ErrInvalidParameter.With("userIDs: %q is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

func checkCancelBattle(c *Core, r *protocol.CancelBattleRequest) *protocol.Error {
	if err := checkBattleID(r.BattleID); err != nil {
		return err
	}
	return c.checkUserIDs(r.UserIDs)
}

// checkRequestBattle applies BATTLE-002.
func checkRequestBattle(c *Core, r *protocol.RequestBattle) *protocol.Error {
	if err := c.checkUserIDs(r.UserIDs); err != nil {
		return err
	}
	maxS := int(c.cfg.MaxBattleDuration / time.Second)
	if d := r.Config.Duration; d != nil && (*d < 0 || (mutant.On(mutant.DurationZeroRefused) && *d == 0) || *d > maxS || (mutant.On(mutant.MaxDurationRefused) && *d == maxS)) {
		return protocol.ErrInvalidParameter.With("config.duration: must be 1..%d seconds (0 or absent: the default)", maxS)
	}
	if len(r.Config.ExtensionInfo) > maxExtInfoBytes || (mutant.On(mutant.ExtInfoAtLimitRefused) && len(r.Config.ExtensionInfo) == maxExtInfoBytes) {
		return protocol.ErrInvalidParameter.With("config.extensionInfo: longer than %d bytes", maxExtInfoBytes)
	}
	if r.Timeout != nil && (*r.Timeout < 0 || *r.Timeout > maxInviteTimeout) {
		return protocol.ErrInvalidParameter.With("timeout: must be 0..%d seconds", maxInviteTimeout)
	}
	needResponse := r.Config.NeedResponse != nil && *r.Config.NeedResponse
	if !needResponse && r.Timeout != nil && *r.Timeout != 0 {
		return protocol.ErrInvalidParameter.With("timeout: must be 0 when config.needResponse is false")
	}
	return nil
}
