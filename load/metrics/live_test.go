package metrics

import (
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/internal/promtest"
)

// fakeClock is a recorder clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(at time.Time) { c.ns.Store(at.UnixNano()) }

// gatherLive gathers l's registry by family name.
func gatherLive(t *testing.T, l *Live) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := l.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return promtest.ByName(fams)
}

// The live view shows the recorder's counters and gauges as they are, with the run's labels,
// and the latency of the closed intervals as histograms with classic and native buckets that
// hold every sample where it belongs.
func TestLiveShowsTheRecorder(t *testing.T) {
	t.Parallel()
	var clock fakeClock
	clock.set(t0)
	r := NewRecorder(Options{Start: t0, Now: clock.now})
	l := NewLive(r, LiveLabels{Scenario: "pk", Shard: "1/3", RunID: "abc", Agent: "a1"})

	// score_fanout: 2 ms, 2 ms and 40 ms corrected; the last one was sent 30 ms late, so its
	// service latency is 10 ms
	r.Record(ScoreFanout, 1, at(100), at(100), at(102))
	r.Record(ScoreFanout, 2, at(200), at(200), at(202))
	r.Record(ScoreFanout, 3, at(300), at(330), at(340))
	r.Record(Connect, 4, at(10), at(10), at(15))
	r.Add(Ops, 5)
	r.Add(Errors, 1)
	r.Add(ErrorCounter(100001), 1)
	r.Add("score.gaps", 2)
	r.Set(ConnectionsOpen, 12)
	r.Set(MemoryPerConnection, 9800)

	// The interval is still open: counters show, latencies not yet.
	clock.set(at(500))
	fams := gatherLive(t, l)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pkarena_load_ops_total", nil, 5},
		{"pkarena_load_errors_total", nil, 1},
		{"pkarena_load_errors_by_code_total", []string{"code=100001"}, 1},
		{"pkarena_load_lost_total", nil, 0}, // there from the start, at 0
		{"pkarena_load_out_of_order_total", nil, 0},
		{"pkarena_load_dropped_total", nil, 0},
		{"pkarena_load_late_total", nil, 0},
		{"pkarena_load_connections_opened_total", nil, 0},
		{"pkarena_load_counter_total", []string{"counter=score.gaps"}, 2},
		{"pkarena_load_connections_open", nil, 12},
		{"pkarena_load_gauge", []string{"gauge=" + MemoryPerConnection}, 9800},
		{"pkarena_load_run_info", []string{"run_id=abc", "agent=a1"}, 1},
	} {
		m := promtest.Sample(fams, tt.name, append([]string{"scenario=pk", "shard=1/3"}, tt.labels...)...)
		if m == nil {
			t.Errorf("%s%q: no sample with scenario=pk, shard=1/3", tt.name, tt.labels)
			continue
		}
		got := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if got != tt.want {
			t.Errorf("%s%q = %v; want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if fams["pkarena_load_generator_cores"] == nil {
		t.Error("no pkarena_load_generator_cores")
	}
	if _, ok := ProcessCPU(); ok && fams["pkarena_load_generator_cpu_seconds_total"] == nil {
		t.Error("no pkarena_load_generator_cpu_seconds_total")
	}
	if fams["pkarena_load_latency_seconds"] != nil {
		t.Error("latency shown before its interval was closed")
	}

	// A scrape after the interval's end closes it (no other Tick): now the latencies show.
	clock.set(at(1500))
	fams = gatherLive(t, l)
	if help := fams["pkarena_load_latency_seconds"].GetHelp(); !strings.Contains(help, LiveApproximate) {
		t.Errorf("HELP %q does not say %q", help, LiveApproximate)
	}
	for _, tt := range []struct {
		kind    Kind
		values  []float64 // seconds
		buckets map[float64]uint64
	}{
		{Corrected, []float64{0.002, 0.002, 0.040}, map[float64]uint64{0.001: 0, 0.0025: 2, 0.03: 2, 0.05: 3, 30: 3}},
		{Service, []float64{0.002, 0.002, 0.010}, map[float64]uint64{0.001: 0, 0.0025: 2, 0.005: 2, 0.01: 3, 30: 3}},
	} {
		m := promtest.Sample(fams, "pkarena_load_latency_seconds", "metric=score_fanout", "kind="+string(tt.kind), "scenario=pk", "shard=1/3")
		if m == nil {
			t.Fatalf("no score_fanout %s histogram", tt.kind)
		}
		h := m.GetHistogram()
		sum := 0.0
		for _, v := range tt.values {
			sum += v
		}
		if h.GetSampleCount() != 3 || math.Abs(h.GetSampleSum()-sum) > sum*0.001 {
			t.Errorf("%s: count %d, sum %v; want 3 and %v", tt.kind, h.GetSampleCount(), h.GetSampleSum(), sum)
		}
		if len(h.GetBucket()) != len(LiveBuckets) {
			t.Errorf("%s: %d classic buckets; want %d", tt.kind, len(h.GetBucket()), len(LiveBuckets))
		}
		for _, b := range h.GetBucket() {
			if want, ok := tt.buckets[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
				t.Errorf("%s: bucket le=%v holds %d; want %d", tt.kind, b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
		if h.GetSchema() != LiveSchema {
			t.Errorf("%s: native schema %d; want %d", tt.kind, h.GetSchema(), LiveSchema)
		}
		want := map[int]int64{}
		for _, v := range tt.values {
			want[int(math.Ceil(math.Log2(v)*(1<<LiveSchema)))]++
		}
		if got := nativeBuckets(h); !maps.Equal(got, want) {
			t.Errorf("%s: native buckets %v; want %v", tt.kind, got, want)
		}
	}
	if m := promtest.Sample(fams, "pkarena_load_latency_seconds", "metric=connect", "kind=corrected"); m.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("connect: %v; want one sample", m)
	}

	// Finish closes the last interval, which the live view counts too; it still serves.
	r.Record(ScoreFanout, 1, at(1600), at(1600), at(1601))
	r.Finish(at(1700))
	fams = gatherLive(t, l)
	if m := promtest.Sample(fams, "pkarena_load_latency_seconds", "metric=score_fanout", "kind=corrected"); m.GetHistogram().GetSampleCount() != 4 {
		t.Errorf("after Finish: %d score_fanout samples; want 4", m.GetHistogram().GetSampleCount())
	}
}

// nativeBuckets decodes a histogram's positive native buckets: index -> count.
func nativeBuckets(h *dto.Histogram) map[int]int64 {
	out := map[int]int64{}
	idx, count, d := 0, int64(0), 0
	for _, s := range h.GetPositiveSpan() {
		idx += int(s.GetOffset())
		for range s.GetLength() {
			count += h.GetPositiveDelta()[d]
			d++
			if count != 0 {
				out[idx] = count
			}
			idx++
		}
	}
	return out
}

// nativeKey follows the native histogram's buckets: bucket i holds (2^((i−1)/8), 2^(i/8)],
// upper bound included, powers of two exactly.
func TestNativeKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    float64
		want int
	}{
		{1, 0}, {math.Nextafter(1, 2), 1}, {math.Exp2(1.0 / 8), 1}, {2, 8}, {0.5, -8},
		{math.Nextafter(0.5, 1), -7}, {1e-6, -159}, {3600, 95},
	} {
		if got := nativeKey(tt.v); got != tt.want {
			t.Errorf("nativeKey(%v) = %d; want %d", tt.v, got, tt.want)
		}
	}
	for us := int64(1); us < 4e9; us = us*3 + 7 {
		v := float64(us) / 1e6
		if got, want := nativeKey(v), int(math.Ceil(math.Log2(v)*8)); got != want {
			t.Errorf("nativeKey(%v) = %d; want %d", v, got, want)
		}
	}
}

// Scrapes, ticks and samples at once: the race detector's case.
func TestLiveConcurrentScrapes(t *testing.T) {
	t.Parallel()
	r := NewRecorder(Options{Interval: MinInterval})
	l := NewLive(r, LiveLabels{Scenario: "pk", Shard: "0/1"})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				now := time.Now()
				r.Record(ReplyMetric("heartbeat"), g, now.Add(-time.Millisecond), now.Add(-time.Millisecond), now)
				r.Add(Ops, 1)
				if i%100 == 0 {
					r.Tick(now)
				}
			}
		})
	}
	for range 20 {
		gatherLive(t, l)
		time.Sleep(MinInterval)
	}
	close(stop)
	wg.Wait()
	r.Finish(time.Now())
	fams := gatherLive(t, l)
	m := promtest.Sample(fams, "pkarena_load_latency_seconds", "metric=reply.heartbeat", "kind=service")
	ops := promtest.Sample(fams, "pkarena_load_ops_total").GetCounter().GetValue()
	if m == nil || float64(m.GetHistogram().GetSampleCount()) != ops {
		t.Errorf("after Finish: histogram %v, ops %v; want as many samples as ops", m, ops)
	}
}

