package server

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pkarena/pkarena/reference/protocol"
)

// MetricsPath is where Handler serves the Prometheus metrics.
const MetricsPath = "/metrics"

// Label values of the metrics.
const (
	labelUnknown = "unknown" // a request type or REST API outside the protocol's
	labelOther   = "other"   // a close code outside closeCodeLabels

	kindReply = "reply"
	kindEvent = "event"

	boundFrames = "frames" // the send queue held SendQueueFrames frames (CLOSE-001)
	boundBytes  = "bytes"  // the send queue would have gone over SendQueueBytes (CLOSE-002)

	hookDelivered = "delivered" // a webhook POST answered 2xx
	hookRetried   = "retried"   // a failed attempt that is tried again
	hookDropped   = "dropped"   // given up after the last attempt, or dropped by a full queue
	hookDeferred  = "deferred"  // given up for now, kept in the outbox for the next start
)

// requestTypes are the request types counted under their own name; any other type, and a
// frame without one, counts as "unknown", so that clients cannot grow the label set.
var requestTypes = []string{
	protocol.ReqHeartbeat, protocol.ReqCreateLive, protocol.ReqEndLive, protocol.ReqJoinLive,
	protocol.ReqLeaveLive, protocol.ReqFetchLiveList, protocol.ReqFetchLiveInfo,
	protocol.ReqTakeSeat, protocol.ReqLeaveSeat, protocol.ReqLockSeat, protocol.ReqUnlockSeat,
	protocol.ReqKickUserOutOfSeat, protocol.ReqMoveUserToSeat, protocol.ReqMuteMicrophone,
	protocol.ReqUnmuteMicrophone, protocol.ReqRequestConnection,
	protocol.ReqCancelConnectionRequest, protocol.ReqAcceptConnection,
	protocol.ReqRejectConnection, protocol.ReqDisconnect, protocol.ReqRequestBattle,
	protocol.ReqCancelBattleRequest, protocol.ReqAcceptBattle, protocol.ReqRejectBattle,
	protocol.ReqExitBattle,
}

// closeCodeLabels are the close codes counted under their own number: those of SPEC §2, and
// 1005 and 1006 from the client's side; any other code a client sends counts as "other".
var closeCodeLabels = map[int]string{}

func init() {
	for _, code := range []int{1000, 1001, 1002, 1003, 1005, 1006, 1007, 1009, 1011, 4000, 4001, 4008, 4009, 4010} {
		closeCodeLabels[code] = strconv.Itoa(code)
	}
}

// scoreLatencyBuckets cover 0.1 ms to 1 s, in seconds.
var scoreLatencyBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// metrics are one server's Prometheus metrics, in a registry of its own so that several
// servers in one process (tests, the conformance suite) do not collide.
//
// Ownership: the gauges of the core's state (rooms, groups, battles) and of the connection
// table are set only by the hub goroutine. Counters are incremented where the event happens
// (readers, writers, the hub, REST handlers, the webhook sender); they are atomic. The maps
// are filled by newMetrics and only read afterwards.
type metrics struct {
	reg *prometheus.Registry

	connsOpen      prometheus.Gauge // hub
	connsOpened    prometheus.Counter
	connsClosed    *prometheus.CounterVec // by code
	rooms          prometheus.Gauge       // hub
	groups         prometheus.Gauge       // hub
	battlesRunning prometheus.Gauge       // hub
	framesReceived map[string]prometheus.Counter
	framesSent     map[string]prometheus.Counter // by kindReply, kindEvent
	cutoffs        *prometheus.CounterVec        // by bound
	rateLimited    prometheus.Counter
	rest           *prometheus.CounterVec // by api and code
	webhooks       map[string]prometheus.Counter
	scoreLatency   prometheus.Histogram
	journalRecords prometheus.Counter     // hub
	journalSync    prometheus.Histogram   // hub
	httpConns      prometheus.Gauge       // admission
	httpEvicted    *prometheus.CounterVec // by reason
	outboxPending  prometheus.Gauge       // hub; the webhook sender once the hub has stopped

	resumes       *prometheus.CounterVec        // hub; by result (recovered, state)
	resumeRefused *prometheus.CounterVec        // hub; by reason
	replayed      prometheus.Counter            // hub
	inGrace       prometheus.Gauge              // hub
	graceExpired  prometheus.Counter            // hub
	lingers       map[string]prometheus.Counter // writers and refused handshakes; by outcome (linger.go)
}

