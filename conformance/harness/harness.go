// Package harness prepares a conformance run: it reads the target from the environment,
// starts the embedded reference server when no target is given, and builds clients whose every
// received frame is checked against the JSON Schemas of fixtures/.
//
// It is the only part of the suite that may import the reference server, and only to start it.
package harness

import (
	"context"
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
	EnvTargetURL    = "PKARENA_TARGET_URL"
	EnvSDKAppID     = "PKARENA_SDKAPPID"
	EnvSecret       = "PKARENA_SECRET"
	EnvEventTimeout = "PKARENA_EVENT_TIMEOUT"
)

// Defaults shared with the reference server's own defaults, so that pointing the suite at a
// reference server started with no settings needs only PKARENA_TARGET_URL.
const (
	DefaultSDKAppID     = 1400000001
	DefaultSecret       = "pkarena-dev-secret"
	DefaultEventTimeout = 5 * time.Second
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
}

// FromEnv reads Settings from getenv (os.Getenv in the binary).
func FromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{URL: getenv(EnvTargetURL), SDKAppID: DefaultSDKAppID, Secret: DefaultSecret, EventTimeout: DefaultEventTimeout}
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
	return s, nil
}

// Target is the server under test, ready for clients.
type Target struct {
	Settings
	// Description says what is being tested, for logs and reports.
	Description string

	validator *fixtures.Validator
	stop      func()
}

// EmbeddedConfig is the reference server configuration the suite starts when no target is
// given: the documented limits, with timing short enough that timeout and liveness specs take
// a second or two instead of half a minute.
func EmbeddedConfig() server.Config {
	cfg := server.DefaultConfig()
	cfg.SDKAppID = DefaultSDKAppID
	cfg.Secret = DefaultSecret
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.HeartbeatTimeout = 1500 * time.Millisecond
	cfg.DefaultInviteTimeout = 2 * time.Second
	cfg.SendQueueFrames = 256
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// Start prepares the target: the server at s.URL, or the embedded reference server.
func Start(s Settings) (*Target, error) {
	v, err := fixtures.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	t := &Target{Settings: s, validator: v, stop: func() {}}
	if s.URL != "" {
		t.Description = "server at " + s.URL
		return t, nil
	}
	cfg := EmbeddedConfig()
	srv, err := server.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("embedded server", "err", err)
		}
	}()
	t.URL = "ws://" + ln.Addr().String() + client.Path
	t.SDKAppID, t.Secret = cfg.SDKAppID, cfg.Secret
	t.Description = "embedded reference server " + server.Version + " at " + t.URL
	t.stop = func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-served
	}
	return t, nil
}

// Close stops the embedded server, if one was started.
func (t *Target) Close() { t.stop() }

// ClientConfig returns the configuration of a client of user userID whose every received
// frame is checked against the schemas.
func (t *Target) ClientConfig(userID string) client.Config {
	return client.Config{
		URL:      t.URL,
		SDKAppID: t.SDKAppID,
		Secret:   t.Secret,
		UserID:   userID,
		UserName: "name-" + userID,
		Check:    t.validator.ValidateFrame,
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
