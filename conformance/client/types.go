package client

import (
	"encoding/json"
	"time"
)

// Frame is one server frame as received (SPEC TRANS-004): a reply when Type is TypeReply,
// an event otherwise.
type Frame struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	TS      int64           `json:"ts"`
	ID      *string         `json:"id"`
	Code    *int            `json:"code"`
	Message *string         `json:"message"`
	Payload json.RawMessage `json:"payload"`
	// Raw is the frame's text as received.
	Raw []byte `json:"-"`
	// At is when the frame reached the client: on Linux, over a connection Dial dialed itself
	// (Config.Dialer nil; ws:// or wss://, read directly or by gorilla), the kernel's receive
	// time of the read that brought its last bytes, before the client was scheduled to read
	// it (frames that came in one read share the time of its last segment); else when the
	// client read it.
	At time.Time `json:"-"`

	slow     bool        // decodeFrame: a member needs encoding/json
	payOff   int         // decodeFrame: 1 + where Payload starts in the text, when it is a slice of it
	payIndex memberIndex // decodeFrame: where the payload's members lie (LookupPayload)
}

// Event is a server frame that is not a reply (SPEC TRANS-010).
type Event = Frame

// Decode unmarshals the frame's payload into v.
func (f Frame) Decode(v any) error { return json.Unmarshal(f.Payload, v) }

// Welcome is the payload of the first frame of a connection (WELCOME-001).
type Welcome struct {
	Protocol  string   `json:"protocol"`
	Server    string   `json:"server"`
	UserID    string   `json:"userID"`
	SessionID string   `json:"sessionID"`
	Limits    Limits   `json:"limits"`
	Timing    Timing   `json:"timing"`
	Features  Features `json:"features"`

	// The resume fields (SPEC §21, revision 5); zero from a server that does not resume.
	ResumeToken string        `json:"resumeToken"`
	Resumed     bool          `json:"resumed"`
	Recovered   bool          `json:"recovered"`
	NextSeq     uint64        `json:"nextSeq"`
	State       *SessionState `json:"state"`
}

// SessionState is where a resumed session stands when its missed frames were not replayed
// (RESUME-004).
type SessionState struct {
	Room               *JoinLiveReply             `json:"room"`
	Host               bool                       `json:"host"`
	ConnectionRequests []ConnectionRequestOutcome `json:"connectionRequests"`
	BattleRequests     []BattleRequestEvent       `json:"battleRequests"`
}

// Limits are the limits the server enforces (WELCOME-002).
type Limits struct {
	MaxConnectedRooms int `json:"maxConnectedRooms"`
	MaxUsersPerRoom   int `json:"maxUsersPerRoom"`
	MaxSeatCount      int `json:"maxSeatCount"`
	MaxFrameBytes     int `json:"maxFrameBytes"`
	SendQueueFrames   int `json:"sendQueueFrames"`
	// MaxBattleDurationS and MaxBattleRequestsPerMinute come with battles (WELCOME-004).
	MaxBattleDurationS         int `json:"maxBattleDurationS"`
	MaxBattleRequestsPerMinute int `json:"maxBattleRequestsPerMinute"`
	// SendQueueBytes bounds the send queue in bytes as well (CLOSE-002); 0 when not advertised.
	SendQueueBytes int `json:"sendQueueBytes"`
	// MaxRequestsPerSecond and RequestBurst are the connection's request limit (RATE-001);
	// 0 when the server advertises none.
	MaxRequestsPerSecond float64 `json:"maxRequestsPerSecond"`
	RequestBurst         int     `json:"requestBurst"`
	// ResumeWindowMs is how long a dropped session waits for its resume (RESUME-001); 0:
	// resume is off. ResumeHistoryFrames and ResumeHistoryBytes bound the frames kept for a
	// replay (RESUME-004).
	ResumeWindowMs      int64 `json:"resumeWindowMs"`
	ResumeHistoryFrames int   `json:"resumeHistoryFrames"`
	ResumeHistoryBytes  int   `json:"resumeHistoryBytes"`
}

