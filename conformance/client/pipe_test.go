package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkarena/pkarena/internal/tcptest"
)

// A pipe's calls are answered in the order sent, each with its own answer, never more than
// Depth outstanding; closing it ends the calls still outstanding.
func TestRESTPipeAnswersInOrder(t *testing.T) {
	var served atomic.Int64
	var maxOut atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ N int }
		_ = json.Unmarshal(body, &in)
		n := served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"r","Response":{"N":` + itoa(uint64(in.N)) + `,"Served":` + itoa(uint64(n)) + `}}`))
	}))
	t.Cleanup(srv.Close)
	const depth, calls = 4, 200
	p := openPipe(t, NewREST(RESTConfig{BaseURL: srv.URL, SDKAppID: 1, Secret: "s", Identifier: "admin"}), depth)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []int
	for i := 1; i <= calls; i++ {
		wg.Add(1)
		sent := time.Now()
		p.Go("set_battle_score", map[string]int{"N": i}, func(status int, env Envelope, at time.Time, err error) {
			defer wg.Done()
			var r struct{ N, Served int }
			if err != nil || status != 200 || json.Unmarshal(env.Response, &r) != nil {
				t.Errorf("call: %d %v %s", status, err, env.Response)
				return
			}
			// (Not necessarily after the answer before: a read the kernel did not stamp yet,
			// the pipe's first, is timed when it returned, after what came meanwhile.)
			if at.Before(sent) || at.After(time.Now()) {
				t.Errorf("call %d: answer arrived at %v; want after its call (%v), not after now",
					r.N, at.Format(time.RFC3339Nano), sent.Format(time.RFC3339Nano))
			}
			mu.Lock()
			got = append(got, r.N)
			mu.Unlock()
			if r.N != r.Served {
				t.Errorf("call %d was the server's %dth: the server took them out of order", r.N, r.Served)
			}
		})
		if o := int64(p.Outstanding()); o > maxOut.Load() {
			maxOut.Store(o)
		}
	}
	wg.Wait()
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("answer %d went to call %d; want answers in the order sent", i+1, n)
		}
	}
	if len(got) != calls {
		t.Fatalf("%d answers; want %d", len(got), calls)
	}
	if m := maxOut.Load(); m > depth || m < 2 {
		t.Errorf("at most %d calls were outstanding at once; want more than one (pipelined) and at most %d", m, depth)
	}
	p.Close()
	done := make(chan error, 1)
	var at time.Time
	p.Go("set_battle_score", map[string]int{"N": 0}, func(_ int, _ Envelope, a time.Time, err error) { at = a; done <- err })
	if err := <-done; err == nil || !at.IsZero() {
		t.Errorf("a call on a closed pipe: %v, arrived %v; want an error and the zero Time", err, at)
	}
}

// An answer read late (its pipe's reader busy in the callback before) arrived when it
// reached the machine, not when it was read: on Linux, the kernel's receive time.
func TestRESTPipeAnswerArrivesWhenReceived(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's receive times are read on Linux only")
	}
	release := make(chan struct{})
	written := make(chan [2]time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := []byte(`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"r","Response":{}}`)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", itoa(uint64(len(answer))))
		if string(body) != `{"Hold":true}` {
			_, _ = w.Write(answer)
			return
		}
		<-release
		before := time.Now()
		_, _ = w.Write(answer)
		w.(http.Flusher).Flush()
		written <- [2]time.Time{before, time.Now()}
	}))
	t.Cleanup(srv.Close)
	p := openPipe(t, NewREST(RESTConfig{BaseURL: srv.URL, SDKAppID: 1, Secret: "s", Identifier: "admin"}), 2)
	// round: a call whose callback holds the reader until the next call's answer has been
	// written and has waited a millisecond in the socket; that answer's arrival and write.
	round := func() (at time.Time, w [2]time.Time) {
		arrived := make(chan time.Time, 1)
		p.Go("set_battle_score", map[string]bool{"Hold": false}, func(_ int, _ Envelope, _ time.Time, err error) {
			if err != nil {
				t.Errorf("first call: %v", err)
			}
			release <- struct{}{}
			w = <-written
			for !time.Now().After(w[1].Add(time.Millisecond)) {
			}
		})
		p.Go("set_battle_score", map[string]bool{"Hold": true}, func(_ int, _ Envelope, a time.Time, err error) {
			if err != nil {
				t.Errorf("held call: %v", err)
			}
			arrived <- a
		})
		return <-arrived, w
	}
	tcptest.ArrivesWithinWrite(t, round)
}

func TestHostPort(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ws://127.0.0.1:7070/v1/ws", "127.0.0.1:7070"},
		{"ws://example.test/v1/ws", "example.test:80"},
		{"wss://example.test/v1/ws", "example.test:443"},
		{"http://[::1]/x", "[::1]:80"},
		{"https://h:8443", "h:8443"},
	} {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := HostPort(u); got != tt.want {
			t.Errorf("HostPort(%s) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestRESTPipeSaysWhyItFailed: a call the pipe could not finish fails with ErrPipeClosed,
// and with the cause when the connection broke (here: the server dropped it), never a bare
// ErrPipeClosed that hides it, even after the pipe's Close; a call on a pipe its owner closed
// gets ErrPipeClosed alone.
func TestRESTPipeSaysWhyItFailed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // no answer: the connection ends under the call
		}
	}))
	t.Cleanup(srv.Close)
	rest := NewREST(RESTConfig{BaseURL: srv.URL, SDKAppID: 1, Secret: "s", Identifier: "admin"})
	p := openPipe(t, rest, 1)
	bare := "set_battle_score: " + ErrPipeClosed.Error()
	call := func(p *RESTPipe) error {
		done := make(chan error, 1)
		p.Go("set_battle_score", map[string]int{"N": 1}, func(_ int, _ Envelope, _ time.Time, err error) { done <- err })
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("no callback within 10 s")
			return nil
		}
	}
	if err := call(p); !errors.Is(err, ErrPipeClosed) || err.Error() == bare || strings.HasSuffix(err.Error(), "<nil>") {
		t.Errorf("a call the server dropped: %v; want ErrPipeClosed with the cause", err)
	}
	p.Close()
	if err := call(p); !errors.Is(err, ErrPipeClosed) || err.Error() == bare {
		t.Errorf("a call on the broken pipe after its Close: %v; want ErrPipeClosed still with the cause", err)
	}
	p2 := openPipe(t, rest, 1)
	p2.Close()
	if err := call(p2); err == nil || err.Error() != bare {
		t.Errorf("a call on a pipe its owner closed: %v; want %q", err, bare)
	}
}

// TestRESTCallsCarryTheirQuery: every REST call (Call, and each call of a pipe) is sent with
// the query the API asks for (SPEC §15): sdkappid, identifier, a UserSig of that identifier,
// a random number and contenttype json.
func TestRESTCallsCarryTheirQuery(t *testing.T) {
	queries := make(chan url.Values, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"r","Response":{}}`))
	}))
	t.Cleanup(srv.Close)
	rest := NewREST(RESTConfig{BaseURL: srv.URL, SDKAppID: 1400000001, Secret: "s", Identifier: "admin"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rest.Call(ctx, APISetBattleScore, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	p := openPipe(t, rest, 1)
	done := make(chan error, 1)
	p.Go(APISetBattleScore, struct{}{}, func(_ int, _ Envelope, _ time.Time, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"Call", "a pipe"} {
		q := <-queries
		if q.Get("sdkappid") != "1400000001" || q.Get("identifier") != "admin" || q.Get("contenttype") != "json" {
			t.Errorf("%s: query %v; want sdkappid 1400000001, identifier admin, contenttype json", via, q)
		}
		if _, err := strconv.ParseUint(q.Get("random"), 10, 32); err != nil {
			t.Errorf("%s: random %q is not a number", via, q.Get("random"))
		}
		if tok := unpackUserSig(t, q.Get("usersig")); tok["TLS.identifier"] != "admin" || tok["TLS.sdkappid"] != 1400000001.0 {
			t.Errorf("%s: usersig for %v of %v; want admin of 1400000001", via, tok["TLS.identifier"], tok["TLS.sdkappid"])
		}
	}
}

// openPipe opens a pipe of depth to rest's server, closed when the test ends.
func openPipe(t *testing.T, rest *REST, depth int) *RESTPipe {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rest.Pipe(ctx, depth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
