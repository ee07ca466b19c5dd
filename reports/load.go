package reports

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pkarena/pkarena/load/metrics"
)

// LoadReportFile is the page WriteLoadReportDir writes into a results folder.
const LoadReportFile = "report.html"

//go:embed load.html.tmpl
var loadTemplateText string

// chartTemplateText defines the template "chart", which places an svgChart.
//
//go:embed chart.html.tmpl
var chartTemplateText string

// loadTemplate renders a load run; html/template escapes every value by context, the SVG
// charts' included.
var loadTemplate = template.Must(template.Must(template.New("load").Parse(loadTemplateText)).Parse(chartTemplateText))

// WriteLoadReportDir reads a load run's results folder (summary.json and metrics.hlog, as
// written by metrics.WriteResults or metrics.Merge), writes report.html into it (see
// WriteLoadReport) and returns the page's path. The page is rendered completely before the
// file is written.
func WriteLoadReportDir(dir string) (string, error) {
	s, err := metrics.ReadSummary(dir)
	if err != nil {
		return "", err
	}
	hists, err := metrics.ReadHistograms(dir)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := WriteLoadReport(&buf, s, hists); err != nil {
		return "", err
	}
	path := filepath.Join(dir, LoadReportFile)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("reports: %w", err)
	}
	return path, nil
}

