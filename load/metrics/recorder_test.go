package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is a run start on a whole second, so that interval boundaries are easy to read.
var t0 = time.Unix(1_700_000_000, 0)

// at is t0 plus a number of milliseconds.
func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

func TestToMicros(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d      time.Duration
		want   int64
		wantOK bool
	}{
		{0, 1, true},                                         // zero: the lowest value, not out of range
		{300 * time.Nanosecond, 1, true},                     // under a microsecond rounds up to 1 µs
		{time.Microsecond, 1, true},                          // exactly 1 µs
		{1500 * time.Nanosecond, 2, true},                    // rounds up
		{12345 * time.Microsecond, 12345, true},              // 12.345 ms
		{time.Hour, highestMicros, true},                     // the top of the range
		{time.Hour + time.Microsecond, highestMicros, false}, // over an hour: clamped, counted
		{-time.Millisecond, 1, false},                        // negative (received before sent): clamped, counted
		{time.Duration(1<<63 - 1), highestMicros, false},     // no overflow
	} {
		got, ok := toMicros(tt.d)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("toMicros(%v) = %d, %t; want %d, %t", tt.d, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRecordCorrectedAndService(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                       string
		intended, sent, received   time.Time
		wantCorrected, wantService int64 // µs
		wantOutOfRange             int64
	}{
		// on time: both latencies are the server's 2 ms
		{"on time", at(100), at(100), at(102), 2000, 2000, 0},
		// sent 50 ms late (the generator stalled): corrected includes the stall, service does not
		{"late send", at(100), at(150), at(152), 52000, 2000, 0},
		// closed model: no intended time, so corrected = service
		{"no schedule", time.Time{}, at(100), at(103), 3000, 3000, 0},
		// no sent time: the intended time stands for it
		{"no sent time", at(100), time.Time{}, at(104), 4000, 4000, 0},
		// received before it was sent (clock trouble): clamped to 1 µs and counted
		{"negative", at(100), at(100), at(99), 1, 1, 1},
		// over an hour: clamped to the top of the range and counted
		{"over an hour", at(0), at(0), at(0).Add(2 * time.Hour), highestMicros, highestMicros, 1},
		// sub-microsecond on loopback: 1 µs, not out of range
		{"sub-microsecond", at(100), at(100), at(100).Add(200 * time.Nanosecond), 1, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRecorder(Options{Start: t0})
			r.Record(ScoreFanout, 7, tt.intended, tt.sent, tt.received)
			tot := r.Finish(at(1000))
			for _, c := range []struct {
				k    Kind
				want int64
			}{{Corrected, tt.wantCorrected}, {Service, tt.wantService}} {
				h := tot.Histogram(ScoreFanout, c.k)
				if h == nil || h.TotalCount() != 1 {
					t.Fatalf("Histogram(%s, %s) = %v; want one sample", ScoreFanout, c.k, h)
				}
				if !h.ValuesAreEquivalent(h.Max(), c.want) {
					t.Errorf("%s latency = %d µs; want %d µs", c.k, h.Max(), c.want)
				}
			}
			if got := tot.Counters[OutOfRange]; got != tt.wantOutOfRange {
				t.Errorf("out_of_range = %d; want %d", got, tt.wantOutOfRange)
			}
		})
	}
}

