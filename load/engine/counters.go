package engine

import "github.com/pkarena/pkarena/load/metrics"

// Counters and gauges of the engine beyond those the metrics package knows. Each is in the
// run's summary; the README's load section explains them.
const (
	counterMalformed       = "events.malformed"       // events whose payload did not decode
	counterUnexpected      = metrics.Unexpected       // events about no battle or cycle in progress
	counterRoomsEnded      = "rooms.ended"            // onLiveEnded: the server ended a room by itself
	counterGaps            = "score.gaps"             // versions skipped when a later one arrived
	counterUnmatched       = "score.unmatched"        // score changes of no update this agent sent
	counterVersionMismatch = "score.version_mismatch" // set_battle_score made another version than expected
	counterGiftsFailed     = "gifts.failed"           // gifts in a set_battle_score that failed
	counterNoBattle        = "gifts.no_battle"        // gifts due while no battle took gifts
	counterInviteRefused   = "invites.refused"        // invitations requestConnection refused (a non-zero code)
	counterBattleRefused   = "battles.refused"        // invitees requestBattle refused (a non-zero code)
	counterUnformed        = "groups.unformed"        // pk groups whose rooms did not all connect
	counterNoIdleGroup     = "churn.no_idle_group"    // open-model cycles with every group busy (also dropped)
	counterViolations      = metrics.Violations       // frames breaking the protocol (seq, shape)
	counterSkipped         = "users.skipped"          // viewers not dialed: their room's host failed

	gaugeRSSPerConnection = "memory.rss_per_connection" // the process's resident memory per connection
)

// lose counts n messages that never arrived (metrics.Lost, which it adds to even when n is
// 0, so that every run has it) and, when n is above 0, under how they are known lost:
// metrics.LostGap when a later message on the same connection came first and it has not come
// since (a gap in the sequence numbers, score versions missing at their battle's end: a server
// sends one connection's frames in order), metrics.LostOverdue when it had not arrived as
// its books closed (a battle's end and its grace, the run's drain, an invitation's answer
// wait): lost, or later than the wait. A server that drops frames shows as gaps; one that
// holds them back past the waits, or a generator too busy to read them, as overdue.
func (e *engine) lose(how string, n int64) {
	e.rec.Add(metrics.Lost, max(n, 0))
	if n > 0 {
		e.rec.Add(how, n)
	}
}
