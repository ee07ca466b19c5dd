package server

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Config is the reference server's configuration. Start from DefaultConfig.
type Config struct {
	// SDKAppID is the application ID tokens must be signed for.
	SDKAppID uint64
	// Secret is the key UserSig tokens are verified with.
	Secret string
	// MaxConnectedRooms is the most rooms one connection group may hold (LIMIT-001).
	MaxConnectedRooms int
	// MaxUsersPerRoom is the most users, host included, one room may hold (LIMIT-002).
	MaxUsersPerRoom int
	// MaxSeatCount is the largest maxSeatCount a room may be created with.
	MaxSeatCount int
	// MaxFrameBytes is the largest client frame accepted (TRANS-009).
	MaxFrameBytes int
	// SendQueueFrames bounds each connection's send queue in frames (CLOSE-001).
	SendQueueFrames int
	// SendQueueBytes bounds each connection's send queue in bytes (CLOSE-002): a frame that
	// would take the queued bytes over it cuts the connection off as a full queue does. A
	// frame larger than the whole bound always does, so it must hold several of the largest
	// frames (a merged seat list of a full group is tens of KB).
	SendQueueBytes int
	// ConnRequestRate is the requests per second each connection may send on average
	// (RATE-001); 0: no limit. Every client frame counts, malformed ones too.
	ConnRequestRate int
	// ConnRequestBurst is how many requests a connection may send at once, the size of its
	// token bucket (RATE-001); at least 1 when ConnRequestRate is set.
	ConnRequestBurst int
	// HeartbeatInterval is how often clients are told to send a heartbeat.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a silent connection lives (LIVE-020); must exceed HeartbeatInterval.
	HeartbeatTimeout time.Duration
	// DefaultInviteTimeout applies to requestConnection without a timeout (COHOST-014).
	DefaultInviteTimeout time.Duration
	// ResumeWindow is how long a session whose connection dropped without a close handshake
	// waits for its resume (RESUME-001), whole milliseconds; 0: resume is off, and a drop
	// is a loss at once (LIVE-021).
	ResumeWindow time.Duration
	// ResumeHistoryFrames and ResumeHistoryBytes bound the frames each session keeps for a
	// replay (RESUME-004); at most half the send queue's bounds, so that a whole replay fits
	// in a new connection's queue with room for its welcome and the frames made meanwhile.
	ResumeHistoryFrames int
	ResumeHistoryBytes  int
	// WriteTimeout bounds one frame write to a client.
	WriteTimeout time.Duration
	// CloseLinger is how long a connection the server closes with a close frame stays open
	// for the client's answer, its close frame or the end of its stream, before the socket is
	// closed (RFC 6455 §7.1.1; linger.go); its sending side is shut at once. 0: closed at once,
	// which resets the connection when the client sent something not yet read.
	CloseLinger time.Duration
	// DefaultBattleDuration applies to requestBattle without a duration (300 s).
	DefaultBattleDuration time.Duration
	// MaxBattleDuration bounds a battle's duration.
	MaxBattleDuration time.Duration
	// MaxBattleRequestsPerMinute bounds the battles one room creates per minute (BATTLE-004).
	MaxBattleRequestsPerMinute int
	// BattleRetention keeps ended battles queryable over REST (REST-020: at least 10 min).
	BattleRetention time.Duration
	// AdminIdentifiers are the app administrators allowed to call the REST API (REST-001).
	AdminIdentifiers []string
	// RESTRateLimit is the REST requests per second allowed (REST-004).
	RESTRateLimit int
	// WebhookURL receives the battle webhooks (§16); empty: none are sent.
	WebhookURL string
	// WebhookSecret signs webhooks (HOOK-004); empty: unsigned.
	WebhookSecret string
	// WebhookTimeout bounds one webhook POST.
	WebhookTimeout time.Duration
	// WebhookBackoff is the wait before the first retry; it doubles for each further one.
	WebhookBackoff time.Duration
	// WebhookAttempts is how many times a webhook is tried before it is given up.
	WebhookAttempts int
	// WebhookQueue bounds the webhooks waiting for delivery in memory; without StateDir more
	// are dropped and logged, with it they wait in the journal's outbox.
	WebhookQueue int
	// ShutdownWebhookWait bounds how long Close waits for the queued webhooks (the ends of
	// the battles the shutdown ended among them) before it gives up the rest.
	ShutdownWebhookWait time.Duration
	// ShutdownTimeout bounds a whole shutdown (Stop, Close), every phase inside it: a
	// process stopped by `docker stop` is killed 10 s after its SIGTERM.
	ShutdownTimeout time.Duration
	// MetricsListen is an address of its own to serve /metrics on (ServeMetrics); when set,
	// the public listener no longer serves it. Empty: /metrics on the public listener.
	MetricsListen string
	// HTTPIdleTimeout closes a keep-alive HTTP connection silent this long between requests.
	HTTPIdleTimeout time.Duration
	// HTTPReadTimeout bounds reading one HTTP request, body included, and writing its answer.
	HTTPReadTimeout time.Duration
	// MaxHTTPConns bounds the public listener's connections that are not WebSocket
	// connections (NewHTTPServer); over it the oldest idle one is closed.
	MaxHTTPConns int
	// RESTEagerReads is how many connections that made an authenticated REST call may wait
	// for their next request at once in a ppoll(2) of their own (Linux), for up to 20 ms,
	// rather than in the runtime's network poller, which a fan-out keeps from looking; each
	// holds an OS thread while it waits. 0: none. At most 64.
	RESTEagerReads int
	// PprofListen is the address net/http/pprof is served on, a listener of its own that is
	// never the public one; empty: no profiling. New ignores it: Start and the pkarena-server
	// binary open it.
	PprofListen string
	// StateDir is the directory of the battle journal (JournalFile): every battle's start,
	// accepted score updates and end are synced to it before anything they caused leaves the
	// server, and a server started on it again restores the battles with their scores and
	// IdempotencyKeys (FAULT-002). Empty: state is in memory only, and a restart forgets it.
	StateDir string
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger

	adminFlag *string          // set by BindFlags; read back by Finish
	now       func() time.Time // clock of the request rate limiters; nil: time.Now (tests inject one)

	journalSync         func(*os.File) error // nil: (*os.File).Sync (tests inject failures and waits)
	journalCompactBytes int64                // 0: defaultCompactBytes
	beforeREST          func(api string)     // nil: none (tests plant a panic in the hub with it)
	hookRetryAfter      time.Duration        // 0: webhookRetryAfter (tests shorten it)
}