func TestCountersAndGauges(t *testing.T) {
	t.Parallel()
	r := NewRecorder(Options{Start: t0})
	r.Add(Ops, 10)
	r.Add(Ops, 5)
	r.Add(ErrorCounter(100001), 2)
	r.Add(Errors, 2)
	r.Add(Dropped, 0) // a counter added with 0 exists, at 0
	r.Set(ConnectionsOpen, 10)
	r.Set(ConnectionsOpen, 12) // a gauge keeps its last value
	r.Set(MemoryPerConnection, 1234.5)
	tot := r.Finish(at(500))
	for name, want := range map[string]int64{Ops: 15, "errors.100001": 2, Errors: 2, Dropped: 0, OutOfRange: 0} {
		if got, ok := tot.Counters[name]; !ok || got != want {
			t.Errorf("counter %s = %d (present %t); want %d", name, got, ok, want)
		}
	}
	for name, want := range map[string]float64{ConnectionsOpen: 12, MemoryPerConnection: 1234.5} {
		if got := tot.Gauges[name]; got != want {
			t.Errorf("gauge %s = %v; want %v", name, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ got, want string }{
		{ReplyMetric("requestBattle"), "reply.requestBattle"}, // reply latency of a request type
		{ReplyMetric("requestBattle"), "reply.requestBattle"}, // cached: same result
		{ErrorCounter(100001), "errors.100001"},               // error counter by code
		{Tag(ScoreFanout, Service), "score_fanout.service"},   // .hlog tag
		{cleanName("reply.a b,c\n"), "reply.a_b_c_"},          // spaces, commas, line breaks cannot enter a tag
		{cleanName("../x/y"), "_._x_y"},                       // nor a path
		{cleanName(""), "_"},                                  // nor nothing
	} {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}

// intervalCounts returns, per closed interval, the number of corrected samples of metric.
func intervalCounts(t *testing.T, tot *Totals, metric string) []int64 {
	t.Helper()
	var out []int64
	for _, ci := range tot.intervals {
		var n int64
		for _, eh := range ci.hists {
			if eh.tag == Tag(metric, Corrected) {
				n = decodeCount(t, eh.data)
			}
		}
		out = append(out, n)
	}
	return out
}

func TestIntervalRotation(t *testing.T) {
	t.Parallel()
	r := NewRecorder(Options{Start: t0, Interval: time.Second})
	rec := func(ms float64) { r.Record(Connect, 1, at(ms-1), at(ms-1), at(ms)) }
	steps := []struct {
		do   func()
		note string
	}{
		{func() { rec(500) }, "received in interval 0"},
		{func() { rec(1200) }, "received in interval 1 before interval 0 is closed: waits for interval 1"},
		{func() { r.Add(Ops, 3) }, "counted before the first tick: interval 0"},
		{func() { r.Tick(at(1000)) }, "closes interval 0 exactly at its end"},
		{func() { rec(900) }, "received in interval 0 after it closed: goes to the open interval 1"},
		{func() { rec(3500) }, "received two intervals ahead: lumped into the next one, interval 2"},
		{func() { r.Tick(at(1999)) }, "not yet the end of interval 1: nothing closes"},
		{func() { r.Tick(at(2000)) }, "closes interval 1"},
		{func() { r.Add(Ops, 4) }, "counted during interval 2"},
		{func() { r.Tick(at(4200)) }, "closes intervals 2 and 3 at once"},
		{func() { rec(4300) }, "in the last, partial interval"},
	}
	for _, s := range steps {
		s.do()
	}
	tot := r.Finish(at(4500))
	wantCounts := []int64{1, 2, 1, 0, 1}
	if got := intervalCounts(t, tot, Connect); fmt.Sprint(got) != fmt.Sprint(wantCounts) {
		t.Errorf("samples per interval = %v; want %v", got, wantCounts)
	}
	wantBounds := [][2]int64{{0, 1000}, {1000, 2000}, {2000, 3000}, {3000, 4000}, {4000, 4500}}
	for i, ci := range tot.intervals {
		if i >= len(wantBounds) {
			t.Fatalf("%d intervals; want %d", len(tot.intervals), len(wantBounds))
		}
		if got := [2]int64{ci.startMs - t0.UnixMilli(), ci.endMs - t0.UnixMilli()}; got != wantBounds[i] {
			t.Errorf("interval %d = %v ms; want %v", i, got, wantBounds[i])
		}
	}
	wantOps := []int64{3, 0, 4, 0, 0}
	for i, ci := range tot.intervals {
		if got := ci.counters[Ops]; got != wantOps[i] {
			t.Errorf("interval %d: ops = %d; want %d", i, got, wantOps[i])
		}
	}
	if !tot.End.Equal(at(4500)) || tot.Interval != time.Second {
		t.Errorf("End, Interval = %v, %v; want %v, 1s", tot.End, tot.Interval, at(4500))
	}
}

func TestFinish(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		end        float64 // ms after t0
		wantBounds [][2]int64
	}{
		// ends on a boundary: no zero-length interval after it
		{"on a boundary", 2000, [][2]int64{{0, 1000}, {1000, 2000}}},
		// ends mid-interval: the last interval is short
		{"mid-interval", 1250, [][2]int64{{0, 1000}, {1000, 1250}}},
		// ends before the first boundary
		{"short run", 300, [][2]int64{{0, 300}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRecorder(Options{Start: t0})
			r.Record(Connect, 0, at(1), at(1), at(2))
			tot := r.Finish(at(tt.end))
			var got [][2]int64
			for _, ci := range tot.intervals {
				got = append(got, [2]int64{ci.startMs - t0.UnixMilli(), ci.endMs - t0.UnixMilli()})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantBounds) {
				t.Errorf("Finish(+%vms) intervals = %v; want %v", tt.end, got, tt.wantBounds)
			}
			// after Finish: Record is ignored, Finish returns the same totals
			r.Record(Connect, 0, at(1), at(1), at(2))
			if again := r.Finish(at(tt.end + 5000)); again != tot {
				t.Errorf("second Finish returned other totals")
			}
			if n := tot.Histogram(Connect, Corrected).TotalCount(); n != 1 {
				t.Errorf("samples = %d after a Record after Finish; want 1", n)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o          Options
		wantIv     time.Duration
		wantShards int
	}{
		{Options{Start: t0}, time.Second, DefaultShards()},                                                                     // defaults
		{Options{Start: t0, Interval: time.Millisecond, Shards: 3}, MinInterval, 3},                                            // too short an interval is raised
		{Options{Start: t0, Interval: 1500*time.Millisecond + 400*time.Microsecond}, 1500 * time.Millisecond, DefaultShards()}, // whole milliseconds
	} {
		r := NewRecorder(tt.o)
		if r.Interval() != tt.wantIv || len(r.shards) != tt.wantShards || !r.Start().Equal(t0) {
			t.Errorf("NewRecorder(%+v): interval %v, shards %d, start %v; want %v, %d, %v",
				tt.o, r.Interval(), len(r.shards), r.Start(), tt.wantIv, tt.wantShards, t0)
		}
	}
}

// Four lock shards a processor, never fewer than 4 nor more than MaxShards.
func TestShardsFor(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{{0, 4}, {1, 4}, {2, 8}, {15, 60}, {16, 64}, {17, 64}, {128, 64}} {
		if got := shardsFor(tc.procs); got != tc.want {
			t.Errorf("shardsFor(%d) = %d; want %d", tc.procs, got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	now := at(0)
	r := NewRecorder(Options{Start: t0, Now: func() time.Time { return now }})
	for i := range 100 {
		// 99 samples of 1 ms and one of 100 ms: p99 is 1 ms, the max 100 ms
		lat := 1.0
		if i == 99 {
			lat = 100
		}
		r.Record(ScoreFanout, i, at(10), at(10), at(10+lat))
	}
	r.Add(Ops, 500)
	r.Set(ConnectionsOpen, 42)

	p := r.Progress(ScoreFanout)
	if p.Count != 0 || p.OpsPerSec != 0 {
		t.Errorf("Progress before the first interval closed: count %d, ops/s %v; want 0, 0", p.Count, p.OpsPerSec)
	}
	now = at(1000) // the first interval is over: Progress closes it
	p = r.Progress(ScoreFanout)
	if p.Elapsed != time.Second || p.Count != 100 || p.OpsPerSec != 500 {
		t.Errorf("Progress = %+v; want elapsed 1s, count 100, 500 ops/s", p)
	}
	if p.P99 != time.Millisecond {
		t.Errorf("P99 = %v; want 1ms", p.P99)
	}
	line := p.String()
	for _, want := range []string{"1s", "conns 42", "ops 500 (500/s)", "errors 0", "score_fanout p99 1.000ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("Progress.String() = %q; want it to contain %q", line, want)
		}
	}
	if got := r.Progress("no_such_metric").String(); !strings.Contains(got, "no_such_metric p99 -") {
		t.Errorf("Progress of a metric without samples = %q; want \"p99 -\"", got)
	}
}

func TestConcurrentRecording(t *testing.T) {
	t.Parallel()
	const goroutines, perG = 16, 2000
	r := NewRecorder(Options{Start: t0, Shards: 8, Now: func() time.Time { return at(1900) }})
	metricsUsed := []string{Connect, ScoreFanout, ReplyMetric("requestBattle"), ReplyMetric("accept")}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				ms := float64(i) // received times spread over 2 s
				r.Record(metricsUsed[(g+i)%len(metricsUsed)], g*perG+i, at(ms), at(ms), at(ms+1+float64(i%50)))
				r.Add(Ops, 1)
				r.Set(ConnectionsOpen, float64(g))
			}
		})
	}
	done := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() { // ticks and progress race with the recording
		for ms := 0.0; ; ms += 100 {
			select {
			case <-done:
				return
			default:
			}
			r.Tick(at(min(ms, 1900)))
			_ = r.Progress(ScoreFanout)
		}
	})
	wg.Wait()
	close(done)
	ticker.Wait()
	tot := r.Finish(at(3000))
	var total int64
	for _, m := range tot.Metrics() {
		c, s := tot.Histogram(m, Corrected), tot.Histogram(m, Service)
		if c.TotalCount() != s.TotalCount() {
			t.Errorf("%s: %d corrected, %d service samples; want equal", m, c.TotalCount(), s.TotalCount())
		}
		total += c.TotalCount()
	}
	if total != goroutines*perG {
		t.Errorf("recorded %d samples; want %d", total, goroutines*perG)
	}
	if tot.Counters[Ops] != goroutines*perG {
		t.Errorf("ops = %d; want %d", tot.Counters[Ops], goroutines*perG)
	}
	var fromIntervals int64
	for _, ci := range tot.intervals {
		fromIntervals += ci.counters[Ops]
	}
	if fromIntervals != goroutines*perG {
		t.Errorf("ops over the intervals = %d; want %d", fromIntervals, goroutines*perG)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := NewRecorder(Options{Start: t0})
	metric := ReplyMetric("requestBattle")
	r.Record(metric, 3, at(1), at(2), at(5)) // first use registers the metric and its buckets
	r.Add(Ops, 1)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Record(ReplyMetric("requestBattle"), 3, at(1), at(2), at(5))
		r.Add(Ops, 1)
	})
	if allocs != 0 {
		t.Errorf("Record + Add allocate %v times per sample; want 0", allocs)
	}
}

// BenchmarkRecord records samples of realistic spread (1–50 ms) over 64 shards.
func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(Options{Start: t0})
	lat := benchLatencies()
	sent := at(100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Record(ScoreFanout, i, sent, sent, sent.Add(lat[i&4095]))
		i++
	}
}

