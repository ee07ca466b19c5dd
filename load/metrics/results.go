package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// WriteResults writes a run's results folder (created if needed): metrics.hlog, one .hgrm per
// metric and kind, and summary.json with the thresholds' verdicts (see the package doc for the
// formats). It returns the summary written. Existing files of the same names are replaced.
func WriteResults(dir string, info RunInfo, t *Totals, thresholds []Threshold) (*Summary, error) {
	if t == nil {
		return nil, errors.New("metrics: WriteResults: no totals (call Recorder.Finish)")
	}
	if t.stream != nil {
		return t.finishStream(dir, info, thresholds)
	}
	s := &Summary{
		Info:       info,
		Start:      t.Start,
		End:        t.End,
		IntervalMs: t.Interval.Milliseconds(),
		Counters:   maps.Clone(t.Counters),
		Gauges:     maps.Clone(t.Gauges),
		Phases:     slices.Clone(t.Phases),
	}
	w, err := createResults(dir, s)
	if err != nil {
		return nil, err
	}
	if err := w.addKept(t.intervals); err != nil {
		w.abort()
		return nil, err
	}
	return w.finish(thresholds)
}

// addKept adds intervals a recorder kept (their histograms encoded), in their order.
func (w *resultWriter) addKept(intervals []closedInterval) error {
	var hs []taggedHist
	for _, ci := range intervals {
		hs = hs[:0]
		for _, eh := range ci.hists {
			p, err := hdr.DecodePacked(eh.data)
			if err != nil { // our own encoding: cannot happen
				return fmt.Errorf("metrics: decoding interval histogram %s: %w", eh.tag, err)
			}
			hs = append(hs, taggedHist{tag: eh.tag, h: p})
		}
		if err := w.add(ci.startMs, ci.endMs, hs, ci.counters); err != nil {
			return err
		}
	}
	return nil
}

// finishStream finishes the results folder a recorder streamed its intervals into
// (Recorder.StreamResults): the .hgrm files and summary.json. dir and info must be those the
// streaming started with.
func (t *Totals) finishStream(dir string, info RunInfo, thresholds []Threshold) (*Summary, error) {
	w := t.stream
	switch {
	case t.streamErr != nil:
		w.abort()
		return nil, t.streamErr
	case w.done:
		return nil, fmt.Errorf("metrics: WriteResults: the results streamed into %s were already written", w.dir)
	case filepath.Clean(dir) != filepath.Clean(w.dir):
		return nil, fmt.Errorf("metrics: WriteResults into %s, but the intervals were streamed into %s", dir, w.dir)
	case !reflect.DeepEqual(info, w.s.Info):
		return nil, fmt.Errorf("metrics: WriteResults into %s: the run's info differs from the one StreamResults wrote in the log's header", dir)
	}
	s := w.s
	s.End = t.End
	s.Counters = maps.Clone(t.Counters)
	s.Gauges = maps.Clone(t.Gauges)
	s.Phases = slices.Clone(t.Phases)
	return w.finish(thresholds)
}

// taggedHist is one interval histogram and its tag.
type taggedHist struct {
	tag string
	h   *hdr.PackedHistogram
}

// resultWriter writes a results folder from a run's intervals, in time order: the .hlog as it
// goes, the .hgrm files and summary.json at the end. WriteResults and Merge both use it, so a
// merged folder is computed exactly as a single agent's.
type resultWriter struct {
	dir     string
	s       *Summary
	file    *os.File
	buf     *bufio.Writer
	log     *hdr.HistogramLogWriter
	startMs int64
	enc     histEncoder                     // the interval histograms' encoder
	line    []byte                          // an interval histogram's line; reused
	whole   map[string]*hdr.PackedHistogram // by tag: the whole run (sparse: a few KB each)
	series  map[string][]Point              // by metric
	done    bool                            // finish or abort closed the file
}

// createResults creates dir and starts its metrics.hlog with the header: format version, the
// start time (in milliseconds, as HdrHistogram's Java writer puts it), what the values are,
// and the legend.
func createResults(dir string, s *Summary) (*resultWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, LogFile))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	w := &resultWriter{
		dir:     dir,
		s:       s,
		file:    f,
		buf:     bufio.NewWriterSize(f, 64<<10),
		startMs: s.Start.UnixMilli(),
		whole:   map[string]*hdr.PackedHistogram{},
		series:  map[string][]Point{},
	}
	w.log = hdr.NewHistogramLogWriter(w.buf)
	err = errors.Join(
		w.log.OutputLogFormatVersion(),
		// OutputStartTime writes whole seconds only; this is the Java writer's "%.3f" form, which
		// every reader (Go's included) parses as seconds since the epoch.
		w.log.OutputComment(fmt.Sprintf("[StartTime: %.3f (seconds since epoch), %s]",
			float64(w.startMs)/1000, s.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))),
		w.log.OutputComment("[pkarena load metrics: values in microseconds (HistogramLogProcessor -outputValueUnitRatio 1000 prints milliseconds); Interval_Max is in seconds]"),
		w.log.OutputComment("[Tags: <metric>.corrected (received - intended send time) and <metric>.service (received - actual send time)]"),
		w.log.OutputComment("[Run: "+runComment(s)+"]"),
		w.log.OutputLegend(),
	)
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("metrics: writing %s: %w", f.Name(), err)
	}
	return w, nil
}