// Finish applies the settings BindFlags collected in forms that need parsing after the flags
// (the comma-separated admin list). Call it after fs.Parse.
func (c *Config) Finish() {
	if c.adminFlag == nil {
		return
	}
	c.AdminIdentifiers = nil
	for _, a := range strings.Split(*c.adminFlag, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.AdminIdentifiers = append(c.AdminIdentifiers, a)
		}
	}
}

// Defaults of the per-connection request limit (RATE-001). Real clients send a
// heartbeat every 5 s and a few requests a minute, as the load scenarios do; the bound on how
// low the defaults may go is the conformance suite, whose flood specs send requests back to
// back on one connection without pacing: CLOSE-001 about 2,500 lock/unlock requests at some
// 3,000 a second (2 CPUs, Linux's default TCP buffers), INPUT-005 about 250. The burst
// absorbs those floods whole, the rate still bounds what one connection feeds the hub for
// long. Note that every request, refused or not, gets a reply in the connection's own send
// queue: a client that pipelines more than SendQueueFrames requests without reading the
// replies is cut off (CLOSE-001) before the rate limit refuses anything.
const (
	defaultConnRequestRate  = 1000
	defaultConnRequestBurst = 5000
)

// minSendQueueBytes is the smallest SendQueueBytes accepted: room for a few large frames.
const minSendQueueBytes = 64 << 10

