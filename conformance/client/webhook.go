package client

// Webhook callback commands (SPEC HOOK-001).
const (
	HookCreateBattle = "Live.CallbackAfterCreateBattle"
	HookStartBattle  = "Live.CallbackAfterStartBattle"
	HookEndBattle    = "Live.CallbackAfterEndBattle"
)

// OpType of the end webhook (HOOK-002).
const (
	HookEndTimeUp     = 0 // the battle ran its duration
	HookEndAllExited  = 1 // at most one room was left
	HookEndNotStarted = 2 // it ended without starting (BATTLE-012)
)

// HookRoom is a room of a start or end webhook; Score is given only in the end webhook.
type HookRoom struct {
	RoomID       string `json:"RoomId"`
	Score        *int64 `json:"Score"`
	OwnerAccount string `json:"Owner_Account"`
}

// Webhook is the body of any of the three battle webhooks (HOOK-002), for a receiver that
// learns the command from the body: each command fills its own fields and leaves the others
// zero. Times are as Tencent sends them: Timeout, Duration and EventTime in milliseconds,
// CreateTime, StartTime and EndTime in Unix seconds.
type Webhook struct {
	CallbackCommand string `json:"CallbackCommand"`
	EventID         string `json:"EventId"`
	BattleID        string `json:"BattleId"`
	EventTime       int64  `json:"EventTime"`

	// Create only.
	OperatorAccount string   `json:"Operator_Account"`
	FromRoomID      string   `json:"FromRoomId"`
	ToRoomIDList    []string `json:"ToRoomIdList"`
	Timeout         int64    `json:"Timeout"`
	NeedResponse    bool     `json:"NeedResponse"`
	ExtensionInfo   string   `json:"ExtensionInfo"`

	// Create, start and end.
	Duration int64 `json:"Duration"`

	// Start and end.
	CreateTime   int64      `json:"CreateTime"`
	StartTime    int64      `json:"StartTime"`
	FromRoomInfo HookRoom   `json:"FromRoomInfo"`
	ToRoomList   []HookRoom `json:"ToRoomList"`

	// End only: OpType is nil in the other two.
	EndTime int64 `json:"EndTime"`
	OpType  *int  `json:"OpType"`
}

// Rooms lists the rooms of a start or end webhook: FromRoomInfo's, then ToRoomList's.
func (w Webhook) Rooms() []string {
	out := []string{w.FromRoomInfo.RoomID}
	for _, r := range w.ToRoomList {
		out = append(out, r.RoomID)
	}
	return out
}
