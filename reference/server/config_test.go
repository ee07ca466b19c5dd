package server

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// Every rule of Validate from both sides: a setting at its bound is accepted, one step beyond
// it refused with the rule's own message; every other setting is the default's.
func TestValidateEachBoundBothWays(t *testing.T) {
	resume := func(c *Config) { c.ResumeWindow = time.Minute } // the history rules apply with resume on
	for _, tt := range []struct {
		name    string
		set     func(*Config)
		wantErr string // a part of the message; "" accepted
	}{
		{"the defaults", func(*Config) {}, ""},
		{"an empty secret", func(c *Config) { c.Secret = "" }, "secret"},
		{"2 connected rooms", func(c *Config) { c.MaxConnectedRooms = 2 }, ""},
		{"1 connected room", func(c *Config) { c.MaxConnectedRooms = 1 }, "max connected rooms"},
		{"1 user a room", func(c *Config) { c.MaxUsersPerRoom = 1 }, ""},
		{"0 users a room", func(c *Config) { c.MaxUsersPerRoom = 0 }, "max users per room"},
		{"1 seat", func(c *Config) { c.MaxSeatCount = 1 }, ""},
		{"0 seats", func(c *Config) { c.MaxSeatCount = 0 }, "max seat count"},
		{"frames of 1024 bytes", func(c *Config) { c.MaxFrameBytes = 1024 }, ""},
		{"frames of 1023 bytes", func(c *Config) { c.MaxFrameBytes = 1023 }, "max frame bytes"},
		{"a queue of 1 frame", func(c *Config) { c.SendQueueFrames = 1 }, ""},
		{"a queue of 0 frames", func(c *Config) { c.SendQueueFrames = 0 }, "send queue frames"},
		{"a queue of the least bytes", func(c *Config) { c.SendQueueBytes = minSendQueueBytes }, ""},
		{"a queue of a byte less", func(c *Config) { c.SendQueueBytes = minSendQueueBytes - 1 }, "send queue bytes"},
		{"no request limit", func(c *Config) { c.ConnRequestRate, c.ConnRequestBurst = 0, 0 }, ""},
		{"a negative request rate", func(c *Config) { c.ConnRequestRate = -1 }, "connection request rate"},
		{"a burst of 1", func(c *Config) { c.ConnRequestRate, c.ConnRequestBurst = 1, 1 }, ""},
		{"a burst of 0 with a rate", func(c *Config) { c.ConnRequestRate, c.ConnRequestBurst = 1, 0 }, "connection request burst"},
		{"heartbeat timeout just over the interval", func(c *Config) { c.HeartbeatInterval, c.HeartbeatTimeout = time.Nanosecond, 2*time.Nanosecond }, ""},
		{"heartbeat timeout equal to the interval", func(c *Config) { c.HeartbeatTimeout = c.HeartbeatInterval }, "heartbeat interval"},
		{"heartbeat interval 0", func(c *Config) { c.HeartbeatInterval = 0 }, "heartbeat interval"},
		{"invite timeout 1s", func(c *Config) { c.DefaultInviteTimeout = time.Second }, ""},
		{"invite timeout 1h", func(c *Config) { c.DefaultInviteTimeout = time.Hour }, ""},
		{"invite timeout 999ms", func(c *Config) { c.DefaultInviteTimeout = 999 * time.Millisecond }, "default invite timeout"},
		{"invite timeout 1h1s", func(c *Config) { c.DefaultInviteTimeout = time.Hour + time.Second }, "default invite timeout"},
		{"invite timeout 1.5s", func(c *Config) { c.DefaultInviteTimeout = 1500 * time.Millisecond }, "default invite timeout"},
		{"resume off", func(c *Config) { c.ResumeWindow = 0 }, ""},
		{"resume window 1h", func(c *Config) { c.ResumeWindow = time.Hour }, ""},
		{"resume window 1h1ms", func(c *Config) { c.ResumeWindow = time.Hour + time.Millisecond }, "resume window"},
		{"resume window -1ms", func(c *Config) { c.ResumeWindow = -time.Millisecond }, "resume window"},
		{"resume window 1.5ms", func(c *Config) { c.ResumeWindow = 1500 * time.Microsecond }, "resume window"},
		{"history of 1 frame", func(c *Config) { resume(c); c.ResumeHistoryFrames = 1 }, ""},
		{"history of 0 frames", func(c *Config) { resume(c); c.ResumeHistoryFrames = 0 }, "resume history frames"},
		{"history of half the queue's frames", func(c *Config) { resume(c); c.ResumeHistoryFrames = c.SendQueueFrames / 2 }, ""},
		{"history of a frame more", func(c *Config) { resume(c); c.ResumeHistoryFrames = c.SendQueueFrames/2 + 1 }, "resume history frames"},
		{"history of 0 frames, resume off", func(c *Config) { c.ResumeHistoryFrames = 0 }, ""},
		{"history of 1024 bytes", func(c *Config) { resume(c); c.ResumeHistoryBytes = 1024 }, ""},
		{"history of 1023 bytes", func(c *Config) { resume(c); c.ResumeHistoryBytes = 1023 }, "resume history bytes"},
		{"history of half the queue's bytes", func(c *Config) { resume(c); c.ResumeHistoryBytes = c.SendQueueBytes / 2 }, ""},
		{"history of a byte more", func(c *Config) { resume(c); c.ResumeHistoryBytes = c.SendQueueBytes/2 + 1 }, "resume history bytes"},
		{"write timeout 1ns", func(c *Config) { c.WriteTimeout = time.Nanosecond }, ""},
		{"write timeout 0", func(c *Config) { c.WriteTimeout = 0 }, "write timeout"},
		{"no close linger", func(c *Config) { c.CloseLinger = 0 }, ""},
		{"close linger 1m", func(c *Config) { c.CloseLinger = time.Minute }, ""},
		{"close linger -1ns", func(c *Config) { c.CloseLinger = -time.Nanosecond }, "close linger"},
		{"close linger 1m1ns", func(c *Config) { c.CloseLinger = time.Minute + time.Nanosecond }, "close linger"},
		{"battles of at most 1s", func(c *Config) { c.MaxBattleDuration, c.DefaultBattleDuration = time.Second, time.Second }, ""},
		{"battles of at most 999ms", func(c *Config) { c.MaxBattleDuration = 999 * time.Millisecond }, "max battle duration"},
		{"battles of at most 1.5s", func(c *Config) { c.MaxBattleDuration = 1500 * time.Millisecond }, "max battle duration"},
		{"default battle of the max", func(c *Config) { c.DefaultBattleDuration = c.MaxBattleDuration }, ""},
		{"default battle over the max", func(c *Config) { c.DefaultBattleDuration = c.MaxBattleDuration + time.Second }, "default battle duration"},
		{"default battle of 999ms", func(c *Config) { c.DefaultBattleDuration = 999 * time.Millisecond }, "default battle duration"},
		{"default battle of 1.5s", func(c *Config) { c.DefaultBattleDuration = 1500 * time.Millisecond }, "default battle duration"},
		{"no battle request limit", func(c *Config) { c.MaxBattleRequestsPerMinute = 0 }, ""},
		{"a negative battle request limit", func(c *Config) { c.MaxBattleRequestsPerMinute = -1 }, "max battle requests per minute"},
		{"retention 10m", func(c *Config) { c.BattleRetention = 10 * time.Minute }, ""},
		{"retention just under 10m", func(c *Config) { c.BattleRetention = 10*time.Minute - time.Nanosecond }, "battle retention"},
		{"no admin", func(c *Config) { c.AdminIdentifiers = nil }, "admin identifiers"},
		{"REST limit 1", func(c *Config) { c.RESTRateLimit = 1 }, ""},
		{"REST limit 0", func(c *Config) { c.RESTRateLimit = 0 }, "REST rate limit"},
		{"webhooks to http", func(c *Config) { c.WebhookURL = "http://127.0.0.1:9/hooks" }, ""},
		{"webhooks to https", func(c *Config) { c.WebhookURL = "https://example.test/hooks" }, ""},
		{"webhooks to ftp", func(c *Config) { c.WebhookURL = "ftp://example.test/hooks" }, "webhook URL"},
		{"webhook timeout 1ns", func(c *Config) { c.WebhookTimeout, c.WebhookBackoff = time.Nanosecond, time.Nanosecond }, ""},
		{"webhook timeout 0", func(c *Config) { c.WebhookTimeout = 0 }, "webhook timeout"},
		{"webhook backoff 0", func(c *Config) { c.WebhookBackoff = 0 }, "webhook timeout"},
		{"5 webhook attempts", func(c *Config) { c.WebhookAttempts = 5 }, ""},
		{"4 webhook attempts", func(c *Config) { c.WebhookAttempts = 4 }, "webhook attempts"},
		{"a webhook queue of 1", func(c *Config) { c.WebhookQueue = 1 }, ""},
		{"a webhook queue of 0", func(c *Config) { c.WebhookQueue = 0 }, "webhook queue"},
		{"no webhook wait at shutdown", func(c *Config) { c.ShutdownWebhookWait = 0 }, ""},
		{"a negative webhook wait", func(c *Config) { c.ShutdownWebhookWait = -time.Nanosecond }, "shutdown webhook wait"},
		{"shutdown timeout 1ns", func(c *Config) { c.ShutdownTimeout = time.Nanosecond }, ""},
		{"shutdown timeout 0", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown timeout"},
		{"HTTP timeouts 1ns", func(c *Config) { c.HTTPIdleTimeout, c.HTTPReadTimeout = time.Nanosecond, time.Nanosecond }, ""},
		{"HTTP idle timeout 0", func(c *Config) { c.HTTPIdleTimeout = 0 }, "HTTP idle timeout"},
		{"HTTP read timeout 0", func(c *Config) { c.HTTPReadTimeout = 0 }, "HTTP idle timeout"},
		{"1 HTTP connection", func(c *Config) { c.MaxHTTPConns = 1 }, ""},
		{"0 HTTP connections", func(c *Config) { c.MaxHTTPConns = 0 }, "max HTTP connections"},
		{"no REST eager reads", func(c *Config) { c.RESTEagerReads = 0 }, ""},
		{"64 REST eager reads", func(c *Config) { c.RESTEagerReads = 64 }, ""},
		{"65 REST eager reads", func(c *Config) { c.RESTEagerReads = 65 }, "REST eager reads 65: must be from 0 to 64"},
		{"-1 REST eager reads", func(c *Config) { c.RESTEagerReads = -1 }, "REST eager reads -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.set(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v; want it accepted", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v; want the %q rule's refusal", err, tt.wantErr)
			}
		})
	}
}

