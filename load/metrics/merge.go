package metrics

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Merge reads the results folders of several agents (each written by WriteResults, or by an
// earlier Merge) and writes their merge into outDir in the same format, evaluating thresholds
// on the merged histograms. It returns the merged summary.
//
// Intervals are aligned on their absolute start time rounded to the interval, so agents
// started a little apart share intervals; the histograms of each tag and interval are added
// (exactly: the merged percentiles are those of one recorder fed every sample), counters
// are summed, gauges summed too except those with "per_" in their name, which are averaged.
// The run's info is the first agent's; differences (scenario, seed, parameters, ...) and
// missing shards become warnings in the summary.
//
// It fails when the folders have different intervals, when a folder is given twice or two
// agents claim the same shard (their samples would count twice), when outDir is one of the
// inputs, or when a log does not match its summary.
func Merge(outDir string, inDirs []string, thresholds []Threshold) (*Summary, error) {
	if len(inDirs) == 0 {
		return nil, errors.New("metrics: merge: no results folder given")
	}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("metrics: merge: %w", err)
	}
	seenDir := map[string]string{}
	var ins []*mergeInput
	for _, d := range inDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("metrics: merge: %w", err)
		}
		if abs == absOut {
			return nil, fmt.Errorf("metrics: merge: the output folder %s is also an input: write the merge elsewhere", d)
		}
		if prev, ok := seenDir[abs]; ok {
			return nil, fmt.Errorf("metrics: merge: %s and %s are the same folder: its samples would count twice", prev, d)
		}
		seenDir[abs] = d
		s, err := ReadSummary(d)
		if err != nil {
			return nil, err
		}
		if len(ins) > 0 && s.IntervalMs != ins[0].s.IntervalMs {
			return nil, fmt.Errorf("metrics: merge: %s has %d ms intervals but %s has %d ms: agents must use the same interval",
				d, s.IntervalMs, ins[0].dir, ins[0].s.IntervalMs)
		}
		ins = append(ins, &mergeInput{dir: d, s: s})
	}
	m, err := mergedSummary(ins)
	if err != nil {
		return nil, err
	}
	iv := m.IntervalMs

	// The merged intervals: every agent's intervals, on the common grid.
	type slot struct {
		lengthMs int64
		counters map[string]int64
	}
	slots := map[int64]*slot{}
	for _, in := range ins {
		base := in.s.Start.UnixMilli()
		for _, ii := range in.s.Intervals {
			start := base + int64(math.Round(ii.T*1000))
			length := int64(math.Round(ii.Length * 1000))
			g := gridOf(start, iv)
			in.intervals = append(in.intervals, exactInterval{startMs: start, slot: g})
			sl := slots[g]
			if sl == nil {
				sl = &slot{}
				slots[g] = sl
			}
			sl.lengthMs = max(sl.lengthMs, length)
			for name, v := range ii.Counters {
				if sl.counters == nil {
					sl.counters = map[string]int64{}
				}
				sl.counters[name] += v
			}
		}
		if !slices.IsSortedFunc(in.intervals, func(a, b exactInterval) int { return cmp.Compare(a.startMs, b.startMs) }) {
			return nil, fmt.Errorf("metrics: merge: %s: intervals of %s are not in time order", in.dir, SummaryFile)
		}
	}

	w, err := createResults(outDir, m)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if err := in.open(); err != nil {
			w.abort()
			closeAll(ins)
			return nil, err
		}
	}
	defer closeAll(ins)
	acc := map[string]*hdr.PackedHistogram{}
	var hs []taggedHist
	for _, g := range slices.Sorted(maps.Keys(slots)) {
		for _, in := range ins {
			for in.head != nil && in.head.slot <= g {
				if in.head.slot < g {
					w.abort()
					return nil, fmt.Errorf("metrics: merge: %s: the intervals of %s are not in time order", in.dir, LogFile)
				}
				p := acc[in.head.tag]
				if p == nil {
					p = hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
					acc[in.head.tag] = p
				}
				if dropped := p.MergeFrom(in.head.h); dropped != 0 {
					w.abort()
					return nil, fmt.Errorf("metrics: merge: %s: %d values of %s outside 1 µs .. 1 h", in.dir, dropped, in.head.tag)
				}
				if err := in.next(); err != nil {
					w.abort()
					return nil, err
				}
			}
		}
		hs = hs[:0]
		for _, tag := range slices.Sorted(maps.Keys(acc)) {
			if acc[tag].TotalCount() > 0 {
				hs = append(hs, taggedHist{tag: tag, h: acc[tag]})
			}
		}
		sl := slots[g]
		if err := w.add(g, g+sl.lengthMs, hs, sl.counters); err != nil {
			w.abort()
			return nil, err
		}
		for _, p := range acc {
			p.Reset()
		}
	}
	return w.finish(thresholds)
}

