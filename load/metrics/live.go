package metrics

import (
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Live shows a recorder's figures to Prometheus while the run goes on (pkarena-load run
// -metrics-listen): its counters and gauges as they are at the scrape, and the latency of
// every metric as a histogram with classic buckets and native (sparse) buckets, so that both
// a plain Prometheus and one that ingests native histograms can plot percentiles.
//
// It costs the recording nothing: Record does not know it. The histograms are fed from the
// recorder's intervals as each is closed (every Options.Interval; a scrape closes those that
// are over first), by walking the populated buckets of the interval's merged HdrHistogram,
// so the work is per interval and bucket, not per sample. The live view is therefore up to
// one interval behind, and approximate: an HdrHistogram bucket (0.1% wide) is counted at its
// lowest value, and histogram_quantile interpolates inside the Prometheus buckets. The exact
// percentiles are those of the results folder (summary.json, the .hgrm files).
//
// Every series carries the constant labels of LiveLabels (scenario and shard), so that the
// agents of a distributed run can be told apart and added up.
type Live struct {
	rec     *Recorder
	reg     *prometheus.Registry
	created time.Time

	info    prometheus.Metric
	known   []liveCounter // the counters with a name of their own, in a fixed order
	byName  map[string]*prometheus.Desc
	byCode  *prometheus.Desc
	other   *prometheus.Desc
	open    *prometheus.Desc
	gauge   *prometheus.Desc
	cpu     *prometheus.Desc
	cores   *prometheus.Desc
	latency *prometheus.Desc

	mu    sync.Mutex
	hists []*liveHist // by the recorder's metric index; guarded by mu
}

// LiveLabels name the run a Live reports on. Scenario and Shard are constant labels of every
// series; RunID and Agent are labels of pkarena_load_run_info only.
type LiveLabels struct {
	Scenario string // the scenario's name
	Shard    string // this agent's share, "i/n" ("0/1" for a run of one agent)
	RunID    string // the run's ID (-run-id), shared by its agents
	Agent    string // this agent's name (-agent)
}

// liveCounter is a recorder counter exposed as a Prometheus counter of its own.
type liveCounter struct {
	name string // the recorder's name
	desc *prometheus.Desc
}

// liveNamespace prefixes every metric of a Live.
const liveNamespace = "pkarena_load_"

// LiveApproximate ends the HELP text of the latency histograms: the live view is not the
// source of exact percentiles.
const LiveApproximate = "approximate; exact percentiles in summary.json"

// LiveBuckets are the classic buckets of the latency histograms, in seconds: 0.1 ms to 30 s,
// denser where the scenarios' thresholds lie (tens of milliseconds).
var LiveBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05,
	0.075, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30,
}

// LiveSchema is the schema of the native buckets: 2^3 buckets per power of two, each about
// 9% wider than the one before (client_golang's choice for a bucket factor of 1.1).
const LiveSchema = 3

// nativeBounds are the upper bounds of one power of two's native buckets as fractions of
// math.Frexp, in [0.5, 1): 2^(j/2^LiveSchema − 1).
var nativeBounds = func() []float64 {
	n := 1 << LiveSchema
	b := make([]float64, n)
	for j := range b {
		b[j] = math.Exp2(float64(j)/float64(n) - 1)
	}
	return b
}()

// nativeKey is the index of the native bucket holding v > 0 seconds: bucket i holds
// (2^((i−1)/2^s), 2^(i/2^s)].
func nativeKey(v float64) int {
	frac, exp := math.Frexp(v)
	return sort.SearchFloat64s(nativeBounds, frac) + (exp-1)*len(nativeBounds)
}

// liveHist is one metric's latency so far, both kinds.
type liveHist struct {
	name  string
	kinds [2]liveKind
}

// The native buckets a recorded value can fall in: the recorder's range, 1 µs to 1 hour.
var (
	nativeLow  = nativeKey(float64(lowestMicros) / 1e6)
	nativeHigh = nativeKey(float64(highestMicros) / 1e6)
)

// liveKind is one kind's latency so far: the count, the sum, the classic buckets (not
// cumulative; the last is +Inf) and the native buckets (index nativeLow first).
type liveKind struct {
	count   uint64
	sum     float64 // seconds
	classic []uint64
	native  []int64
}

