package server

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix is the prefix of every environment variable pkarena reads.
const EnvPrefix = "PKARENA_"

// BindFlags registers a flag for every setting on fs. Each flag's default is the environment
// variable named in its usage (PKARENA_...) when set, else the value in c, so that flags
// override the environment and the environment overrides defaults. It fails on an environment
// value that does not parse.
func (c *Config) BindFlags(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	str := func(p *string, name, env, usage string) {
		if v := getenv(EnvPrefix + env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, fmt.Sprintf("%s (env %s%s)", usage, EnvPrefix, env))
	}
	num := func(p *int, name, env, usage string) {
		if v := getenv(EnvPrefix + env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s%s=%q: not an integer", EnvPrefix, env, v))
			}
			*p = n
		}
		fs.IntVar(p, name, *p, fmt.Sprintf("%s (env %s%s)", usage, EnvPrefix, env))
	}
	dur := func(p *time.Duration, name, env, usage string) {
		if v := getenv(EnvPrefix + env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s%s=%q: not a duration like 5s", EnvPrefix, env, v))
			}
			*p = d
		}
		fs.DurationVar(p, name, *p, fmt.Sprintf("%s (env %s%s)", usage, EnvPrefix, env))
	}
	if v := getenv(EnvPrefix + "SDKAPPID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%sSDKAPPID=%q: not an unsigned integer", EnvPrefix, v))
		}
		c.SDKAppID = n
	}
	fs.Uint64Var(&c.SDKAppID, "sdkappid", c.SDKAppID, "application ID tokens are signed for (env PKARENA_SDKAPPID)")
	str(&c.Secret, "secret", "SECRET", "key UserSig tokens are verified with")
	num(&c.MaxConnectedRooms, "max-connected-rooms", "MAX_CONNECTED_ROOMS", "most rooms in one connection group")
	num(&c.MaxUsersPerRoom, "max-users-per-room", "MAX_USERS_PER_ROOM", "most users in one room, host included")
	num(&c.MaxSeatCount, "max-seat-count", "MAX_SEAT_COUNT", "largest maxSeatCount of a room")
	num(&c.MaxFrameBytes, "max-frame-bytes", "MAX_FRAME_BYTES", "largest client frame accepted")
	num(&c.SendQueueFrames, "send-queue-frames", "SEND_QUEUE_FRAMES", "send queue per connection in frames; a full queue cuts the client off (close 4008)")
	num(&c.SendQueueBytes, "send-queue-bytes", "SEND_QUEUE_BYTES", "send queue per connection in bytes; a frame that would go over it cuts the client off (close 4008)")
	num(&c.ConnRequestRate, "conn-request-rate", "CONN_REQUEST_RATE", "requests per second one connection may send on average; more get 100012 (0: no limit)")
	num(&c.ConnRequestBurst, "conn-request-burst", "CONN_REQUEST_BURST", "requests one connection may send at once before the rate applies")
	dur(&c.HeartbeatInterval, "heartbeat-interval", "HEARTBEAT_INTERVAL", "heartbeat interval advertised to clients")
	dur(&c.HeartbeatTimeout, "heartbeat-timeout", "HEARTBEAT_TIMEOUT", "silence after which a connection is dropped")
	dur(&c.DefaultInviteTimeout, "invite-timeout", "INVITE_TIMEOUT", "default connection request timeout")
	dur(&c.ResumeWindow, "resume-window", "RESUME_WINDOW", "how long a dropped session waits for its resume, e.g. 5s (0: resume off)")
	num(&c.ResumeHistoryFrames, "resume-history-frames", "RESUME_HISTORY_FRAMES", "frames each session keeps for a replay after a drop")
	num(&c.ResumeHistoryBytes, "resume-history-bytes", "RESUME_HISTORY_BYTES", "bytes of frames each session keeps for a replay after a drop")
	dur(&c.WriteTimeout, "write-timeout", "WRITE_TIMEOUT", "deadline of one frame write")
	dur(&c.CloseLinger, "close-linger", "CLOSE_LINGER", "after the server's close frame, how long the socket waits for the client's close frame or end before it is closed (0: at once)")
	dur(&c.DefaultBattleDuration, "battle-duration", "BATTLE_DURATION", "battle duration when a request sets none")
	dur(&c.MaxBattleDuration, "max-battle-duration", "MAX_BATTLE_DURATION", "longest battle allowed")
	num(&c.MaxBattleRequestsPerMinute, "battle-requests-per-minute", "BATTLE_REQUESTS_PER_MINUTE", "battles one room may create per minute (0: no limit)")
	dur(&c.BattleRetention, "battle-retention", "BATTLE_RETENTION", "how long ended battles stay queryable over REST")
	admins := strings.Join(c.AdminIdentifiers, ",")
	str(&admins, "admins", "ADMINS", "comma-separated app administrators allowed to call the REST API")
	num(&c.RESTRateLimit, "rest-rate-limit", "REST_RATE_LIMIT", "REST requests per second allowed")
	str(&c.WebhookURL, "webhook-url", "WEBHOOK_URL", "URL the battle webhooks are POSTed to (empty: none)")
	str(&c.WebhookSecret, "webhook-secret", "WEBHOOK_SECRET", "key webhooks are signed with (X-Pkarena-Signature; empty: unsigned)")
	dur(&c.WebhookTimeout, "webhook-timeout", "WEBHOOK_TIMEOUT", "deadline of one webhook POST")
	dur(&c.WebhookBackoff, "webhook-backoff", "WEBHOOK_BACKOFF", "wait before the first webhook retry; doubles after each")
	num(&c.WebhookAttempts, "webhook-attempts", "WEBHOOK_ATTEMPTS", "tries per webhook before it is given up")
	num(&c.WebhookQueue, "webhook-queue", "WEBHOOK_QUEUE", "webhooks queued in memory; more are dropped without -state-dir, wait in its outbox with it")
	dur(&c.ShutdownWebhookWait, "shutdown-webhook-wait", "SHUTDOWN_WEBHOOK_WAIT", "on shutdown, how long to keep delivering the queued webhooks")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "bound of a whole shutdown, every phase inside it (docker stop kills after 10s)")
	str(&c.MetricsListen, "metrics-listen", "METRICS_LISTEN", "serve /metrics on this address of its own instead of the public one (empty: public)")
	dur(&c.HTTPIdleTimeout, "http-idle-timeout", "HTTP_IDLE_TIMEOUT", "close a keep-alive HTTP connection silent this long between requests")
	dur(&c.HTTPReadTimeout, "http-read-timeout", "HTTP_READ_TIMEOUT", "deadline to read one HTTP request, body included, and to write its answer")
	num(&c.MaxHTTPConns, "max-http-conns", "MAX_HTTP_CONNS", "connections not upgraded to WebSocket kept at once; over it the oldest idle one is closed")
	num(&c.RESTEagerReads, "rest-eager-reads", "REST_EAGER_READS", "REST callers' connections that may wait for their next request in a ppoll of their own (Linux; 20 ms, then the network poller), each holding an OS thread meanwhile; 0: none, at most 64")
	str(&c.PprofListen, "pprof", "PPROF", "address to serve net/http/pprof on, e.g. 127.0.0.1:6060: a listener of its own, never the public one; keep it private (empty: off)")
	str(&c.StateDir, "state-dir", "STATE_DIR", "directory of the battle journal: acknowledged scores survive a crash and restart (empty: memory only)")
	c.adminFlag = &admins
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
