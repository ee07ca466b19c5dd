package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
)

// The whole demo against the embedded server: it must add up.
func TestDemoAddsUp(t *testing.T) {
	o := DefaultOptions()
	o.Gifts, o.Duration = 12, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, o, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	// 12 gifts, every tenth resent: one retry.
	viewers := fmt.Sprintf("check:   %d viewers", 2*o.Viewers) // two rooms
	for _, want := range []string{"battle:", "ended:   reason 0", "rank 1", "); 1 of them resent, counted once", viewers, "OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// check says the battle did not add up when a room's final score is not what its gifts
// make, naming the room and both figures, and that it did when they are.
func TestCheckFindsAScoreThatDoesNotAddUp(t *testing.T) {
	ev := client.BattleEnded{Version: 3, BattleUserList: []client.BattleUser{{LiveID: "a", Score: 5}, {LiveID: "b", Score: 7}}}
	var out bytes.Buffer
	if err := check(ev, map[string]int64{"a": 5, "b": 8}, nil, "bt", &out); !errors.Is(err, ErrMismatch) || !strings.Contains(out.String(), "MISMATCH: b ended with 7, the gifts add up to 8") {
		t.Errorf("check = %v:\n%s\nwant ErrMismatch naming b, 7 and 8", err, out.String())
	}
	out.Reset()
	if err := check(ev, map[string]int64{"a": 5, "b": 7}, nil, "bt", &out); err != nil || !strings.Contains(out.String(), "all 3 score versions") {
		t.Errorf("check = %v:\n%s\nwant it to add up", err, out.String())
	}
}