// add counts an interval's histogram, values in microseconds, in the buckets.
func (k *liveKind) add(h *hdr.PackedHistogram) {
	if k.classic == nil {
		k.classic = make([]uint64, len(LiveBuckets)+1)
		k.native = make([]int64, nativeHigh-nativeLow+1)
	}
	h.ForEachBucket(func(us, n int64) bool {
		v := float64(us) / 1e6
		k.count += uint64(n)
		k.sum += v * float64(n)
		k.classic[sort.SearchFloat64s(LiveBuckets, v)] += uint64(n)
		k.native[min(max(nativeKey(v), nativeLow), nativeHigh)-nativeLow] += n
		return true
	})
}

// nativeMap is the native buckets that hold samples, by index.
func (k *liveKind) nativeMap() map[int]int64 {
	m := map[int]int64{}
	for i, n := range k.native {
		if n != 0 {
			m[i+nativeLow] = n
		}
	}
	return m
}

// NewLive returns the live view of r, in a registry of its own, and attaches it to r: the
// intervals r closes from then on feed its histograms. Attach it before the first sample.
func NewLive(r *Recorder, labels LiveLabels) *Live {
	constLabels := prometheus.Labels{"scenario": labels.Scenario, "shard": labels.Shard}
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(liveNamespace+name, help, variable, constLabels)
	}
	l := &Live{
		rec:     r,
		reg:     prometheus.NewRegistry(),
		created: r.Start(),
		byName:  map[string]*prometheus.Desc{},
		byCode:  desc("errors_by_code_total", "Failed operations by code: the server's error code, or closed, timeout, transport for failures without one (the recorder's errors.<code>).", "code"),
		other:   desc("counter_total", "The load recorder's other counters, by their name in summary.json (score.gaps, gifts.no_battle, protocol.violations, out_of_range, ...).", "counter"),
		open:    desc("connections_open", "Connections this agent holds open now (set every second)."),
		gauge:   desc("gauge", "The load recorder's other gauges, by their name in summary.json (memory.bytes_per_connection, generator.cpu_per_core, ...), as set so far.", "gauge"),
		cpu:     desc("generator_cpu_seconds_total", "CPU time this agent's process has used, user and system (an embedded reference server's included); rate() over generator_cores is its CPU share: 0.9 or more means the generator was the bottleneck."),
		cores:   desc("generator_cores", "The cores this agent may use (GOMAXPROCS)."),
		latency: desc("latency_seconds", "Latency of the load run by metric (connect, reply.<request>, invite_delivery, battle_start, score_fanout, battle_end, rest_set_battle_score, and generator_lag, the generator's own wake-up lag) and kind (corrected: from the time the operation was due; service: from the time it was sent), over the intervals closed so far; "+LiveApproximate+".", "metric", "kind"),
	}
	for _, c := range []struct{ name, metric, help string }{
		{Ops, "ops_total", "Operations attempted (the load recorder's ops): the denominator of the error, dropped and late rates."},
		{Errors, "errors_total", "Failed operations, every code (the load recorder's errors)."},
		{Dropped, "dropped_total", "Sends the generator could not make at all (a full queue, no idle group)."},
		{Late, "late_total", "Sends made more than 10 ms after their due time."},
		{Lost, "lost_total", "Messages a member never received (score versions, battle starts and ends, frames the sequence numbers show missing); any fails the run. counter_total{counter=\"lost.gap\"} and {counter=\"lost.overdue\"} say how they are known: a later message came first, or none had come when its books closed."},
		{OutOfOrder, "out_of_order_total", "Messages received out of order (score versions not above the highest, frames out of sequence, a battle's start or end a member already got); any fails the run."},
		{Connections, "connections_opened_total", "Connections opened by this agent."},
	} {
		d := desc(c.metric, c.help)
		l.known = append(l.known, liveCounter{c.name, d})
		l.byName[c.name] = d
	}
	l.info = prometheus.MustNewConstMetric(
		desc("run_info", "The run this agent plays: 1, with its run ID and agent name; its figures are live and "+LiveApproximate+".", "run_id", "agent"),
		prometheus.GaugeValue, 1, labels.RunID, labels.Agent)
	l.reg.MustRegister(l)
	r.attachLive(l)
	return l
}

// Registry is the live view's own registry, for promhttp.HandlerFor.
func (l *Live) Registry() *prometheus.Registry { return l.reg }

