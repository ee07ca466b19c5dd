package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/reference/server"
)

func TestCheckTiming(t *testing.T) {
	for _, tt := range []struct {
		name              string
		interval, timeout int64
		ok                bool
	}{
		{"the README's short timings: exactly the slack", 500, 1500, true},
		{"the defaults", 5000, 15000, true},
		{"a millisecond short of the slack", 500, 1499, false},
		{"timeout equal to the interval", 1000, 1000, false},
		{"timeout below the interval", 2000, 1000, false},
		{"no interval", 0, 15000, false},
		{"no timeout", 500, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTiming(client.Timing{HeartbeatIntervalMs: tt.interval, HeartbeatTimeoutMs: tt.timeout})
			if (err == nil) != tt.ok {
				t.Errorf("CheckTiming(%d, %d) = %v; want ok %v", tt.interval, tt.timeout, err, tt.ok)
			}
		})
	}
}

// A target whose heartbeat timeout leaves too little slack is refused before any spec runs,
// with the remedy in the message.
func TestStartRefusesTimingsTooShortToTest(t *testing.T) {
	cfg := EmbeddedConfig()
	cfg.HeartbeatInterval, cfg.HeartbeatTimeout = 500*time.Millisecond, 1200*time.Millisecond
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tgt, err := Start(Settings{URL: srv.URL, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret, EventTimeout: time.Second})
	if err == nil {
		tgt.Close()
		t.Fatal("Start accepted a target with heartbeatTimeoutMs 1200 and heartbeatIntervalMs 500")
	}
	for _, want := range []string{"heartbeatTimeoutMs 1200", "-heartbeat-timeout 1.5s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %v; want it to say %q", err, want)
		}
	}
}

func TestCheckLimits(t *testing.T) {
	for _, tt := range []struct {
		name         string
		seats, rooms int
		ok           bool
	}{
		{"SPEC's defaults", 16, 9, true},
		{"exactly the least", MinSeatCount, MinConnectedRooms, true},
		{"a seat short", MinSeatCount - 1, 9, false},
		{"a room short", 16, MinConnectedRooms - 1, false},
		{"none advertised", 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLimits(client.Limits{MaxSeatCount: tt.seats, MaxConnectedRooms: tt.rooms})
			if (err == nil) != tt.ok {
				t.Errorf("CheckLimits(seats %d, rooms %d) = %v; want ok %v", tt.seats, tt.rooms, err, tt.ok)
			}
		})
	}
}

// A target whose limits are too small for the suite's scenes is refused before any spec
// runs, with the remedy in the message.
func TestStartRefusesLimitsTooSmallToTest(t *testing.T) {
	cfg := EmbeddedConfig()
	cfg.MaxSeatCount, cfg.MaxConnectedRooms = 5, 4
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tgt, err := Start(Settings{URL: srv.URL, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret, EventTimeout: time.Second})
	if err == nil {
		tgt.Close()
		t.Fatal("Start accepted a target with maxSeatCount 5 and maxConnectedRooms 4")
	}
	for _, want := range []string{"maxSeatCount 5 and maxConnectedRooms 4", "-max-seat-count 8 -max-connected-rooms 8"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %v; want it to say %q", err, want)
		}
	}
}