// benchLatencies are 4,096 latencies from 1 to 50 ms, spread, for the benchmarks.
func benchLatencies() []time.Duration {
	lat := make([]time.Duration, 4096)
	for i := range lat {
		lat[i] = time.Duration(1000+(i*7919)%49000) * time.Microsecond
	}
	return lat
}

// BenchmarkRecordParallel records from every processor at once, each goroutine on its own
// connection numbers.
func BenchmarkRecordParallel(b *testing.B) {
	r := NewRecorder(Options{Start: t0})
	sent := at(100)
	var next sync.Mutex
	conn := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		c := conn
		conn += 1000
		next.Unlock()
		i := 0
		for pb.Next() {
			r.Record(ScoreFanout, c+i%1000, sent, sent, sent.Add(time.Duration(1000+(i*7919)%49000)*time.Microsecond))
			i++
		}
	})
}

func TestIdleIntervalsSkipped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		start      time.Time
		run        func(r *Recorder)
		wantBounds [][2]int64 // ms after t0
	}{
		// a pause of ten intervals with nothing recorded or counted: left out, not listed
		{"pause", t0, func(r *Recorder) {
			r.Record(Connect, 0, at(400), at(400), at(500))
			r.Tick(at(1000))
			r.Tick(at(11000))
			r.Record(Connect, 0, at(11400), at(11400), at(11500))
		}, [][2]int64{{0, 1000}, {10000, 11000}, {11000, 12000}}},
		// a counter changed after the first tick: the next interval gets it, the idle ones
		// after it are left out (the last one before each tick is always listed)
		{"counted", t0, func(r *Recorder) {
			r.Tick(at(1000))
			r.Add(Ops, 1)
			r.Tick(at(4000))
		}, [][2]int64{{0, 1000}, {1000, 2000}, {3000, 4000}, {11000, 12000}}},
		// a sample waiting in a shard stops the skipping until it is closed (in the interval
		// after the oldest open one: never further ahead)
		{"pending sample", t0, func(r *Recorder) {
			r.Record(Connect, 0, at(2400), at(2400), at(2500))
			r.Tick(at(4000))
		}, [][2]int64{{0, 1000}, {1000, 2000}, {3000, 4000}, {11000, 12000}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRecorder(Options{Start: tt.start})
			tt.run(r)
			tot := r.Finish(at(12000))
			var got [][2]int64
			for _, ci := range tot.intervals {
				got = append(got, [2]int64{ci.startMs - t0.UnixMilli(), ci.endMs - t0.UnixMilli()})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantBounds) {
				t.Errorf("intervals %v; want %v", got, tt.wantBounds)
			}
			if n := tot.Histogram(Connect, Corrected); n != nil && n.TotalCount() == 0 {
				t.Errorf("samples lost")
			}
		})
	}
	// A Start a year before the clock: Progress returns at once, with one interval closed.
	year := 365 * 24 * time.Hour
	r := NewRecorder(Options{Start: t0.Add(-year), Now: func() time.Time { return t0 }})
	if p := r.Progress(Connect); p.Elapsed != year || len(r.closed) != 1 {
		t.Errorf("Progress a year after Start: elapsed %v, %d intervals; want %v, 1", p.Elapsed, len(r.closed), year)
	}
}

// TestProgressRateOverItsInterval: the live ops/s divides the last closed interval's ops by
// that interval's length, here 2 s (with the default 1 s dividing and multiplying agree).
func TestProgressRateOverItsInterval(t *testing.T) {
	t.Parallel()
	now := at(0)
	r := NewRecorder(Options{Start: t0, Interval: 2 * time.Second, Now: func() time.Time { return now }})
	r.Add(Ops, 500)
	now = at(2000)
	if p := r.Progress(ScoreFanout); p.OpsPerSec != 250 {
		t.Errorf("ops/s over a 2 s interval with 500 ops = %v; want 250", p.OpsPerSec)
	}
}
