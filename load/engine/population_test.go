package engine

import (
	"fmt"
	"testing"
	"time"
)

func TestHeartbeatStep(t *testing.T) {
	for _, tt := range []struct {
		interval  time.Duration
		users     int
		wantTick  time.Duration
		wantSlots int
	}{
		{5 * time.Second, 50_000, 10 * time.Millisecond, 500},    // 100 sends a step
		{5 * time.Second, 100_000, 10 * time.Millisecond, 500},   // never below heartbeatTick: 200 a step
		{5 * time.Second, 25_000, 20 * time.Millisecond, 250},    // exactly heartbeatsPerStep a step
		{5 * time.Second, 24_999, 20 * time.Millisecond, 250},    // one user fewer: the step rounds down
		{5 * time.Second, 25_001, 5 * time.Second / 251, 251},    // one more: one more slot
		{5 * time.Second, 5_000, 100 * time.Millisecond, 50},     // 100 a step
		{5 * time.Second, 1_000, 500 * time.Millisecond, 10},     // a tenth of the interval at most
		{5 * time.Second, 450, 500 * time.Millisecond, 10},       // the fan-out benchmark: 45 a step
		{5 * time.Second, 1, 500 * time.Millisecond, 10},         // one user
		{5 * time.Second, 0, 500 * time.Millisecond, 10},         // no user yet: no division by zero
		{500 * time.Millisecond, 450, 50 * time.Millisecond, 10}, // short timings: still ten steps an interval
		{50 * time.Millisecond, 10, 10 * time.Millisecond, 5},    // a tenth would be under heartbeatTick
		{10 * time.Millisecond, 4, 10 * time.Millisecond, 1},     // the interval is heartbeatTick: one slot
		{5 * time.Millisecond, 4, 5 * time.Millisecond, 1},       // shorter: one slot of its length
	} {
		tick, slots := heartbeatStep(tt.interval, tt.users)
		if tick != tt.wantTick || slots != tt.wantSlots {
			t.Errorf("heartbeatStep(%v, %d) = %v, %d slots; want %v, %d", tt.interval, tt.users, tick, slots, tt.wantTick, tt.wantSlots)
		}
		// Every user gets a heartbeat at least once an interval: the slots fit in it.
		if cycle := time.Duration(slots) * tick; cycle > tt.interval {
			t.Errorf("heartbeatStep(%v, %d): %d slots of %v take %v, longer than the interval", tt.interval, tt.users, slots, tick, cycle)
		}
		// Unless the step is heartbeatTick already, a step sends no more than heartbeatsPerStep.
		if perStep := (tt.users + slots - 1) / slots; tick > heartbeatTick && perStep > heartbeatsPerStep {
			t.Errorf("heartbeatStep(%v, %d): %d sends a step of %v; want at most %d", tt.interval, tt.users, perStep, tick, heartbeatsPerStep)
		}
	}
}

// TestClientConfigTakesSourceAddressesInTurn: user i dials its group's target from
// SourceIPs[i mod n] (none set: the system's choice), so that connections spread evenly
// over the addresses, whose ports are some 28,000 each.
func TestClientConfigTakesSourceAddressesInTurn(t *testing.T) {
	targets := []Target{{WS: "ws://127.0.0.1:1/v1/ws"}, {WS: "ws://127.0.0.1:2/v1/ws"}}
	for _, tt := range []struct {
		sources []string
		want    []string // LocalAddr of users 0..6
	}{
		{nil, []string{"", "", "", "", "", "", ""}},
		{[]string{"127.0.0.2"}, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2"}},
		{[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"}},
	} {
		e := &engine{cfg: Config{Targets: targets, SourceIPs: tt.sources}}
		g := &group{target: 1}
		for i, want := range tt.want {
			u := &user{id: fmt.Sprintf("u%d", i), index: i, room: &room{group: g}}
			cfg := e.clientConfig(u)
			if cfg.LocalAddr != want || cfg.URL != targets[1].WS || cfg.UserID != u.id {
				t.Errorf("sources %v, user %d: LocalAddr %q, URL %s, UserID %s; want %q, %s, %s", tt.sources, i, cfg.LocalAddr, cfg.URL, cfg.UserID, want, targets[1].WS, u.id)
			}
		}
	}
}
