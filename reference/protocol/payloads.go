package protocol

// Welcome is the payload of the welcome frame (WELCOME-001).
type Welcome struct {
	Protocol  string   `json:"protocol"`
	Server    string   `json:"server"`
	UserID    string   `json:"userID"`
	SessionID string   `json:"sessionID"`
	Limits    Limits   `json:"limits"`
	Timing    Timing   `json:"timing"`
	Features  Features `json:"features"`

	// ResumeToken resumes this session after a drop (RESUME-001); "" when resume is off.
	ResumeToken string `json:"resumeToken"`
	// Resumed says this connection continues an earlier session (RESUME-002).
	Resumed bool `json:"resumed"`
	// Recovered says every frame the session was sent after the client's lastSeq follows,
	// with its original seq (RESUME-003); false on a fresh session.
	Recovered bool `json:"recovered"`
	// NextSeq is the seq of the next numbered frame on this connection (TRANS-005, RESUME-003).
	NextSeq uint64 `json:"nextSeq"`
	// State is the session's current state when it resumed without its missed frames
	// (RESUME-004); null otherwise.
	State *SessionState `json:"state"`
}

// SessionState is where a resumed session stands when the frames it missed could not be
// replayed (RESUME-004): its room as joinLive describes one, and the invitations waiting for
// an answer from its room.
type SessionState struct {
	// Room is the room the user is in (null: none), as joinLive's reply describes it.
	Room *JoinLiveReply `json:"room"`
	// Host says the user is Room's host.
	Host bool `json:"host"`
	// ConnectionRequests are the co-host requests waiting for the room's answer (COHOST-002).
	ConnectionRequests []ConnectionRequestOutcome `json:"connectionRequests"`
	// BattleRequests are the battle requests waiting for the room's answer (BATTLE-006).
	BattleRequests []BattleRequestEvent `json:"battleRequests"`
}

// Limits are the limits a server enforces and advertises (WELCOME-002).
type Limits struct {
	MaxConnectedRooms int `json:"maxConnectedRooms"`
	MaxUsersPerRoom   int `json:"maxUsersPerRoom"`
	MaxSeatCount      int `json:"maxSeatCount"`
	MaxFrameBytes     int `json:"maxFrameBytes"`
	SendQueueFrames   int `json:"sendQueueFrames"`
	// SendQueueBytes bounds the bytes of a connection's queued frames (CLOSE-002).
	SendQueueBytes int `json:"sendQueueBytes"`
	// MaxRequestsPerSecond and RequestBurst are the token bucket that limits each
	// connection's requests (RATE-001); 0 and 0: no limit.
	MaxRequestsPerSecond int `json:"maxRequestsPerSecond"`
	RequestBurst         int `json:"requestBurst"`
	// MaxBattleDurationS and MaxBattleRequestsPerMinute are sent when battles are supported.
	MaxBattleDurationS         int `json:"maxBattleDurationS"`
	MaxBattleRequestsPerMinute int `json:"maxBattleRequestsPerMinute"`
	// ResumeWindowMs is how long a dropped session waits for its resume (RESUME-001); 0:
	// resume is off. ResumeHistoryFrames and ResumeHistoryBytes bound the frames kept for a
	// replay (RESUME-004).
	ResumeWindowMs      int64 `json:"resumeWindowMs"`
	ResumeHistoryFrames int   `json:"resumeHistoryFrames"`
	ResumeHistoryBytes  int   `json:"resumeHistoryBytes"`
}

// Timing is the liveness and invitation timing a server applies (WELCOME-003).
type Timing struct {
	HeartbeatIntervalMs   int64 `json:"heartbeatIntervalMs"`
	HeartbeatTimeoutMs    int64 `json:"heartbeatTimeoutMs"`
	DefaultInviteTimeoutS int   `json:"defaultInviteTimeoutS"`
	// DefaultBattleDurationS is sent when battles are supported.
	DefaultBattleDurationS int `json:"defaultBattleDurationS"`
}

// Features lists the optional features a server supports (WELCOME-004).
type Features struct {
	Battle bool `json:"battle"`
	// DurableScores promises that a battle's acknowledged scores survive a crash and restart
	// of the server (FAULT-002); the reference server advertises it with a state directory.
	DurableScores bool `json:"durableScores,omitempty"`
}

