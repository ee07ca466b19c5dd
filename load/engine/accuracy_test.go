//go:build accuracy

// The accuracy check, wrk2's standard: against a server that answers after a fixed delay, the
// measured p50 and p99 match what the server really did (its own record of every answer)
// within 1 ms, plus the scheduling noise the server itself met in the same run (nothing on a
// quiet machine); a server that stalls shows the stall in the corrected latencies and not in
// the service times. It measures time, so it runs on its own, without the race detector: make
// load-accuracy.
//
// The stub server runs in a process of its own (this test binary, started again with
// PKARENA_ACCURACY_STUB set), so that its timing and the load generator's do not share the
// Go scheduler.

package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/internal/pace"
	"github.com/pkarena/pkarena/load/metrics"
)

// Environment of the stub process.
const (
	envStub          = "PKARENA_ACCURACY_STUB"       // set: this process is the stub
	envStubDelay     = "PKARENA_ACCURACY_DELAY"      // reply delay
	envStubInterval  = "PKARENA_ACCURACY_INTERVAL"   // heartbeat interval the welcome advertises
	envStubStallFrom = "PKARENA_ACCURACY_STALL_FROM" // Unix ms when the stall begins (optional)
	envStubStallFor  = "PKARENA_ACCURACY_STALL_FOR"  // how long it lasts
)

// TestMain turns the test binary into the stub when envStub is set.
func TestMain(m *testing.M) {
	if os.Getenv(envStub) != "" {
		os.Exit(runStub())
	}
	os.Exit(m.Run())
}

// runStub serves WebSocket connections that answer every request with code 0 after the delay;
// requests received during the stall are answered when it ends, plus the delay, as by a
// server frozen for that time. It prints its address and serves until stdin closes, then
// reports the ground truth: for every request, how long it really took from the moment the
// stub read it to the moment it wrote the reply. Replies leave from one goroutine, each at its
// time to within microseconds (pace.Until) when the machine allows; when it does not, the
// truth says so.
func runStub() int {
	delay, _ := time.ParseDuration(os.Getenv(envStubDelay))
	interval, _ := time.ParseDuration(os.Getenv(envStubInterval))
	stallFor, _ := time.ParseDuration(os.Getenv(envStubStallFor))
	ms, _ := strconv.ParseInt(os.Getenv(envStubStallFrom), 10, 64)
	stallFrom := time.UnixMilli(ms)
	replyAt := func(t time.Time) time.Time {
		if ms > 0 && !t.Before(stallFrom) && t.Before(stallFrom.Add(stallFor)) {
			t = stallFrom.Add(stallFor)
		}
		return t.Add(delay)
	}
	type pending struct {
		received, at time.Time
		send         func() time.Time // writes the reply; returns when it began writing
	}
	var hmu sync.Mutex
	truth := hdr.New(1, 60_000_000, 3) // µs from request read to reply written
	late := hdr.New(1, 60_000_000, 3)  // µs the reply was written after its time: the machine's noise
	queue := make(chan pending, 1<<16)
	go func() {
		for p := range queue {
			pace.Until(context.Background(), p.at)
			answered := p.send()
			hmu.Lock()
			_ = truth.RecordValue(max(answered.Sub(p.received).Microseconds(), 1))
			_ = late.RecordValue(max(answered.Sub(p.at).Microseconds(), 1))
			hmu.Unlock()
		}
	}()
	up := websocket.Upgrader{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var mu sync.Mutex // one writer; seq in order of writing
		seq := uint64(0)
		write := func(format string, args ...any) time.Time {
			mu.Lock()
			defer mu.Unlock()
			seq++
			frame := fmt.Appendf(nil, format, append([]any{seq}, args...)...)
			// The moment of the answer is taken just before the write: the write wakes the
			// reader on the other side, and a busy machine may run that reader before this
			// goroutine gets the CPU back, so a clock read after the write can be late by
			// the other side's work.
			at := time.Now()
			_ = ws.WriteMessage(websocket.TextMessage, frame)
			return at
		}
		write(`{"type":"welcome","seq":%d,"ts":1,"payload":{"protocol":"v1","userID":"u","timing":{"heartbeatIntervalMs":%d,"heartbeatTimeoutMs":600000}}}`, interval.Milliseconds())
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			var req struct{ ID string }
			_ = json.Unmarshal(data, &req)
			queue <- pending{received: now, at: replyAt(now), send: func() time.Time {
				return write(`{"type":"reply","seq":%d,"ts":1,"id":%q,"code":0,"message":"","payload":{}}`, req.ID)
			}}
		}
	}))
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	hmu.Lock()
	defer hmu.Unlock()
	_ = json.NewEncoder(os.Stdout).Encode(stubTruth{
		Count: truth.TotalCount(), P50: float64(truth.ValueAtQuantile(50)) / 1000,
		P99: float64(truth.ValueAtQuantile(99)) / 1000, Max: float64(truth.Max()) / 1000,
		LateP50: float64(late.ValueAtQuantile(50)) / 1000, LateP99: float64(late.ValueAtQuantile(99)) / 1000,
	})
	return 0
}

