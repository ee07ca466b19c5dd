package core

import (
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// Hook is a webhook the transport must POST, in the order the core produced them (SPEC §16).
type Hook struct {
	// Command is the CallbackCommand (Live.CallbackAfter...).
	Command string
	// EventID is unique per event (HOOK-003).
	EventID string
	// OptPlatform is RESTAPI for battles created over REST, else Unknown.
	OptPlatform string
	// ClientIP is the address of the client whose request made the hook (a REST caller, a
	// WebSocket user), empty for one a timer or a lost connection made. The core knows no
	// addresses: the transport fills it in.
	ClientIP string
	// Body is the JSON body: one of the protocol.Hook...Body types.
	Body any
}

// TakeHooks returns the webhooks produced since the last call and forgets them.
func (c *Core) TakeHooks() []Hook {
	h := c.hooks
	c.hooks = nil
	return h
}

func (c *Core) hook(b *battle, command, suffix string, body any) {
	platform := protocol.PlatformUnknown
	if b.viaREST && !(mutant.On(mutant.RESTEndPlatformUnknown) && command == protocol.HookEndBattle) {
		platform = protocol.PlatformREST
	}
	c.hooks = append(c.hooks, Hook{Command: command, EventID: b.id + "-" + suffix, OptPlatform: platform, Body: body})
}

func (c *Core) hookCreate(b *battle) {
	to := make([]string, len(b.invitees))
	for i, iv := range b.invitees {
		to[i] = iv.liveID
	}
	c.hook(b, protocol.HookCreateBattle, "create", protocol.HookCreateBattleBody{
		CallbackCommand: protocol.HookCreateBattle, EventID: b.id + "-create",
		OperatorAccount: b.operator, BattleID: b.id, FromRoomID: b.inviter.liveID, ToRoomIDList: to,
		Timeout: int64(b.timeoutS) * 1000, Duration: int64(b.cfg.Duration) * 1000,
		NeedResponse: b.cfg.NeedResponse, ExtensionInfo: b.cfg.ExtensionInfo, EventTime: c.nowMs(),
	})
	if mutant.On(mutant.HookNoExtensionInfo) {
		last := &c.hooks[len(c.hooks)-1]
		body := last.Body.(protocol.HookCreateBattleBody)
		body.ExtensionInfo = ""
		last.Body = body
	}
}

// withoutExited is rooms (b's scoreboard after the inviter's, as hookRooms lists a started
// battle's) less those that exited the battle: the mutants HookDropsExited and
// BattleInfoDropsExited.
func withoutExited[T any](b *battle, rooms []T) []T {
	var kept []T
	for i, e := range b.board[1:] {
		if e.room != nil {
			kept = append(kept, rooms[i])
		}
	}
	return kept
}

// hookRooms lists the rooms other than the inviter's: the scoreboard once started, the
// invitees of a battle that never started. withScore adds their scores (end webhook).
func (b *battle) hookRooms(withScore bool) []protocol.HookRoom {
	var es []*entrant
	if b.started.IsZero() {
		for _, iv := range b.invitees {
			es = append(es, &iv.entrant)
		}
	} else {
		es = b.board[1:]
	}
	out := make([]protocol.HookRoom, len(es))
	for i, e := range es {
		out[i] = e.hookRoom(withScore)
	}
	return out
}

func (e *entrant) hookRoom(withScore bool) protocol.HookRoom {
	hr := protocol.HookRoom{RoomID: e.liveID, OwnerAccount: e.host.ID}
	if withScore {
		s := e.score
		hr.Score = &s
	}
	return hr
}

func (c *Core) hookStart(b *battle) {
	body := protocol.HookStartBattleBody{
		CallbackCommand: protocol.HookStartBattle, EventID: b.id + "-start", BattleID: b.id,
		Duration: int64(b.cfg.Duration) * 1000, CreateTime: b.created.Unix(), StartTime: b.started.Unix(),
		FromRoomInfo: b.inviter.hookRoom(false), ToRoomList: b.hookRooms(false), EventTime: c.nowMs(),
	}
	if mutant.On(mutant.StartHookListsAll) {
		body.ToRoomList = body.ToRoomList[:0]
		for _, iv := range b.invitees {
			body.ToRoomList = append(body.ToRoomList, iv.hookRoom(false))
		}
	}
	c.hook(b, protocol.HookStartBattle, "start", body)
}

func (c *Core) hookEnd(b *battle, op int) {
	body := protocol.HookEndBattleBody{
		CallbackCommand: protocol.HookEndBattle, EventID: b.id + "-end", BattleID: b.id,
		Duration: int64(b.cfg.Duration) * 1000, CreateTime: b.created.Unix(), EndTime: b.ended.Unix(),
		OpType: op, FromRoomInfo: b.inviter.hookRoom(true), ToRoomList: b.hookRooms(true), EventTime: c.nowMs(),
	}
	if !b.started.IsZero() {
		body.StartTime = b.started.Unix()
	}
	if mutant.On(mutant.HookEndTimeMs) {
		body.EndTime = b.ended.UnixMilli()
	}
	if mutant.On(mutant.HookDropsExited) && !b.started.IsZero() {
		body.ToRoomList = withoutExited(b, body.ToRoomList)
	}
	c.hook(b, protocol.HookEndBattle, "end", body)
}
