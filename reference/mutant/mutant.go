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
}

// Env names the mutant to switch on in a pkarena_mutants build.
const Env = "PKARENA_MUTANT"
