package client

import (
	"fmt"
	"strings"
	"testing"
)

// TestEventTypesSummarisesTheLog: the error of a wait that found no event names what the log
// held: "none", the types in order, or the first 20 and how many more.
func TestEventTypesSummarisesTheLog(t *testing.T) {
	var first20 []string
	for i := range 20 {
		first20 = append(first20, fmt.Sprintf("e%d", i))
	}
	for _, tt := range []struct {
		events int
		want   string
	}{
		{0, "none"},
		{1, "e0"},
		{2, "e0, e1"},
		{20, strings.Join(first20, ", ")},
		{21, strings.Join(first20, ", ") + ", ... 1 more"},
		{25, strings.Join(first20, ", ") + ", ... 5 more"},
	} {
		c := &Client{}
		for i := range tt.events {
			c.log.add(Event{Type: fmt.Sprintf("e%d", i)})
		}
		if got := c.eventTypes(); got != tt.want {
			t.Errorf("%d events: %q; want %q", tt.events, got, tt.want)
		}
	}
}
