package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// A whole run: record, tick, finish, write the results folder, print the table, exit.
func Example() {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(v int) time.Time { return start.Add(time.Duration(v) * time.Millisecond) }

	now := ms(1000) // the clock of Progress
	r := metrics.NewRecorder(metrics.Options{Start: start, Interval: time.Second, Now: func() time.Time { return now }})
	for i := range 100 {
		// a score update planned at i*10 ms, sent on time, received 2 ms later by one member
		// of the audience; the 100th was sent 40 ms late because the generator stalled (and
		// was received in the second interval, still open when Progress looks)
		sent := ms(i * 10)
		if i == 99 {
			sent = ms(i*10 + 40)
		}
		r.Record(metrics.ScoreFanout, i, ms(i*10), sent, sent.Add(2*time.Millisecond))
		r.Add(metrics.Ops, 1)
	}
	r.Tick(ms(1000)) // the engine ticks at least every interval
	fmt.Println(r.Progress(metrics.ScoreFanout).Count, "samples so far")

	thresholds, err := metrics.ParseThresholds([]string{"score_fanout.p99 < 10ms", "score_fanout.service.max < 10ms"})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "results")
	defer os.RemoveAll(dir)
	s, err := metrics.WriteResults(filepath.Join(dir, "run"), metrics.RunInfo{Scenario: "example", Agent: "a1"}, r.Finish(ms(1500)), thresholds)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = metrics.WriteTable(os.Stdout, s)
	fmt.Println("exit", s.ExitCode())
	// Output:
	// 99 samples so far
	// example  a1  1.5s  2026-01-02 03:04:05Z
	//
	// latency (ms)       kind  count    p50    p90    p99   p99.9     max
	// score_fanout  corrected    100  2.000  2.000  2.000  42.015  42.015
	//                 service    100  2.000  2.000  2.000   2.000   2.000
	//
	// counter       value  of ops
	// ops             100
	// out_of_range      0      0%
	//
	// threshold                                  observed  verdict
	// score_fanout.p99 < 10ms                     2.000ms  PASS
	// score_fanout.service.max < 10ms             2.000ms  PASS
	// lost.count == 0 (built-in)                        0  PASS
	// out_of_order.count == 0 (built-in)                0  PASS
	// events.unexpected.count == 0 (built-in)           0  PASS
	// protocol.violations.count == 0 (built-in)         0  PASS
	//
	// the load generator: not judged (no figures of its own)
	//
	// verdict: PASS (exit 0)
	// exit 0
}

// Thresholds as a CI pipeline gives them; errors say what is wrong.
func ExampleParseThreshold() {
	for _, expr := range []string{"score_fanout.p99 < 50ms", "errors.rate < 0.1%", "errors.rate < 5"} {
		t, err := metrics.ParseThreshold(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %s.%s.%s %s %v\n", t, t.Name, t.Kind, t.Stat, t.Op, t.Value)
	}
	// Output:
	// score_fanout.p99 < 50ms: score_fanout.corrected.p99 < 50
	// errors.rate < 0.1%: errors.corrected.rate < 0.001
	// bad threshold "errors.rate < 5": a rate without % is a fraction between 0 and 1: did you mean 5%?; examples: "score_fanout.p99 < 50ms", "score_fanout.service.p99.9 <= 20ms", "errors.rate < 0.1%", "lost.count == 0"
}
