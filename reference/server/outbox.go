package server

import (
	"encoding/json"
	"fmt"

	"github.com/pkarena/pkarena/reference/core"
)

// Kinds of the journal's webhook records, beside the battle records of core.Record: together
// they are the webhook outbox.
const (
	// recordHook is a webhook to deliver: its CallbackCommand, EventId, OptPlatform,
	// ClientIP and JSON body, synced with the records of the operation that made it.
	recordHook = "hook"
	// recordHookAck says the receiver acknowledged (answered 2xx) the webhook with EventId.
	recordHookAck = "hookAck"
)

// journalRecord is one line of the journal: a battle record (core.Record), or a webhook
// record of the outbox (Kind recordHook or recordHookAck) with the fields below.
type journalRecord struct {
	core.Record
	Event    string          `json:"event,omitempty"`    // the EventId (hook, hookAck)
	Command  string          `json:"command,omitempty"`  // hook: the CallbackCommand
	Platform string          `json:"platform,omitempty"` // hook: the OptPlatform
	ClientIP string          `json:"clientIP,omitempty"` // hook: the ClientIP
	Body     json.RawMessage `json:"body,omitempty"`     // hook: the JSON body
}

// hookRecord is the journal record of h, whose Body is a json.RawMessage.
func hookRecord(h core.Hook) journalRecord {
	return journalRecord{Record: core.Record{Kind: recordHook}, Event: h.EventID, Command: h.Command, Platform: h.OptPlatform, ClientIP: h.ClientIP, Body: h.Body.(json.RawMessage)}
}

// rawHook returns h with its Body marshalled, as the outbox keeps it.
func rawHook(h core.Hook) (core.Hook, error) {
	if _, ok := h.Body.(json.RawMessage); ok {
		return h, nil
	}
	body, err := json.Marshal(h.Body)
	if err != nil {
		return h, fmt.Errorf("webhook %s: body: %w", h.EventID, err)
	}
	h.Body = json.RawMessage(body)
	return h, nil
}

// outbox holds the webhooks the journal recorded and the receiver has not acknowledged yet,
// in the order they happened. It belongs to its journal, and so to the journal's owner: the
// hub, then the webhook sender the hub hands the journal over to as it stops.
type outbox struct {
	order []*outboxEntry          // recorded order; acknowledged entries linger until compact
	byID  map[string]*outboxEntry // the entries not acknowledged, by EventId
	next  int                     // order[next:] has not been offered to the webhook sender
	retry []string                // EventIds the sender gave up on, in that order, to offer again
}

type outboxEntry struct {
	hook  core.Hook // Body is a json.RawMessage
	acked bool
}

func newOutbox() *outbox { return &outbox{byID: make(map[string]*outboxEntry)} }

// len is how many webhooks are not acknowledged.
func (o *outbox) len() int { return len(o.byID) }

// add keeps h (whose Body is a json.RawMessage) until ack; false, and nothing kept, when a
// webhook with its EventId is already kept: the outbox holds one of each event.
func (o *outbox) add(h core.Hook) bool {
	if _, dup := o.byID[h.EventID]; dup {
		return false
	}
	e := &outboxEntry{hook: h}
	o.order = append(o.order, e)
	o.byID[h.EventID] = e
	return true
}

// ack forgets the webhook with EventId id; false when none is kept.
func (o *outbox) ack(id string) bool {
	e := o.byID[id]
	if e == nil {
		return false
	}
	e.acked = true
	delete(o.byID, id)
	if n := len(o.order); n >= 64 && n > 2*len(o.byID) {
		o.compact()
	}
	return true
}

// compact drops the acknowledged entries from order.
func (o *outbox) compact() {
	kept := make([]*outboxEntry, 0, 2*len(o.byID))
	next := 0
	for i, e := range o.order {
		if e.acked {
			continue
		}
		if i < o.next {
			next++
		}
		kept = append(kept, e)
	}
	o.order, o.next = kept, next
}

// pending returns the webhooks not acknowledged, in order.
func (o *outbox) pending() []core.Hook {
	out := make([]core.Hook, 0, len(o.byID))
	for _, e := range o.order {
		if !e.acked {
			out = append(out, e.hook)
		}
	}
	return out
}

// gaveUp notes that the sender gave up on the webhook with EventId id, so that offerRetries
// offers it again; an acknowledged or unknown one is ignored.
func (o *outbox) gaveUp(id string) {
	if o.byID[id] != nil {
		o.retry = append(o.retry, id)
	}
}

// offerRetries hands the webhooks given up on to send again, in the order they were given
// up, until send refuses one; it returns how many remain to retry.
func (o *outbox) offerRetries(send func(core.Hook) bool) int {
	for len(o.retry) > 0 {
		if e := o.byID[o.retry[0]]; e != nil && !send(e.hook) {
			break
		}
		o.retry = o.retry[1:]
	}
	return len(o.retry)
}

// offer hands the webhooks not offered yet to send, in order, until send refuses one (the
// sender's queue is full: it is offered again next time). It returns how many send took.
func (o *outbox) offer(send func(core.Hook) bool) int {
	n := 0
	for ; o.next < len(o.order); o.next++ {
		e := o.order[o.next]
		if e.acked {
			continue
		}
		if !send(e.hook) {
			break
		}
		n++
	}
	return n
}
