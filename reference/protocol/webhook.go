package protocol

// Webhook callback commands (SPEC HOOK-001).
const (
	HookCreateBattle = "Live.CallbackAfterCreateBattle"
	HookStartBattle  = "Live.CallbackAfterStartBattle"
	HookEndBattle    = "Live.CallbackAfterEndBattle"
)

// OptPlatform values of webhooks (HOOK-001).
const (
	PlatformREST    = "RESTAPI"
	PlatformUnknown = "Unknown"
)

// End webhook OpType values (HOOK-002).
const (
	HookEndTimeUp     = 0
	HookEndAllExited  = 1
	HookEndNotStarted = 2
)

// HookRoom is a room in a start or end webhook; Score is sent only in the end webhook.
type HookRoom struct {
	RoomID       string `json:"RoomId"`
	Score        *int64 `json:"Score,omitempty"`
	OwnerAccount string `json:"Owner_Account"`
}

// HookCreateBattleBody is the body of Live.CallbackAfterCreateBattle.
type HookCreateBattleBody struct {
	CallbackCommand string   `json:"CallbackCommand"`
	EventID         string   `json:"EventId"`
	OperatorAccount string   `json:"Operator_Account"`
	BattleID        string   `json:"BattleId"`
	FromRoomID      string   `json:"FromRoomId"`
	ToRoomIDList    []string `json:"ToRoomIdList"`
	Timeout         int64    `json:"Timeout"`
	Duration        int64    `json:"Duration"`
	NeedResponse    bool     `json:"NeedResponse"`
	ExtensionInfo   string   `json:"ExtensionInfo"`
	EventTime       int64    `json:"EventTime"`
}

// HookStartBattleBody is the body of Live.CallbackAfterStartBattle.
type HookStartBattleBody struct {
	CallbackCommand string     `json:"CallbackCommand"`
	EventID         string     `json:"EventId"`
	BattleID        string     `json:"BattleId"`
	Duration        int64      `json:"Duration"`
	CreateTime      int64      `json:"CreateTime"`
	StartTime       int64      `json:"StartTime"`
	FromRoomInfo    HookRoom   `json:"FromRoomInfo"`
	ToRoomList      []HookRoom `json:"ToRoomList"`
	EventTime       int64      `json:"EventTime"`
}

// HookEndBattleBody is the body of Live.CallbackAfterEndBattle.
type HookEndBattleBody struct {
	CallbackCommand string     `json:"CallbackCommand"`
	EventID         string     `json:"EventId"`
	BattleID        string     `json:"BattleId"`
	Duration        int64      `json:"Duration"`
	CreateTime      int64      `json:"CreateTime"`
	StartTime       int64      `json:"StartTime"`
	EndTime         int64      `json:"EndTime"`
	OpType          int        `json:"OpType"`
	FromRoomInfo    HookRoom   `json:"FromRoomInfo"`
	ToRoomList      []HookRoom `json:"ToRoomList"`
	EventTime       int64      `json:"EventTime"`
}
