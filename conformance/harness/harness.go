// Package harness prepares a conformance run: it reads the target from the environment,
// starts the embedded reference server when no target is given, and builds clients whose every
// received frame is checked against the JSON Schemas of fixtures/.
//
// It is the only part of the suite that may import the reference server, and only to start it.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures"
	"github.com/pkarena/pkarena/reference/server"
)

// Environment variables the suite reads (flags of the binary are Ginkgo's own).
const (
	EnvTargetURL     = "PKARENA_TARGET_URL"
	EnvSDKAppID      = "PKARENA_SDKAPPID"
	EnvSecret        = "PKARENA_SECRET"
	EnvEventTimeout  = "PKARENA_EVENT_TIMEOUT"
	EnvRESTURL       = "PKARENA_REST_URL"
	EnvAdmin         = "PKARENA_ADMIN"
	EnvRESTRateLimit = "PKARENA_REST_RATE_LIMIT"
	EnvWebhookListen = "PKARENA_WEBHOOK_LISTEN"
	EnvWebhookSecret = "PKARENA_WEBHOOK_SECRET"
)

// Defaults shared with the reference server's own defaults, so that pointing the suite at a
// reference server started with no settings needs only PKARENA_TARGET_URL.
const (
	DefaultSDKAppID      = 1400000001
	DefaultSecret        = "pkarena-dev-secret"
	DefaultEventTimeout  = 5 * time.Second
	DefaultAdmin         = "administrator"
	DefaultRESTRateLimit = 200
	// EmbeddedWebhookSecret is the webhook secret of the embedded server.
	EmbeddedWebhookSecret = "pkarena-webhook-secret"
)

// Settings is what the suite needs to know about the server under test.
type Settings struct {
	// URL is the WebSocket endpoint; empty means "start the embedded reference server".
	URL string
	// SDKAppID and Secret sign the clients' UserSigs.
	SDKAppID uint64
	Secret   string
	// EventTimeout is how long the suite waits for an event that must follow at once.
	EventTimeout time.Duration
	// RESTURL is the REST API's root; empty means the target URL's host over http(s).
	RESTURL string
	// Admin is an app administrator identifier for the REST API.
	Admin string
	// RESTRateLimit is the target's REST requests per second (REST-004).
	RESTRateLimit int
	// WebhookListen is where the suite receives webhooks (host:port); the target must be
	// configured to POST there. Empty for an external target: the webhook specs are skipped.
	WebhookListen string
	// WebhookSecret is the target's webhook secret; empty: signatures are not checked.
	WebhookSecret string
	// TargetImage is a container image to start and test instead of URL.
	TargetImage string
	// ImageEnv is extra KEY=VALUE environment for the container.
	ImageEnv []string
	// ResultsDir receives the reports; empty: none are written.
	ResultsDir string
	// Tiers to run (core, strict, optional); empty: all.
	Tiers []string
	// Disable lists labels or requirement IDs whose specs are switched off.
	Disable []string
	// Certify makes a certification run (nothing core may be disabled; a bundle is written).
	Certify bool
}

// FromEnv reads Settings from getenv (os.Getenv in the binary).
func FromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		URL: getenv(EnvTargetURL), SDKAppID: DefaultSDKAppID, Secret: DefaultSecret, EventTimeout: DefaultEventTimeout,
		RESTURL: getenv(EnvRESTURL), Admin: DefaultAdmin, RESTRateLimit: DefaultRESTRateLimit,
		WebhookListen: getenv(EnvWebhookListen), WebhookSecret: getenv(EnvWebhookSecret),
	}
	if v := getenv(EnvAdmin); v != "" {
		s.Admin = v
	}
	if v := getenv(EnvRESTRateLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("%s=%q: not a positive integer", EnvRESTRateLimit, v)
		}
		s.RESTRateLimit = n
	}
	if v := getenv(EnvSDKAppID); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("%s=%q: not an unsigned integer", EnvSDKAppID, v)
		}
		s.SDKAppID = n
	}
	if v := getenv(EnvSecret); v != "" {
		s.Secret = v
	}
	if v := getenv(EnvEventTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("%s=%q: not a positive duration like 5s", EnvEventTimeout, v)
		}
		s.EventTimeout = d
	}
	if s.URL != "" && !strings.HasPrefix(s.URL, "ws://") && !strings.HasPrefix(s.URL, "wss://") {
		return s, fmt.Errorf("%s=%q: must be a ws:// or wss:// URL such as ws://127.0.0.1:7070/v1/ws", EnvTargetURL, s.URL)
	}
	if s.RESTURL != "" && !strings.HasPrefix(s.RESTURL, "http://") && !strings.HasPrefix(s.RESTURL, "https://") {
		return s, fmt.Errorf("%s=%q: must be an http:// or https:// URL such as http://127.0.0.1:7070", EnvRESTURL, s.RESTURL)
	}
	return s, nil
}

