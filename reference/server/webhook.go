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
// with a doubling backoff (HOOK-005). The hub hands hooks over without ever blocking: when the
// bounded queue is full, new hooks are dropped and logged.
type webhooks struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	client  *http.Client
	queue   chan core.Hook
	done    chan struct{} // closed when the delivery goroutine has exited
	finishd sync.Once     // finish runs once, however often Close is called
}

func newWebhooks(cfg Config, log *slog.Logger, m *metrics) *webhooks {
	return &webhooks{
		cfg:     cfg,
		log:     log,
		metrics: m,
		client:  &http.Client{Timeout: cfg.WebhookTimeout},
		queue:   make(chan core.Hook, cfg.WebhookQueue),
		done:    make(chan struct{}),
	}
}

// enqueue hands hooks over for delivery; it never blocks. Without a URL it does nothing.
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
			w.deliver(ctx, h)
		}
	}
}

// finish closes the queue (the hub, its only producer, has stopped) and waits up to wait for
// what it holds to be delivered; then cancel gives up the rest, each logged.
func (w *webhooks) finish(wait time.Duration, cancel context.CancelFunc) {
	w.finishd.Do(func() { w.drain(wait, cancel) })
	<-w.done
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
		w.metrics.webhooks[hookDropped].Inc()
		w.log.Error("shutting down: webhook not delivered", "event", h.EventID, "command", h.Command)
	}
}

// deliver tries h until it is delivered, the attempts run out or ctx ends.
func (w *webhooks) deliver(ctx context.Context, h core.Hook) {
	body, err := json.Marshal(h.Body)
	if err != nil {
		w.log.Error("webhook body", "event", h.EventID, "err", err)
		return
	}
	wait := w.cfg.WebhookBackoff
	for attempt := 1; ; attempt++ {
		status, err := w.post(ctx, h, body)
		if err == nil && status/100 == 2 {
			w.metrics.webhooks[hookDelivered].Inc()
			w.log.Debug("webhook delivered", "event", h.EventID, "attempt", attempt)
			return
		}
		if attempt == w.cfg.WebhookAttempts || mutant.On(mutant.WebhookNotRetried) {
			w.metrics.webhooks[hookDropped].Inc()
			w.log.Error("webhook given up", "event", h.EventID, "command", h.Command, "attempts", attempt, "status", status, "err", err)
			return
		}
		w.metrics.webhooks[hookRetried].Inc()
		w.log.Warn("webhook failed; retrying", "event", h.EventID, "attempt", attempt, "status", status, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxWebhookBackoff)
	}
}

// post makes one attempt and returns the HTTP status.
func (w *webhooks) post(ctx context.Context, h core.Hook, body []byte) (int, error) {
	u, err := url.Parse(w.cfg.WebhookURL)
	if err != nil {
		return 0, err
	}
	q := u.Query()
	q.Set("SdkAppid", strconv.FormatUint(w.cfg.SDKAppID, 10))
	q.Set("CallbackCommand", h.Command)
	q.Set("contenttype", "json")
	q.Set("ClientIP", "")
	q.Set("OptPlatform", h.OptPlatform)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, h.EventID)
	if w.cfg.WebhookSecret != "" {
		ts := time.Now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, SignWebhook(w.cfg.WebhookSecret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // the answer is ignored (HOOK-005)
	resp.Body.Close()
	return resp.StatusCode, nil
}