// The environment's values of every kind are parsed, and one that does not parse fails
// BindFlags naming the variable: integers, durations and the application ID.
func TestBindFlagsParsesTheEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string // a part of BindFlags' error; "" none
		check   func(Config) bool
	}{
		{"an integer", map[string]string{"PKARENA_MAX_SEAT_COUNT": "12"}, "", func(c Config) bool { return c.MaxSeatCount == 12 }},
		{"not an integer", map[string]string{"PKARENA_MAX_SEAT_COUNT": "twelve"}, "PKARENA_MAX_SEAT_COUNT=\"twelve\": not an integer", nil},
		{"a duration", map[string]string{"PKARENA_WRITE_TIMEOUT": "250ms"}, "", func(c Config) bool { return c.WriteTimeout == 250*time.Millisecond }},
		{"not a duration", map[string]string{"PKARENA_WRITE_TIMEOUT": "soon"}, "PKARENA_WRITE_TIMEOUT=\"soon\": not a duration", nil},
		{"the close linger", map[string]string{"PKARENA_CLOSE_LINGER": "0s"}, "", func(c Config) bool { return c.CloseLinger == 0 }},
		{"an application ID", map[string]string{"PKARENA_SDKAPPID": "1400000042"}, "", func(c Config) bool { return c.SDKAppID == 1400000042 }},
		{"not an application ID", map[string]string{"PKARENA_SDKAPPID": "-1"}, "PKARENA_SDKAPPID=\"-1\": not an unsigned integer", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.BindFlags(flag.NewFlagSet("test", flag.ContinueOnError), func(k string) string { return tt.env[k] })
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("BindFlags() = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("BindFlags() = %v; want an error with %q", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(c) {
				t.Errorf("config after BindFlags: %+v", c)
			}
		})
	}
}