// Timing is the liveness and invitation timing the server applies (WELCOME-003).
type Timing struct {
	HeartbeatIntervalMs   int64 `json:"heartbeatIntervalMs"`
	HeartbeatTimeoutMs    int64 `json:"heartbeatTimeoutMs"`
	DefaultInviteTimeoutS int   `json:"defaultInviteTimeoutS"`
	// DefaultBattleDurationS comes with battles (WELCOME-004).
	DefaultBattleDurationS int `json:"defaultBattleDurationS"`
}

// Features lists the optional features the server supports (WELCOME-004).
type Features struct {
	Battle bool `json:"battle"`
	// DurableScores: a battle keeps its acknowledged scores across a crash and restart of
	// the server (FAULT-002, revision 4).
	DurableScores bool `json:"durableScores"`
}

// LiveUserInfo identifies a user.
type LiveUserInfo struct {
	UserID    string `json:"userID"`
	UserName  string `json:"userName"`
	AvatarURL string `json:"avatarURL"`
}

// LiveInfo describes a room.
type LiveInfo struct {
	LiveID           string       `json:"liveID"`
	LiveName         string       `json:"liveName"`
	IsPublicVisible  bool         `json:"isPublicVisible"`
	SeatTemplate     int          `json:"seatTemplate"`
	MaxSeatCount     int          `json:"maxSeatCount"`
	LiveOwner        LiveUserInfo `json:"liveOwner"`
	CreateTime       int64        `json:"createTime"`
	CurrentUserCount int          `json:"currentUserCount"`
}

// SeatUserInfo is the occupant of a seat; UserID is empty for a free seat.
type SeatUserInfo struct {
	UserID           string `json:"userID"`
	UserName         string `json:"userName"`
	AvatarURL        string `json:"avatarURL"`
	LiveID           string `json:"liveID"`
	MicrophoneStatus int    `json:"microphoneStatus"`
}

// SeatInfo is one seat, tagged with the room it belongs to (SEAT-010).
type SeatInfo struct {
	LiveID   string       `json:"liveID"`
	Index    int          `json:"index"`
	IsLocked bool         `json:"isLocked"`
	UserInfo SeatUserInfo `json:"userInfo"`
}

// ConnectionUser is a room's host as seen by the co-host feature.
type ConnectionUser struct {
	LiveID             string `json:"liveID"`
	UserID             string `json:"userID"`
	UserName           string `json:"userName"`
	AvatarURL          string `json:"avatarURL"`
	JoinConnectionTime int64  `json:"joinConnectionTime"`
}

// CreateLiveRequest is the payload of createLive (ROOM-001). Nil pointers are omitted, so the
// server applies its defaults.
type CreateLiveRequest struct {
	LiveID          string `json:"liveID"`
	LiveName        string `json:"liveName,omitempty"`
	IsPublicVisible *bool  `json:"isPublicVisible,omitempty"`
	SeatTemplate    *int   `json:"seatTemplate,omitempty"`
	MaxSeatCount    *int   `json:"maxSeatCount,omitempty"`
}

// CreateLiveReply answers createLive.
type CreateLiveReply struct {
	LiveInfo LiveInfo   `json:"liveInfo"`
	SeatList []SeatInfo `json:"seatList"`
}

// JoinLiveReply answers joinLive with the room's current state (ROOM-005).
type JoinLiveReply struct {
	LiveInfo      LiveInfo         `json:"liveInfo"`
	SeatList      []SeatInfo       `json:"seatList"`
	ConnectedList []ConnectionUser `json:"connectedList"`
	// Battle is the room's running battle, nil when there is none (BATTLE-025).
	Battle *BattleState `json:"battle"`
}

// FetchLiveListReply answers fetchLiveList (ROOM-008).
type FetchLiveListReply struct {
	LiveInfoList []LiveInfo `json:"liveInfoList"`
	Cursor       string     `json:"cursor"`
}