// runComment describes a run on one line of the .hlog header (values quoted, so that no
// name can break the line).
func runComment(s *Summary) string {
	parts := []string{
		"scenario=" + strconv.Quote(s.Info.Scenario),
		"agent=" + strconv.Quote(s.Info.Agent),
	}
	if s.Info.Shard != "" {
		parts = append(parts, "shard="+strconv.Quote(s.Info.Shard))
	}
	if len(s.Agents) > 0 {
		parts = append(parts, "agents="+strconv.Itoa(len(s.Agents)))
	}
	parts = append(parts, "interval_ms="+strconv.FormatInt(s.IntervalMs, 10))
	return strings.Join(parts, " ")
}

// add writes one interval: its histograms (sorted by tag) go to the .hlog and into the
// whole-run histograms, its corrected statistics into the metric's series, its counters into
// the summary's intervals.
func (w *resultWriter) add(startMs, endMs int64, hs []taggedHist, counters map[string]int64) error {
	t := float64(startMs-w.startMs) / 1000
	length := float64(endMs-startMs) / 1000
	for _, th := range hs {
		if th.h.TotalCount() == 0 {
			continue
		}
		metric, kind, ok := splitTag(th.tag)
		if !ok {
			return fmt.Errorf("metrics: unexpected histogram tag %q", th.tag)
		}
		th.h.SetTag(th.tag)
		th.h.SetStartTimeMs(startMs)
		th.h.SetEndTimeMs(endMs)
		if err := w.writeInterval(th.h); err != nil {
			return err
		}
		whole := w.whole[th.tag]
		if whole == nil {
			whole = hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
			w.whole[th.tag] = whole
		}
		if dropped := whole.Merge(th.h); dropped != 0 {
			return fmt.Errorf("metrics: %d values of %s out of the histogram's range", dropped, th.tag)
		}
		if kind == Corrected {
			v := th.h.ValueAtPercentilesSlice([]float64{50, 99})
			p := Point{T: t, Length: length, Count: th.h.TotalCount(), P50: msOf(v[0]), P99: msOf(v[1]), Max: msOf(th.h.Max())}
			if length > 0 {
				p.Rate = float64(p.Count) / length
			}
			w.series[metric] = append(w.series[metric], p)
		}
	}
	w.s.Intervals = append(w.s.Intervals, IntervalInfo{T: t, Length: length, Counters: counters})
	return nil
}

// writeInterval writes one interval histogram (its tag and times set) as a line of the .hlog:
// the line hdrhistogram-go's HistogramLogWriter.OutputIntervalPackedHistogram writes, start,
// length and max in seconds, but encoded by w.enc, which keeps its compressor from one
// histogram to the next (that writer makes a new one, a megabyte of tables, for each: some
// 30 a second when a run streams its intervals).
func (w *resultWriter) writeInterval(h *hdr.PackedHistogram) error {
	line := w.line[:0]
	if tag := h.Tag(); tag != "" {
		if strings.ContainsAny(tag, ", \r\n") {
			return fmt.Errorf("metrics: writing %s: tag %q has a comma, a space or a line break", filepath.Join(w.dir, LogFile), tag)
		}
		line = append(append(append(line, "Tag="...), tag...), ',')
	}
	start, end := float64(h.StartTimeMs())/1000, float64(h.EndTimeMs())/1000
	line = strconv.AppendFloat(line, start, 'f', 6, 64)
	line = strconv.AppendFloat(append(line, ','), end-start, 'f', 6, 64)
	line = strconv.AppendFloat(append(line, ','), float64(h.Max())/hdr.MsToNsRatio, 'f', 6, 64)
	line = append(w.enc.appendTo(append(line, ','), h), '\n')
	w.line = line
	if _, err := w.buf.Write(line); err != nil {
		return fmt.Errorf("metrics: writing %s: %w", filepath.Join(w.dir, LogFile), err)
	}
	return nil
}

// flush writes what the .hlog's buffer holds to its file, so that the intervals added so far
// are on disk (a streamed run's log can be read while it runs, and survives the process).
func (w *resultWriter) flush() error {
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("metrics: writing %s: %w", w.file.Name(), err)
	}
	return nil
}

