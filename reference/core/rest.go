package core

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// Field limits of the REST API (SPEC §15).
const (
	maxBattleIDBytes  = 128
	maxIdempotencyKey = 128
	maxScoreListItems = 100
	minRESTDurationMs = 1000
)

// REST runs one REST API call for the administrator operator, after the transport has checked
// the framework (REST-001..004). It returns the Response object or the error, and the events
// the call caused.
func (c *Core) REST(api, operator string, body json.RawMessage) (any, *protocol.Error, []Delivery) {
	var (
		resp any
		err  *protocol.Error
	)
	switch api {
	case protocol.APICreateBattle:
		var req protocol.CreateBattle
		if err = decode(body, &req); err == nil {
			resp, err = c.restCreateBattle(operator, req)
		}
	case protocol.APIGetBattleInfo:
		var req protocol.GetBattleInfo
		if err = decode(body, &req); err == nil {
			resp, err = c.restGetBattleInfo(req)
		}
	case protocol.APISetBattleScore:
		var req protocol.SetBattleScore
		if err = decode(body, &req); err == nil {
			if mutant.On(mutant.EmptyKeyUsed) && req.IdempotencyKey == "" && emptyKeyGiven(body) {
				req.IdempotencyKey = "\x00" // a key that is present counts, even empty
			}
			resp, err = c.restSetBattleScore(req)
		}
	default:
		err = protocol.ErrHTTPParse.With("unknown API %q", api)
	}
	if err != nil {
		c.out = c.out[:0]
		return nil, err, nil
	}
	return resp, nil, c.flush()
}

func (c *Core) checkCreateBattle(req protocol.CreateBattle) *protocol.Error {
	if err := checkLiveID("FromRoomId", req.FromRoomID); err != nil {
		return err
	}
	if len(req.ToRoomIDList) == 0 || len(req.ToRoomIDList) > c.cfg.MaxConnectedRooms-1 {
		return protocol.ErrInvalidParameter.With("ToRoomIdList: must list 1..%d rooms", c.cfg.MaxConnectedRooms-1)
	}
	seen := map[string]bool{req.FromRoomID: true}
	for _, id := range req.ToRoomIDList {
		if err := checkLiveID("ToRoomIdList", id); err != nil {
			return err
		}
		if seen[id] {
			return protocol.ErrInvalidParameter.With("ToRoomIdList: %q is listed twice or is FromRoomId", id)
		}
		seen[id] = true
	}
	maxMs := int64(c.cfg.MaxBattleDuration / time.Millisecond)
	tooLong := req.Duration != nil && *req.Duration > maxMs
	if mutant.On(mutant.DurationBoundRounded) && req.Duration != nil {
		tooLong = (*req.Duration+500)/1000 > maxMs/1000 // the bound checked on the rounded seconds
	}
	if req.Duration == nil || *req.Duration < minRESTDurationMs || tooLong || (mutant.On(mutant.MaxDurationRefused) && *req.Duration == maxMs) {
		return protocol.ErrInvalidParameter.With("Duration: required, %d..%d milliseconds", minRESTDurationMs, maxMs)
	}
	if len(req.ExtensionInfo) > maxExtInfoBytes {
		return protocol.ErrInvalidParameter.With("ExtensionInfo: longer than %d bytes", maxExtInfoBytes)
	}
	return nil
}