// restRoot derives the REST root from a WebSocket URL: same host, http(s), no path.
func restRoot(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil {
		return ""
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return scheme + "://" + u.Host
}

// Target is the server under test, ready for clients.
type Target struct {
	Settings
	// Description says what is being tested, for logs and reports.
	Description string

	// Webhooks receives the target's webhooks; nil when the suite cannot receive them.
	Webhooks *Receiver
	// Container is the started image when the target is one (fault specs use it).
	Container *Container

	validator *fixtures.Validator
	openapi   *fixtures.RESTValidator
	stop      func()
}

// EmbeddedConfig is the reference server configuration the suite starts when no target is
// given: the documented limits, with timing short enough that timeout and liveness specs take
// a second or two instead of half a minute.
//
// Under the race detector (go test -race, make test) the heartbeat timeout is raceHeartbeatTimeout:
// the server shares its process with the suite's hundreds of clients, every one of them
// several times slower, and in the 450-member fan-out on a busy machine a client's
// heartbeat waited 1.2 s in the Go scheduler's run queue behind them.
func EmbeddedConfig() server.Config {
	cfg := server.DefaultConfig()
	cfg.SDKAppID = DefaultSDKAppID
	cfg.Secret = DefaultSecret
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.HeartbeatTimeout = 1500 * time.Millisecond
	if raceBuild {
		cfg.HeartbeatTimeout = raceHeartbeatTimeout
	}
	cfg.DefaultInviteTimeout = 2 * time.Second
	cfg.SendQueueFrames = 256
	cfg.WebhookSecret = EmbeddedWebhookSecret
	cfg.WebhookBackoff = 100 * time.Millisecond
	// Resume on (SPEC §21), so that the resume specs run and every spec that drops a
	// connection shows it allows for the window: a short window keeps those specs quick, and
	// a history of 64 frames lets a spec overflow it cheaply (RESUME-004).
	cfg.ResumeWindow = EmbeddedResumeWindow
	cfg.ResumeHistoryFrames = 64
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// Start prepares the target: the server at s.URL, or the embedded reference server.
func Start(s Settings) (*Target, error) {
	v, err := fixtures.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	oa, err := fixtures.NewRESTValidator()
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI description: %w", err)
	}
	t := &Target{Settings: s, validator: v, openapi: oa, stop: func() {}}
	if t, err = t.start(); err != nil {
		return nil, err
	}
	if err := t.probeWelcome(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// start starts or reaches the target the settings name.
func (t *Target) start() (*Target, error) {
	s := t.Settings
	v := t.validator
	var err error
	if s.TargetImage != "" {
		return t.startImage()
	}
	if s.URL != "" {
		t.Description = "server at " + s.URL
		if t.RESTURL == "" {
			t.RESTURL = restRoot(s.URL)
		}
		if err := reachable(s.URL); err != nil {
			return nil, err
		}
		if s.WebhookListen != "" {
			if t.Webhooks, err = StartReceiver(s.WebhookListen, s.SDKAppID, s.WebhookSecret, v.ValidateWebhook); err != nil {
				return nil, err
			}
			t.stop = t.Webhooks.Close
		}
		return t, nil
	}
	listen := s.WebhookListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if t.Webhooks, err = StartReceiver(listen, DefaultSDKAppID, EmbeddedWebhookSecret, v.ValidateWebhook); err != nil {
		return nil, err
	}
	t.WebhookSecret = EmbeddedWebhookSecret
	cfg := EmbeddedConfig()
	cfg.WebhookURL = t.Webhooks.URL
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Webhooks.Close()
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	t.URL, t.RESTURL = srv.URL, srv.RESTURL
	t.SDKAppID, t.Secret, t.Admin, t.RESTRateLimit = cfg.SDKAppID, cfg.Secret, cfg.AdminIdentifiers[0], cfg.RESTRateLimit
	t.Description = "embedded reference server " + server.Version + " at " + t.URL
	t.stop = func() {
		srv.Close()
		t.Webhooks.Close()
	}
	return t, nil
}

// EmbeddedResumeWindow is the embedded server's resume window (RESUME-001).
const EmbeddedResumeWindow = 2 * time.Second

// raceHeartbeatTimeout is the embedded server's heartbeat timeout under the race detector.
const raceHeartbeatTimeout = 4 * time.Second

// MinHeartbeatSlack is the least time a target may leave between the heartbeat interval and
// the heartbeat timeout it advertises (heartbeatTimeoutMs - heartbeatIntervalMs) for the suite
// to test it. The suite's clients send a heartbeat every interval on a fixed schedule; a
// heartbeat the machine running the suite delays by more than the slack gets a client
// dropped for the suite's own slowness, and the spec it served fails for no fault of the
// server. A second holds on a busy 2-core machine running the suite under the race detector.
const MinHeartbeatSlack = time.Second

// CheckTiming refuses timings too short to test reliably (MinHeartbeatSlack).
func CheckTiming(tm client.Timing) error {
	interval := time.Duration(tm.HeartbeatIntervalMs) * time.Millisecond
	timeout := time.Duration(tm.HeartbeatTimeoutMs) * time.Millisecond
	switch {
	case interval <= 0 || timeout <= 0:
		return fmt.Errorf("the target advertises heartbeatIntervalMs %d and heartbeatTimeoutMs %d; both must be positive (WELCOME-002)", tm.HeartbeatIntervalMs, tm.HeartbeatTimeoutMs)
	case timeout-interval < MinHeartbeatSlack:
		return fmt.Errorf("the target advertises heartbeatIntervalMs %d and heartbeatTimeoutMs %d: the suite needs the timeout to exceed the interval by at least %v, or a busy machine makes its own clients miss a heartbeat and the server drops them; restart the server with a longer heartbeat timeout (the reference server: -heartbeat-timeout %v)",
			tm.HeartbeatIntervalMs, tm.HeartbeatTimeoutMs, MinHeartbeatSlack, interval+MinHeartbeatSlack)
	}
	return nil
}

// MinSeatCount and MinConnectedRooms are the least limits.maxSeatCount and
// limits.maxConnectedRooms a target may advertise for the suite to test it: its scenes use
// seats 0..7 of a room and requests naming seven rooms (COHOST-007: up to maxConnectedRooms
// − 1; SPEC's defaults are 16 and 9). The specs of
// larger groups, up to nine rooms, skip as not applicable where the target connects fewer;
// those of a limit itself fill the limit the target advertises.
const (
	MinSeatCount      = 8
	MinConnectedRooms = 8
)

// CheckLimits refuses limits too small for the suite's scenes (MinSeatCount,
// MinConnectedRooms): every spec that uses more would fail for no fault of the server.
func CheckLimits(l client.Limits) error {
	if l.MaxSeatCount >= MinSeatCount && l.MaxConnectedRooms >= MinConnectedRooms {
		return nil
	}
	return fmt.Errorf("the target advertises maxSeatCount %d and maxConnectedRooms %d: the suite's specs need at least %d and %d (SPEC's defaults are 16 and 9); restart the server with larger limits for the run (the reference server: -max-seat-count %d -max-connected-rooms %d)",
		l.MaxSeatCount, l.MaxConnectedRooms, MinSeatCount, MinConnectedRooms, max(l.MaxSeatCount, MinSeatCount), max(l.MaxConnectedRooms, MinConnectedRooms))
}

// probeWelcome connects once and checks the timings and the limits the welcome advertises
// (CheckTiming, CheckLimits).
func (t *Target) probeWelcome() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg := t.ClientConfig("pkarena-probe-" + hex.EncodeToString(b))
	cfg.NoHeartbeat = true
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		return fmt.Errorf("a first connection to %s: %w", t.URL, err)
	}
	defer c.Close()
	w := c.Welcome()
	if err := errors.Join(CheckTiming(w.Timing), CheckLimits(w.Limits)); err != nil {
		return fmt.Errorf("target %s: %w", t.URL, err)
	}
	return nil
}

// restHTTP is the HTTP client of every REST client: it keeps enough idle connections for
// bursts from many goroutines (the default keeps two per host).
var restHTTP = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second},
}