// finish closes the .hlog, writes the .hgrm files, fills in the summary's statistics and
// verdicts and writes summary.json.
func (w *resultWriter) finish(thresholds []Threshold) (*Summary, error) {
	w.done = true
	err := w.buf.Flush()
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: writing %s: %w", w.file.Name(), err)
	}
	s := w.s
	s.Format = SummaryFormat
	s.Seconds = s.End.Sub(s.Start).Seconds()
	names := slices.SortedFunc(maps.Keys(w.series), compareMetrics)
	h := newDense() // one tag's whole run at a time
	for _, name := range names {
		m := MetricSummary{Name: name, Series: w.series[name]}
		for _, k := range Kinds {
			h.Reset()
			if p := w.whole[Tag(name, k)]; p != nil { // both kinds are always recorded together
				p.MergeInto(h) // cannot drop: same geometry
			}
			st := statsOf(h, extraPercentiles(thresholds, name, k))
			if k == Corrected {
				m.Corrected = st
			} else {
				m.Service = st
			}
			if err := writeHgrm(filepath.Join(w.dir, Tag(name, k)+HgrmSuffix), h); err != nil {
				return nil, err
			}
		}
		s.Metrics = append(s.Metrics, m)
	}
	s.fillNil()
	s.Generator = generatorReport(s)
	s.Thresholds = Evaluate(s, thresholds)
	s.Exit = s.ExitCode()
	s.Passed = s.Exit == ExitOK
	if err := WriteSummary(w.dir, s); err != nil {
		return nil, err
	}
	return s, nil
}

// abort closes the .hlog after a failure.
func (w *resultWriter) abort() {
	if !w.done {
		w.done = true
		_ = w.file.Close()
	}
}

// extraPercentiles lists the percentiles that thresholds on a metric and kind need beyond the
// standard ones.
func extraPercentiles(ts []Threshold, metric string, k Kind) []float64 {
	var ps []float64
	for _, t := range ts {
		if t.Name != metric || t.Kind != k {
			continue
		}
		if p, ok := t.percentile(); ok && !slices.Contains(standardPercentiles, p) && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// statsOf computes a histogram's statistics in milliseconds, with extra percentiles.
func statsOf(h *hdr.Histogram, extra []float64) Stats {
	v := h.ValueAtPercentilesSlice(standardPercentiles)
	st := Stats{
		Count: h.TotalCount(),
		Min:   msOf(h.Min()),
		Mean:  h.Mean() / 1000,
		P50:   msOf(v[0]),
		P90:   msOf(v[1]),
		P99:   msOf(v[2]),
		P999:  msOf(v[3]),
		P9999: msOf(v[4]),
		Max:   msOf(h.Max()),
	}
	if len(extra) > 0 {
		st.Extra = map[string]float64{}
		for i, x := range h.ValueAtPercentilesSlice(extra) {
			st.Extra[percentileStat(extra[i])] = msOf(x)
		}
	}
	return st
}

// msOf converts microseconds to milliseconds.
func msOf(us int64) float64 { return float64(us) / 1000 }

// writeHgrm writes a whole-run percentile distribution in HdrHistogram's .hgrm text form
// (5 ticks per half distance, values in milliseconds).
func writeHgrm(path string, h *hdr.Histogram) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	b := bufio.NewWriter(f)
	_, err = h.PercentilesPrint(b, 5, 1000)
	if err == nil {
		err = b.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metrics: writing %s: %w", path, err)
	}
	return nil
}

// ReadHistograms reads a results folder's metrics.hlog with hdrhistogram-go's log reader and
// returns the whole run's histogram (all intervals added) by tag, "<metric>.<kind>"; values
// are in microseconds.
func ReadHistograms(dir string) (map[string]*hdr.Histogram, error) {
	path := filepath.Join(dir, LogFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer f.Close()
	r := hdr.NewHistogramLogReader(bufio.NewReaderSize(f, 64<<10))
	out := map[string]*hdr.Histogram{}
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("metrics: reading %s: %w", path, err)
		}
		if h == nil {
			return out, nil
		}
		tag := h.Tag()
		if _, _, ok := splitTag(tag); !ok {
			return nil, fmt.Errorf("metrics: reading %s: unexpected tag %q (want <metric>.corrected or <metric>.service)", path, tag)
		}
		whole := out[tag]
		if whole == nil {
			whole = newDense()
			out[tag] = whole
		}
		if dropped := whole.Merge(h); dropped != 0 {
			return nil, fmt.Errorf("metrics: reading %s: %d values of %s outside 1 µs .. 1 h", path, dropped, tag)
		}
	}
}

// timeOfMs converts Unix milliseconds to a time.
func timeOfMs(ms int64) time.Time { return time.UnixMilli(ms) }
