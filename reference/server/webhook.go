package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
)

// Webhook headers (SPEC HOOK-003, HOOK-004).
const (
	HeaderEventID   = "X-Pkarena-Event-Id"
	HeaderTimestamp = "X-Pkarena-Timestamp"
	HeaderSignature = "X-Pkarena-Signature"
)

// maxWebhookBackoff caps the wait between two attempts.
const maxWebhookBackoff = time.Minute

// SignWebhook returns the X-Pkarena-Signature value of body sent at timestamp (Unix seconds)
// with secret: "v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>" (HOOK-004).
func SignWebhook(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// webhooks delivers the core's webhooks in order (HOOK-006) from one goroutine, retrying each
// with a doubling backoff (HOOK-005). The hub hands hooks over without ever blocking.
//
// Without a state directory, hooks are enqueued straight from the core: when the bounded
// queue is full, new hooks are dropped, counted and logged.
//
// With one (durable), the journal's outbox is the queue of record and the channel only a
// window on it: the hub offers the outbox's hooks in order as long as the channel takes them,
// and the delivery goroutine reports each hook it is done with on dones, so that the hub
// records the acknowledgement of a delivered one and offers the next. When the hub stops it
// hands the journal over on handover; from then on the delivery goroutine, and finish after
// it, record the acknowledgements and finish closes the journal.
type webhooks struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	client  *http.Client
	queue   chan core.Hook
	done    chan struct{} // closed when the delivery goroutine has exited
	finishd sync.Once     // finish runs once, however often Close is called

	durable  bool          // hooks come from the journal's outbox (StateDir and WebhookURL set)
	dones    chan hookDone // to the hub: each hook delivered or given up; nil unless durable
	handover chan *journal // from the hub as it stops: its journal, nil if the journal failed
	journal  *journal      // once handed over: the delivery goroutine's, then finish's
	adopted  bool          // the handover was received (delivery goroutine, then finish)
}

// hookDone tells the hub that the delivery goroutine is done with a hook: delivered
// (acknowledged by a 2xx), or given up for this run.
type hookDone struct {
	id    string
	acked bool
}

func newWebhooks(cfg Config, log *slog.Logger, m *metrics) *webhooks {
	w := &webhooks{
		cfg:     cfg,
		log:     log,
		metrics: m,
		client:  &http.Client{Timeout: cfg.WebhookTimeout, CheckRedirect: noRedirect},
		queue:   make(chan core.Hook, cfg.WebhookQueue),
		done:    make(chan struct{}),
		durable: cfg.StateDir != "" && cfg.WebhookURL != "",
	}
	if mutant.On(mutant.WebhookNoTimeout) {
		w.client.Timeout = 0
	}
	if mutant.On(mutant.WebhookTimeoutDoubled) {
		w.client.Timeout *= 2
	}
	if mutant.On(mutant.WebhookRedirectFollowed) {
		w.client.CheckRedirect = nil // net/http's default: up to 10 redirects followed
	}
	if w.durable {
		w.dones = make(chan hookDone, 64)
		w.handover = make(chan *journal, 1)
	}
	return w
}

// noRedirect keeps a webhook's answer as it came: a 3xx is a failed attempt, retried to the
// configured URL, and its Location is not followed (HOOK-005). net/http would follow it, and
// a 301, 302 or 303 would turn the POST into a GET without its body, whose 200 counted as a
// delivery the receiver never saw; it would also send events wherever a Location points.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// offer hands h over if the queue has room (durable: the hub offers the outbox's hooks).
func (w *webhooks) offer(h core.Hook) bool {
	select {
	case w.queue <- h:
		return true
	default:
		return false
	}
}

// enqueue hands hooks over for delivery; it never blocks: a hook the full queue has no room
// for is dropped. Without a URL it does nothing. (Durable: the hub uses offer.)
func (w *webhooks) enqueue(hooks []core.Hook) {
	if w.cfg.WebhookURL == "" {
		return
	}
	for _, h := range hooks {
		select {
		case w.queue <- h:
		default:
			w.metrics.webhooks[hookDropped].Inc()
			w.log.Error("webhook queue full: event dropped", "event", h.EventID, "command", h.Command, "queue", cap(w.queue))
		}
	}
}

// run delivers until ctx ends or the queue is closed and empty.
func (w *webhooks) run(ctx context.Context) {
	defer close(w.done)
	if w.cfg.WebhookURL == "" {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case h, ok := <-w.queue:
			if !ok {
				return
			}
			finished, acked := w.deliver(ctx, h)
			if !finished {
				w.cut(h)
				continue
			}
			w.report(h, acked)
		}
	}
}

// report tells the hub that the delivery goroutine is done with h (durable only). Once the
// hub has stopped, the acknowledgement goes to the journal it handed over.
func (w *webhooks) report(h core.Hook, acked bool) {
	if !w.durable {
		return
	}
	if !w.adopted {
		select {
		case w.dones <- hookDone{id: h.EventID, acked: acked}:
			return
		case j := <-w.handover:
			w.journal, w.adopted = j, true
		}
	}
	if acked {
		w.ackLate(h.EventID)
	}
}

// ackLate records an acknowledgement in the journal the hub handed over.
func (w *webhooks) ackLate(id string) {
	if w.journal == nil { // the journal failed: the event is sent again after the restart
		return
	}
	if err := w.journal.ackHook(id); err != nil {
		w.log.Error("webhook outbox: the acknowledgement was not recorded; the event will be sent again after the restart", "event", id, "err", err)
		return
	}
	w.metrics.outboxPending.Set(float64(w.journal.outbox.len()))
}