// FastREST returns a client of the target's REST API as the administrator without the
// OpenAPI check, for bursts where checking would slow the suite below the rate under test.
func (t *Target) FastREST() *client.REST {
	return client.NewREST(client.RESTConfig{
		BaseURL: t.RESTURL, SDKAppID: t.SDKAppID, Secret: t.Secret, Identifier: t.Admin, HTTPClient: restHTTP,
	})
}

// REST returns a client of the target's REST API as the administrator, whose every request
// and answer is checked against fixtures/openapi/rest-v1.yaml.
func (t *Target) REST() *client.REST {
	return client.NewREST(client.RESTConfig{
		BaseURL: t.RESTURL, SDKAppID: t.SDKAppID, Secret: t.Secret, Identifier: t.Admin, HTTPClient: restHTTP,
		Check: func(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
			if err := t.openapi.ValidateRequest(req, reqBody); err != nil {
				// The suite sends requests the description forbids on purpose (REST-003,
				// REST-005): they must be refused with a FAIL envelope.
				if ferr := failEnvelope(status, respBody); ferr != nil {
					return fmt.Errorf("a request the OpenAPI description forbids (%v) got %w", err, ferr)
				}
				return nil
			}
			if err := t.openapi.ValidateResponse(req, respBody, status, header); err != nil {
				return fmt.Errorf("answer: %w", err)
			}
			return nil
		},
	})
}

