package server

import (
	"fmt"
	"log/slog"
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
	// SendQueueFrames bounds each connection's send queue (CLOSE-001).
	SendQueueFrames int
	// HeartbeatInterval is how often clients are told to send a heartbeat.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a silent connection lives (LIVE-020); must exceed HeartbeatInterval.
	HeartbeatTimeout time.Duration
	// DefaultInviteTimeout applies to requestConnection without a timeout (COHOST-014).
	DefaultInviteTimeout time.Duration
	// WriteTimeout bounds one frame write to a client.
	WriteTimeout time.Duration
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

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
		HeartbeatInterval:    5 * time.Second,
		HeartbeatTimeout:     15 * time.Second,
		DefaultInviteTimeout: 30 * time.Second,
		WriteTimeout:         10 * time.Second,
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
	case c.HeartbeatInterval <= 0 || c.HeartbeatTimeout <= c.HeartbeatInterval:
		return fmt.Errorf("heartbeat interval %v, timeout %v: need 0 < interval < timeout", c.HeartbeatInterval, c.HeartbeatTimeout)
	case c.DefaultInviteTimeout < time.Second || c.DefaultInviteTimeout > time.Hour || c.DefaultInviteTimeout%time.Second != 0:
		// Advertised as whole seconds (defaultInviteTimeoutS) within a request's own range.
		return fmt.Errorf("default invite timeout %v: must be whole seconds from 1s to 1h", c.DefaultInviteTimeout)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("write timeout %v: must be positive", c.WriteTimeout)
	}
	return nil
}
