package protocol

// BattleConfig configures a battle (SPEC §12). Duration is in seconds.
type BattleConfig struct {
	Duration      int    `json:"duration"`
	NeedResponse  bool   `json:"needResponse"`
	ExtensionInfo string `json:"extensionInfo"`
}

// BattleInfo describes a battle; times are Unix seconds, 0 until it starts.
type BattleInfo struct {
	BattleID  string       `json:"battleID"`
	Config    BattleConfig `json:"config"`
	StartTime int64        `json:"startTime"`
	EndTime   int64        `json:"endTime"`
}

// BattleUser is a room of a battle, as its host, with its score and rank (BATTLE-041).
type BattleUser struct {
	LiveID    string `json:"liveID"`
	UserID    string `json:"userID"`
	UserName  string `json:"userName"`
	AvatarURL string `json:"avatarURL"`
	Score     int64  `json:"score"`
	Rank      int    `json:"rank"`
}

// BattleConfigRequest is the config of requestBattle; nil fields take the defaults.
type BattleConfigRequest struct {
	Duration      *int   `json:"duration"`
	NeedResponse  *bool  `json:"needResponse"`
	ExtensionInfo string `json:"extensionInfo"`
}

// RequestBattle is the requestBattle request (BATTLE-002).
type RequestBattle struct {
	Config  BattleConfigRequest `json:"config"`
	UserIDs []string            `json:"userIDs"`
	Timeout *int                `json:"timeout"`
}

// RequestBattleReply answers requestBattle with a TUIBattleCode per user (BATTLE-005).
type RequestBattleReply struct {
	BattleInfo BattleInfo     `json:"battleInfo"`
	Results    map[string]int `json:"results"`
}

// BattleRef names a battle (acceptBattle, rejectBattle, exitBattle).
type BattleRef struct {
	BattleID string `json:"battleID"`
}

// CancelBattleRequest is the cancelBattleRequest request (BATTLE-010).
type CancelBattleRequest struct {
	BattleID string   `json:"battleID"`
	UserIDs  []string `json:"userIDs"`
}

// BattleRequestEvent is the payload of onBattleRequestReceived, -Accept, -Reject, -Cancelled
// and -Timeout.
type BattleRequestEvent struct {
	BattleInfo BattleInfo `json:"battleInfo"`
	Inviter    BattleUser `json:"inviter"`
	Invitee    BattleUser `json:"invitee"`
}

// BattleStarted is the payload of onBattleStarted (BATTLE-020).
type BattleStarted struct {
	BattleInfo BattleInfo   `json:"battleInfo"`
	Inviter    BattleUser   `json:"inviter"`
	Invitees   []BattleUser `json:"invitees"`
}

// UserExitBattle is the payload of onUserExitBattle (BATTLE-022).
type UserExitBattle struct {
	BattleID   string     `json:"battleID"`
	BattleUser BattleUser `json:"battleUser"`
}

// BattleScoreChanged is the payload of onBattleScoreChanged (BATTLE-042).
type BattleScoreChanged struct {
	BattleID       string       `json:"battleID"`
	Version        uint64       `json:"version"`
	BattleUserList []BattleUser `json:"battleUserList"`
}

// BattleEnded is the payload of onBattleEnded (BATTLE-030, BATTLE-044).
type BattleEnded struct {
	BattleInfo     BattleInfo   `json:"battleInfo"`
	Reason         int          `json:"reason"`
	Version        uint64       `json:"version"`
	BattleUserList []BattleUser `json:"battleUserList"`
}

// BattleState is a running battle as a joining user finds it (BATTLE-025).
type BattleState struct {
	BattleInfo     BattleInfo   `json:"battleInfo"`
	Inviter        BattleUser   `json:"inviter"`
	Invitees       []BattleUser `json:"invitees"`
	Version        uint64       `json:"version"`
	BattleUserList []BattleUser `json:"battleUserList"`
}

// Battle end reasons (TUIBattleStoppedReason).
const (
	BattleEndTimeOver  = 0
	BattleEndOtherExit = 1
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