// DefaultConfig returns the documented defaults (SPEC §4).
func DefaultConfig() Config {
	return Config{
		SDKAppID:             1400000001,
		Secret:               "pkarena-dev-secret",
		MaxConnectedRooms:    9,
		MaxUsersPerRoom:      50,
		MaxSeatCount:         16,
		MaxFrameBytes:        64 << 10,
		SendQueueFrames:      1024,
		SendQueueBytes:       4 << 20,
		ConnRequestRate:      defaultConnRequestRate,
		ConnRequestBurst:     defaultConnRequestBurst,
		HeartbeatInterval:    5 * time.Second,
		HeartbeatTimeout:     15 * time.Second,
		DefaultInviteTimeout: 30 * time.Second,
		WriteTimeout:         10 * time.Second,
		CloseLinger:          time.Second,
		ResumeHistoryFrames:  256,
		ResumeHistoryBytes:   256 << 10,

		DefaultBattleDuration:      300 * time.Second,
		MaxBattleDuration:          24 * time.Hour,
		MaxBattleRequestsPerMinute: 20,
		BattleRetention:            10 * time.Minute,
		AdminIdentifiers:           []string{"administrator"},
		RESTRateLimit:              200,
		WebhookTimeout:             5 * time.Second,
		WebhookBackoff:             time.Second,
		WebhookAttempts:            8,
		WebhookQueue:               10000,
		ShutdownWebhookWait:        5 * time.Second,
		ShutdownTimeout:            8 * time.Second,
		HTTPIdleTimeout:            30 * time.Second,
		HTTPReadTimeout:            10 * time.Second,
		MaxHTTPConns:               1024,
		RESTEagerReads:             4,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Secret == "":
		return fmt.Errorf("secret must not be empty")
	case c.MaxConnectedRooms < 2:
		return fmt.Errorf("max connected rooms %d: must be at least 2", c.MaxConnectedRooms)
	case c.MaxUsersPerRoom < 1:
		return fmt.Errorf("max users per room %d: must be at least 1", c.MaxUsersPerRoom)
	case c.MaxSeatCount < 1:
		return fmt.Errorf("max seat count %d: must be at least 1", c.MaxSeatCount)
	case c.MaxFrameBytes < 1024:
		return fmt.Errorf("max frame bytes %d: must be at least 1024", c.MaxFrameBytes)
	case c.SendQueueFrames < 1:
		return fmt.Errorf("send queue frames %d: must be at least 1", c.SendQueueFrames)
	case c.SendQueueBytes < minSendQueueBytes:
		return fmt.Errorf("send queue bytes %d: must be at least %d", c.SendQueueBytes, minSendQueueBytes)
	case c.ConnRequestRate < 0:
		return fmt.Errorf("connection request rate %d: must not be negative (0: no limit)", c.ConnRequestRate)
	case c.ConnRequestRate > 0 && c.ConnRequestBurst < 1:
		return fmt.Errorf("connection request burst %d: must be at least 1 when the rate is limited", c.ConnRequestBurst)
	case c.HeartbeatInterval <= 0 || c.HeartbeatTimeout <= c.HeartbeatInterval:
		return fmt.Errorf("heartbeat interval %v, timeout %v: need 0 < interval < timeout", c.HeartbeatInterval, c.HeartbeatTimeout)
	case c.DefaultInviteTimeout < time.Second || c.DefaultInviteTimeout > time.Hour || c.DefaultInviteTimeout%time.Second != 0:
		// Advertised as whole seconds (defaultInviteTimeoutS) within a request's own range.
		return fmt.Errorf("default invite timeout %v: must be whole seconds from 1s to 1h", c.DefaultInviteTimeout)
	case c.ResumeWindow < 0 || c.ResumeWindow%time.Millisecond != 0 || c.ResumeWindow > time.Hour:
		return fmt.Errorf("resume window %v: must be whole milliseconds from 0 (off) to 1h", c.ResumeWindow)
	case c.ResumeWindow > 0 && (c.ResumeHistoryFrames < 1 || c.ResumeHistoryFrames > c.SendQueueFrames/2):
		return fmt.Errorf("resume history frames %d: must be from 1 to half the send queue's %d frames", c.ResumeHistoryFrames, c.SendQueueFrames)
	case c.ResumeWindow > 0 && (c.ResumeHistoryBytes < 1024 || c.ResumeHistoryBytes > c.SendQueueBytes/2):
		return fmt.Errorf("resume history bytes %d: must be from 1024 to half the send queue's %d bytes", c.ResumeHistoryBytes, c.SendQueueBytes)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("write timeout %v: must be positive", c.WriteTimeout)
	case c.CloseLinger < 0 || c.CloseLinger > time.Minute:
		return fmt.Errorf("close linger %v: must be from 0 (close at once) to 1m", c.CloseLinger)
	case c.MaxBattleDuration < time.Second || c.MaxBattleDuration%time.Second != 0:
		return fmt.Errorf("max battle duration %v: must be whole seconds, at least 1s", c.MaxBattleDuration)
	case c.DefaultBattleDuration < time.Second || c.DefaultBattleDuration > c.MaxBattleDuration || c.DefaultBattleDuration%time.Second != 0:
		return fmt.Errorf("default battle duration %v: must be whole seconds from 1s to the max battle duration", c.DefaultBattleDuration)
	case c.MaxBattleRequestsPerMinute < 0:
		return fmt.Errorf("max battle requests per minute %d: must not be negative (0: no limit)", c.MaxBattleRequestsPerMinute)
	case c.BattleRetention < 10*time.Minute:
		return fmt.Errorf("battle retention %v: must be at least 10m (REST-020)", c.BattleRetention)
	case len(c.AdminIdentifiers) == 0:
		return fmt.Errorf("admin identifiers: at least one is needed")
	case c.RESTRateLimit < 1:
		return fmt.Errorf("REST rate limit %d: must be at least 1 request per second", c.RESTRateLimit)
	case c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "http://") && !strings.HasPrefix(c.WebhookURL, "https://"):
		return fmt.Errorf("webhook URL %q: must be an http:// or https:// URL", c.WebhookURL)
	case c.WebhookTimeout <= 0 || c.WebhookBackoff <= 0:
		return fmt.Errorf("webhook timeout %v, backoff %v: must be positive", c.WebhookTimeout, c.WebhookBackoff)
	case c.WebhookAttempts < 5:
		return fmt.Errorf("webhook attempts %d: must be at least 5 (HOOK-005)", c.WebhookAttempts)
	case c.WebhookQueue < 1:
		return fmt.Errorf("webhook queue %d: must be at least 1", c.WebhookQueue)
	case c.ShutdownWebhookWait < 0:
		return fmt.Errorf("shutdown webhook wait %v: must not be negative", c.ShutdownWebhookWait)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("shutdown timeout %v: must be positive", c.ShutdownTimeout)
	case c.HTTPIdleTimeout <= 0 || c.HTTPReadTimeout <= 0:
		return fmt.Errorf("HTTP idle timeout %v, read timeout %v: must be positive", c.HTTPIdleTimeout, c.HTTPReadTimeout)
	case c.MaxHTTPConns < 1:
		return fmt.Errorf("max HTTP connections %d: must be at least 1", c.MaxHTTPConns)
	case c.RESTEagerReads < 0 || c.RESTEagerReads > maxRESTEagerReads:
		return fmt.Errorf("REST eager reads %d: must be from 0 to %d (each holds an OS thread while it waits)", c.RESTEagerReads, maxRESTEagerReads)
	}
	return nil
}