// stubTruth is the ground truth the stub reports when it stops: how long the requests really
// took, from reading each to writing its reply, in milliseconds. A busy machine moves these
// figures away from the configured delay; the load generator must measure what happened.
//
// LateP50 and LateP99 are how late the stub's own replies left after the moment they were
// due: the scheduling noise of this machine in this run, which the generator's own steps meet
// too (a request leaves after the time stamped as its sending; off Linux, where a frame's
// arrival is when it is read, a reply waits for the generator's reader). The checks allow it.
type stubTruth struct {
	Count            int64
	P50, P99, Max    float64
	LateP50, LateP99 float64
}

// tolerance is the error allowed at p50 and at p99 against the truth: 1 ms, plus the machine's
// scheduling noise at that quantile as the stub measured it in the same run (a fraction of a
// millisecond on a quiet machine).
func (t stubTruth) tolerance() (p50, p99 float64) { return 1 + t.LateP50, 1 + t.LateP99 }

// startStub starts the stub process; stop ends it and returns the delays it applied.
func startStub(t *testing.T, delay, interval time.Duration, stallFrom time.Time, stallFor time.Duration) (url string, stop func() stubTruth) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envStub+"=1", envStubDelay+"="+delay.String(), envStubInterval+"="+interval.String(),
		envStubStallFor+"="+stallFor.String())
	if !stallFrom.IsZero() {
		cmd.Env = append(cmd.Env, envStubStallFrom+"="+strconv.FormatInt(stallFrom.UnixMilli(), 10))
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var got stubTruth
	out := bufio.NewReader(stdout)
	stop = func() stubTruth {
		once.Do(func() {
			stdin.Close()
			if err := json.NewDecoder(out).Decode(&got); err != nil {
				t.Errorf("stub report: %v", err)
			}
			_ = cmd.Wait()
		})
		return got
	}
	t.Cleanup(func() { stop() })
	addr, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("stub: %v", err)
	}
	return "ws://" + strings.TrimSpace(addr) + client.Path, stop
}

