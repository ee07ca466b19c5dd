package metrics

import (
	"strconv"
	"strings"
	"sync"
)

// Metric names the engine records. Each is recorded twice, as [Corrected] and [Service].
const (
	Connect        = "connect"         // WebSocket dial + welcome
	InviteDelivery = "invite_delivery" // requestConnection sent -> invitee receives onConnectionRequestReceived
	BattleStart    = "battle_start"    // requestBattle sent (or last accept) -> each member receives onBattleStarted
	ScoreFanout    = "score_fanout"    // set_battle_score sent -> each host and audience member receives that version
	// ScoreFanoutFirst is one sample a version: set_battle_score sent -> the first member to
	// receive that version. Beside score_fanout it splits a fan-out's latency into the start
	// (the call, the server's work before its first write) and the spread over the members.
	ScoreFanoutFirst = "score_fanout_first"
	BattleEnd        = "battle_end"            // the battle's end time -> each member receives onBattleEnded
	RESTScore        = "rest_set_battle_score" // REST call latency
	ResumeCatchup    = "resume_catchup"        // a dropped connection's drop -> caught up after its resume (load/engine/reconnect.go)
)

// replyPrefix starts the name of every reply-latency metric.
const replyPrefix = "reply."

// Counter names with a meaning the package knows (rates, built-in rules, the progress line).
// The engine may add any other counter.
const (
	Ops         = "ops"                 // operations attempted; the denominator of every "<counter>.rate"
	Errors      = "errors"              // failed operations, all codes; "errors.<code>" by code (see ErrorCounter)
	Dropped     = "dropped"             // sends the generator could not make at all
	Late        = "late"                // sends made after their intended time
	Lost        = "lost"                // messages that never arrived; any fails the run (ExitLost)
	LostGap     = "lost.gap"            // of Lost: a later message on its connection came first, and it has not come since
	LostOverdue = "lost.overdue"        // of Lost: not arrived when its books closed: lost, or later than that
	OutOfOrder  = "out_of_order"        // messages that arrived out of order or again; any fails the run (ExitLost)
	Unexpected  = "events.unexpected"   // events about a battle the user is not in; any fails the run (ExitLost)
	Violations  = "protocol.violations" // frames breaking the protocol (shape, a reply to no request); any fails the run (ExitLost)
	Connections = "connections"         // connections opened
	OutOfRange  = "out_of_range"        // latencies outside 1 µs .. 1 h, clamped before recording
)

// Gauge names with a meaning the package knows.
const (
	ConnectionsOpen     = "connections.open"            // connections open now
	MemoryPerConnection = "memory.bytes_per_connection" // generator memory per simulated connection
)

// Kind is one of the two latencies recorded per sample.
type Kind string

// The two kinds of latency.
const (
	Corrected Kind = "corrected" // received − intended send time: includes the generator's own waiting
	Service   Kind = "service"   // received − actual send time: the server's share
)

// Kinds lists both kinds, corrected first.
var Kinds = [2]Kind{Corrected, Service}

// Tag is the .hlog tag of a metric's histogram of one kind: "<metric>.<kind>".
func Tag(metric string, k Kind) string { return metric + "." + string(k) }

// splitTag splits a tag written by Tag; ok is false for any other shape.
func splitTag(tag string) (metric string, k Kind, ok bool) {
	i := strings.LastIndexByte(tag, '.')
	if i <= 0 {
		return "", "", false
	}
	k = Kind(tag[i+1:])
	if k != Corrected && k != Service {
		return "", "", false
	}
	return tag[:i], k, true
}

// replyNames caches ReplyMetric's results so that building a name does not allocate per sample.
var replyNames sync.Map // request type -> "reply.<type>"

// ReplyMetric is the metric of the reply latency of a WebSocket request type: "reply.<type>",
// e.g. "reply.requestBattle". The result is cached: calling it per sample does not allocate.
func ReplyMetric(reqType string) string {
	if v, ok := replyNames.Load(reqType); ok {
		return v.(string)
	}
	v, _ := replyNames.LoadOrStore(reqType, replyPrefix+reqType)
	return v.(string)
}

// errorNames caches ErrorCounter's results.
var errorNames sync.Map // code -> "errors.<code>"

// ErrorCounter is the counter of errors with a given code: "errors.<code>", e.g.
// "errors.100001". The result is cached: calling it per error does not allocate.
func ErrorCounter(code int) string {
	if v, ok := errorNames.Load(code); ok {
		return v.(string)
	}
	v, _ := errorNames.LoadOrStore(code, Errors+"."+strconv.Itoa(code))
	return v.(string)
}

// cleanName makes a metric name safe as an .hlog tag and a file name: every byte outside
// [A-Za-z0-9._-] becomes '_', leading dots too, and an empty name becomes "_".
func cleanName(name string) string {
	if name == "" {
		return "_"
	}
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' && i > 0
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// knownOrder places the package's metric names first, in the order of a battle's life.
var knownOrder = map[string]int{
	Connect: 1, InviteDelivery: 2, BattleStart: 3, ScoreFanout: 4, ScoreFanoutFirst: 5, BattleEnd: 6, RESTScore: 7,
	ResumeCatchup: 8,
}

// metricLess orders metric names for tables and reports: the known metrics in the order of a
// battle's life, then the reply metrics, then the rest, each group alphabetically.
func metricLess(a, b string) bool {
	ra, rb := metricRank(a), metricRank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// metricRank is the group of a metric name for metricLess.
func metricRank(name string) int {
	if r, ok := knownOrder[name]; ok {
		return r
	}
	if strings.HasPrefix(name, replyPrefix) {
		return 10
	}
	return 20
}