// WriteLoadReport writes a load run as one self-contained HTML page: inline CSS and inline SVG
// charts, no JavaScript and no external resource (a Content-Security-Policy forbids both). In
// order, it shows:
//
//   - the verdict (PASS, or FAIL with the exit code and why) and the run's information: scenario,
//     model, seed, shard or agents, targets, times, parameters; warnings;
//   - the thresholds with the observed values, built-in rules included;
//   - the latency table: per metric and kind, count, mean, p50, p90, p99, p99.9, p99.99, max;
//   - per metric: the latency percentile spectrum (log axis from 0% to 99.999%, corrected and
//     service, as HdrHistogram's plotter draws it), p50 and p99 per interval over time, and the
//     samples per second over time;
//   - operations, errors and dropped sends per second over time; the counters (with their share
//     of ops) and gauges; the agents of a merged run; the files of the folder.
//
// hists holds the whole-run histograms by tag ("<metric>.<kind>", values in µs), as
// metrics.ReadHistograms returns them; without them the spectrum is drawn through the
// summary's percentiles only. Nothing is written if the page cannot be rendered.
func WriteLoadReport(w io.Writer, s *metrics.Summary, hists map[string]*hdr.Histogram) error {
	if s == nil {
		return errors.New("reports: no load summary")
	}
	var buf bytes.Buffer
	if err := loadTemplate.Execute(&buf, newLoadView(s, hists)); err != nil {
		return fmt.Errorf("reports: rendering the load report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("reports: writing the load report: %w", err)
	}
	return nil
}

// loadView is what the load template shows: every text cleaned, every number formatted.
type loadView struct {
	Title     string
	Verdict   string // PASS or FAIL
	Class     string // v-pass or v-fail
	Why       string // why it failed
	Exit      int
	Generator string // the generator's verdict on itself
	// GeneratorClass styles it: g-bottleneck, g-ok or g-unknown.
	GeneratorClass string
	Info           [][2]string
	Parameters     [][2]string
	Warnings       []string
	Thresholds     []loadThreshold
	Rows           []loadRow
	Metrics        []loadMetric
	OpsChart       *svgChart
	Counters       []loadCounter
	Gauges         [][2]string
	Agents         []loadAgent
	Files          []string
	IntervalSec    string
}

// loadThreshold is one row of the thresholds table.
type loadThreshold struct {
	Expr, Observed, Verdict, Class, Reason string
	Builtin                                bool
}

// loadRow is one row of the latency table; First marks a metric's first row.
type loadRow struct {
	Metric, Anchor, Kind                         string
	First                                        bool
	Count, Mean, P50, P90, P99, P999, P9999, Max string
}

// loadMetric is one metric's charts.
type loadMetric struct {
	Name, Anchor                  string
	Spectrum, Latency, Throughput *svgChart
}

// loadCounter is one row of the counters table.
type loadCounter struct{ Name, Value, Share string }

// loadAgent is one agent of a merged run.
type loadAgent struct{ Agent, Shard, Dir, Start, Duration, Ops, Errors string }

// newLoadView prepares a summary for the template.
func newLoadView(s *metrics.Summary, hists map[string]*hdr.Histogram) *loadView {
	code := s.ExitCode()
	v := &loadView{Verdict: "PASS", Class: "v-pass", Exit: code}
	switch code {
	case metrics.ExitOK:
	case metrics.ExitGenerator:
		v.Verdict, v.Class, v.Why = "NOT TRUSTWORTHY", "v-fail", s.Generator.Why()
	case metrics.ExitLost:
		v.Verdict, v.Class, v.Why = "FAIL", "v-fail", "messages were lost or arrived out of order"
	default:
		v.Verdict, v.Class, v.Why = "FAIL", "v-fail", "thresholds breached"
	}
	if g := s.Generator; g != nil {
		v.Generator, v.GeneratorClass = cleanText(g.Verdict()), "g-unknown"
		switch {
		case g.Unknown != "":
		case g.Bottleneck:
			v.GeneratorClass = "g-bottleneck"
		default:
			v.GeneratorClass = "g-ok"
		}
	}
	scenario := cleanText(s.Info.Scenario)
	if scenario == "" {
		scenario = "load run"
	}
	v.Title = singleLine("pkarena load: " + scenario + ": " + v.Verdict)

	info := func(k, val string) {
		if val != "" {
			v.Info = append(v.Info, [2]string{k, cleanText(val)})
		}
	}
	info("scenario", s.Info.Scenario)
	info("model", s.Info.Model)
	info("seed", strconv.FormatInt(s.Info.Seed, 10))
	info("shard", s.Info.Shard)
	info("agent", s.Info.Agent)
	info("targets", strings.Join(s.Info.Targets, " "))
	info("version", s.Info.Version)
	info("start", loadTime(s.Start))
	info("end", loadTime(s.End))
	info("duration", strconv.FormatFloat(s.Seconds, 'f', 1, 64)+" s")
	info("interval", strconv.FormatFloat(float64(s.IntervalMs)/1000, 'f', -1, 64)+" s")
	for _, k := range slices.Sorted(maps.Keys(s.Info.Parameters)) {
		v.Parameters = append(v.Parameters, [2]string{cleanText(k), cleanText(s.Info.Parameters[k])})
	}
	for _, w := range s.Warnings {
		v.Warnings = append(v.Warnings, cleanText(w))
	}

	results := s.Thresholds
	if len(results) == 0 {
		results = metrics.Evaluate(s, nil)
	}
	for _, r := range results {
		t := loadThreshold{Expr: cleanText(r.Expr), Observed: cleanText(r.Text), Verdict: "PASS", Class: "v-pass", Reason: cleanText(r.Reason), Builtin: r.Builtin}
		if !r.Pass {
			t.Verdict, t.Class = "FAIL", "v-fail"
		}
		v.Thresholds = append(v.Thresholds, t)
	}

	x0, x1 := timeRange(s)
	for i, m := range s.Metrics {
		name := cleanText(m.Name)
		anchor := "metric-" + strconv.Itoa(i)
		for _, k := range metrics.Kinds {
			st := m.Stats(k)
			v.Rows = append(v.Rows, loadRow{
				Metric: name, Anchor: anchor, Kind: string(k), First: k == metrics.Corrected,
				Count: strconv.FormatInt(st.Count, 10), Mean: ms3(st.Mean), P50: ms3(st.P50), P90: ms3(st.P90),
				P99: ms3(st.P99), P999: ms3(st.P999), P9999: ms3(st.P9999), Max: ms3(st.Max),
			})
		}
		v.Metrics = append(v.Metrics, loadMetric{
			Name: name, Anchor: anchor,
			Spectrum:   spectrumChart(name+": latency by percentile", spectrumPoints(hists, m, metrics.Corrected), spectrumPoints(hists, m, metrics.Service)),
			Latency:    latencyChart(name, m, x0, x1),
			Throughput: throughputChart(name, s, m, x0, x1),
		})
	}
	v.OpsChart = opsChart(s, x0, x1)
	spans := phaseSpans(s)
	for _, m := range v.Metrics {
		m.Latency.markPhases(spans)
		m.Throughput.markPhases(spans)
	}
	if v.OpsChart != nil {
		v.OpsChart.markPhases(spans)
	}

	ops := s.Counters[metrics.Ops]
	for _, k := range slices.Sorted(maps.Keys(s.Counters)) {
		c := loadCounter{Name: cleanText(k), Value: strconv.FormatInt(s.Counters[k], 10)}
		if ops > 0 && ofOps(k) {
			c.Share = strconv.FormatFloat(100*float64(s.Counters[k])/float64(ops), 'g', 4, 64) + "%"
		}
		v.Counters = append(v.Counters, c)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Gauges)) {
		v.Gauges = append(v.Gauges, [2]string{cleanText(k), gaugeText(k, s.Gauges[k])})
	}
	for _, a := range s.Agents {
		v.Agents = append(v.Agents, loadAgent{
			Agent: cleanText(a.Agent), Shard: cleanText(a.Shard), Dir: cleanText(a.Dir), Start: loadTime(a.Start),
			Duration: strconv.FormatFloat(a.End.Sub(a.Start).Seconds(), 'f', 1, 64) + " s",
			Ops:      strconv.FormatInt(a.Counters[metrics.Ops], 10), Errors: strconv.FormatInt(a.Counters[metrics.Errors], 10),
		})
	}
	v.Files = append(v.Files, metrics.SummaryFile, metrics.LogFile)
	for _, m := range s.Metrics {
		for _, k := range metrics.Kinds {
			v.Files = append(v.Files, metrics.Tag(m.Name, k)+metrics.HgrmSuffix)
		}
	}
	return v
}