// gridOf rounds a start time to the nearest multiple of the interval (halves round up).
func gridOf(ms, iv int64) int64 {
	q := (ms + iv/2) / iv
	if ms+iv/2 < 0 && (ms+iv/2)%iv != 0 {
		q--
	}
	return q * iv
}

// mergeInput is one agent's results folder being merged.
type mergeInput struct {
	dir       string
	s         *Summary
	intervals []exactInterval // from summary.json, in time order
	file      *os.File
	log       *hdr.HistogramLogReader
	head      *logEntry // the next histogram of the log, nil at its end
}

// exactInterval is an interval of an agent: its exact start and its slot on the merge grid.
type exactInterval struct {
	startMs, slot int64
}

// logEntry is one histogram read from an agent's log.
type logEntry struct {
	tag  string
	slot int64
	h    *hdr.Histogram
}

// open opens the agent's log and reads its first histogram.
func (in *mergeInput) open() error {
	f, err := os.Open(filepath.Join(in.dir, LogFile))
	if err != nil {
		return fmt.Errorf("metrics: merge: %w", err)
	}
	in.file = f
	in.log = hdr.NewHistogramLogReader(bufio.NewReaderSize(f, 64<<10))
	return in.next()
}

// next reads the agent's next histogram into head (nil at the end of the log) and places it
// in its interval. The log's timestamps are read back truncated to the millisecond after a
// float round trip, so an interval is found within a millisecond of its exact start.
func (in *mergeInput) next() error {
	h, err := in.log.NextIntervalHistogram()
	if err != nil {
		return fmt.Errorf("metrics: merge: reading %s: %w", filepath.Join(in.dir, LogFile), err)
	}
	if h == nil {
		in.head = nil
		return nil
	}
	tag := h.Tag()
	if _, _, ok := splitTag(tag); !ok {
		return fmt.Errorf("metrics: merge: %s: unexpected tag %q (want <metric>.corrected or <metric>.service)", in.dir, tag)
	}
	if h.SignificantFigures() != sigFigs || h.LowestTrackableValue() != lowestMicros {
		return fmt.Errorf("metrics: merge: %s: histogram %s has %d significant digits from %d, want %d from %d (not a pkarena log?)",
			in.dir, tag, h.SignificantFigures(), h.LowestTrackableValue(), sigFigs, lowestMicros)
	}
	at := h.StartTimeMs()
	i := sort.Search(len(in.intervals), func(i int) bool { return in.intervals[i].startMs >= at-1 })
	if i == len(in.intervals) || in.intervals[i].startMs > at+1 {
		return fmt.Errorf("metrics: merge: %s: %s has a histogram at %s that is in no interval of %s",
			in.dir, LogFile, timeOfMs(at).UTC().Format("2006-01-02T15:04:05.000Z"), SummaryFile)
	}
	in.head = &logEntry{tag: tag, slot: in.intervals[i].slot, h: h}
	return nil
}

// closeAll closes the inputs' logs.
func closeAll(ins []*mergeInput) {
	for _, in := range ins {
		if in.file != nil {
			_ = in.file.Close()
			in.file = nil
		}
	}
}