// finish closes the queue (the hub, its only producer, has stopped) and waits up to wait for
// what it holds to be delivered; then cancel gives up the rest, each logged. Durable, what is
// given up stays in the outbox for the next start, and finish closes the journal.
func (w *webhooks) finish(wait time.Duration, cancel context.CancelFunc) {
	w.finishd.Do(func() {
		w.drain(wait, cancel)
		w.closeOutbox()
	})
	<-w.done
}

// closeOutbox records the acknowledgements the hub did not take and closes the journal the
// hub handed over (durable only; the delivery goroutine has exited).
func (w *webhooks) closeOutbox() {
	if !w.durable {
		return
	}
	if !w.adopted {
		select {
		case w.journal = <-w.handover:
			w.adopted = true
		default: // the hub still runs: the journal is not finish's to close
			w.log.Error("webhook outbox: the hub has not handed the journal over; acknowledgements not recorded")
			return
		}
	}
	for drained := false; !drained; {
		select {
		case d := <-w.dones:
			if d.acked {
				w.ackLate(d.id)
			}
		default:
			drained = true
		}
	}
	j := w.journal
	if j == nil {
		return
	}
	if n := j.outbox.len(); n > 0 {
		w.log.Warn("webhook outbox: webhooks not acknowledged are kept for the next start", "webhooks", n)
	}
	if err := j.close(); err != nil {
		w.log.Error("battle journal: close", "err", err)
	}
}

func (w *webhooks) drain(wait time.Duration, cancel context.CancelFunc) {
	close(w.queue)
	select {
	case <-w.done:
		return
	case <-time.After(wait):
	}
	cancel()
	<-w.done
	for h := range w.queue {
		w.cut(h)
	}
}

// cut counts and logs h, which the shutdown left undelivered: dropped, or durable, kept in
// the outbox for the next start.
func (w *webhooks) cut(h core.Hook) {
	if w.durable {
		w.metrics.webhooks[hookDeferred].Inc()
		w.log.Warn("shutting down: webhook not delivered; kept in the outbox for the next start", "event", h.EventID, "command", h.Command)
		return
	}
	w.metrics.webhooks[hookDropped].Inc()
	w.log.Error("shutting down: webhook not delivered", "event", h.EventID, "command", h.Command)
}

// deliver tries h until it is delivered, the attempts run out or ctx ends; finished is false
// when ctx ended first, acked tells whether it was delivered. Durable, a hook given up stays
// in the outbox, to be tried again after the next start.
func (w *webhooks) deliver(ctx context.Context, h core.Hook) (finished, acked bool) {
	body, ok := h.Body.(json.RawMessage)
	if !ok {
		var err error
		if body, err = json.Marshal(h.Body); err != nil {
			w.log.Error("webhook body", "event", h.EventID, "err", err)
			return true, false
		}
	}
	wait := w.cfg.WebhookBackoff
	signed := time.Now()
	for attempt := 1; ; attempt++ {
		if !mutant.On(mutant.WebhookSignedOnce) {
			signed = time.Now()
		}
		status, err := w.post(ctx, h, body, signed)
		if err == nil && (status/100 == 2 || mutant.On(mutant.Webhook4xxDelivered) && status < 500 || mutant.On(mutant.Webhook3xxDelivered) && status/100 == 3) {
			w.metrics.webhooks[hookDelivered].Inc()
			w.log.Debug("webhook delivered", "event", h.EventID, "attempt", attempt)
			return true, true
		}
		if attempt == w.cfg.WebhookAttempts || mutant.On(mutant.WebhookNotRetried) {
			if w.durable {
				w.metrics.webhooks[hookDeferred].Inc()
				w.log.Error("webhook given up until the next start: kept in the outbox", "event", h.EventID, "command", h.Command, "attempts", attempt, "status", status, "err", err)
				return true, false
			}
			w.metrics.webhooks[hookDropped].Inc()
			w.log.Error("webhook given up", "event", h.EventID, "command", h.Command, "attempts", attempt, "status", status, "err", err)
			return true, false
		}
		w.metrics.webhooks[hookRetried].Inc()
		w.log.Warn("webhook failed; retrying", "event", h.EventID, "attempt", attempt, "status", status, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, false
		case <-t.C:
		}
		if !mutant.On(mutant.WebhookBackoffFixed) {
			wait = min(2*wait, maxWebhookBackoff)
		}
	}
}

// post makes one attempt, signed at the time given, and returns the HTTP status.
func (w *webhooks) post(ctx context.Context, h core.Hook, body []byte, signed time.Time) (int, error) {
	u, err := url.Parse(w.cfg.WebhookURL)
	if err != nil {
		return 0, err
	}
	q := u.Query()
	q.Set("SdkAppid", strconv.FormatUint(w.cfg.SDKAppID, 10))
	q.Set("CallbackCommand", h.Command)
	q.Set("contenttype", "json")
	q.Set("ClientIP", h.ClientIP)
	q.Set("OptPlatform", h.OptPlatform)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, h.EventID)
	if w.cfg.WebhookSecret != "" {
		ts := signed.Unix()
		if mutant.On(mutant.WebhookTimestampMs) {
			ts = signed.UnixMilli()
		}
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, SignWebhook(w.cfg.WebhookSecret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16)) // the answer is ignored (HOOK-005)
	resp.Body.Close()
	var ack struct{ ErrorCode int }
	if mutant.On(mutant.WebhookAnswerBodyRead) && json.Unmarshal(answer, &ack) == nil && ack.ErrorCode != 0 {
		return http.StatusBadGateway, nil
	}
	return resp.StatusCode, nil
}