// loadTime formats a time for the page.
func loadTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// ms3 formats milliseconds with three decimals.
func ms3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// timeRange is the time axis of the run, seconds since its start: from the first interval's
// start (a merged run's may be a little before 0) to the end of the last.
func timeRange(s *metrics.Summary) (x0, x1 float64) {
	x0, x1 = 0, s.Seconds
	for _, iv := range s.Intervals {
		x0 = math.Min(x0, iv.T)
		x1 = math.Max(x1, iv.T+iv.Length)
	}
	return x0, x1
}

// spectrumPoints is a metric's percentile spectrum, (quantile 0..1, ms): from the whole-run
// histogram when there is one (HdrHistogram's percentile iteration, 5 ticks per half
// distance, as in the .hgrm files), else through the summary's percentiles.
func spectrumPoints(hists map[string]*hdr.Histogram, m metrics.MetricSummary, k metrics.Kind) []dataPoint {
	if h := hists[metrics.Tag(m.Name, k)]; h != nil && h.TotalCount() > 0 {
		var pts []dataPoint
		for _, b := range h.CumulativeDistributionWithTicks(5) {
			pts = append(pts, dataPoint{b.Quantile / 100, float64(b.ValueAt) / 1000})
		}
		return pts
	}
	st := m.Stats(k)
	if st.Count == 0 {
		return nil
	}
	return []dataPoint{{0, st.Min}, {0.5, st.P50}, {0.9, st.P90}, {0.99, st.P99}, {0.999, st.P999}, {0.9999, st.P9999}, {1, st.Max}}
}

// group is how many intervals each drawn point stands for, so that a chart has at most
// chartMaxPts points.
func group(n int) int { return max(1, (n+chartMaxPts-1)/chartMaxPts) }

// groupNote explains grouped points under a chart.
func groupNote(g int, what string) string {
	if g <= 1 {
		return ""
	}
	return fmt.Sprintf("each point: %s of %d intervals", what, g)
}

// latencyChart draws a metric's corrected p50 and p99 per interval, at the middle of each
// interval; intervals without samples break the lines.
func latencyChart(name string, m metrics.MetricSummary, x0, x1 float64) *svgChart {
	g := group(len(m.Series))
	var p50, p99 []dataPoint
	var prevEnd float64
	for i := 0; i < len(m.Series); i += g {
		pts := m.Series[i:min(i+g, len(m.Series))]
		start, end := pts[0].T, pts[len(pts)-1].T+pts[len(pts)-1].Length
		if i > 0 && start-prevEnd > 1e-3 { // a gap: intervals without samples
			p50 = append(p50, dataPoint{math.NaN(), math.NaN()})
			p99 = append(p99, dataPoint{math.NaN(), math.NaN()})
		}
		prevEnd = end
		var hi50, hi99 float64
		for _, p := range pts {
			hi50, hi99 = math.Max(hi50, p.P50), math.Max(hi99, p.P99)
		}
		x := (start + end) / 2
		p50 = append(p50, dataPoint{x, hi50})
		p99 = append(p99, dataPoint{x, hi99})
	}
	c := timeChart(name+": corrected latency over time", "latency (ms)", x0, x1, []dataSeries{
		{name: "p50", class: "s-p50", pts: p50},
		{name: "p99", class: "s-p99", pts: p99},
	})
	c.Note = groupNote(g, "the highest p50 and p99")
	return c
}