// Describe sends the descriptions of every metric Collect may send.
func (l *Live) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.info.Desc()
	for _, c := range l.known {
		ch <- c.desc
	}
	for _, d := range []*prometheus.Desc{l.byCode, l.other, l.open, l.gauge, l.cpu, l.cores, l.latency} {
		ch <- d
	}
}

// Collect closes the recorder's intervals that are over, then sends the counters and gauges
// as they are now and the latency of the intervals closed so far.
func (l *Live) Collect(ch chan<- prometheus.Metric) {
	l.rec.Tick(l.rec.now())
	ch <- l.info
	counters := l.rec.snapshotCounters()
	for _, c := range l.known { // present from the start, at 0: rate() and increase() need no first sample
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(counters[c.name]))
	}
	for name, v := range counters {
		if _, ok := l.byName[name]; ok {
			continue
		}
		if code, ok := strings.CutPrefix(name, Errors+"."); ok {
			ch <- prometheus.MustNewConstMetric(l.byCode, prometheus.CounterValue, float64(v), code)
			continue
		}
		ch <- prometheus.MustNewConstMetric(l.other, prometheus.CounterValue, float64(v), name)
	}
	gauges := l.rec.snapshotGauges()
	ch <- prometheus.MustNewConstMetric(l.open, prometheus.GaugeValue, gauges[ConnectionsOpen])
	for name, v := range gauges {
		if name != ConnectionsOpen {
			ch <- prometheus.MustNewConstMetric(l.gauge, prometheus.GaugeValue, v, name)
		}
	}
	if cpu, ok := ProcessCPU(); ok {
		ch <- prometheus.MustNewConstMetric(l.cpu, prometheus.CounterValue, cpu.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(l.cores, prometheus.GaugeValue, float64(runtime.GOMAXPROCS(0)))

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.hists {
		if h == nil {
			continue
		}
		for ki, k := range Kinds {
			if m := l.histogram(&h.kinds[ki], h.name, string(k)); m != nil {
				ch <- m
			}
		}
	}
}

// histogram is one metric and kind's latency as a histogram with both classic and native
// buckets, or nil without samples. l.mu is held.
func (l *Live) histogram(k *liveKind, metric, kind string) prometheus.Metric {
	if k.count == 0 {
		return nil
	}
	cum := make(map[float64]uint64, len(LiveBuckets))
	var n uint64
	for i, b := range LiveBuckets {
		n += k.classic[i]
		cum[b] = n
	}
	classic, err := prometheus.NewConstHistogramWithCreatedTimestamp(l.latency, k.count, k.sum, cum, l.created, metric, kind)
	if err != nil { // the labels are the description's: cannot happen
		return prometheus.NewInvalidMetric(l.latency, err)
	}
	native, err := prometheus.NewConstNativeHistogram(l.latency, k.count, k.sum, k.nativeMap(), nil, 0,
		LiveSchema, prometheus.DefNativeHistogramZeroThreshold, l.created, metric, kind)
	if err != nil { // the buckets add up to the count by construction: cannot happen
		return prometheus.NewInvalidMetric(l.latency, err)
	}
	return bothBuckets{classic: classic, native: native}
}

// bothBuckets is a histogram with the classic buckets of one constant histogram and the
// native buckets of another, as a prometheus.Histogram with both kinds of buckets is written.
type bothBuckets struct{ classic, native prometheus.Metric }

func (b bothBuckets) Desc() *prometheus.Desc { return b.classic.Desc() }

// Write writes the native histogram and adds the classic buckets to it.
func (b bothBuckets) Write(out *dto.Metric) error {
	var c dto.Metric
	if err := b.classic.Write(&c); err != nil {
		return err
	}
	if err := b.native.Write(out); err != nil {
		return err
	}
	out.Histogram.Bucket = c.Histogram.Bucket
	return nil
}

// addInterval counts a closed interval's histograms of metric idx (named name) in the live
// view. The recorder calls it with its tickMu held.
func (l *Live) addInterval(idx int, name string, p *pair) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.hists) <= idx {
		l.hists = append(l.hists, nil)
	}
	h := l.hists[idx]
	if h == nil {
		h = &liveHist{name: name}
		l.hists[idx] = h
	}
	for ki := range p {
		h.kinds[ki].add(p[ki])
	}
}
