package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: microseconds from 1 µs to 1 hour, 3 significant digits (a value is known
// to 0.1%). Every histogram of a run, and of the runs merged with it, has this geometry.
const (
	lowestMicros  = 1
	highestMicros = int64(time.Hour / time.Microsecond)
	sigFigs       = 3
)

// Defaults and limits of Options.
const (
	DefaultInterval = time.Second           // interval of the .hlog log
	MaxShards       = 64                    // the most lock shards a recorder takes by default
	MinInterval     = 10 * time.Millisecond // shorter intervals are raised to this
)

// DefaultShards is the number of lock shards a recorder takes when Options leave it 0: four
// per processor the program may use, at least 4, at most MaxShards. Only as many recordings
// as processors run at once, so a few shards a processor keep waits on a shard's lock rare;
// every shard more is histograms more for the readers to keep in cache. Against one 9×50
// group at 70,000 frames a second on 2 cores, 64 shards cost the generator 13.4 µs a frame
// and 8 shards 12.4 (Record took 1.1 µs a call with 64: cache misses on cold histograms, where
// BenchmarkRecord, with them warm, takes 86 ns).
func DefaultShards() int { return shardsFor(runtime.GOMAXPROCS(0)) }

// shardsFor is DefaultShards for procs processors.
func shardsFor(procs int) int { return min(max(4*procs, 4), MaxShards) }

// Options of a Recorder. Values are recorded in microseconds, 1 µs .. 1 hour, 3 significant digits.
type Options struct {
	Interval time.Duration    // interval of the .hlog log (default 1 s; rounded to the millisecond, at least MinInterval)
	Shards   int              // lock shards for concurrent recording (default DefaultShards)
	Start    time.Time        // the run's start: the first interval's start and the log's StartTime (default: now)
	Now      func() time.Time // clock of Progress (default time.Now); tests pass a fake
}

// Recorder records latencies of named metrics concurrently, each both "corrected" (from the
// INTENDED send time: received - intended, no coordinated omission) and "service" (received -
// actual send), into per-shard HdrHistograms (no raw samples kept), closes an interval every
// Options.Interval, and counts named counters.
//
// Record, Add and Set may be called from any number of goroutines. Tick, Progress and Finish
// may be called from any goroutine too; they serialize among themselves. Samples recorded
// after Finish are ignored, and a Record racing with Finish may or may not be counted: stop
// recording first.
//
// A sample belongs to the interval that contains its received time. Intervals are closed by
// Tick; a sample received after the newest open interval's end but before the Tick that closes
// it goes into the next interval (never into an already closed one, and never further than one
// interval ahead).
//
// Locks: tickMu is taken before a shard's mu, regMu or the live view's mu, never after; Record
// takes one shard's mu and nothing else, and never while holding regMu.
type Recorder struct {
	start    time.Time
	startMs  int64
	interval time.Duration
	ivMs     int64
	now      func() time.Time
	shards   []shard
	finished atomic.Bool

	names   sync.Map // name as given -> *metricID
	regMu   sync.Mutex
	metrics []*metricID // by index; guarded by regMu

	counters   sync.Map // name -> *atomic.Int64
	gauges     sync.Map // name -> *atomic.Uint64 holding float64 bits
	outOfRange *atomic.Int64

	tickMu       sync.Mutex // guards the fields below
	open         int64      // index of the oldest open interval
	scratch      []*pair    // by metric index: the interval being closed, merged over the shards
	running      []*hdr.Histogram
	closed       []closedInterval // kept for Finish's Totals; none while streamed
	last         closedInterval   // the latest interval closed: its times and counters (Progress)
	stream       *resultWriter    // StreamResults: the results folder intervals go to as they close
	streamErr    error            // the first failure to write one there; none is written after it
	hs           []taggedHist     // the interval being closed, by tag; reused
	lastCounters map[string]int64
	phases       []Phase
	totals       *Totals // set by Finish
	live         *Live   // fed each closed interval; nil without a live view
	enc          histEncoder
}

// metricID is a registered metric: its index in shard slices and its cleaned name.
type metricID struct {
	idx  int
	name string
}

// pair holds the corrected (0) and service (1) histograms of one metric.
type pair [2]*hdr.PackedHistogram

// newPair returns an empty pair of sparse histograms (about 0.5 KB until filled).
func newPair() *pair {
	return &pair{
		hdr.NewPacked(lowestMicros, highestMicros, sigFigs),
		hdr.NewPacked(lowestMicros, highestMicros, sigFigs),
	}
}

// shard is one lock shard: the histograms of the oldest open interval (gen[0]) and of the
// intervals after it (gen[1]), by metric index, each allocated on first use.
type shard struct {
	mu   sync.Mutex
	open int64      // interval index of gen[0]; guarded by mu
	gen  [2][]*pair // guarded by mu
	_    [64]byte   // keeps neighbouring shards' locks off one cache line
}

// pairLocked returns the pair of metric idx in generation g, allocating it on first use.
func (s *shard) pairLocked(g, idx int) *pair {
	ps := s.gen[g]
	if idx >= len(ps) {
		ps = append(ps, make([]*pair, idx+1-len(ps))...)
		s.gen[g] = ps
	}
	if ps[idx] == nil {
		ps[idx] = newPair()
	}
	return ps[idx]
}

// NewRecorder returns a recorder whose first interval starts at o.Start.
func NewRecorder(o Options) *Recorder {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	o.Interval = o.Interval.Round(time.Millisecond)
	if o.Interval < MinInterval {
		o.Interval = MinInterval
	}
	if o.Shards <= 0 {
		o.Shards = DefaultShards()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Start.IsZero() {
		o.Start = o.Now()
	}
	r := &Recorder{
		start:        o.Start,
		startMs:      o.Start.UnixMilli(),
		interval:     o.Interval,
		ivMs:         o.Interval.Milliseconds(),
		now:          o.Now,
		shards:       make([]shard, o.Shards),
		lastCounters: map[string]int64{},
	}
	r.outOfRange = r.counter(OutOfRange)
	return r
}

// Start is the run's start: the start of the first interval.
func (r *Recorder) Start() time.Time { return r.start }

// Interval is the length of an interval, as used (rounded and limited).
func (r *Recorder) Interval() time.Duration { return r.interval }

// Record one sample. shard is any int (e.g. a connection number); the recorder maps it to a lock shard.
// Values outside the trackable range are clamped to it and counted in the counter "out_of_range".
//
// The corrected latency is received − intended and the service latency received − sent, both
// rounded up to whole microseconds. A zero intended time means "no schedule" (closed model):
// the sent time is used, so both latencies are equal; a zero sent time likewise takes the
// intended one. Record does not allocate once the metric has been seen.
func (r *Recorder) Record(metric string, shard int, intended, sent, received time.Time) {
	if r.finished.Load() {
		return
	}
	id := r.metric(metric)
	if intended.IsZero() {
		intended = sent
	}
	if sent.IsZero() {
		sent = intended
	}
	c, okC := toMicros(received.Sub(intended))
	s, okS := toMicros(received.Sub(sent))
	if !okC || !okS {
		r.outOfRange.Add(1)
	}
	k := int64(received.Sub(r.start) / r.interval)
	sh := &r.shards[uint(shard)%uint(len(r.shards))]
	sh.mu.Lock()
	g := 0
	if k > sh.open {
		g = 1
	}
	p := sh.pairLocked(g, id.idx)
	// Cannot fail: the value is clamped to the range and a total cannot reach MaxInt64.
	_ = p[0].RecordValue(c)
	_ = p[1].RecordValue(s)
	sh.mu.Unlock()
}

// toMicros converts a latency to whole microseconds, rounded up, clamped to the histogram's
// range; ok is false when it had to be clamped (a negative latency or one over an hour).
func toMicros(d time.Duration) (v int64, ok bool) {
	switch {
	case d < 0:
		return lowestMicros, false
	case d > time.Hour:
		return highestMicros, false
	}
	v = int64((d + time.Microsecond - 1) / time.Microsecond)
	if v < lowestMicros {
		v = lowestMicros
	}
	return v, true
}

// metric returns the registered metric of a name, registering it on first use.
func (r *Recorder) metric(name string) *metricID {
	if v, ok := r.names.Load(name); ok {
		return v.(*metricID)
	}
	r.regMu.Lock()
	defer r.regMu.Unlock()
	if v, ok := r.names.Load(name); ok {
		return v.(*metricID)
	}
	clean := cleanName(name)
	for _, m := range r.metrics {
		if m.name == clean { // two names that clean to one share it
			r.names.Store(name, m)
			return m
		}
	}
	id := &metricID{idx: len(r.metrics), name: clean}
	r.metrics = append(r.metrics, id)
	r.names.Store(name, id)
	return id
}

// metricName is the cleaned name of metric index idx.
func (r *Recorder) metricName(idx int) string {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	return r.metrics[idx].name
}

// counter returns a counter's cell, creating it on first use.
func (r *Recorder) counter(name string) *atomic.Int64 {
	if v, ok := r.counters.Load(name); ok {
		return v.(*atomic.Int64)
	}
	v, _ := r.counters.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// Add adds n to a counter: e.g. "ops", "errors" and "errors.<code>", "dropped" (a send the generator could not make),
// "late" (a send made after its intended time), "lost" (a message that never arrived), "out_of_order", "connections".
// It does not allocate once the counter exists.
func (r *Recorder) Add(counter string, n int64) {
	r.counter(counter).Add(n)
}

// Set sets a gauge (e.g. "connections.open", "memory.bytes_per_connection").
func (r *Recorder) Set(gauge string, v float64) {
	cell, ok := r.gauges.Load(gauge)
	if !ok {
		cell, _ = r.gauges.LoadOrStore(gauge, new(atomic.Uint64))
	}
	cell.(*atomic.Uint64).Store(floatBits(v))
}

// snapshotCounters returns every counter's current value.
func (r *Recorder) snapshotCounters() map[string]int64 {
	m := map[string]int64{}
	r.counters.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return m
}

// snapshotGauges returns every gauge's current value.
func (r *Recorder) snapshotGauges() map[string]float64 {
	m := map[string]float64{}
	r.gauges.Range(func(k, v any) bool {
		m[k.(string)] = floatFromBits(v.(*atomic.Uint64).Load())
		return true
	})
	return m
}

// Tick closes the interval(s) up to now; the engine calls it at least every Interval (Progress too may).
// An interval is closed once now reaches its end. When several intervals are over and nothing
// was recorded or counted since the last close, the empty ones are skipped: they appear
// neither in the log nor in the summary's intervals. Tick after Finish does nothing.
func (r *Recorder) Tick(now time.Time) {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	r.tickLocked(now)
}

// tickLocked closes every interval that ends at or before now.
func (r *Recorder) tickLocked(now time.Time) {
	if r.totals != nil {
		return
	}
	target := int64(now.Sub(r.start) / r.interval)
	for r.open < target {
		if target-r.open > 1 {
			r.skipIdleLocked(target - 1)
		}
		startMs := r.startMs + r.open*r.ivMs
		r.closeLocked(startMs, startMs+r.ivMs, false)
	}
}

// skipIdleLocked moves the oldest open interval to index to when nothing happened since the
// last close (no sample waiting in any shard, no counter changed): the intervals in between
// would be empty, and are left out rather than listed one by one (after a pause, or a Start
// far in the past, there could be millions). A sample recorded meanwhile goes to interval to.
func (r *Recorder) skipIdleLocked(to int64) {
	for name, v := range r.snapshotCounters() {
		if v != r.lastCounters[name] {
			return
		}
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		empty := genEmpty(sh.gen[0]) && genEmpty(sh.gen[1])
		sh.mu.Unlock()
		if !empty {
			return
		}
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		sh.open = to
		sh.mu.Unlock()
	}
	r.open = to
}

// genEmpty reports whether a shard generation holds no sample.
func genEmpty(ps []*pair) bool {
	for _, p := range ps {
		if p != nil && p[0].TotalCount() > 0 {
			return false
		}
	}
	return true
}

// closeLocked closes the oldest open interval, [startMs, endMs): it moves the shards'
// histograms of that interval (of every later one too when final) into the list of closed
// intervals, or into the results folder when streamed, with the counters' changes since the
// previous interval. A final interval of no length with nothing in it is not an interval and
// is dropped.
func (r *Recorder) closeLocked(startMs, endMs int64, final bool) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		r.drainLocked(sh.gen[0])
		if final {
			r.drainLocked(sh.gen[1])
		}
		sh.gen[0], sh.gen[1] = sh.gen[1], sh.gen[0]
		sh.open = r.open + 1
		sh.mu.Unlock()
	}
	r.open++
	ci := closedInterval{startMs: startMs, endMs: endMs}
	now := r.snapshotCounters()
	for name, v := range now {
		if d := v - r.lastCounters[name]; d != 0 {
			if ci.counters == nil {
				ci.counters = map[string]int64{}
			}
			ci.counters[name] = d
		}
	}
	r.lastCounters = now
	r.hs = r.hs[:0]
	for idx, p := range r.scratch {
		if p == nil || p[0].TotalCount() == 0 {
			continue
		}
		name := r.metricName(idx)
		for ki, k := range Kinds {
			h := p[ki]
			h.SetTag(Tag(name, k))
			h.SetStartTimeMs(startMs)
			h.SetEndTimeMs(endMs)
			r.hs = append(r.hs, taggedHist{tag: h.Tag(), h: h})
		}
	}
	slices.SortFunc(r.hs, func(a, b taggedHist) int { return cmp.Compare(a.tag, b.tag) })
	if !final || endMs > startMs || len(r.hs) > 0 || len(ci.counters) > 0 {
		r.last = ci
		if r.stream != nil {
			r.writeLocked(ci, r.hs)
		} else {
			for _, th := range r.hs {
				ci.hists = append(ci.hists, encodedHist{tag: th.tag, data: r.enc.encode(th.h)})
			}
			r.closed = append(r.closed, ci)
		}
	}
	for idx, p := range r.scratch {
		if p == nil || p[0].TotalCount() == 0 {
			continue
		}
		if r.live != nil {
			r.live.addInterval(idx, r.metricName(idx), p)
		}
		for len(r.running) <= idx {
			r.running = append(r.running, nil)
		}
		if r.running[idx] == nil {
			r.running[idx] = hdr.New(lowestMicros, highestMicros, sigFigs)
		}
		p[0].MergeInto(r.running[idx])
		p[0].Reset()
		p[1].Reset()
	}
}

// writeLocked writes a closed interval into the results folder streamed to, and flushes it
// there. After a failure nothing more is written: Finish's Totals carry the error.
func (r *Recorder) writeLocked(ci closedInterval, hs []taggedHist) {
	if r.streamErr != nil {
		return
	}
	err := r.stream.add(ci.startMs, ci.endMs, hs, ci.counters)
	if err == nil {
		err = r.stream.flush()
	}
	r.streamErr = err
}

// StreamResults makes r write each interval into the results folder dir (created if needed)
// as the interval closes, instead of keeping it until Finish: metrics.hlog is started now and
// holds every closed interval, on disk, while the run goes on; the intervals closed before the
// call go into it first. A run's memory then no longer grows with the intervals' histograms
// (13 KB an interval of 13 busy metrics, BenchmarkInterval; 7 KB in a 16,000-connection
// battle run), only with the summary's per-interval series and counters (2.4 KB).
//
// WriteResults(dir, info, r.Finish(end), thresholds), with the same dir and info, finishes
// the folder (the .hgrm files and summary.json, as for a recorder that kept its intervals:
// the folder is the same). Until then the folder holds a run in progress: a summary.json
// already in it is removed. A failure to write an interval is returned by that WriteResults; no
// interval is written after it. StreamResults fails after Finish and when called a second
// time.
func (r *Recorder) StreamResults(dir string, info RunInfo) error {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	switch {
	case r.totals != nil:
		return errors.New("metrics: StreamResults after Finish")
	case r.stream != nil:
		return fmt.Errorf("metrics: StreamResults into %s: already streaming into %s", dir, r.stream.dir)
	}
	w, err := createResults(dir, &Summary{Info: info, Start: r.start, IntervalMs: r.interval.Milliseconds()})
	if err != nil {
		return err
	}
	// An earlier run's summary would describe another run beside this one's log.
	if err := os.Remove(filepath.Join(dir, SummaryFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.abort()
		return fmt.Errorf("metrics: %w", err)
	}
	err = w.addKept(r.closed)
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		w.abort()
		return err
	}
	r.closed = nil
	r.stream = w
	return nil
}

// drainLocked merges a shard generation's histograms into the scratch pairs and empties them.
// The shard's lock is held.
func (r *Recorder) drainLocked(ps []*pair) {
	for idx, p := range ps {
		if p == nil || p[0].TotalCount() == 0 {
			continue
		}
		for len(r.scratch) <= idx {
			r.scratch = append(r.scratch, nil)
		}
		if r.scratch[idx] == nil {
			r.scratch[idx] = newPair()
		}
		for ki := range p {
			r.scratch[idx][ki].Merge(p[ki])
			p[ki].Reset()
		}
	}
}

// Finish closes the last interval and returns the totals. The last interval ends at end (it is
// shorter than the others unless end falls on an interval boundary). Finish may be called
// again: it returns the same totals.
func (r *Recorder) Finish(end time.Time) *Totals {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	if r.totals != nil {
		return r.totals
	}
	r.tickLocked(end)
	r.finished.Store(true)
	startMs := r.startMs + r.open*r.ivMs
	endMs := max(end.UnixMilli(), startMs)
	r.closeLocked(startMs, endMs, true)
	if end.Before(r.start) {
		end = r.start
	}
	r.totals = &Totals{
		Start:     r.start,
		End:       end,
		Interval:  r.interval,
		Counters:  r.snapshotCounters(),
		Gauges:    r.snapshotGauges(),
		Phases:    slices.Clone(r.phases),
		intervals: r.closed,
		stream:    r.stream,
		streamErr: r.streamErr,
	}
	return r.totals
}

// attachLive makes l receive every interval closed from now on (NewLive).
func (r *Recorder) attachLive(l *Live) {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	r.live = l
}

// SetPhase records when a phase of the run (PhaseRamp, PhaseMeasured, PhaseDrain) started and
// ended; a phase set again is replaced. The summary keeps them.
func (r *Recorder) SetPhase(name string, start, end time.Time) {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	for i := range r.phases {
		if r.phases[i].Name == name {
			r.phases[i].Start, r.phases[i].End = start, end
			return
		}
	}
	r.phases = append(r.phases, Phase{Name: name, Start: start, End: end})
}

// Progress is a snapshot for the live progress line: elapsed, counters, ops/s over the last interval, and the
// corrected p99 so far of a given metric. It first closes the intervals that are over (Tick),
// so the p99 covers every closed interval.
func (r *Recorder) Progress(metric string) Progress {
	now := r.now()
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	r.tickLocked(now)
	p := Progress{
		Elapsed:  now.Sub(r.start),
		Metric:   metric,
		Counters: r.snapshotCounters(),
		Gauges:   r.snapshotGauges(),
	}
	if secs := float64(r.last.endMs-r.last.startMs) / 1000; secs > 0 {
		p.OpsPerSec = float64(r.last.counters[Ops]) / secs
	}
	if v, ok := r.names.Load(metric); ok {
		idx := v.(*metricID).idx
		if idx < len(r.running) && r.running[idx] != nil {
			h := r.running[idx]
			p.Count = h.TotalCount()
			p.P99 = time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
		}
	}
	return p
}