// throughputChart draws a metric's samples per second over every interval of the run (0 where
// it had none).
func throughputChart(name string, s *metrics.Summary, m metrics.MetricSummary, x0, x1 float64) *svgChart {
	counts := map[int64]int64{}
	for _, p := range m.Series {
		counts[int64(math.Round(p.T*1000))] += p.Count
	}
	pts, g := rates(s.Intervals, func(iv metrics.IntervalInfo) int64 { return counts[int64(math.Round(iv.T*1000))] })
	c := timeChart(name+": samples per second", "per second", x0, x1, []dataSeries{{name: "samples/s", class: "s-rate", pts: pts}})
	c.Note = groupNote(g, "the rate")
	return c
}

// opsChart draws ops, errors and dropped sends per second over the run; nil when no interval
// counted any.
func opsChart(s *metrics.Summary, x0, x1 float64) *svgChart {
	var series []dataSeries
	g := 1
	for _, c := range []struct{ counter, class string }{
		{metrics.Ops, "s-ops"}, {metrics.Errors, "s-errors"}, {metrics.Dropped, "s-dropped"}, {metrics.Late, "s-late"},
	} {
		seen := false
		for _, iv := range s.Intervals {
			seen = seen || iv.Counters[c.counter] != 0
		}
		if !seen {
			continue
		}
		var pts []dataPoint
		pts, g = rates(s.Intervals, func(iv metrics.IntervalInfo) int64 { return iv.Counters[c.counter] })
		series = append(series, dataSeries{name: c.counter + "/s", class: c.class, pts: pts})
	}
	if len(series) == 0 {
		return nil
	}
	c := timeChart("operations per second", "per second", x0, x1, series)
	c.Note = groupNote(g, "the rate")
	return c
}

// rates turns per-interval counts into per-second rates at each interval's (or group's)
// middle, and returns the group size. Where intervals are missing (the recorder leaves out
// idle ones) the rate drops to 0.
func rates(ivs []metrics.IntervalInfo, count func(metrics.IntervalInfo) int64) ([]dataPoint, int) {
	g := group(len(ivs))
	var pts []dataPoint
	prevEnd := math.NaN()
	for i := 0; i < len(ivs); i += g {
		grp := ivs[i:min(i+g, len(ivs))]
		if grp[0].T-prevEnd > 1e-3 { // an idle stretch
			pts = append(pts, dataPoint{prevEnd, 0}, dataPoint{grp[0].T, 0})
		}
		prevEnd = grp[len(grp)-1].T + grp[len(grp)-1].Length
		var n int64
		var length float64
		for _, iv := range grp {
			n += count(iv)
			length += iv.Length
		}
		start, end := grp[0].T, grp[len(grp)-1].T+grp[len(grp)-1].Length
		rate := 0.0
		if length > 0 {
			rate = float64(n) / length
		}
		pts = append(pts, dataPoint{(start + end) / 2, rate})
	}
	return pts, g
}

// ofOps reports whether counter k counts operations that went wrong, so that its share of
// the operations attempted means something: errors (all, and by code), dropped and late
// sends. Other counters (frames, users, rooms, lost messages) count other things.
func ofOps(k string) bool {
	return k == metrics.Errors || strings.HasPrefix(k, metrics.Errors+".") || k == metrics.Dropped || k == metrics.Late
}

// gaugeText is a gauge's value with its unit, as its name says it: bytes, seconds, a share of
// the cores, or a count.
func gaugeText(name string, v float64) string {
	switch {
	case strings.Contains(name, "bytes") || strings.HasPrefix(name, "memory."):
		return strconv.FormatFloat(v/1024, 'f', 1, 64) + " KiB"
	case strings.HasSuffix(name, "_seconds"):
		return strconv.FormatFloat(v, 'f', 2, 64) + " s"
	case strings.HasSuffix(name, "_per_core"):
		return strconv.FormatFloat(100*v, 'f', 1, 64) + "% of its cores"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// phaseSpans are the run's phases in seconds since its start (the time charts' x axis).
func phaseSpans(s *metrics.Summary) []phaseSpan {
	var out []phaseSpan
	for _, p := range s.Phases {
		if p.End.After(p.Start) {
			out = append(out, phaseSpan{name: p.Name, from: p.Start.Sub(s.Start).Seconds(), to: p.End.Sub(s.Start).Seconds()})
		}
	}
	return out
}