func (c *Core) restCreateBattle(operator string, req protocol.CreateBattle) (any, *protocol.Error) {
	if _, ok := c.rooms[req.FromRoomID]; !ok && mutant.On(mutant.CreateRoomFirst) && checkLiveID("FromRoomId", req.FromRoomID) == nil {
		return nil, protocol.ErrLiveNotExist.With("FromRoomId %q does not exist", req.FromRoomID)
	}
	if err := c.checkCreateBattle(req); err != nil {
		return nil, err
	}
	a, ok := c.rooms[req.FromRoomID]
	if !ok {
		return nil, protocol.ErrLiveNotExist.With("FromRoomId %q does not exist", req.FromRoomID)
	}
	if err := busyError(a); err != nil {
		return nil, err
	}
	results := make([]protocol.RoomResult, len(req.ToRoomIDList))
	var targets []*room
	for i, id := range req.ToRoomIDList {
		results[i].RoomID = id
		t, ok := c.rooms[id]
		switch {
		case !ok:
			results[i].ResultCode, results[i].ResultMessage = protocol.BattleRoomNotExist, "room does not exist"
		case t.battle != nil && !(mutant.On(mutant.RESTInvitesPendingRoom) && t.battle.state == battlePending):
			results[i].ResultCode, results[i].ResultMessage = protocol.BattleBattlingOtherRoom, "room is in another battle or has a pending battle request"
		default:
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, protocol.ErrNoValidBattleLive.With("none of ToRoomIdList can battle")
	}
	secs := int((*req.Duration + 500) / 1000) // rounded to the nearest second (REST-010)
	if mutant.On(mutant.DurationTruncated) {
		secs = int(*req.Duration / 1000)
	}
	if mutant.On(mutant.RESTBattlesCounted) {
		_ = c.allowBattle(a) // counted, though not limited
	}
	ext := req.ExtensionInfo
	if mutant.On(mutant.ExtensionInfoTrimmed) {
		ext = strings.TrimSpace(ext)
	}
	b := c.createBattle(a, targets, protocol.BattleConfig{Duration: secs, ExtensionInfo: ext}, 0, true, operator)
	if mutant.On(mutant.CreateHookListsRefused) {
		for i := range c.hooks {
			if body, ok := c.hooks[i].Body.(protocol.HookCreateBattleBody); ok && body.BattleID == b.id {
				body.ToRoomIDList = slices.Clone(req.ToRoomIDList) // the request's list, refused rooms too
				c.hooks[i].Body = body
			}
		}
	}
	return protocol.CreateBattleResponse{BattleID: b.id, Result: results}, nil
}

func (c *Core) restGetBattleInfo(req protocol.GetBattleInfo) (any, *protocol.Error) {
	var b *battle
	switch {
	case mutant.On(mutant.RoomBattleWins) && req.BattleID != "" && req.RoomID != "" && c.rooms[req.RoomID] != nil && c.rooms[req.RoomID].battle != nil:
		b = c.rooms[req.RoomID].battle // the room's battle looked up first
	case req.BattleID != "":
		if len(req.BattleID) > maxBattleIDBytes {
			return nil, protocol.ErrInvalidParameter.With("BattleId: longer than %d bytes", maxBattleIDBytes)
		}
		b = c.battles[req.BattleID]
		if b == nil {
			return nil, protocol.ErrBattleNotExist.With("battle %q does not exist", req.BattleID)
		}
	case req.RoomID != "":
		if err := checkLiveID("RoomId", req.RoomID); err != nil {
			return nil, err
		}
		if r := c.rooms[req.RoomID]; r != nil && !(mutant.On(mutant.RoomQueryRunningOnly) && r.battle != nil && r.battle.state != battleRunning) {
			b = r.battle
		}
		if b == nil && mutant.On(mutant.RoomQueryFindsExited) {
			b = c.runningBattleListing(req.RoomID)
		}
		if b == nil {
			return nil, protocol.ErrBattleNotExist.With("room %q is in no battle", req.RoomID)
		}
	default:
		return nil, protocol.ErrInvalidParameter.With("BattleId or RoomId: one is required")
	}
	resp := protocol.GetBattleInfoResponse{
		BattleID: b.id, Duration: int64(b.cfg.Duration) * 1000, ScoreVersion: b.version,
		FromRoomInfo: protocol.RoomScore{RoomID: b.inviter.liveID, Score: b.inviter.score, OwnerAccount: b.inviter.host.ID},
	}
	if mutant.On(mutant.InviterScoreHidden) {
		resp.FromRoomInfo.Score = 0
	}
	info := b.info()
	resp.StartTime, resp.EndTime = info.StartTime, info.EndTime
	if b.state == battleEnded && b.started.IsZero() && !mutant.On(mutant.GivenUpEndTimeZero) {
		resp.EndTime = b.ended.Unix()
	}
	if b.state == battleEnded && mutant.On(mutant.EndedVersionZero) {
		resp.ScoreVersion = 0
	}
	switch b.state {
	case battlePending:
		resp.Status = protocol.BattleStatusPending
	case battleRunning:
		resp.Status = protocol.BattleStatusRunning
	default:
		resp.Status = protocol.BattleStatusEnded
	}
	for _, hr := range b.hookRooms(true) {
		resp.ToRoomList = append(resp.ToRoomList, protocol.RoomScore{RoomID: hr.RoomID, Score: *hr.Score, OwnerAccount: hr.OwnerAccount})
	}
	if mutant.On(mutant.BattleInfoDropsExited) && !b.started.IsZero() {
		resp.ToRoomList = withoutExited(b, resp.ToRoomList)
	}
	if resp.ToRoomList == nil {
		resp.ToRoomList = []protocol.RoomScore{}
	}
	return resp, nil
}

// emptyKeyGiven reports whether body gives IdempotencyKey as "" (mutant.EmptyKeyUsed).
func emptyKeyGiven(body json.RawMessage) bool {
	var raw map[string]json.RawMessage
	return json.Unmarshal(body, &raw) == nil && string(raw["IdempotencyKey"]) == `""`
}

func checkSetBattleScore(req protocol.SetBattleScore) *protocol.Error {
	switch {
	case req.BattleID == "" || len(req.BattleID) > maxBattleIDBytes:
		return protocol.ErrInvalidParameter.With("BattleId: required, at most %d bytes", maxBattleIDBytes)
	case req.OpType == nil || (*req.OpType != protocol.OpAdd && *req.OpType != protocol.OpOverwrite):
		return protocol.ErrInvalidParameter.With("OpType: required, 1 (add) or 2 (overwrite)")
	case len(req.ScoreList) == 0 || len(req.ScoreList) > maxScoreListItems || (mutant.On(mutant.ScoreListAtLimitRefused) && len(req.ScoreList) == maxScoreListItems):
		return protocol.ErrInvalidParameter.With("ScoreList: must list 1..%d rooms", maxScoreListItems)
	case len(req.IdempotencyKey) > maxIdempotencyKey:
		return protocol.ErrInvalidParameter.With("IdempotencyKey: longer than %d bytes", maxIdempotencyKey)
	}
	for i, it := range req.ScoreList {
		if it.RoomID == "" || len(it.RoomID) > maxLiveIDBytes {
			return protocol.ErrInvalidParameter.With("ScoreList[%d].RoomId: required, at most %d bytes", i, maxLiveIDBytes)
		}
		if it.Score == nil || *it.Score < 0 || *it.Score > protocol.MaxScore {
			return protocol.ErrInvalidParameter.With("ScoreList[%d].Score: required, 0..%d", i, int64(protocol.MaxScore))
		}
	}
	return nil
}

func (c *Core) restSetBattleScore(req protocol.SetBattleScore) (any, *protocol.Error) {
	if b, ok := c.battles[req.BattleID]; ok && b.state == battleEnded && mutant.On(mutant.ScoreStateFirst) {
		return nil, protocol.ErrBattleAlreadyEnded.With("battle %q has ended", b.id)
	}
	if err := checkSetBattleScore(req); err != nil {
		return nil, err
	}
	b, ok := c.battles[req.BattleID]
	if !ok {
		return nil, protocol.ErrBattleNotExist.With("battle %q does not exist", req.BattleID)
	}
	// A key already used gets its first response, also once the battle has ended (REST-034).
	if req.IdempotencyKey != "" && (b.state != battleEnded || !mutant.On(mutant.KeyForgottenAtEnd)) {
		if prev, ok := b.idempotent[req.IdempotencyKey]; ok && !mutant.On(mutant.IdempotencyIgnored) {
			if mutant.On(mutant.ReplayCurrentVersion) {
				prev.ScoreVersion = b.version
			}
			return prev, nil
		}
		if mutant.On(mutant.KeyAcrossBattles) {
			for _, other := range c.battles {
				if prev, ok := other.idempotent[req.IdempotencyKey]; ok {
					return prev, nil
				}
			}
		}
	}
	switch b.state {
	case battleEnded:
		return nil, protocol.ErrBattleAlreadyEnded.With("battle %q has ended", b.id)
	case battlePending:
		return nil, protocol.ErrBattleNotStarted.With("battle %q has not started", b.id)
	}
	// Compute every new score first: a sum out of range refuses the whole request.
	next := make(map[*entrant]int64)
	for i, it := range req.ScoreList {
		e := b.participant(it.RoomID)
		if e == nil || (mutant.On(mutant.ZeroAddSkipped) && *req.OpType == protocol.OpAdd && *it.Score == 0) {
			continue
		}
		cur, ok := next[e]
		if !ok {
			cur = e.score
		}
		if *req.OpType == protocol.OpOverwrite && !mutant.On(mutant.OverwriteAdds) {
			cur = *it.Score
		} else {
			cur += *it.Score
		}
		if cur > protocol.MaxScore {
			return nil, protocol.ErrInvalidParameter.With("ScoreList[%d].Score: the score of %q would exceed %d", i, it.RoomID, int64(protocol.MaxScore))
		}
		if mutant.On(mutant.RefusedScorePartlyApplied) {
			e.score = cur // applied at once: a later item's refusal leaves it applied
		}
		next[e] = cur
	}
	resp := protocol.SetBattleScoreResponse{Result: make([]protocol.ScoreResult, len(req.ScoreList))}
	for i, it := range req.ScoreList {
		resp.Result[i] = protocol.ScoreResult{RoomID: it.RoomID, ResultCode: 1}
		if b.participant(it.RoomID) != nil {
			resp.Result[i].ResultCode = 0
		}
	}
	if len(next) > 0 {
		var stale []protocol.BattleUser
		if mutant.On(mutant.StaleScoreList) || mutant.On(mutant.AudienceStaleScoreList) {
			stale = b.scoreboard() // the scores before this change
		}
		for e, s := range next {
			e.score = s
		}
		b.version++
		if mutant.On(mutant.VersionAcrossBattles) {
			c.scoreChanges++
			b.version = c.scoreChanges
		}
		to, version := b.audience(), b.version
		if mutant.On(mutant.ScoreSkipsInviterAudience) && b.inviter.room != nil {
			to = b.withoutAudienceOf(b.inviter.room)
		}
		if mutant.On(mutant.ScoreSkipsRoom) && len(to) > 1 {
			to = to[:len(to)-1]
		}
		if mutant.On(mutant.VersionsOutOfOrder) && version%3 == 0 {
			version -= 2
		}
		if mutant.On(mutant.ScoreToOtherBattle) {
			to = append(to, c.memberOfAnotherBattle(b)...)
		}
		board := b.scoreboard()
		if mutant.On(mutant.AudienceStaleScoreList) { // the hosts' list is right, the audience's the one before
			var viewers []SessionID
			to, viewers = b.splitHosts(to)
			c.emit(viewers, protocol.EvBattleScoreChanged, protocol.BattleScoreChanged{BattleID: b.id, Version: version, BattleUserList: stale})
		} else if stale != nil {
			board = stale
		}
		c.emit(to, protocol.EvBattleScoreChanged, protocol.BattleScoreChanged{BattleID: b.id, Version: version, BattleUserList: board})
	}
	resp.ScoreVersion = b.version
	if req.IdempotencyKey != "" {
		b.idempotent[req.IdempotencyKey] = resp
	}
	if len(next) > 0 || req.IdempotencyKey != "" {
		c.recordScore(b, len(next) > 0, req.IdempotencyKey, resp)
	}
	return resp, nil
}

// participant returns the scoreboard entrant of room liveID if it still takes part.
func (b *battle) participant(liveID string) *entrant {
	for _, e := range b.board {
		if e.liveID == liveID && (e.room != nil || mutant.On(mutant.ExitedRoomScored)) {
			return e
		}
	}
	if mutant.On(mutant.RejecterScored) {
		for _, iv := range b.invitees {
			if iv.liveID == liveID && iv.answer != answerAccepted && iv.answer != answerPending {
				return &iv.entrant
			}
		}
	}
	return nil
}

// runningBattleListing is a running battle whose scoreboard lists the room liveID, exited or
// not (mutant.RoomQueryFindsExited), or nil.
func (c *Core) runningBattleListing(liveID string) *battle {
	for _, id := range c.sortedBattleIDs() {
		if o := c.battles[id]; o.state == battleRunning && slices.ContainsFunc(o.board, func(e *entrant) bool { return e.liveID == liveID }) {
			return o
		}
	}
	return nil
}

// memberOfAnotherBattle is one member of a running battle other than b (none if there is
// none): the stray recipient of mutant.ScoreToOtherBattle.
func (c *Core) memberOfAnotherBattle(b *battle) []SessionID {
	ids := make([]string, 0, len(c.battles))
	for id, o := range c.battles {
		if o != b && o.state == battleRunning {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if to := c.battles[id].audience(); len(to) > 0 {
			return to[len(to)-1:]
		}
	}
	return nil
}
