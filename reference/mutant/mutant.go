// Package mutant plants deliberate bugs in the reference server so the conformance suite can
// be tested, as Autobahn and the OCI suite test theirs: every mutant must be caught by the
// specs expected to catch it.
//
// Mutants exist only in builds with the tag pkarena_mutants, where PKARENA_MUTANT names the
// one active at start-up. In every other build On is a constant false and the compiler removes
// the planted code, so no mutant can be switched on in a real server.
package mutant

// Mutant is one deliberate bug and the requirements whose specs must catch it.
type Mutant struct {
	Name        string
	Description string
	// Catches lists requirement IDs; the specs naming any of them must fail.
	Catches []string
}

// Names of the mutants (the On argument at each planted bug).
const (
	TenthRoom           = "tenth-room"
	FiftyFirstUser      = "fifty-first-user"
	TimeoutOneSide      = "connection-timeout-one-side"
	NoLeftOnLoss        = "no-left-event-on-lost-host"
	TimeoutZeroDefault  = "timeout-zero-times-out"
	GroupHostsOnly      = "group-events-to-hosts-only"
	NoHeartbeatTimeout  = "silent-connection-kept"
	SeqGap              = "seq-gap"
	SeqSwapped          = "seq-swapped"
	NoLiveEnded         = "no-live-ended-to-audience"
	ScoreSkipsRoom      = "score-update-skips-a-user"
	VersionsOutOfOrder  = "score-versions-out-of-order"
	WrongEndReason      = "wrong-end-reason"
	TiesRankedApart     = "ties-ranked-apart"
	RESTSigUnchecked    = "rest-signature-unchecked"
	WebhookNotRetried   = "webhook-never-retried"
	BattleTimeoutOneEnd = "battle-timeout-one-side"
	IdempotencyIgnored  = "idempotency-key-ignored"
	ExitedRoomScored    = "exited-room-still-scored"
	OverwriteAdds       = "overwrite-adds"
	NoRESTRateLimit     = "no-rest-rate-limit"
	NoConnRateLimit     = "no-connection-rate-limit"
	InvalidUTF8Accepted = "invalid-utf8-accepted"
	TokenOutlivesExpiry = "token-outlives-expiry"
	KeyForgottenAtEnd   = "idempotency-key-forgotten-at-end"

	// Issue 12: the classes an outside review found the suite blind to, one or more each.

	// A limit refused at the limit.
	ExtInfoAtLimitRefused   = "extension-info-at-limit-refused"
	MaxDurationRefused      = "max-battle-duration-refused"
	ScoreListAtLimitRefused = "score-list-at-limit-refused"
	// A timeout longer than the one asked for.
	ConnTimeoutDoubled   = "connection-timeout-doubled"
	BattleTimeoutDoubled = "battle-request-timeout-doubled"
	BattleOvertime       = "battle-runs-overtime"
	// Truncation where SPEC says rounding.
	DurationTruncated = "rest-duration-truncated"
	// Pending state that must carry across separate requests.
	EarlierRequestsUncounted = "earlier-requests-not-counted"
	RESTInvitesPendingRoom   = "rest-invites-pending-battle-room"
	// One liveness signal on its own keeping a connection alive.
	OnlyHeartbeatsKeepAlive = "only-heartbeats-keep-alive"
	// An operation repeated on the same target.
	BattleAcceptedTwice = "battle-request-accepted-twice"
	RejoinSameRoom      = "rejoin-same-room"
	// A key or ID scoped per battle used in two scopes.
	KeyAcrossBattles     = "idempotency-key-shared-across-battles"
	VersionAcrossBattles = "score-version-shared-across-battles"
	SeatIndexAcrossGroup = "seat-index-shared-across-group"
	// A required list order that equals the natural join order.
	ConnectedByCreation = "connected-list-in-creation-order"
	BoardInGroupOrder   = "battle-board-in-group-order"
	// Requirements the suite caught only by chance inside another spec.
	ScoreSkipsInviterAudience = "score-skips-inviter-audience"
	InviterScoreHidden        = "inviter-score-not-reported"
	// Session resume (SPEC §21).
	ResumeLossAtOnce       = "resume-loss-at-once"
	ResumeWindowEndless    = "resume-window-endless"
	ResumeReplaysLastAgain = "resume-replays-last-again"
	ResumeRenumbers        = "resume-renumbers-replay"
	ResumeClaimsRecovered  = "resume-claims-recovered"
	ResumeAnyUser          = "resume-by-any-user"
	ResumeOldTokenKept     = "resume-old-token-kept"

	// A hunt for what no spec caught (2026-12-07): bugs planted by hand in the core, each of
	// which the whole suite let pass until a spec of its own was written for it.

	// State a member keeps when it should have been cleared, or loses when it should stay.
	SeatKeptAfterRoomEnd  = "seat-kept-after-room-end"
	ForceReplaceKeepsSeat = "force-replace-keeps-seat"
	LockLostOnLeave       = "seat-lock-lost-on-leave"
	EndedRoomListed       = "ended-room-still-listed"
	// A refused request that changed something.
	RefusedScorePartlyApplied = "refused-score-partly-applied"
	// One party of a pending battle not told.
	AcceptedNotCancelled = "accepted-invitee-not-cancelled"
	InviteeLeaveNoReject = "invitee-leave-not-rejected"
	// Rooms that exited left out of a battle's lists.
	BattleInfoDropsExited = "battle-info-drops-exited-rooms"
	HookDropsExited       = "end-webhook-drops-exited-rooms"
	// A field missing, in the wrong unit, or stamped at the wrong moment.
	HookNoExtensionInfo = "create-webhook-without-extension-info"
	HookEndTimeMs       = "end-webhook-end-time-in-ms"
	CreateTimeSeconds   = "create-time-in-seconds"
	EndTimeScheduled    = "end-time-as-scheduled"
	GroupTimeRestamped  = "group-join-time-restamped"

	// The same hunt in the transport: the webhooks' delivery and query, the REST framework's
	// checks, the handshake's and the frame's bounds, the rate limit, a session's end.
	WebhookTimestampMs      = "webhook-timestamp-in-ms"
	WebhookBackoffFixed     = "webhook-backoff-fixed"
	Webhook4xxDelivered     = "webhook-4xx-counts-as-delivered"
	WebhookNoTimeout        = "webhook-post-never-times-out"
	RESTEndPlatformUnknown  = "rest-battle-end-platform-unknown"
	ClientIPWithPort        = "client-ip-with-port"
	UnknownAPIFirst         = "unknown-api-checked-first"
	OnlyGetRefused          = "only-get-refused-405"
	ContentTypeAnyCase      = "contenttype-any-case"
	RandomZeroRefused       = "random-zero-refused"
	RequestIDFromRandom     = "request-id-from-random"
	UserBufUnsigned         = "userbuf-not-signed"
	IdentifierAnyCase       = "identifier-any-case"
	IDCountedInCharacters   = "request-id-counted-in-characters"
	NameCountedInCharacters = "username-counted-in-characters"
	MalformedNotLimited     = "malformed-frames-not-rate-limited"
	ExpiredSessionKept      = "expired-token-session-kept"

	// The same hunt against the load generator's checks: each made a load run exit 0.
	EndTwiceToOne      = "battle-end-twice-to-one-none-to-another"
	ScoreToOtherBattle = "score-change-to-another-battle"
	ReplyTwice         = "reply-sent-twice"
	StaleScoreList     = "stale-battle-user-list"

	// A second hunt of the core's paths (2026-12-07, 16:00); its other findings are open in
	// conformance/REVIEW.md.
	AcceptedLeaveSilent = "accepted-invitee-leaves-silently"
	MicInherited        = "mic-inherited-by-next-occupant"
	VacateClearsLock    = "leave-or-kick-clears-lock"
	MoveToOwnSeatEvent  = "move-to-own-seat-sends-event"
	ListCountAtCreation = "list-count-at-creation"

	// The same hunt's survivors, left open at first and given specs later (2026-12-07, 17:15).

	// A host acting for a room of its group.
	GroupmateCancels = "groupmate-cancels-request"
	// A field of an event stamped as if the room were in no group.
	InviterJoinTimeZero = "connected-inviter-join-time-zero"
	// Events for a room's host sent to its whole audience too.
	ConnRequestsToAudience  = "connection-requests-to-audiences"
	BattleAnswersToAudience = "battle-answers-to-audiences"
	MicChangeOwnRoomOnly    = "mic-change-to-own-room-only"
	// A room that left a battle still counted in it.
	RejecterBusy        = "rejecter-busy-while-battle-runs"
	StartHookListsAll   = "start-webhook-lists-every-invitee"
	PendingBattleJoined = "pending-battle-in-join-reply"
	// The battle rate limit counting what BATTLE-014 says it does not.
	RefusedRequestsCounted = "refused-battle-requests-counted"
	RESTBattlesCounted     = "rest-battles-counted"
	// A fetchLiveList cursor that loses rooms created in the same millisecond.
	CursorByCreationMs = "cursor-by-creation-ms"

	// A hunt of the REST API's semantics (2026-12-07, 17:40): each passed the whole suite.

	// get_battle_info finding the wrong battle, or the right one with a wrong field.
	RoomBattleWins       = "rest-room-battle-wins-over-battle-id"
	GivenUpEndTimeZero   = "rest-given-up-end-time-zero"
	RoomQueryRunningOnly = "rest-room-query-running-only"
	RoomQueryFindsExited = "rest-room-query-finds-exited-room"
	EndedDroppedAtNext   = "ended-battle-dropped-at-next-battle"
	EndedVersionZero     = "rest-ended-battle-version-zero"
	// set_battle_score.
	RejecterScored       = "rejected-invitee-scored"
	ZeroAddSkipped       = "zero-add-skipped"
	ReplayCurrentVersion = "idempotent-replay-current-version"
	// create_battle.
	CreateHookListsRefused = "rest-create-webhook-lists-refused-rooms"
	DurationBoundRounded   = "rest-duration-bound-after-rounding"
	RESTRequestToAudience  = "rest-battle-request-to-audience"
	ExtensionInfoTrimmed   = "rest-extension-info-trimmed"
	RESTBattleInvisible    = "rest-battle-invisible-to-request-battle"

	// A hunt of the connection's life (2026-12-07, 17:40): resume, losses, the state a
	// resume without its frames carries.
	SilenceEndsSession     = "silence-ends-session-at-once"
	BareCloseKeepsSession  = "bare-close-keeps-session"
	LastSeqOneAhead        = "resume-lastseq-one-ahead-accepted"
	RefusedResumeTakesOver = "refused-resume-takes-over-session"
	NewLoginWaitsWindow    = "new-login-leaves-old-session-waiting"
	LostInviteeSilent      = "lost-invitee-request-closed-silently"
	StateHostBySeat        = "state-host-means-seated"
	StateListsOutgoing     = "state-lists-outgoing-requests"
	StateOwnSeatsOnly      = "state-seat-list-not-merged"
	StateListsAccepted     = "state-lists-accepted-battle"

	// A hunt of request validation and the rooms (2026-12-07, 17:40).
	LiveNameInRunes      = "live-name-counted-in-characters"
	CreateStateFirst     = "create-live-state-before-fields"
	LockPermissionFirst  = "lock-seat-permission-before-fields"
	BarePayloadIgnored   = "bare-request-payload-ignored"
	FetchInfoUnchecked   = "fetch-live-info-id-unchecked"
	RoomIDsFoldCase      = "room-ids-compared-ignoring-case"
	LiveIDTrimmed        = "live-id-trimmed"
	PrivateNotJoinable   = "private-room-not-joinable"
	TemplateNotKept      = "seat-template-not-kept"
	OwnerIDOnly          = "live-owner-id-only"
	HostSeatKeptAtEnd    = "host-seat-kept-at-end"
	SeatlessLeaveEvent   = "seatless-leave-sends-seat-event"
	TemplateMessageVague = "seat-template-message-vague"
	TemplateInt32        = "seat-template-int32"
	EmptySeatLiveID      = "empty-seat-user-live-id"

	// The REST hunt's other four: bodies the suite's client could not send, and check order.
	OpTypeLoose     = "optype-string-other-than-2-adds"
	EmptyKeyUsed    = "empty-idempotency-key-used"
	ScoreStateFirst = "set-score-state-before-items"
	CreateRoomFirst = "create-battle-room-before-body"

	// The input hunt's two that need the raw payload.
	SeatCountFractionDropped = "max-seat-count-fraction-dropped"
	ExplicitCountZeroRefused = "explicit-list-count-zero-refused"

	// The life hunt's timers and history.
	GraceOldTimer          = "grace-timer-of-earlier-drop-kept"
	GraceTimerRearmed      = "grace-timer-rearmed-by-each-drop"
	HistoryClearedOnReplay = "history-cleared-after-replay"
	HistoryBytesKept       = "history-bytes-never-released"
	ReplacedWaits          = "replaced-session-waits-for-resume"
	SlowConsumerKept       = "slow-consumer-session-kept"

	// A connection the server closed for a frame it refused (2026-12-07, 23:20): gorilla's
	// 1002 was taken for a drop and kept the session for a resume.
	ProtocolErrorKeepsSession = "protocol-error-session-kept"
	RefusedFrameKeepsSession  = "refused-frame-session-kept"

	// Found by the fault hunt (2026-12-08, 00:15) in the unmodified reference.
	PongNotAlive = "pong-not-a-liveness-signal"

	// A hunt of webhooks' delivery (2026-12-07, 20:15): each passed the whole suite.
	Webhook3xxDelivered   = "webhook-3xx-counts-as-delivered"
	WebhookSignedOnce     = "webhook-signed-once"
	WebhookTimeoutDoubled = "webhook-post-timeout-10s"
	WebhookAnswerBodyRead = "webhook-answer-body-read"

	// A hunt with the load generator's churn (2026-12-07, 20:15): it passed the whole suite.
	GrownGroupAcceptAsReject = "grown-group-accept-reported-as-reject"
	// The same hunt: a load run exited 0 (its members did not compare an end's version).
	EndVersionZero         = "battle-end-version-zero"
	AudienceStaleScoreList = "audience-stale-battle-user-list"

	// A hunt of hostile input (2026-12-07, 20:15): each passed the whole suite.
	RateLimitedRuns          = "rate-limited-request-runs"
	RateLimitedLongIDEchoed  = "rate-limited-reply-echoes-long-id"
	FirstPayloadCounts       = "first-payload-member-counts"
	RefusedHandshakeReplaces = "refused-handshake-replaces-connection"
	ReplyIDUnescaped         = "reply-id-unescaped"
	TypeMatchedAsWritten     = "type-matched-as-written"
	RESTTrailingAccepted     = "rest-body-trailing-text-accepted"
	LoneSurrogateAccepted    = "lone-surrogate-accepted"
	DELPrintable             = "del-counted-printable"
	RefusedJoinCounted       = "refused-join-counted-in-room"
	IDLengthEscaped          = "id-length-counted-escaped"
	StringPayloadDecoded     = "string-payload-decoded"
	RESTAPIFolded            = "rest-api-name-folded"
	BinaryCarriedOut         = "binary-frame-carried-out"
	BadIDRequestRuns         = "bad-id-request-runs"

	// The hostile hunt's readings left open, settled: each passed the whole suite before.
	WebhookRedirectFollowed      = "webhook-redirect-followed"
	RepeatedParamFirstCounts     = "repeated-handshake-parameter-first-counts"
	RESTRepeatedParamFirstCounts = "rest-repeated-parameter-first-counts"
	UnknownTypeBeforeID          = "unknown-type-before-id"
	IDBeforeType                 = "id-checked-before-type"
	RESTBodyTrimmedAsText        = "rest-body-trimmed-as-text"
	NestingLimitLow              = "nesting-limit-16"
	IntegerAsWritten             = "integer-read-as-written"
	TokenNumbersByValue          = "token-numbers-read-by-value"

	// A hunt of battles and seats (2026-12-08, 00:25): each passed the whole suite.
	RankIgnoresExited        = "rank-ignores-exited-rooms"
	JoinerSplitFromStart     = "joiner-split-from-start"
	ScoreCarriedOver         = "score-carried-to-next-battle"
	AcceptedInviteeFree      = "accepted-invitee-not-busy"
	CancelPartlyApplied      = "cancel-partly-applied"
	BusyBeforeGroup          = "busy-before-group"
	AudienceIDInvitesRoom    = "audience-id-invites-room"
	DurationZeroRefused      = "duration-zero-refused"
	StartTimeAtRequest       = "start-time-at-request"
	EndTimerFromRequest      = "end-timer-from-request"
	ExitedBusyUntilEnd       = "exited-room-busy-until-end"
	MoveLastSeatRefused      = "move-to-last-seat-refused"
	MoveEventOwnRoomOnly     = "move-event-own-room-only"
	JoinSendsSeatEvent       = "join-sends-seat-event"
	MicStaysWithSeat         = "microphone-stays-with-seat"
	StartBeforeLastAccept    = "start-before-last-accept"
	ClosedInviteesCancelled  = "closed-invitees-cancelled"
	TimedOutInviteeBusy      = "timed-out-invitee-busy"
	LeaverKeepsBattle        = "leaver-keeps-battle-events"
	RejectToRejecter         = "reject-echoed-to-rejecter"
	CancelToInviter          = "cancel-echoed-to-inviter"
	MuteWhenMutedEvent       = "mute-when-muted-sends-event"
	LockLastSeatRefused      = "lock-last-seat-refused"
	ExitedRoomShowsBattle    = "exited-room-shows-battle"
	TimeUpEndToExited        = "time-up-end-to-exited-rooms"
	RequestTimeoutRearmed    = "request-timeout-rearmed"
	SeatIndexCappedAtNine    = "seat-index-capped-at-nine"
	StaleEndTimerFires       = "stale-end-timer-fires"
	InviteeLeaveNoStart      = "invitee-leave-no-start"
	MemberPolicyOntoFreeSeat = "member-policy-onto-free-seat"
	MoveSeatsUnseated        = "move-seats-unseated-member"
	GroupLeftBeforeBattle    = "group-left-before-battle"
)

