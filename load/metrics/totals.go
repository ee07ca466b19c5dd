package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Totals is what a Recorder recorded over a whole run: every closed interval's histograms (in
// their compressed V2 form) and counter changes, or, when they were streamed
// (Recorder.StreamResults), the results folder they went to; and the final counters and
// gauges. Give it to WriteResults to write (or finish) the results folder.
type Totals struct {
	Start    time.Time          // start of the first interval
	End      time.Time          // end of the last interval
	Interval time.Duration      // length of every interval but the last
	Counters map[string]int64   // final value of every counter
	Gauges   map[string]float64 // final value of every gauge
	Phases   []Phase            // the phases set with SetPhase, in the order first set

	intervals []closedInterval // none when streamed
	stream    *resultWriter    // the folder streamed to (its whole-run histograms); nil: not streamed
	streamErr error            // the first failure to write an interval there
}

// closedInterval is one closed interval: [startMs, endMs) in Unix milliseconds, the
// histograms that have samples (sorted by tag) and the counters that changed.
type closedInterval struct {
	startMs, endMs int64
	hists          []encodedHist
	counters       map[string]int64
}

// encodedHist is one tagged interval histogram in the V2 compressed base64 form of the .hlog.
type encodedHist struct {
	tag  string
	data []byte
}

// Metrics lists the metrics that have samples, in report order.
func (t *Totals) Metrics() []string {
	seen := map[string]bool{}
	var names []string
	for tag := range t.streamed() {
		if m, _, ok := splitTag(tag); ok && !seen[m] {
			seen[m] = true
			names = append(names, m)
		}
	}
	for _, ci := range t.intervals {
		for _, eh := range ci.hists {
			if m, _, ok := splitTag(eh.tag); ok && !seen[m] {
				seen[m] = true
				names = append(names, m)
			}
		}
	}
	slices.SortFunc(names, compareMetrics)
	return names
}

// Histogram returns the whole run's histogram of a metric and kind, values in microseconds, or
// nil when the metric has no samples. It is a new histogram, built from the intervals on each
// call.
func (t *Totals) Histogram(metric string, k Kind) *hdr.Histogram {
	tag := Tag(metric, k)
	var total *hdr.Histogram
	if p := t.streamed()[tag]; p != nil {
		total = newDense()
		p.MergeInto(total)
	}
	for _, ci := range t.intervals {
		for _, eh := range ci.hists {
			if eh.tag != tag {
				continue
			}
			p, err := hdr.DecodePacked(eh.data)
			if err != nil { // our own encoding: cannot happen
				panic(fmt.Sprintf("metrics: decoding interval histogram %s: %v", tag, err))
			}
			if total == nil {
				total = newDense()
			}
			p.MergeInto(total)
		}
	}
	return total
}

// streamed returns the whole-run histograms, by tag, of the intervals streamed into a results
// folder; none when they were kept.
func (t *Totals) streamed() map[string]*hdr.PackedHistogram {
	if t.stream == nil {
		return nil
	}
	return t.stream.whole
}

// newDense returns an empty whole-run histogram of the package's geometry (about 190 KB).
func newDense() *hdr.Histogram { return hdr.New(lowestMicros, highestMicros, sigFigs) }

// Progress is a snapshot for the live progress line.
type Progress struct {
	Elapsed   time.Duration      // since the run's start
	Metric    string             // the metric of Count and P99
	Count     int64              // samples of Metric in the closed intervals
	P99       time.Duration      // corrected p99 of Metric over the closed intervals (0 without samples)
	OpsPerSec float64            // "ops" counted during the last closed interval, per second
	Counters  map[string]int64   // every counter now
	Gauges    map[string]float64 // every gauge now
}

// String is the progress line, e.g.
// "12s  conns 50000  ops 120345 (10012/s)  errors 0  dropped 0  late 2  lost 0  score_fanout p99 12.3ms".
// Connections are the "connections.open" gauge when set, else the "connections" counter.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", p.Elapsed.Truncate(time.Second))
	conns, ok := p.Gauges[ConnectionsOpen]
	if !ok {
		conns = float64(p.Counters[Connections])
	}
	fmt.Fprintf(&b, "  conns %.0f  ops %d (%.0f/s)", conns, p.Counters[Ops], p.OpsPerSec)
	for _, c := range []string{Errors, Dropped, Late, Lost, OutOfOrder} {
		if v, ok := p.Counters[c]; ok || c == Errors {
			fmt.Fprintf(&b, "  %s %d", c, v)
		}
	}
	if p.Metric != "" {
		if p.Count == 0 {
			fmt.Fprintf(&b, "  %s p99 -", p.Metric)
		} else {
			fmt.Fprintf(&b, "  %s p99 %s", p.Metric, formatMs(durationMs(p.P99)))
		}
	}
	return b.String()
}

// durationMs converts a duration to float milliseconds.
func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// floatBits and floatFromBits store gauges in atomic integers.
func floatBits(v float64) uint64     { return math.Float64bits(v) }
func floatFromBits(b uint64) float64 { return math.Float64frombits(b) }

// compareMetrics orders metric names as metricLess does.
func compareMetrics(a, b string) int {
	switch {
	case metricLess(a, b):
		return -1
	case metricLess(b, a):
		return 1
	}
	return 0
}