// Empty is the payload of requests and replies that carry nothing.
type Empty struct{}

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

// CreateLive is the createLive request (ROOM-001).
type CreateLive struct {
	LiveID          string `json:"liveID"`
	LiveName        string `json:"liveName"`
	IsPublicVisible *bool  `json:"isPublicVisible"`
	SeatTemplate    *int   `json:"seatTemplate"`
	MaxSeatCount    *int   `json:"maxSeatCount"`
}

// CreateLiveReply answers createLive.
type CreateLiveReply struct {
	LiveInfo LiveInfo   `json:"liveInfo"`
	SeatList []SeatInfo `json:"seatList"`
}

// LiveRef names a room (joinLive, fetchLiveInfo, acceptConnection, rejectConnection).
type LiveRef struct {
	LiveID string `json:"liveID"`
}

// JoinLiveReply answers joinLive with the room's current state (ROOM-005).
type JoinLiveReply struct {
	LiveInfo      LiveInfo         `json:"liveInfo"`
	SeatList      []SeatInfo       `json:"seatList"`
	ConnectedList []ConnectionUser `json:"connectedList"`
	// Battle is the room's running battle, nil (null) when there is none (BATTLE-025).
	Battle *BattleState `json:"battle"`
}

// FetchLiveList is the fetchLiveList request (ROOM-008).
type FetchLiveList struct {
	Cursor string `json:"cursor"`
	Count  int    `json:"count"`
}

// FetchLiveListReply answers fetchLiveList.
type FetchLiveListReply struct {
	LiveInfoList []LiveInfo `json:"liveInfoList"`
	Cursor       string     `json:"cursor"`
}

// FetchLiveInfoReply answers fetchLiveInfo.
type FetchLiveInfoReply struct {
	LiveInfo LiveInfo `json:"liveInfo"`
}

// SeatRef names a seat (takeSeat, lockSeat, unlockSeat).
type SeatRef struct {
	SeatIndex *int `json:"seatIndex"`
}

// UserRef names a user (kickUserOutOfSeat).
type UserRef struct {
	UserID string `json:"userID"`
}

// MoveUserToSeat is the moveUserToSeat request (SEAT-005).
type MoveUserToSeat struct {
	UserID      string `json:"userID"`
	TargetIndex *int   `json:"targetIndex"`
	Policy      int    `json:"policy"`
}

// RequestConnection is the requestConnection request (COHOST-002).
type RequestConnection struct {
	LiveIDs       []string `json:"liveIDs"`
	Timeout       *int     `json:"timeout"`
	ExtensionInfo string   `json:"extensionInfo"`
}

// RequestConnectionReply answers requestConnection with a TUIConnectionCode per target.
type RequestConnectionReply struct {
	Results map[string]int `json:"results"`
}

// LiveIDList names rooms (cancelConnectionRequest).
type LiveIDList struct {
	LiveIDs []string `json:"liveIDs"`
}

// LiveEnded is the onLiveEnded event.
type LiveEnded struct {
	LiveID  string `json:"liveID"`
	Reason  int    `json:"reason"`
	Message string `json:"message"`
}

// SeatListChanged is the onSeatListChanged event (SEAT-008).
type SeatListChanged struct {
	LiveID   string     `json:"liveID"`
	SeatList []SeatInfo `json:"seatList"`
}

// ConnectionRequestReceived is the onConnectionRequestReceived event (COHOST-002).
type ConnectionRequestReceived struct {
	Inviter       ConnectionUser   `json:"inviter"`
	InviteeList   []ConnectionUser `json:"inviteeList"`
	ExtensionInfo string           `json:"extensionInfo"`
}

// ConnectionRequestOutcome is the payload of the Cancelled, Accept, Reject and Timeout events.
type ConnectionRequestOutcome struct {
	Inviter ConnectionUser `json:"inviter"`
	Invitee ConnectionUser `json:"invitee"`
}

// ConnectionUserListChanged is the onConnectionUserListChanged event (COHOST-020).
type ConnectionUserListChanged struct {
	ConnectedList []ConnectionUser `json:"connectedList"`
	JoinedList    []ConnectionUser `json:"joinedList"`
	LeavedList    []ConnectionUser `json:"leavedList"`
}