// measureHeartbeats connects users to the stub at url and lets the engine's heartbeat loop
// run for d, then returns the heartbeat reply latencies.
func measureHeartbeats(t *testing.T, url string, interval time.Duration, users int, d time.Duration) (corrected, service metrics.Stats, counters map[string]int64) {
	t.Helper()
	rec := metrics.NewRecorder(metrics.Options{})
	e := &engine{cfg: Config{Shards: 1}, rec: rec}
	for i := 0; i < users; i++ {
		c, err := client.Dial(context.Background(), client.Config{URL: url, SDKAppID: 1, Secret: "s", UserID: fmt.Sprintf("u%d", i), NoHeartbeat: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Kill)
		e.users = append(e.users, &user{e: e, index: i, c: c})
	}
	e.heartbeatMs.Store(interval.Milliseconds())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	e.startHeartbeats(ctx, &wg)
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // the last replies
	sum, err := metrics.WriteResults(t.TempDir(), metrics.RunInfo{Scenario: "accuracy"}, rec.Finish(time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := sum.Metric(metrics.ReplyMetric(client.ReqHeartbeat))
	if m == nil {
		t.Fatal("no heartbeat latency was recorded")
	}
	return m.Stats(metrics.Corrected), m.Stats(metrics.Service), sum.Counters
}

// within reports whether a latency in milliseconds is within tol ms of want.
func within(got, want, tol float64) bool { return got >= want-tol && got <= want+tol }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// attempts is how often a measurement is tried before the test fails: a shared machine now
// and then stalls a process for milliseconds, which no load tool can measure away.
const attempts = 3

// maxSlack is how far above the truth a measured maximum may be, in milliseconds: a maximum is
// one sample, and the goroutine that timestamps it may be held up by a busy machine.
const maxSlack = 10

// check is one comparison of a measured figure with the ground truth.
type check struct {
	name      string
	got, want float64
	ok        bool
}

// compare returns the checks that failed, each as a line with its numbers.
func compare(checks []check) []string {
	var failed []string
	for _, c := range checks {
		if !c.ok {
			failed = append(failed, fmt.Sprintf("%s = %.3f ms; want %.3f", c.name, c.got, c.want))
		}
	}
	return failed
}

// retry runs measure up to attempts times until it reports no failure, and fails the test with
// every attempt's numbers, one line each, so that a console showing only the failure shows why.
func retry(t *testing.T, measure func(attempt int) (summary string, failures []string)) {
	t.Helper()
	var lines []string
	for attempt := 1; attempt <= attempts; attempt++ {
		summary, failures := measure(attempt)
		t.Log(summary)
		if len(failures) == 0 {
			return
		}
		lines = append(lines, fmt.Sprintf("attempt %d: %s; missed: %s", attempt, summary, strings.Join(failures, "; ")))
	}
	t.Fatalf("accuracy missed in %d attempts of %d:\n%s", attempts, attempts, strings.Join(lines, "\n"))
}

// TestAccuracyFixedDelay checks the measured p50 and p99 against the ground truth: what the
// stub itself measured between reading each request and writing its reply. The configured
// delay is only what the stub aims at; a busy machine makes it late, and the load tool must
// report what really happened, not what was meant to. Within 1 ms, plus the noise the stub met
// (stubTruth.tolerance): a reply that has arrived waits for the generator's reader to run as
// long as the stub's own replies waited to leave. The corrected latencies add the generator's
// own send delays, so they may only exceed the truth: their median must match it, and their p99
// must not fall below it.
func TestAccuracyFixedDelay(t *testing.T) {
	const run = 8 * time.Second
	for _, tt := range []struct {
		delay, interval time.Duration
		users           int
	}{
		// The interval exceeds the delay: a heartbeat is answered before the next is due.
		{2 * time.Millisecond, 10 * time.Millisecond, 4},
		{20 * time.Millisecond, 50 * time.Millisecond, 10},
	} {
		t.Run(tt.delay.String(), func(t *testing.T) {
			retry(t, func(attempt int) (string, []string) {
				url, stop := startStub(t, tt.delay, tt.interval, time.Time{}, 0)
				corr, serv, counters := measureHeartbeats(t, url, tt.interval, tt.users, run)
				truth := stop()
				tol50, tol99 := truth.tolerance()
				summary := fmt.Sprintf("delay %v, attempt %d: %d samples (the stub answered %d); service p50 %.3f p99 %.3f max %.3f ms; corrected p50 %.3f p99 %.3f max %.3f ms; late %d; truth p50 %.3f p99 %.3f max %.3f ms; tolerance p50 %.3f p99 %.3f ms",
					tt.delay, attempt, serv.Count, truth.Count, serv.P50, serv.P99, serv.Max, corr.P50, corr.P99, corr.Max, counters[metrics.Late], truth.P50, truth.P99, truth.Max, tol50, tol99)
				failures := compare([]check{
					{"service p50", serv.P50, truth.P50, within(serv.P50, truth.P50, tol50)},
					{"service p99", serv.P99, truth.P99, within(serv.P99, truth.P99, tol99)},
					{"corrected p50", corr.P50, truth.P50, within(corr.P50, truth.P50, tol50)},
					{"corrected p99 (at least the truth)", corr.P99, truth.P99, corr.P99 >= truth.P99-tol99},
				})
				if want := int64(tt.users) * int64(run/tt.interval); serv.Count < want*9/10 {
					failures = append(failures, fmt.Sprintf("%d samples; want about %d (%d users, one every %v, %v)", serv.Count, want, tt.users, tt.interval, run))
				}
				// Each user has at most one heartbeat in flight when the run stops: its reply
				// may come after the recording ended. Any other difference is a lost sample.
				if d := truth.Count - serv.Count; d < 0 || d > int64(tt.users) {
					failures = append(failures, fmt.Sprintf("%d samples recorded, %d requests answered; want at most %d (one in flight per user) unrecorded", serv.Count, truth.Count, tt.users))
				}
				return summary, failures
			})
		})
	}
}

// TestAccuracyStallShowsInCorrectedOnly stalls the stub for a second in the middle of the
// run. A user has one heartbeat in flight: the one sent as the stall begins waits it out (its
// service time is the stall: one sample per user among thousands), the ones due during it
// wait to be sent, and their corrected latency counts the wait. The truth is again the stub's:
// its p99 is the delay it kept outside the stall, its maximum the stall it really applied.
func TestAccuracyStallShowsInCorrectedOnly(t *testing.T) {
	const users, interval, run = 4, 10 * time.Millisecond, 6 * time.Second
	const delay, stall = 2 * time.Millisecond, time.Second
	retry(t, func(attempt int) (string, []string) {
		url, stop := startStub(t, delay, interval, time.Now().Add(3*time.Second), stall)
		corr, serv, counters := measureHeartbeats(t, url, interval, users, run)
		truth := stop()
		_, tol99 := truth.tolerance()
		summary := fmt.Sprintf("stall %v, attempt %d: %d samples; service p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms; corrected p50 %.3f p99 %.3f max %.3f ms; late %d; truth p50 %.3f p99 %.3f max %.3f ms; tolerance p99 %.3f ms",
			stall, attempt, serv.Count, serv.P50, serv.P99, serv.P999, serv.Max, corr.P50, corr.P99, corr.Max, counters[metrics.Late], truth.P50, truth.P99, truth.Max, tol99)
		failures := compare([]check{
			// The stall is in one sample per user: it must not reach the service p99.
			{"service p99 (the stall must not show)", serv.P99, truth.P99, within(serv.P99, truth.P99, tol99)},
			// A maximum is one sample: the reader that records it may itself be delayed by a
			// busy machine, so it gets maxSlack above the truth, and nothing below.
			{"service max (the request that waited out the stall)", serv.Max, truth.Max, serv.Max >= truth.Max-1 && serv.Max <= truth.Max+maxSlack},
			// The sends held back by the stall carry it into the corrected p99, and nothing
			// waited longer than the stall the stub applied, plus one interval of schedule.
			{"corrected p99 (at least 80% of the stall applied)", corr.P99, truth.Max * 0.8, corr.P99 >= truth.Max*0.8},
			{"corrected max (at most the stall applied + an interval)", corr.Max, truth.Max + ms(interval), corr.Max <= truth.Max+ms(interval)+maxSlack},
		})
		if counters[metrics.Late] == 0 {
			failures = append(failures, "no send was counted late, yet the stall held sends back")
		}
		return summary, failures
	})
}
