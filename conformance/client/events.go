package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// eventLog is every event of a connection, in arrival order, and the cursors of Next. A
// connection whose events go to Config.OnEvent keeps nothing in it: its map and channel are
// made when first needed.
type eventLog struct {
	mu      sync.Mutex
	events  []Event
	cursors map[string]int // per event type: index after the last event Next returned; nil: none yet
	changed chan struct{}  // closed when events grows or the connection ends; nil: nobody waits
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.wakeLocked()
	l.mu.Unlock()
}

func (l *eventLog) wake() {
	l.mu.Lock()
	l.wakeLocked()
	l.mu.Unlock()
}

// wakeLocked wakes those waiting for a change: closes the channel they wait on; the next to
// wait makes a new one.
func (l *eventLog) wakeLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// changedLocked is the channel that closes at the next change.
func (l *eventLog) changedLocked() chan struct{} {
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// setCursorLocked sets the cursor of Next for events of type typ.
func (l *eventLog) setCursorLocked(typ string, i int) {
	if l.cursors == nil {
		l.cursors = make(map[string]int)
	}
	l.cursors[typ] = i
}

// Events returns a copy of every event received so far, in order.
func (c *Client) Events() []Event {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	return append([]Event(nil), c.log.events...)
}

// EventsOf returns the events of type typ received so far, in order.
func (c *Client) EventsOf(typ string) []Event {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	var out []Event
	for _, e := range c.log.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Count returns how many events of type typ have arrived.
func (c *Client) Count(typ string) int {
	return len(c.EventsOf(typ))
}

// Next returns the first event of type typ that arrived after the one Next last returned for
// typ, waiting for it if needed. Each event of a type is returned once, in arrival order.
func (c *Client) Next(ctx context.Context, typ string) (Event, error) {
	for {
		c.log.mu.Lock()
		for i := c.log.cursors[typ]; i < len(c.log.events); i++ {
			if e := c.log.events[i]; e.Type == typ {
				c.log.setCursorLocked(typ, i+1)
				c.log.mu.Unlock()
				return e, nil
			}
		}
		c.log.setCursorLocked(typ, len(c.log.events))
		changed := c.log.changedLocked()
		c.log.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
			// The connection ended; one more pass sees any event that arrived before that.
			if e, ok := c.takeUnread(typ); ok {
				return e, nil
			}
			return Event{}, fmt.Errorf("%w (events: %s)", c.closedErr("waiting for "+typ), c.eventTypes())
		case <-ctx.Done():
			return Event{}, fmt.Errorf("client %s: no %s: %w (events so far: %s)", c.userID, typ, ctx.Err(), c.eventTypes())
		}
	}
}

// takeUnread returns the next unreturned event of type typ without waiting.
func (c *Client) takeUnread(typ string) (Event, bool) {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	for i := c.log.cursors[typ]; i < len(c.log.events); i++ {
		if e := c.log.events[i]; e.Type == typ {
			c.log.setCursorLocked(typ, i+1)
			return e, true
		}
	}
	return Event{}, false
}

// NextAs is Next followed by decoding the payload into a T.
func NextAs[T any](ctx context.Context, c *Client, typ string) (T, error) {
	var v T
	e, err := c.Next(ctx, typ)
	if err != nil {
		return v, err
	}
	if err := e.Decode(&v); err != nil {
		return v, fmt.Errorf("client %s: %s payload: %w", c.userID, typ, err)
	}
	return v, nil
}

// Skip marks every event received so far as returned by Next, whatever its type.
func (c *Client) Skip() {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	for typ := range c.log.cursors {
		c.log.cursors[typ] = len(c.log.events)
	}
	for _, e := range c.log.events {
		c.log.setCursorLocked(e.Type, len(c.log.events))
	}
}

// Sync is a barrier: it returns once a heartbeat has made a round trip, so every event the
// server produced for this connection before it read the heartbeat has arrived (TRANS-011).
func (c *Client) Sync(ctx context.Context) error {
	return c.Call(ctx, ReqHeartbeat, nil, nil)
}

// eventTypes summarises the log for error messages.
func (c *Client) eventTypes() string {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	if len(c.log.events) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, e := range c.log.events {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 20 {
			fmt.Fprintf(&b, "... %d more", len(c.log.events)-20)
			break
		}
		b.WriteString(e.Type)
	}
	return b.String()
}

// Unread returns the events of type typ that arrived after the one Next last returned for
// typ (or that Skip passed over), without marking them returned. An empty typ means every
// type.
func (c *Client) Unread(typ string) []Event {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	var out []Event
	for i, e := range c.log.events {
		if (typ == "" || e.Type == typ) && i >= c.log.cursors[e.Type] {
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits until done, called with every event received so far, returns true. done runs
// with the client's event log locked: it must not call the client's methods.
func (c *Client) WaitFor(ctx context.Context, done func([]Event) bool) error {
	for {
		c.log.mu.Lock()
		ok := done(c.log.events)
		changed := c.log.changedLocked()
		c.log.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-c.done:
			c.log.mu.Lock()
			ok := done(c.log.events)
			c.log.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("%w (events: %s)", c.closedErr("sync"), c.eventTypes())
		case <-ctx.Done():
			return fmt.Errorf("client %s: %w (events so far: %s)", c.userID, ctx.Err(), c.eventTypes())
		}
	}
}