// BenchmarkRecordTicked records as BenchmarkRecord does, closing an interval every 2^16
// samples: the recording's cost with its intervals' (the .hlog encoding) spread over the
// samples. BenchmarkRecordTickedLive does the same with a live view attached, which walks
// each closed interval's buckets: the difference is the live view's cost per sample.
func BenchmarkRecordTicked(b *testing.B)     { benchRecordTicked(b, false) }
func BenchmarkRecordTickedLive(b *testing.B) { benchRecordTicked(b, true) }

func benchRecordTicked(b *testing.B, live bool) {
	r := NewRecorder(Options{Start: t0})
	if live {
		NewLive(r, LiveLabels{Scenario: "pk", Shard: "0/1"})
	}
	lat := benchLatencies()
	sent := at(100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Record(ScoreFanout, i, sent, sent, sent.Add(lat[i&4095]))
		i++
		if i&0xffff == 0 {
			sent = sent.Add(time.Second)
			r.Tick(sent)
		}
	}
}

// BenchmarkLiveInterval is the live view's work when an interval closes: walking one
// metric's interval histograms (both kinds) of 4,096 distinct latencies, 1 to 50 ms.
func BenchmarkLiveInterval(b *testing.B) {
	l := NewLive(NewRecorder(Options{Start: t0}), LiveLabels{Scenario: "pk", Shard: "0/1"})
	p := newPair()
	for _, d := range benchLatencies() {
		_ = p[0].RecordValue(d.Microseconds())
		_ = p[1].RecordValue(d.Microseconds())
	}
	b.ReportAllocs()
	for b.Loop() {
		l.addInterval(0, ScoreFanout, p)
	}
}

// TestLiveKindHoldsTheWholeRange: values at both ends of the recorder's range, 1 µs and an
// hour, land in the first and the last native bucket, and count.
func TestLiveKindHoldsTheWholeRange(t *testing.T) {
	p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
	if err := p.RecordValue(lowestMicros); err != nil {
		t.Fatal(err)
	}
	if err := p.RecordValue(highestMicros); err != nil {
		t.Fatal(err)
	}
	var k liveKind
	k.add(p)
	m := k.nativeMap()
	if k.count != 2 || m[nativeLow] != 1 || m[nativeHigh] != 1 || len(m) != 2 {
		t.Errorf("count %d, native buckets %v; want 2, one at %d and one at %d", k.count, m, nativeLow, nativeHigh)
	}
}