// Catalogue is every mutant, with what must catch it.
var Catalogue = []Mutant{
	{TenthRoom, "a tenth room may join a group of nine", []string{"LIMIT-001"}},
	{FiftyFirstUser, "a fifty-first user may join a room", []string{"LIMIT-002"}},
	{TimeoutOneSide, "a connection request's timeout reaches the inviter only", []string{"COHOST-014"}},
	{NoLeftOnLoss, "a host whose connection drops leaves its group without the left event", []string{"LIVE-021"}},
	{TimeoutZeroDefault, "timeout 0 on a connection request means the default timeout", []string{"COHOST-015"}},
	{GroupHostsOnly, "group changes reach hosts but not audiences", []string{"COHOST-020"}},
	{NoHeartbeatTimeout, "a silent connection is never closed", []string{"LIVE-020"}},
	{SeqGap, "frame numbering skips a number", []string{"TRANS-005"}},
	{SeqSwapped, "frames 7 and 8 of a connection carry each other's seq: 8 comes before 7", []string{"TRANS-005"}},
	{NoLiveEnded, "the audience of an ended room is not told", []string{"ROOM-007"}},
	{ScoreSkipsRoom, "a score update is not sent to one user of the battle", []string{"BATTLE-042", "BATTLE-043"}},
	{VersionsOutOfOrder, "every third score update carries an older version", []string{"BATTLE-042", "BATTLE-043"}},
	{WrongEndReason, "a battle that runs out of time ends with reason 1, and vice versa", []string{"BATTLE-030"}},
	{TiesRankedApart, "equal scores get different ranks", []string{"BATTLE-041"}},
	{RESTSigUnchecked, "the REST usersig is not verified", []string{"REST-003"}},
	{WebhookNotRetried, "a failed webhook is given up at once", []string{"HOOK-005"}},
	{BattleTimeoutOneEnd, "a battle request's timeout reaches the inviter only", []string{"BATTLE-009"}},
	{IdempotencyIgnored, "a set_battle_score retried with the same IdempotencyKey is applied again", []string{"REST-034"}},
	{KeyForgottenAtEnd, "a set_battle_score retried after its battle ended gets 100421, not its first response", []string{"REST-034"}},
	{ExitedRoomScored, "a room that exited a battle still gets scores", []string{"REST-031"}},
	{OverwriteAdds, "set_battle_score with OpType 2 adds", []string{"REST-030"}},
	{NoRESTRateLimit, "the REST API has no rate limit", []string{"REST-004"}},
	{NoConnRateLimit, "a connection's advertised request limit is never applied", []string{"RATE-001"}},
	{InvalidUTF8Accepted, "a text message that is not UTF-8 is read as if it were", []string{"TRANS-013"}},
	{TokenOutlivesExpiry, "a connection stays open after its UserSig expires", []string{"AUTHZ-003"}},

	{ExtInfoAtLimitRefused, "an extensionInfo of exactly 1024 bytes is refused with 100002", []string{"COHOST-007", "BATTLE-002"}},
	{MaxDurationRefused, "a battle of exactly maxBattleDurationS is refused with 100002", []string{"BATTLE-002", "REST-010"}},
	{ScoreListAtLimitRefused, "a ScoreList of exactly 100 items is refused with 100002", []string{"REST-030"}},
	{ConnTimeoutDoubled, "a connection request times out after twice its timeout", []string{"COHOST-014"}},
	{BattleTimeoutDoubled, "a battle request times out after twice its timeout", []string{"BATTLE-009"}},
	{BattleOvertime, "a battle ends after twice its duration", []string{"BATTLE-030"}},
	{DurationTruncated, "create_battle truncates Duration to whole seconds instead of rounding it", []string{"REST-010"}},
	{EarlierRequestsUncounted, "requests a group sent in earlier calls do not count towards maxConnectedRooms", []string{"COHOST-006"}},
	{RESTInvitesPendingRoom, "create_battle invites a room that has a pending battle request", []string{"REST-011"}},
	{OnlyHeartbeatsKeepAlive, "a host that sends requests but no heartbeat for a second loses its room as on a lost connection", []string{"LIVE-020", "HEART-001"}},
	{BattleAcceptedTwice, "a host may accept the same battle request again, and the inviter hears of it twice", []string{"BATTLE-011"}},
	{RejoinSameRoom, "joinLive of the room the caller is already in succeeds", []string{"ROOM-004"}},
	{KeyAcrossBattles, "an IdempotencyKey used in one battle counts as used in every battle", []string{"REST-034"}},
	{VersionAcrossBattles, "score versions count the changes of every battle, not each battle's own", []string{"BATTLE-042"}},
	{SeatIndexAcrossGroup, "a seat index taken in one room of a group counts as taken in every room of the group", []string{"SEAT-001"}},
	{ConnectedByCreation, "connectedList and the merged seats follow the rooms' creation order, not their join order", []string{"COHOST-020", "SEAT-010"}},
	{BoardInGroupOrder, "a battle's invitees and scoreboard follow the group's join order, not the order the inviter listed them", []string{"BATTLE-020", "BATTLE-041"}},
	{ScoreSkipsInviterAudience, "score changes reach the inviting room's host but not its audience", []string{"BATTLE-042"}},
	{InviterScoreHidden, "get_battle_info reports the inviting room's score as 0", []string{"REST-020"}},

	{ResumeLossAtOnce, "a dropped session is lost at once: the others see the loss and its resume is refused", []string{"RESUME-002"}},
	{ResumeWindowEndless, "a dropped session waits for its resume for ever: the others never see the loss", []string{"RESUME-005"}},
	{ResumeReplaysLastAgain, "a replay starts with the frame the client said it processed", []string{"RESUME-003"}},
	{ResumeRenumbers, "replayed frames get new seqs instead of their original ones", []string{"RESUME-003"}},
	{ResumeClaimsRecovered, "a session whose missed frames were let go resumes with recovered: true and a partial replay", []string{"RESUME-004"}},
	{ResumeAnyUser, "a resume token resumes its session for any authenticated user", []string{"RESUME-006"}},
	{ResumeOldTokenKept, "a token already used to resume stays valid", []string{"RESUME-006"}},

	{SeatKeptAfterRoomEnd, "an audience member seated in a room that ends still counts as seated: its takeSeat in its next room gets 100204", []string{"ROOM-007"}},
	{ForceReplaceKeepsSeat, "the member a forceReplace displaced still counts as seated: its takeSeat gets 100204", []string{"SEAT-005"}},
	{LockLostOnLeave, "a locked seat loses its lock when its occupant leaves the room", []string{"SEAT-003"}},
	{EndedRoomListed, "an ended room stays in fetchLiveList", []string{"ROOM-008"}},
	{RefusedScorePartlyApplied, "a set_battle_score refused for a sum beyond 2^53-1 keeps the items before the one that overflowed", []string{"REST-033"}},
	{AcceptedNotCancelled, "an invitee that accepted a pending battle is not told when the inviter's room leaves it", []string{"BATTLE-023"}},
	{InviteeLeaveNoReject, "an invitee room that leaves a pending battle is not reported to the inviter as a rejection", []string{"BATTLE-023"}},
	{BattleInfoDropsExited, "get_battle_info leaves the rooms that exited a running battle out of ToRoomList", []string{"REST-020"}},
	{HookDropsExited, "the end webhook leaves the rooms that exited the battle out of ToRoomList", []string{"HOOK-002"}},
	{HookNoExtensionInfo, "the create webhook carries no ExtensionInfo", []string{"HOOK-002"}},
	{HookEndTimeMs, "the end webhook's EndTime is in milliseconds, not seconds", []string{"HOOK-002"}},
	{CreateTimeSeconds, "a room's createTime is in seconds, not milliseconds", []string{"ROOM-001"}},
	{EndTimeScheduled, "a battle that ended early reports endTime = startTime + duration, not when it ended", []string{"BATTLE-030"}},
	{GroupTimeRestamped, "the inviting room's joinConnectionTime is set again each time its group admits a room", []string{"COHOST-023"}},

	{WebhookTimestampMs, "X-Pkarena-Timestamp is in milliseconds, not seconds", []string{"HOOK-004"}},
	{WebhookBackoffFixed, "a failed webhook is retried after the same wait each time, not a growing one", []string{"HOOK-005"}},
	{Webhook4xxDelivered, "a webhook answered with a 4xx counts as delivered and is not retried", []string{"HOOK-005"}},
	{WebhookNoTimeout, "a webhook POST has no timeout: a receiver that never answers holds it for ever, never retried", []string{"HOOK-005"}},
	{RESTEndPlatformUnknown, "the end webhook of a battle created over REST says OptPlatform Unknown", []string{"HOOK-001"}},
	{ClientIPWithPort, "a webhook's ClientIP is the REST caller's address with its port", []string{"HOOK-001"}},
	{UnknownAPIFirst, "an unknown API is refused (60002) before the sdkappid, usersig and administrator checks", []string{"REST-003"}},
	{OnlyGetRefused, "only GET and HEAD get 405: PUT and DELETE are served like POST", []string{"REST-002"}},
	{ContentTypeAnyCase, "contenttype JSON (any case) is taken for json", []string{"REST-003"}},
	{RandomZeroRefused, "random=0 is refused with 60002 as if none were given", []string{"REST-001"}},
	{RequestIDFromRandom, "RequestId is made from the caller's random: two requests with one random share it", []string{"REST-002"}},
	{UserBufUnsigned, "the HMAC of a usersig leaves TLS.userbuf out: a token carrying one is refused", []string{"AUTH-002"}},
	{IdentifierAnyCase, "a usersig's identifier is compared regardless of case", []string{"AUTH-005", "REST-003"}},
	{IDCountedInCharacters, "a request id's 64-byte bound counts characters", []string{"TRANS-003"}},
	{NameCountedInCharacters, "the handshake's 64-byte username bound counts characters", []string{"AUTH-001"}},
	{MalformedNotLimited, "malformed frames do not count against the connection's request limit", []string{"RATE-001"}},
	{ExpiredSessionKept, "a connection closed with 4001 (its token expired) keeps its session for a resume", []string{"RESUME-001"}},

	{EndTwiceToOne, "a battle's first member is told of its end twice and its last member never", []string{"BATTLE-030"}},
	{ScoreToOtherBattle, "each score change also reaches one member of another running battle", []string{"BATTLE-042"}},
	{ReplyTwice, "now and then a reply is sent a second time (with a seq of its own)", []string{"TRANS-006"}},
	{StaleScoreList, "onBattleScoreChanged carries the new version with the scores as they were before the change", []string{"BATTLE-042"}},

	{AcceptedLeaveSilent, "an invitee that accepted and then leaves before the start is not reported to the inviter as a rejection", []string{"BATTLE-023"}},
	{MicInherited, "the next occupant of a seat gets the microphone its last occupant left it with", []string{"SEAT-001"}},
	{VacateClearsLock, "leaveSeat and kickUserOutOfSeat also clear the seat's lock", []string{"SEAT-003"}},
	{MoveToOwnSeatEvent, "moving a user to the seat it is on sends onSeatListChanged", []string{"SEAT-008"}},
	{ListCountAtCreation, "fetchLiveList gives every room's currentUserCount as 1, as when it was created", []string{"ROOM-008"}},

	{GroupmateCancels, "cancelConnectionRequest also cancels a request another room of the caller's group made", []string{"AUTHZ-002"}},
	{InviterJoinTimeZero, "onConnectionRequestReceived gives a connected inviter joinConnectionTime 0", []string{"COHOST-002"}},
	{ConnRequestsToAudience, "a connection request's events reach every member of the rooms, not their hosts alone", []string{"COHOST-002"}},
	{BattleAnswersToAudience, "a battle request's accept, reject and timeout reach every member of the rooms, not their hosts alone", []string{"BATTLE-009"}},
	{MicChangeOwnRoomOnly, "a microphone change in a group reaches the members of the speaker's own room only", []string{"SEAT-008"}},
	{RejecterBusy, "a room that rejected a battle gets code 3 while that battle runs among the others", []string{"BATTLE-005"}},
	{StartHookListsAll, "the start webhook's ToRoomList lists every invitee, the ones that rejected or timed out included", []string{"HOOK-002"}},
	{PendingBattleJoined, "joinLive's reply carries a battle that has not started yet", []string{"BATTLE-025"}},
	{RefusedRequestsCounted, "a requestBattle refused with 100412 counts against the battle rate limit", []string{"BATTLE-014"}},
	{RESTBattlesCounted, "a battle created over REST counts against its inviter room's battle rate limit", []string{"BATTLE-014"}},
	{CursorByCreationMs, "fetchLiveList's cursor is the last room's creation time in ms: a room created in the same ms is skipped", []string{"ROOM-008"}},

	{RoomBattleWins, "get_battle_info with BattleId and RoomId answers the room's battle", []string{"REST-020"}},
	{GivenUpEndTimeZero, "get_battle_info gives a battle that never started EndTime 0, not when it was given up", []string{"REST-020"}},
	{RoomQueryRunningOnly, "get_battle_info by RoomId finds running battles only: a pending battle's room gets 100411", []string{"REST-020"}},
	{RoomQueryFindsExited, "get_battle_info by RoomId still finds the running battle a room exited", []string{"REST-020"}},
	{EndedDroppedAtNext, "an ended battle is forgotten once one of its rooms is in another battle", []string{"REST-020"}},
	{EndedVersionZero, "get_battle_info gives an ended battle ScoreVersion 0", []string{"REST-020"}},
	{RejecterScored, "set_battle_score scores an invitee that rejected, timed out or was cancelled", []string{"REST-031"}},
	{ZeroAddSkipped, "set_battle_score skips an add of 0: a request of only those makes no version", []string{"BATTLE-042"}},
	{ReplayCurrentVersion, "a replayed IdempotencyKey gets the first Result with the current ScoreVersion", []string{"REST-034"}},
	{CreateHookListsRefused, "the create webhook of a REST battle lists every requested room, the refused ones too", []string{"HOOK-002"}},
	{DurationBoundRounded, "create_battle checks Duration's upper bound after rounding: up to 499 ms beyond it accepted", []string{"REST-010"}},
	{RESTRequestToAudience, "a REST battle's onBattleRequestReceived reaches the invitee rooms' audience too", []string{"BATTLE-007"}},
	{ExtensionInfoTrimmed, "create_battle trims the whitespace around ExtensionInfo", []string{"REST-010"}},
	{RESTBattleInvisible, "requestBattle does not see battles created over REST: no 100415, code 0 for their rooms", []string{"BATTLE-021"}},

	{SilenceEndsSession, "a connection closed for silence (4000) ends its session at once: no resume", []string{"RESUME-001"}},
	{BareCloseKeepsSession, "a close frame without a status code (1005) keeps the session for a resume, as a drop would", []string{"RESUME-001"}},
	{LastSeqOneAhead, "a resume with lastseq one past the session's last frame is accepted", []string{"RESUME-006"}},
	{RefusedResumeTakesOver, "a resume refused for a lastseq ahead first closes the session's open connection with 4009", []string{"RESUME-006"}},
	{NewLoginWaitsWindow, "a new login leaves the session waiting for its resume to be lost at the window's end, not at once", []string{"RESUME-006"}},
	{LostInviteeSilent, "a lost host's pending incoming connection request is closed without telling the inviter", []string{"COHOST-017"}},
	{StateHostBySeat, "a resume's state.host says whether the user is seated, not whether it is the host", []string{"RESUME-004"}},
	{StateListsOutgoing, "a resume's state.connectionRequests lists the room's own outgoing requests too", []string{"RESUME-004"}},
	{StateOwnSeatsOnly, "a resume's state.room.seatList holds the room's own seats, not the group's merged list", []string{"RESUME-004"}},
	{StateListsAccepted, "a resume's state.battleRequests lists a pending battle the room has accepted", []string{"RESUME-004"}},

	{LiveNameInRunes, "liveName's 100-byte bound counts characters", []string{"INPUT-003"}},
	{CreateStateFirst, "createLive checks the caller's room and the liveID's use before its other fields", []string{"INPUT-004"}},
	{LockPermissionFirst, "lockSeat and unlockSeat check the caller's permission before a missing seatIndex", []string{"INPUT-004"}},
	{BarePayloadIgnored, "a request that takes no fields never reads its payload: leaveLive with payload 5 is carried out", []string{"INPUT-004"}},
	{FetchInfoUnchecked, "fetchLiveInfo does not validate liveID: a malformed one gets 100004", []string{"INPUT-003"}},
	{RoomIDsFoldCase, "room IDs are compared regardless of case", []string{"ROOM-003"}},
	{LiveIDTrimmed, "createLive trims the whitespace around liveID before checking it", []string{"INPUT-003"}},
	{PrivateNotJoinable, "a room created with isPublicVisible false cannot be joined (100004)", []string{"ROOM-005"}},
	{TemplateNotKept, "a room's seatTemplate is 600 everywhere but createLive's reply", []string{"ROOM-009"}},
	{OwnerIDOnly, "liveOwner carries the userID only (no userName, avatarURL) everywhere but createLive's reply", []string{"ROOM-009"}},
	{HostSeatKeptAtEnd, "endLive frees the audience's seats but not the host's own", []string{"ROOM-007"}},
	{SeatlessLeaveEvent, "leaveLive of an audience member on no seat sends onSeatListChanged", []string{"SEAT-008"}},
	{TemplateMessageVague, "a bad seatTemplate's 100002 does not name the field", []string{"INPUT-003"}},
	{TemplateInt32, "seatTemplate is read as a 32-bit integer: 3000000000 is refused", []string{"ROOM-009"}},
	{EmptySeatLiveID, "an empty seat's userInfo.liveID is the seat's room, not \"\"", []string{"ROOM-001"}},
	{OpTypeLoose, "a string OpType other than \"2\" (\"3\", \"add\") adds instead of being refused", []string{"REST-030"}},
	{EmptyKeyUsed, "\"IdempotencyKey\": \"\" is used as a key: a second such request is not applied", []string{"REST-034"}},
	{ScoreStateFirst, "set_battle_score checks the battle's state before its items: an ended battle and a bad item get 100421", []string{"REST-005"}},
	{CreateRoomFirst, "create_battle looks up FromRoomId before checking the body: an unknown room and a bad Duration get 100004", []string{"REST-005"}},
	{SeatCountFractionDropped, "createLive reads maxSeatCount as any number and drops its fraction: 2.5 is 2", []string{"INPUT-003"}},
	{ExplicitCountZeroRefused, "fetchLiveList refuses an explicit count 0 with 100002 (only an absent count means 20)", []string{"ROOM-008"}},
	{GraceOldTimer, "a session resumed and dropped again is lost when its first window ends", []string{"RESUME-005"}},
	{GraceTimerRearmed, "one grace timer, re-armed by each drop: an earlier drop's loss waits for the latest drop's window", []string{"RESUME-005"}},
	{HistoryClearedOnReplay, "a replay clears the history: a second resume from before it gets recovered false", []string{"RESUME-004"}},
	{HistoryBytesKept, "the history's bytes are never released: after resumeHistoryBytes in a session's life it keeps one frame", []string{"RESUME-004"}},
	{ReplacedWaits, "a connected session a new login replaces (4009) waits for a resume instead of ending", []string{"AUTH-006"}},
	{SlowConsumerKept, "a connection cut off with 4008 (its send queue full) keeps its session for a resume", []string{"RESUME-001"}},
	{ProtocolErrorKeepsSession, "a connection gorilla closed with 1002 for a broken frame is taken for a drop (1006): its session waits for a resume", []string{"RESUME-001"}},
	{RefusedFrameKeepsSession, "a connection closed with 1003, 1007 or 1009 for a frame the server refused keeps its session for a resume", []string{"RESUME-001"}},
	{PongNotAlive, "an unsolicited WebSocket pong does not reset the liveness timer (gorilla's default pong handler)", []string{"HEART-001"}},

	{Webhook3xxDelivered, "a webhook answered with a 3xx counts as delivered and is not retried", []string{"HOOK-005"}},
	{WebhookSignedOnce, "a webhook is signed once, at its first attempt: every retry carries that timestamp", []string{"HOOK-004"}},
	{WebhookTimeoutDoubled, "a webhook POST times out after 10 s, not 5 s", []string{"HOOK-005"}},
	{WebhookAnswerBodyRead, "a webhook answered 2xx whose body's ErrorCode is not 0 counts as failed and is retried", []string{"HOOK-005"}},
	{GrownGroupAcceptAsReject, "a room that joins a group of three or more is reported to its inviter with onConnectionRequestReject", []string{"COHOST-011"}},
	{EndVersionZero, "onBattleEnded carries version 0, not the battle's last", []string{"BATTLE-044"}},
	{AudienceStaleScoreList, "the audience's onBattleScoreChanged carries the scores before the change under the new version (the hosts' are right)", []string{"BATTLE-042"}},

	// A hunt of hostile input (2026-12-07, 20:15): each passed the whole suite.
	{RateLimitedRuns, "a request over the connection's rate limit is carried out; only its reply says 100012", []string{"RATE-001"}},
	{RateLimitedLongIDEchoed, "the 100012 refusal of a request whose id is over 64 bytes echoes that id, not \"\"", []string{"RATE-001"}},
	{FirstPayloadCounts, "of a payload member given twice, the first counts", []string{"INPUT-006"}},
	{RefusedHandshakeReplaces, "a handshake refused for its token still closes the user's open connection with 4009", []string{"AUTH-003"}},
	{ReplyIDUnescaped, "a reply's printable ASCII id is written unescaped: a quote or backslash in it breaks the JSON", []string{"TRANS-006"}},
	{TypeMatchedAsWritten, "type is matched as its raw JSON bytes: \\u0068eartbeat is an unknown type", []string{"TRANS-003"}},
	{LoneSurrogateAccepted, "a text message with a surrogate encoded on its own (ED A0 80) is taken as UTF-8", []string{"TRANS-013"}},
	{DELPrintable, "DEL (0x7F) counts as printable: a userid holding it is accepted", []string{"AUTH-001"}},
	{RefusedJoinCounted, "a host's joinLive into another room, refused with 100903, still adds it to that room", []string{"INPUT-004"}},
	{IDLengthEscaped, "an id's length is counted on its raw JSON: 64 bytes written with escapes are refused", []string{"TRANS-003"}},
	{StringPayloadDecoded, "a payload given as a JSON string holding an object is decoded as that object", []string{"INPUT-003"}},
	{BinaryCarriedOut, "a binary frame's request is carried out before the connection is closed with 1003", []string{"TRANS-002"}},
	{BadIDRequestRuns, "a request whose id is missing, empty or not a string runs; only its reply says 100002", []string{"INPUT-003"}},
	{RESTTrailingAccepted, "a REST body with text after its JSON object is taken as that object", []string{"REST-003"}},
	{RESTAPIFolded, "the REST api name is lower-cased and trimmed of slashes: CREATE_BATTLE is create_battle", []string{"REST-003"}},

	// The hostile hunt's readings left open, settled.
	{RepeatedParamFirstCounts, "a handshake giving a parameter twice is read by its first value (url.Values.Get), not refused", []string{"AUTH-001"}},
	{RESTRepeatedParamFirstCounts, "a REST query giving a parameter twice is read by its first value (url.Values.Get), not refused with 60002", []string{"REST-003"}},
	{UnknownTypeBeforeID, "a frame of an unknown type gets 100902 before its id is checked: {\"type\":\"flyToTheMoon\"} is not refused for its missing id", []string{"INPUT-002"}},
	{IDBeforeType, "a frame's id is checked before its type: {\"id\":12} gets 100002, not 100901", []string{"INPUT-001"}},
	{RESTBodyTrimmedAsText, "a REST body is trimmed as Unicode text before it is read: a byte order mark, a no-break space or a NEL around the object is dropped", []string{"REST-003"}},
	{NestingLimitLow, "a frame or REST body whose arrays and objects nest deeper than 16 levels is refused as unreadable (100901, 60003), under the 64 a server must read", []string{"INPUT-001", "REST-003"}},
	{IntegerAsWritten, "an integer field is read as encoding/json reads an int: 2.0, 1e2 and 20E-1 are refused with 100002, and 2^53 is taken (a seatIndex of 2^53 gets 100200)", []string{"INPUT-003", "REST-005"}},
	{TokenNumbersByValue, "a UserSig's numbers are read by value: TLS.expire written 3600.0 or 3.6e3 is 3600, and the token is accepted", []string{"AUTH-002"}},
	{WebhookRedirectFollowed, "a webhook answered with a 3xx and a Location follows it as net/http does (a 301, 302 or 303 as a GET without the body): the answer at the Location decides", []string{"HOOK-005"}},
	// A hunt of battles and seats (2026-12-08, 00:25): each passed the whole suite.
	{RankIgnoresExited, "a rank counts only the rooms still in the battle: a room that exited no longer ranks above the others", []string{"BATTLE-041"}},
	{JoinerSplitFromStart, "a joining user's battle.inviter and invitees are onBattleStarted's (scores 0, ranks 1), not the current scoreboard", []string{"BATTLE-025"}},
	{ScoreCarriedOver, "a room's score at the end of a battle is its starting score in its next one", []string{"BATTLE-040"}},
	{AcceptedInviteeFree, "an invitee that accepted a battle still pending is free: it may request a battle and is invited with code 0", []string{"BATTLE-003"}},
	{CancelPartlyApplied, "cancelBattleRequest cancels the users listed before one with no pending request, then answers 100414", []string{"BATTLE-010"}},
	{BusyBeforeGroup, "a host in a battle outside the caller's group is answered code 3, not 1", []string{"BATTLE-005"}},
	{AudienceIDInvitesRoom, "an audience member's userID in requestBattle invites the room it is in", []string{"BATTLE-005"}},
	{DurationZeroRefused, "config.duration 0 is refused with 100002 instead of meaning the default", []string{"BATTLE-002"}},
	{StartTimeAtRequest, "a battle that needs answers gets the time of its request as startTime", []string{"BATTLE-020"}},
	{EndTimerFromRequest, "a battle that needs answers ends its duration after the request, not after its start", []string{"BATTLE-030"}},
	{ExitedBusyUntilEnd, "a room that exited a running battle stays busy (code 3, 100415) until the battle ends", []string{"BATTLE-021"}},
	{MoveLastSeatRefused, "moveUserToSeat refuses the last seat, maxSeatCount − 1, with 100200", []string{"SEAT-005"}},
	{MoveEventOwnRoomOnly, "a moveUserToSeat in a group reaches the members of the mover's own room only", []string{"SEAT-008"}},
	{JoinSendsSeatEvent, "joinLive sends every member of the room onSeatListChanged, though no seat changed", []string{"SEAT-008"}},
	{MicStaysWithSeat, "on moveUserToSeat each seat keeps its microphoneStatus: the moved and swapped users take the seat's", []string{"SEAT-005"}},
	{StartBeforeLastAccept, "on the last accept the inviter gets onBattleStarted before onBattleRequestAccept", []string{"BATTLE-009"}},
	{ClosedInviteesCancelled, "an inviter leaving a pending battle also sends onBattleRequestCancelled to the invitees that rejected or timed out", []string{"BATTLE-013"}},
	{TimedOutInviteeBusy, "an invitee whose request timed out stays busy until the battle ends", []string{"BATTLE-021"}},
	{LeaverKeepsBattle, "a member who leaves a room in a running battle still gets its battle events", []string{"BATTLE-042"}},
	{RejectToRejecter, "onBattleRequestReject also goes to the host that rejected", []string{"BATTLE-009"}},
	{CancelToInviter, "onBattleRequestCancelled also goes to the inviter that cancelled", []string{"BATTLE-010"}},
	{MuteWhenMutedEvent, "muteMicrophone of a muted microphone sends onSeatListChanged", []string{"SEAT-006"}},
	{LockLastSeatRefused, "lockSeat and unlockSeat refuse the last seat with 100200", []string{"SEAT-003"}},
	{ExitedRoomShowsBattle, "a user joining a room that exited a running battle finds the battle", []string{"BATTLE-025"}},
	{TimeUpEndToExited, "the onBattleEnded of a battle whose time is up also goes to the rooms that exited", []string{"BATTLE-027"}},
	{RequestTimeoutRearmed, "the answer timers of the invitees yet to answer start again at each other invitee's accept or reject", []string{"BATTLE-009"}},
	{SeatIndexCappedAtNine, "a seat index of 9 or more is refused with 100200 whatever the room's maxSeatCount", []string{"SEAT-001"}},
	{StaleEndTimerFires, "the end timer of a battle that ended early still fires: a second onBattleEnded and end webhook", []string{"BATTLE-030"}},
	{InviteeLeaveNoStart, "an invitee that leaves as the last to answer does not start the battle for the ones that accepted", []string{"BATTLE-012"}},
	{MemberPolicyOntoFreeSeat, "a member may use policy 1 or 2 to move itself onto a free seat", []string{"SEAT-007"}},
	{MoveSeatsUnseated, "moveUserToSeat of a member on no seat seats it instead of failing with 100203", []string{"SEAT-005"}},
	{GroupLeftBeforeBattle, "endLive of a room in a running battle leaves the group before it exits the battle", []string{"BATTLE-023"}},
}

// Env names the mutant to switch on in a pkarena_mutants build.
const Env = "PKARENA_MUTANT"
