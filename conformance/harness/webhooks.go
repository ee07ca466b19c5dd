package harness

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Webhook headers of SPEC HOOK-003 and HOOK-004.
const (
	HeaderEventID   = "X-Pkarena-Event-Id"
	HeaderTimestamp = "X-Pkarena-Timestamp"
	HeaderSignature = "X-Pkarena-Signature"
)

// Delivery is one webhook POST the receiver got (or any other request that reached it).
type Delivery struct {
	At      time.Time
	Method  string // POST, unless a sender followed a redirect as a GET
	Path    string // the receiver's path (receiverPath), unless a sender followed a redirect
	Query   url.Values
	Header  http.Header
	Body    []byte
	Command string // the body's CallbackCommand
	EventID string // the body's EventId
	// Answered is the status the receiver answered with (500, or another, when told to fail
	// it); 0 for a POST it held unanswered (HoldNext).
	Answered int
	// Dropped is when the sender gave up on a POST the receiver held (closed its connection);
	// zero for one answered, or let go at HoldLimit or the receiver's close.
	Dropped time.Time
}

// Decode unmarshals the body into v.
func (d Delivery) Decode(v any) error { return json.Unmarshal(d.Body, v) }

// Receiver is an HTTP server that records the webhooks a server under test POSTs (SPEC §16),
// checks each (query, headers, signature, body schema), and can be told to fail some.
type Receiver struct {
	// URL is where the server under test must POST.
	URL string

	sdkAppID uint64
	secret   string
	validate func(command string, body []byte) error
	srv      *http.Server
	served   chan struct{}
	closing  chan struct{} // closed by Close: held POSTs are let go

	mu         sync.Mutex
	now        func() time.Time // the receiver's clock: a delivery's At (SetClock)
	deliveries []Delivery
	fails      []*failRule
	violations []string
	changed    chan struct{} // closed and replaced on every delivery
}

type failRule struct {
	match     func(Delivery) bool
	remaining int
	status    int    // the answer; 0: none, the POST is held (HoldNext)
	body      string // the answer's body (AnswerNextWith)
	location  string // the answer's Location header (RedirectNext)
}

// receiverPath is the path of the receiver's URL: a request to any other path came from a
// sender that followed a redirect (RedirectNext).
const receiverPath = "/pkarena-hooks"

// StartReceiver listens on addr (host:port; port 0 picks one) and serves until Close.
// Deliveries are checked against sdkAppID, the signature secret (if not empty) and validate.
func StartReceiver(addr string, sdkAppID uint64, secret string, validate func(string, []byte) error) (*Receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &Receiver{
		URL:      "http://" + ln.Addr().String() + receiverPath,
		sdkAppID: sdkAppID, secret: secret, validate: validate,
		served:  make(chan struct{}),
		closing: make(chan struct{}),
		now:     time.Now,
		changed: make(chan struct{}),
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() {
	close(r.closing)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	<-r.served
}

// FailNext makes the receiver answer 500 to the next n deliveries that match.
func (r *Receiver) FailNext(n int, match func(Delivery) bool) {
	r.AnswerNext(n, http.StatusInternalServerError, match)
}

// AnswerNext makes the receiver answer status, a failure (not 2xx), to the next n deliveries
// that match. Rules apply in the order they were given: a delivery takes the first rule that
// matches and has answers left.
func (r *Receiver) AnswerNext(n, status int, match func(Delivery) bool) {
	r.AnswerNextWith(n, status, "", match)
}

// AnswerNextWith makes the receiver answer status with body to the next n deliveries that
// match, as AnswerNext does: a 2xx whose body says something else than the usual OK
// (HOOK-005: the answer's body is ignored).
func (r *Receiver) AnswerNextWith(n, status int, body string, match func(Delivery) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, &failRule{match: match, remaining: n, status: status, body: body})
}

// RedirectNext makes the receiver answer status, a 3xx, with the header Location: location
// (a path on the receiver, or any URL) to the next n deliveries that match, as AnswerNext
// does. A sender that follows it (HOOK-005 says it must not) shows up as a request to that
// path, which the receiver records and counts as a violation.
func (r *Receiver) RedirectNext(n, status int, location string, match func(Delivery) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, &failRule{match: match, remaining: n, status: status, location: location})
}

