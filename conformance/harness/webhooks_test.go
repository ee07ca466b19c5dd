package harness

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "hook-secret"

// post sends a webhook body to r as a server under test would, with the query edited by
// query and the timestamp ts, and returns the status (0 when no answer came within wait).
func post(t *testing.T, r *Receiver, query func(url.Values), ts int64, wait time.Duration) int {
	t.Helper()
	body := []byte(`{"CallbackCommand":"Live.CallbackAfterCreateBattle","EventId":"e1"}`)
	q := url.Values{"SdkAppid": {"7"}, "CallbackCommand": {"Live.CallbackAfterCreateBattle"}, "contenttype": {"json"}, "ClientIP": {""}, "OptPlatform": {"Unknown"}}
	if query != nil {
		query(q)
	}
	req, err := http.NewRequest(http.MethodPost, r.URL+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts, 10)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(stamp + "."))
	mac.Write(body)
	req.Header.Set(HeaderEventID, "e1")
	req.Header.Set(HeaderTimestamp, stamp)
	req.Header.Set(HeaderSignature, "v1="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := (&http.Client{Timeout: wait}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func startTestReceiver(t *testing.T) *Receiver {
	t.Helper()
	r, err := StartReceiver("127.0.0.1:0", 7, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestReceiverChecksClientIPAndTimestamp: HOOK-001's ClientIP is empty or an IP (no port), and
// HOOK-004's timestamp is the Unix seconds of the POST, within five minutes either side.
func TestReceiverChecksClientIPAndTimestamp(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		query func(url.Values)
		ts    int64
		want  string // a violation containing this; "" for none
	}{
		{"as it should be", nil, now.Unix(), ""},
		{"ClientIP an IPv4 address", func(q url.Values) { q.Set("ClientIP", "127.0.0.2") }, now.Unix(), ""},
		{"ClientIP an IPv6 address", func(q url.Values) { q.Set("ClientIP", "::1") }, now.Unix(), ""},
		{"ClientIP with a port", func(q url.Values) { q.Set("ClientIP", "127.0.0.1:5555") }, now.Unix(), "ClientIP"},
		{"ClientIP a name", func(q url.Values) { q.Set("ClientIP", "localhost") }, now.Unix(), "ClientIP"},
		{"ClientIP missing", func(q url.Values) { q.Del("ClientIP") }, now.Unix(), "ClientIP missing"},
		{"a timestamp 4 minutes behind", nil, now.Add(-4 * time.Minute).Unix(), ""},
		{"a timestamp 6 minutes ahead", nil, now.Add(6 * time.Minute).Unix(), HeaderTimestamp},
		{"a timestamp in milliseconds", nil, now.UnixMilli(), HeaderTimestamp},
		{"a timestamp in milliseconds of 1970", nil, now.Unix() / 1000, HeaderTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startTestReceiver(t)
			if got := post(t, r, tc.query, tc.ts, 5*time.Second); got != http.StatusOK {
				t.Fatalf("answered %d; want 200", got)
			}
			v := r.Violations()
			switch {
			case tc.want == "" && len(v) > 0:
				t.Errorf("violations %q; want none", v)
			case tc.want != "" && (len(v) != 1 || !strings.Contains(v[0], tc.want)):
				t.Errorf("violations %q; want one naming %s", v, tc.want)
			}
		})
	}
}

// TestReceiverAnswersAsTold: rules answer the matching POSTs in the order given, then 200; a
// held POST gets no answer and is recorded with Answered 0, and the POSTs after it are
// answered (its sender gave up and its handler let go).
func TestReceiverAnswersAsTold(t *testing.T) {
	r := startTestReceiver(t)
	all := func(Delivery) bool { return true }
	r.AnswerNext(1, http.StatusBadRequest, all)
	r.FailNext(1, all)
	r.HoldNext(1, all)
	r.AnswerNext(1, http.StatusNotFound, all)
	ts := time.Now().Unix()
	var got []int
	for i := range 5 {
		wait := 10 * time.Second
		if i == 2 {
			wait = 300 * time.Millisecond // the held one: the sender gives up
		}
		got = append(got, post(t, r, nil, ts, wait))
	}
	want := []int{400, 500, 0, 404, 200}
	var answered []int
	for _, d := range r.Deliveries() {
		answered = append(answered, d.Answered)
	}
	for i := range want {
		if got[i] != want[i] || answered[i] != want[i] {
			t.Fatalf("the sender got %v and the receiver recorded %v; want %v both", got, answered, want)
		}
	}
	// The held POST's sender gave up after 300 ms: the receiver saw it drop.
	held := r.Deliveries()[2]
	if d := held.Dropped.Sub(held.At); held.Dropped.IsZero() || d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("the held POST came at %v and was dropped at %v; want its sender's 300 ms later", held.At, held.Dropped)
	}
	if other := r.Deliveries()[3]; !other.Dropped.IsZero() {
		t.Errorf("an answered POST recorded as dropped at %v", other.Dropped)
	}
}

// TestReceiverAnswersWithTheBodyTold: AnswerNextWith answers its status with its body, a
// 2xx included, and the usual OK envelope follows.
func TestReceiverAnswersWithTheBodyTold(t *testing.T) {
	r := startTestReceiver(t)
	all := func(Delivery) bool { return true }
	r.AnswerNextWith(1, http.StatusOK, `{"ErrorCode":1}`, all)
	r.AnswerNextWith(1, http.StatusNoContent, "", all)
	for _, want := range []struct {
		status int
		body   string
	}{{200, `{"ErrorCode":1}`}, {204, ""}, {200, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`}} {
		req, err := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.status || string(body) != want.body {
			t.Errorf("answered %d %q; want %d %q", resp.StatusCode, body, want.status, want.body)
		}
	}
}

// TestReceiverRedirectsAsTold: RedirectNext answers its 3xx with its Location; a sender that
// follows it reaches another path, which the receiver records (for a 303, as a GET) and
// counts as a violation (HOOK-005); one that does not follow it gets the 3xx.
func TestReceiverRedirectsAsTold(t *testing.T) {
	ts := time.Now().Unix()
	r := startTestReceiver(t)
	all := func(Delivery) bool { return true }
	r.RedirectNext(1, http.StatusTemporaryRedirect, "/moved", all)
	if got := post(t, r, nil, ts, 5*time.Second); got != http.StatusOK {
		t.Fatalf("a following sender got %d; want the 200 of the Location", got)
	}
	ds := r.Deliveries()
	if len(ds) != 2 || ds[0].Answered != http.StatusTemporaryRedirect || ds[0].Path != receiverPath || ds[1].Path != "/moved" || ds[1].Method != http.MethodPost {
		t.Fatalf("deliveries %+v; want the 307 at %s, then the POST to /moved", ds, receiverPath)
	}
	if v := r.Violations(); len(v) == 0 || !strings.Contains(v[0], `path "/moved"`) {
		t.Errorf("violations %q; want the first naming the path /moved", v)
	}

	r = startTestReceiver(t)
	r.RedirectNext(1, http.StatusSeeOther, "/moved", all)
	req, err := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/moved" {
		t.Errorf("answered %d, Location %q; want 303 and /moved", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := http.Post(r.URL, "application/json", strings.NewReader(`{}`)); err != nil {
		t.Fatal(err)
	}
	if ds := r.Deliveries(); len(ds) != 2 || ds[1].Method != http.MethodPost || ds[1].Path != receiverPath {
		t.Errorf("deliveries %+v; want the rule used up: the next POST answered at %s", ds, receiverPath)
	}
}

// TestReceiverWantsEachRetrySigned: a retry's X-Pkarena-Timestamp moves on with the time
// since the attempt before it (HOOK-004: each attempt is signed when sent), within
// resignedSlack; a timestamp frozen at the first attempt is a violation, and so is none of a
// first attempt or of another event.
func TestReceiverWantsEachRetrySigned(t *testing.T) {
	start := time.Now()
	for _, tc := range []struct {
		name   string
		passed time.Duration // the receiver's clock between the two attempts
		moved  int64         // the timestamp's move between them, in seconds
		ok     bool
	}{
		{"signed anew", 10 * time.Second, 10, true},
		{"two whole seconds short", 10 * time.Second, 8, true},
		{"three seconds short", 10 * time.Second, 7, false},
		{"frozen at the first attempt", 10 * time.Second, 0, false},
		{"frozen, but the retry came at once", time.Second, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startTestReceiver(t)
			now := start
			r.SetClock(func() time.Time { return now })
			post(t, r, nil, start.Unix(), 5*time.Second)
			now = start.Add(tc.passed)
			post(t, r, nil, start.Unix()+tc.moved, 5*time.Second)
			v := r.Violations()
			if ok := len(v) == 0; ok != tc.ok {
				t.Errorf("violations %q; want ok %v", v, tc.ok)
			}
		})
	}
}