// Label values of the resume metrics (RESUME-003, RESUME-004, RESUME-006).
const (
	resumeRecovered = "recovered" // every missed frame replayed
	resumeState     = "state"     // resumed with the current state instead (recovered: false)
)

// resumeRefusals are the reasons a resume is refused with 4010, the label values of
// resume_refused_total.
var resumeRefusals = []string{refusedOff, refusedUnknown, refusedUser, refusedAhead}

const (
	refusedOff     = "resume off"                   // the server advertises resumeWindowMs 0
	refusedUnknown = "unknown token"                // never issued, replaced, its window passed, or a newer login
	refusedUser    = "another user"                 // issued to another user
	refusedAhead   = "lastSeq ahead of the session" // the client claims frames never sent
)

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	register := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pkarena", Name: name, Help: help})
		register(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pkarena", Name: name, Help: help})
		register(c)
		return c
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pkarena", Name: name, Help: help}, labels)
		register(c)
		return c
	}
	m.connsOpen = gauge("connections_open", "WebSocket connections registered now.")
	m.connsOpened = counter("connections_opened_total", "WebSocket connections registered (welcome queued).")
	m.connsClosed = counterVec("connections_closed_total", "WebSocket connections ended, by close code: the server's close frame, else the client's, 1006 when none was exchanged.", "code")
	m.rooms = gauge("rooms", "Open rooms (the hub sets it at most 100 ms after a change).")
	m.groups = gauge("connection_groups", "Co-host connection groups (the hub sets it at most 100 ms after a change).")
	m.battlesRunning = gauge("battles_running", "Battles started and not ended (the hub sets it at most 100 ms after a change).")
	received := counterVec("client_frames_received_total", "Client text frames read, by request type (unknown: any other type, or none).", "type")
	m.framesReceived = make(map[string]prometheus.Counter, len(requestTypes)+1)
	for _, t := range append([]string{labelUnknown}, requestTypes...) {
		m.framesReceived[t] = received.WithLabelValues(t)
	}
	sent := counterVec("server_frames_sent_total", "Frames written to clients, by kind (reply or event; the welcome is an event).", "kind")
	m.framesSent = map[string]prometheus.Counter{kindReply: sent.WithLabelValues(kindReply), kindEvent: sent.WithLabelValues(kindEvent)}
	m.cutoffs = counterVec("slow_consumer_cutoffs_total", "Connections cut off with 4008 because a frame did not fit their send queue, by the bound hit (frames or bytes).", "bound")
	m.cutoffs.WithLabelValues(boundFrames)
	m.cutoffs.WithLabelValues(boundBytes)
	m.rateLimited = counter("requests_rate_limited_total", "Client frames refused with 100012 by the per-connection request rate limit.")
	m.rest = counterVec("rest_requests_total", "REST API requests, by API (unknown: any other path) and result code (0: OK).", "api", "code")
	hooks := counterVec("webhook_deliveries_total", "Webhook delivery outcomes: delivered, retried (a failed attempt tried again), dropped (given up, or the queue was full), deferred (-state-dir: given up or cut by shutdown, kept in the outbox for the next start).", "outcome")
	m.webhooks = map[string]prometheus.Counter{
		hookDelivered: hooks.WithLabelValues(hookDelivered),
		hookRetried:   hooks.WithLabelValues(hookRetried),
		hookDropped:   hooks.WithLabelValues(hookDropped),
		hookDeferred:  hooks.WithLabelValues(hookDeferred),
	}
	m.scoreLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "pkarena", Name: "score_update_latency_seconds",
		Help:    "From a set_battle_score request's arrival to the moment its onBattleScoreChanged frames are all queued; successful requests only.",
		Buckets: scoreLatencyBuckets,
	})
	register(m.scoreLatency)
	m.journalRecords = counter("journal_records_total", "Battle records appended to the journal (-state-dir): starts, accepted score updates, ends.")
	m.journalSync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "pkarena", Name: "journal_commit_seconds",
		Help:    "Duration of one journal commit (write and fsync), which every output of the operations it covers waits for.",
		Buckets: scoreLatencyBuckets,
	})
	register(m.journalSync)
	m.outboxPending = gauge("webhook_outbox_pending", "Webhooks recorded in the journal's outbox (-state-dir with -webhook-url) that the receiver has not acknowledged: queued, waiting for room in the queue, or given up until the next start.")
	m.httpConns = gauge("http_connections", "Connections of the public listener that are not WebSocket connections (REST, scrapes, handshakes not finished, idle keep-alives).")
	m.httpEvicted = counterVec("http_connections_evicted_total", "Connections closed to keep http_connections within -max-http-conns, by reason: idle (the oldest idle keep-alive), no request yet (the oldest that had not finished a request), unauthenticated request (the oldest in a request that had not authenticated), refused (the newcomer: every other was in an authenticated request).", "reason")
	for _, r := range []string{"idle", "no request yet", "unauthenticated request", "refused"} {
		m.httpEvicted.WithLabelValues(r)
	}
	m.resumes = counterVec("resumes_total", "Sessions resumed after a drop (RESUME-002), by result: recovered (every missed frame replayed) or state (recovered: false, the current state sent instead).", "result")
	m.resumes.WithLabelValues(resumeRecovered)
	m.resumes.WithLabelValues(resumeState)
	m.resumeRefused = counterVec("resume_refused_total", "Resumes refused with 4010 (RESUME-006), by reason.", "reason")
	for _, r := range resumeRefusals {
		m.resumeRefused.WithLabelValues(r)
	}
	m.replayed = counter("resume_replayed_frames_total", "Frames replayed to resumed sessions, with their original seq (RESUME-003).")
	m.inGrace = gauge("sessions_in_grace", "Sessions whose connection dropped, waiting for their resume (RESUME-001); set by the hub as it changes.")
	m.graceExpired = counter("sessions_grace_expired_total", "Sessions whose resume window passed without a resume: handled then as lost (RESUME-005).")
	lingers := counterVec("close_lingers_total", "Connections the server closed with a close frame, by how the wait for the client's answer ended (-close-linger): answered (its close frame, or the end or reset of its stream), timed out (the socket closed at the bound), flooded (over 1 MiB more sent: closed at once), cut (the socket closed under the wait: the shutdown's deadline).", "outcome")
	m.lingers = make(map[string]prometheus.Counter, len(lingerOutcomes))
	for _, o := range lingerOutcomes {
		m.lingers[o] = lingers.WithLabelValues(o)
	}
	register(collectors.NewGoCollector())
	register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// received counts a client frame of request type typ.
func (m *metrics) received(typ string) {
	c, ok := m.framesReceived[typ]
	if !ok {
		c = m.framesReceived[labelUnknown]
	}
	c.Inc()
}

// closed counts a connection ended with code.
func (m *metrics) closed(code int) {
	label, ok := closeCodeLabels[code]
	if !ok {
		label = labelOther
	}
	m.connsClosed.WithLabelValues(label).Inc()
}

// restResult counts a REST request to path's API answered with code.
func (m *metrics) restResult(api string, code int) {
	m.rest.WithLabelValues(api, strconv.Itoa(code)).Inc()
}

// serveMetrics serves the registry as it is: a scrape never waits for the hub, which keeps
// the gauges of its state up to date itself (gaugeEvery), so scrapes cannot slow the traffic.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsHandler.ServeHTTP(w, r)
}

// newMetricsHandler serves m's registry in the Prometheus text or protobuf format.
func newMetricsHandler(m *metrics) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// sentN counts a batch of frames written: replies and events.
func (m *metrics) sentN(replies, events int) {
	if replies > 0 {
		m.framesSent[kindReply].Add(float64(replies))
	}
	if events > 0 {
		m.framesSent[kindEvent].Add(float64(events))
	}
}