// HoldLimit bounds how long HoldNext holds a POST: a sender that waits for ever (no timeout)
// is let go then, so that its later webhooks are not stuck behind the held one for the rest
// of the run. It is longer than a spec waits for the retry (30 s), so that only a sender
// that gave up on its own (HOOK-005's 5 s) retries in time.
const HoldLimit = 40 * time.Second

// HoldNext makes the receiver answer nothing to the next n deliveries that match: each POST
// is held until its sender gives up on it (HOOK-005's 5 s), HoldLimit passes or the receiver
// closes, and then the connection is dropped without an answer.
func (r *Receiver) HoldNext(n int, match func(Delivery) bool) {
	r.AnswerNext(n, 0, match)
}

// SetClock makes now the receiver's clock, by which it stamps each delivery's arrival and
// judges its signature's timestamp: a test replaying webhooks recorded earlier sets it to
// the time they were recorded.
func (r *Receiver) SetClock(now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}

// Deliveries returns a copy of every delivery so far, in arrival order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Violations returns the deliveries that broke SPEC §16, described.
func (r *Receiver) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// Wait waits until done, given a copy of every delivery so far, returns true.
func (r *Receiver) Wait(ctx context.Context, done func([]Delivery) bool) error {
	for {
		r.mu.Lock()
		all := append([]Delivery(nil), r.deliveries...)
		changed := r.changed
		r.mu.Unlock()
		if done(all) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("webhooks: %w after %d deliveries", ctx.Err(), len(all))
		}
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	now := r.now
	r.mu.Unlock()
	d := Delivery{At: now(), Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), Body: body}
	var head struct {
		CallbackCommand string `json:"CallbackCommand"`
		EventID         string `json:"EventId"`
	}
	_ = json.Unmarshal(body, &head)
	d.Command, d.EventID = head.CallbackCommand, head.EventID
	problems := r.check(req, d)

	r.mu.Lock()
	d.Answered = http.StatusOK
	answer := `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`
	location := ""
	for _, f := range r.fails {
		if f.remaining > 0 && f.match(d) {
			f.remaining--
			d.Answered, answer, location = f.status, f.body, f.location
			break
		}
	}
	if p := r.resignedLocked(d); p != "" {
		problems = append(problems, p)
	}
	index := len(r.deliveries)
	r.deliveries = append(r.deliveries, d)
	for _, p := range problems {
		r.violations = append(r.violations, fmt.Sprintf("webhook %s (%s): %s", d.Command, d.EventID, p))
	}
	r.changedLocked()
	r.mu.Unlock()

	if d.Answered == 0 {
		limit := time.NewTimer(HoldLimit)
		defer limit.Stop()
		select {
		case <-req.Context().Done(): // the sender gave up
			r.mu.Lock()
			r.deliveries[index].Dropped = r.now()
			r.changedLocked()
			r.mu.Unlock()
		case <-limit.C:
		case <-r.closing:
		}
		panic(http.ErrAbortHandler) // the connection dropped, nothing answered
	}
	if answer != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	w.WriteHeader(d.Answered)
	_, _ = io.WriteString(w, answer)
}

// changedLocked wakes those waiting for a change (Wait).
func (r *Receiver) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// resignedSlack is how much less a retry's X-Pkarena-Timestamp may have moved on than the
// receiver's clock since the attempt before it: both are whole seconds of two clocks.
const resignedSlack = 2 * time.Second