// failEnvelope checks that an answer is a refusal in the REST-002 envelope.
func failEnvelope(status int, body []byte) error {
	var env struct {
		ActionStatus string          `json:"ActionStatus"`
		ErrorCode    *int            `json:"ErrorCode"`
		ErrorInfo    string          `json:"ErrorInfo"`
		RequestID    string          `json:"RequestId"`
		Response     json.RawMessage `json:"Response"`
	}
	switch {
	case status != http.StatusOK && status != http.StatusMethodNotAllowed:
		return fmt.Errorf("HTTP %d, want 200 (or 405 for a method other than POST)", status)
	case json.Unmarshal(body, &env) != nil:
		return fmt.Errorf("an answer that is not a JSON envelope: %.200s", body)
	case env.ActionStatus != "FAIL" || env.ErrorCode == nil || *env.ErrorCode == 0:
		return fmt.Errorf("ActionStatus %q ErrorCode %v, want a refusal (FAIL, non-zero)", env.ActionStatus, env.ErrorCode)
	case env.ErrorInfo == "" || env.RequestID == "":
		return fmt.Errorf("a refusal without ErrorInfo or RequestId")
	case len(env.Response) > 0:
		return fmt.Errorf("a refusal with a Response")
	}
	return nil
}

// Close stops the embedded server, if one was started.
func (t *Target) Close() { t.stop() }

// ClientConfig returns the configuration of a client of user userID whose every received
// frame is checked against the schemas.
func (t *Target) ClientConfig(userID string) client.Config {
	return client.Config{
		URL:        t.URL,
		SDKAppID:   t.SDKAppID,
		Secret:     t.Secret,
		UserID:     userID,
		UserName:   "name-" + userID,
		Check:      t.validator.ValidateFrame,
		Transcript: 200,
	}
}

// ValidateHandshakeError checks the body of a refused handshake against its schema.
func (t *Target) ValidateHandshakeError(body []byte) error {
	return t.validator.ValidateHandshakeError(body)
}

// HandshakeURL returns the WebSocket URL with the query of a handshake: sdkappid, and userid
// and usersig when not empty. It is for specs that need a raw connection or a malformed
// handshake.
func (t *Target) HandshakeURL(sdkAppID, userID, userSig string) string {
	q := url.Values{}
	if sdkAppID != "" {
		q.Set("sdkappid", sdkAppID)
	}
	if userID != "" {
		q.Set("userid", userID)
	}
	if userSig != "" {
		q.Set("usersig", userSig)
	}
	sep := "?"
	if strings.Contains(t.URL, "?") {
		sep = "&"
	}
	return t.URL + sep + q.Encode()
}

// Sign returns a valid UserSig of userID for the target.
func (t *Target) Sign(userID string) (string, error) {
	return client.SignUserSig(t.Secret, t.SDKAppID, userID, time.Hour, time.Now())
}

// startImage starts TargetImage with the suite's receiver for its webhooks.
func (t *Target) startImage() (*Target, error) {
	listen := t.WebhookListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	r, err := StartReceiver(listen, DefaultSDKAppID, EmbeddedWebhookSecret, t.validator.ValidateWebhook)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartContainer(ctx, t.TargetImage, r.URL, t.ImageEnv)
	if err != nil {
		r.Close()
		return nil, err
	}
	env := ContainerEnv(c.Addr, r.URL, t.ImageEnv)
	t.Webhooks, t.Container = r, c
	t.URL = "ws://" + c.Addr + client.Path
	if t.RESTURL == "" {
		t.RESTURL = "http://" + c.Addr
	}
	t.WebhookSecret = env["PKARENA_WEBHOOK_SECRET"]
	if n, err := strconv.ParseUint(env["PKARENA_SDKAPPID"], 10, 64); err == nil {
		t.SDKAppID = n
	}
	t.Secret = env["PKARENA_SECRET"]
	t.Description = "container " + t.TargetImage + " at " + t.URL
	t.stop = func() {
		c.Stop()
		r.Close()
	}
	return t, nil
}

// reachable checks that something accepts TCP connections at a WebSocket URL's host, so a
// wrong URL is a configuration error of the run, not a server failing every spec.
func reachable(wsURL string) error {
	u, err := url.Parse(wsURL)
	if err != nil {
		return fmt.Errorf("target %q: %w", wsURL, err)
	}
	c, err := net.DialTimeout("tcp", client.HostPort(u), 5*time.Second)
	if err != nil {
		return fmt.Errorf("target %s is unreachable: %w", wsURL, err)
	}
	return c.Close()
}