// mergedSummary is the merged run's summary before its metrics: times, info, agents,
// warnings, counters and gauges.
func mergedSummary(ins []*mergeInput) (*Summary, error) {
	first := ins[0].s
	m := &Summary{
		Start:      first.Start,
		End:        first.End,
		IntervalMs: first.IntervalMs,
		Counters:   map[string]int64{},
		Gauges:     map[string]float64{},
	}
	m.Info = first.Info
	m.Info.Shard = ""
	m.Info.Agent = fmt.Sprintf("merge of %d folders", len(ins))
	m.Info.Targets = nil
	m.Info.Parameters = maps.Clone(first.Info.Parameters)
	differs := map[string][]string{}
	note := func(what, v string) {
		if !slices.Contains(differs[what], v) {
			differs[what] = append(differs[what], v)
		}
	}
	gaugeN := map[string]int{}
	for _, in := range ins {
		s := in.s
		if s.Start.Before(m.Start) {
			m.Start = s.Start
		}
		if s.End.After(m.End) {
			m.End = s.End
		}
		note("scenario", strconv.Quote(s.Info.Scenario))
		note("model", strconv.Quote(s.Info.Model))
		note("seed", strconv.FormatInt(s.Info.Seed, 10))
		note("version", strconv.Quote(s.Info.Version))
		note("parameters", fmt.Sprint(s.Info.Parameters))
		for _, t := range s.Info.Targets {
			if !slices.Contains(m.Info.Targets, t) {
				m.Info.Targets = append(m.Info.Targets, t)
			}
		}
		if len(s.Agents) > 0 {
			m.Agents = append(m.Agents, s.Agents...)
		} else {
			m.Agents = append(m.Agents, AgentInfo{
				Agent: s.Info.Agent, Shard: s.Info.Shard, Dir: in.dir, Start: s.Start, End: s.End,
				Counters: s.Counters, Gauges: s.Gauges,
			})
		}
		for _, w := range s.Warnings {
			m.Warnings = append(m.Warnings, in.dir+": "+w)
		}
		for k, v := range s.Counters {
			m.Counters[k] += v
		}
		for k, v := range s.Gauges {
			m.Gauges[k] += v
			gaugeN[k]++
		}
		m.Phases = mergePhases(m.Phases, s.Phases)
	}
	for k, n := range gaugeN {
		if strings.Contains(k, "per_") {
			m.Gauges[k] /= float64(n)
		}
	}
	for _, what := range []string{"scenario", "model", "seed", "parameters", "version"} {
		if vs := differs[what]; len(vs) > 1 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("the agents ran with different %s: %s (the summary shows the first)", what, strings.Join(vs, ", ")))
		}
	}
	w, err := shardWarnings(m.Agents)
	if err != nil {
		return nil, err
	}
	m.Warnings = append(m.Warnings, w...)
	return m, nil
}

// mergePhases adds the phases of one folder: each phase from the earliest start to the latest
// end among the folders.
func mergePhases(into, more []Phase) []Phase {
	for _, p := range more {
		i := slices.IndexFunc(into, func(q Phase) bool { return q.Name == p.Name })
		if i < 0 {
			into = append(into, p)
			continue
		}
		if p.Start.Before(into[i].Start) {
			into[i].Start = p.Start
		}
		if p.End.After(into[i].End) {
			into[i].End = p.End
		}
	}
	return into
}

// shardWarnings checks the agents' shards: two agents with one shard is an error (merging
// both would count that part of the population twice); shards of different splits or missing
// shards are warnings.
func shardWarnings(agents []AgentInfo) ([]string, error) {
	byShard := map[string]string{}
	splits := map[int]bool{}
	var shards []string
	for _, a := range agents {
		if a.Shard == "" {
			continue
		}
		where := a.Agent
		if a.Dir != "" {
			where = a.Dir
		}
		if prev, ok := byShard[a.Shard]; ok {
			return nil, fmt.Errorf("metrics: merge: shard %s appears twice (%s and %s): its samples would count twice", a.Shard, prev, where)
		}
		byShard[a.Shard] = where
		shards = append(shards, a.Shard)
		if _, n, ok := strings.Cut(a.Shard, "/"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				splits[v] = true
			}
		}
	}
	if len(shards) == 0 {
		return nil, nil
	}
	slices.Sort(shards)
	if len(splits) > 1 {
		return []string{fmt.Sprintf("the agents split the population differently: shards %s", strings.Join(shards, ", "))}, nil
	}
	for n := range splits {
		if len(shards) < n {
			return []string{fmt.Sprintf("%d of %d shards merged (%s): the results cover part of the population",
				len(shards), n, strings.Join(shards, ", "))}, nil
		}
	}
	return nil, nil
}
