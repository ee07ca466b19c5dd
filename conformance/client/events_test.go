package client

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
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

// TestEventLogMakesNothingUntilNeeded: a log nobody waits on or reads with Next (a client
// whose events go to OnEvent, or one that only collects) holds no map and no channel, and an
// event allocates none; a waiter's channel closes at the next event, and the one after it
// waits on a new one.
func TestEventLogMakesNothingUntilNeeded(t *testing.T) {
	c := &Client{}
	c.log.add(Event{Type: "a"})
	c.log.wake()
	if c.log.cursors != nil || c.log.changed != nil {
		t.Fatalf("a log nobody waited on made cursors %v, channel %v", c.log.cursors, c.log.changed)
	}
	c.log.mu.Lock()
	first := c.log.changedLocked()
	c.log.mu.Unlock()
	select {
	case <-first:
		t.Fatal("a waiter's channel closed before any event")
	default:
	}
	c.log.add(Event{Type: "b"})
	select {
	case <-first:
	default:
		t.Fatal("a waiter's channel still open after an event")
	}
	c.log.mu.Lock()
	second := c.log.changedLocked()
	c.log.mu.Unlock()
	if second == first {
		t.Fatal("the next waiter got the closed channel")
	}
	if got := c.Unread(""); len(got) != 2 {
		t.Errorf("Unread = %v; want both events", got)
	}
	if e, ok := c.takeUnread("b"); !ok || e.Type != "b" || c.log.cursors["b"] != 2 {
		t.Errorf("takeUnread(b) = %v, %v, cursor %d; want b, true, 2", e, ok, c.log.cursors["b"])
	}
}

// TestClientStaysInItsSizeClass: a load agent holds one Client a connection; it fits the
// 640-byte size class (it was 768 with the whole Config in it).
func TestClientStaysInItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Client{}); n > 640 {
		t.Errorf("Client is %d bytes; want at most 640 (keep what Dial's caller configured out of it)", n)
	}
}