// FetchLiveInfoReply answers fetchLiveInfo (ROOM-009).
type FetchLiveInfoReply struct {
	LiveInfo LiveInfo `json:"liveInfo"`
}

// RequestConnectionRequest is the payload of requestConnection (COHOST-002). A nil Timeout
// lets the server apply defaultInviteTimeoutS.
type RequestConnectionRequest struct {
	LiveIDs       []string `json:"liveIDs"`
	Timeout       *int     `json:"timeout,omitempty"`
	ExtensionInfo string   `json:"extensionInfo,omitempty"`
}

// RequestConnectionReply carries a TUIConnectionCode per target room.
type RequestConnectionReply struct {
	Results map[string]int `json:"results"`
}

// LiveEnded is the payload of onLiveEnded (ROOM-007, LIVE-021).
type LiveEnded struct {
	LiveID  string `json:"liveID"`
	Reason  int    `json:"reason"`
	Message string `json:"message"`
}

// SeatListChanged is the payload of onSeatListChanged (SEAT-008).
type SeatListChanged struct {
	LiveID   string     `json:"liveID"`
	SeatList []SeatInfo `json:"seatList"`
}

// ConnectionRequestReceived is the payload of onConnectionRequestReceived (COHOST-002).
type ConnectionRequestReceived struct {
	Inviter       ConnectionUser   `json:"inviter"`
	InviteeList   []ConnectionUser `json:"inviteeList"`
	ExtensionInfo string           `json:"extensionInfo"`
}

// ConnectionRequestOutcome is the payload of onConnectionRequestCancelled, -Accept, -Reject
// and -Timeout.
type ConnectionRequestOutcome struct {
	Inviter ConnectionUser `json:"inviter"`
	Invitee ConnectionUser `json:"invitee"`
}

// ConnectionUserListChanged is the payload of onConnectionUserListChanged (COHOST-020).
type ConnectionUserListChanged struct {
	ConnectedList []ConnectionUser `json:"connectedList"`
	JoinedList    []ConnectionUser `json:"joinedList"`
	LeavedList    []ConnectionUser `json:"leavedList"`
}

// LiveIDs lists the liveID of each user, in order.
func LiveIDs(users []ConnectionUser) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.LiveID
	}
	return out
}

// BattleConfig configures a battle (SPEC §12); Duration is in seconds.
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

// BattleUser is a room of a battle as its host, with its score and rank (BATTLE-041).
type BattleUser struct {
	LiveID    string `json:"liveID"`
	UserID    string `json:"userID"`
	UserName  string `json:"userName"`
	AvatarURL string `json:"avatarURL"`
	Score     int64  `json:"score"`
	Rank      int    `json:"rank"`
}

// BattleState is a running battle as a joining user finds it (BATTLE-025).
type BattleState struct {
	BattleInfo     BattleInfo   `json:"battleInfo"`
	Inviter        BattleUser   `json:"inviter"`
	Invitees       []BattleUser `json:"invitees"`
	Version        uint64       `json:"version"`
	BattleUserList []BattleUser `json:"battleUserList"`
}

// BattleConfigRequest is requestBattle's config; nil fields let the server apply defaults.
type BattleConfigRequest struct {
	Duration      *int   `json:"duration,omitempty"`
	NeedResponse  *bool  `json:"needResponse,omitempty"`
	ExtensionInfo string `json:"extensionInfo,omitempty"`
}

// RequestBattleRequest is the payload of requestBattle (BATTLE-002).
type RequestBattleRequest struct {
	Config  BattleConfigRequest `json:"config"`
	UserIDs []string            `json:"userIDs"`
	Timeout *int                `json:"timeout,omitempty"`
}

// RequestBattleReply carries the new battle and a TUIBattleCode per user (BATTLE-005).
type RequestBattleReply struct {
	BattleInfo BattleInfo     `json:"battleInfo"`
	Results    map[string]int `json:"results"`
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

// UserIDs lists the userID of each battle user, in order.
func UserIDs(users []BattleUser) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.UserID
	}
	return out
}