// resignedLocked says what is wrong when d retries an earlier delivery of its EventId under a
// timestamp that did not move on with the time between them: each attempt is signed when it
// is sent (HOOK-004), not once for all; a receiver rejecting stale timestamps would refuse a
// retry signed minutes before.
func (r *Receiver) resignedLocked(d Delivery) string {
	for i := len(r.deliveries) - 1; i >= 0; i-- {
		prev := r.deliveries[i]
		if prev.EventID != d.EventID || d.EventID == "" {
			continue
		}
		was, err1 := strconv.ParseInt(prev.Header.Get(HeaderTimestamp), 10, 64)
		now, err2 := strconv.ParseInt(d.Header.Get(HeaderTimestamp), 10, 64)
		if err1 != nil || err2 != nil {
			return "" // no timestamps: the signature check says so
		}
		if moved, passed := time.Duration(now-was)*time.Second, d.At.Sub(prev.At); moved < passed-resignedSlack {
			return fmt.Sprintf("header %s %d of a retry moved on %v from the attempt before it, which came %v earlier: each attempt is signed when it is sent", HeaderTimestamp, now, moved, passed.Round(time.Millisecond))
		}
		return ""
	}
	return ""
}

// check lists what is wrong with a delivery (HOOK-001..004).
func (r *Receiver) check(req *http.Request, d Delivery) []string {
	var out []string
	q := d.Query
	if req.Method != http.MethodPost {
		out = append(out, "method "+req.Method+", want POST")
	}
	if req.URL.Path != receiverPath {
		out = append(out, fmt.Sprintf("path %q, not the configured URL's %q: a redirect was followed (HOOK-005)", req.URL.Path, receiverPath))
	}
	if q.Get("SdkAppid") != strconv.FormatUint(r.sdkAppID, 10) {
		out = append(out, fmt.Sprintf("query SdkAppid %q, want %d", q.Get("SdkAppid"), r.sdkAppID))
	}
	if q.Get("CallbackCommand") != d.Command {
		out = append(out, fmt.Sprintf("query CallbackCommand %q differs from the body's %q", q.Get("CallbackCommand"), d.Command))
	}
	if q.Get("contenttype") != "json" {
		out = append(out, fmt.Sprintf("query contenttype %q, want json", q.Get("contenttype")))
	}
	if ip, ok := q["ClientIP"]; !ok {
		out = append(out, "query ClientIP missing")
	} else if ip[0] != "" && net.ParseIP(ip[0]) == nil {
		out = append(out, fmt.Sprintf("query ClientIP %q is neither empty nor an IP address", ip[0]))
	}
	switch p := q.Get("OptPlatform"); p {
	case "RESTAPI", "Web", "Android", "iOS", "Windows", "Mac", "iPad", "Unknown":
	default:
		out = append(out, fmt.Sprintf("query OptPlatform %q is not one of Tencent's", p))
	}
	if got := d.Header.Get(HeaderEventID); got != d.EventID || got == "" {
		out = append(out, fmt.Sprintf("header %s %q differs from the body's EventId %q", HeaderEventID, got, d.EventID))
	}
	if r.validate != nil {
		if err := r.validate(d.Command, d.Body); err != nil {
			out = append(out, "schema: "+err.Error())
		}
	}
	if r.secret != "" {
		if err := verifySignature(r.secret, d.Header, d.Body, d.At); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// timestampSkew is how far X-Pkarena-Timestamp may lie from the receiver's clock: a stale
// timestamp is what HOOK-004 tells receivers to reject, and one in another unit (ms) lies a
// thousand times further off.
const timestampSkew = 5 * time.Minute

// verifySignature checks HOOK-004's X-Pkarena-Signature against the body, and its timestamp
// against at, when the POST arrived.
func verifySignature(secret string, h http.Header, body []byte, at time.Time) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("header %s %q is not Unix seconds", HeaderTimestamp, ts)
	}
	if off := sec - at.Unix(); off > int64(timestampSkew/time.Second) || off < -int64(timestampSkew/time.Second) {
		return fmt.Errorf("header %s %q is not the Unix seconds of the POST: %d s from the receiver's clock", HeaderTimestamp, ts, off)
	}
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "v1=")
	if !ok {
		return errors.New("header " + HeaderSignature + " does not start with v1=")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	if !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return errors.New("header " + HeaderSignature + " does not match HMAC-SHA256(secret, timestamp.body)")
	}
	return nil
}
