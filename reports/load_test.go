package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/pkarena/pkarena/load/metrics"
)

// loadT0 is the start of the test runs.
var loadT0 = time.Unix(1_700_000_000, 0)

// loadAt is loadT0 plus milliseconds.
func loadAt(ms float64) time.Time { return loadT0.Add(time.Duration(ms * float64(time.Millisecond))) }

// loadRun records a run with a recorder, writes its results folder and returns it. record
// feeds the recorder; the run lasts seconds s, ticking every second.
func loadRun(t *testing.T, seconds float64, info metrics.RunInfo, thresholds []string, record func(r *metrics.Recorder, sec int)) string {
	t.Helper()
	r := metrics.NewRecorder(metrics.Options{Start: loadT0})
	for sec := 0; float64(sec) < seconds; sec++ {
		record(r, sec)
		r.Tick(loadAt(float64(sec+1) * 1000))
	}
	ts, err := metrics.ParseThresholds(thresholds)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := metrics.WriteResults(dir, info, r.Finish(loadAt(seconds*1000)), ts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// busyRun is a 12-second run of three metrics with a stall at second 6 (sends 300 ms late).
func busyRun(t *testing.T) string {
	return loadRun(t, 12, metrics.RunInfo{
		Scenario: "pk-battles", Model: "open", Seed: 7, Targets: []string{"ws://127.0.0.1:7070/v1/ws"},
		Parameters: map[string]string{"hosts": "2000", "gift_rate": "2/s"}, Agent: "agent-1", Version: "v0.1.0",
	}, []string{"score_fanout.p99 < 50ms", "errors.rate < 1%"}, func(r *metrics.Recorder, sec int) {
		base := float64(sec) * 1000
		for i := range 200 {
			sent := base + float64(i)*4
			stall := 0.0
			if sec == 6 {
				stall = 300
			}
			r.Record(metrics.ScoreFanout, i, loadAt(sent-stall), loadAt(sent), loadAt(sent+1+float64(i%20)/4))
			if i%10 == 0 {
				r.Record(metrics.ReplyMetric("requestBattle"), i, loadAt(sent), loadAt(sent), loadAt(sent+0.4))
			}
			r.Add(metrics.Ops, 1)
		}
		if sec < 3 {
			r.Record(metrics.Connect, sec, loadAt(base), loadAt(base), loadAt(base+2))
		}
		r.Add(metrics.Errors, 1)
		r.Add(metrics.Dropped, int64(sec%2))
		r.Set(metrics.ConnectionsOpen, 2000)
	})
}

// loadPage renders a folder's report and returns the page.
func loadPage(t *testing.T, dir string) []byte {
	t.Helper()
	path, err := WriteLoadReportDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, LoadReportFile) {
		t.Errorf("WriteLoadReportDir(%s) = %s; want %s", dir, path, filepath.Join(dir, LoadReportFile))
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// loadFind returns the elements of a tree with a given tag.
func loadFind(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// loadText is the text of a node and its descendants.
func loadText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// loadAttr is an attribute's value, or "".
func loadAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestLoadReport(t *testing.T) {
	t.Parallel()
	dir := busyRun(t)
	page := loadPage(t, dir)
	doc := checkHTML(t, page)
	text := loadText(doc)

	// Order: verdict and run info, thresholds, latency table, charts, counters, files.
	var last int
	for _, id := range []string{`id="summary"`, `id="thresholds"`, `id="latency"`, `id="metrics"`, `id="counters"`, `id="files"`} {
		i := bytes.Index(page, []byte(id))
		if i < last {
			t.Errorf("%s at %d, before the previous section (%d)", id, i, last)
		}
		last = i
	}
	for _, want := range []string{
		"FAIL", "thresholds breached", "exit code 1", // p99 of score_fanout includes the 300 ms stall
		"pk-battles", "open", "agent-1", "ws://127.0.0.1:7070/v1/ws", "gift_rate=2/s", "hosts=2000", "v0.1.0",
		"score_fanout.p99 < 50ms", "errors.rate < 1%", "lost.count == 0", "(built-in)",
		"connect", "score_fanout", "reply.requestBattle",
		"ops", "errors", "dropped", "connections.open",
		"metrics.hlog", "summary.json", "score_fanout.corrected.hgrm", "reply.requestBattle.service.hgrm",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	// One spectrum, one latency and one throughput chart per metric, and the operations chart.
	svgs := loadFind(doc, "svg")
	if len(svgs) != 3*3+1 {
		t.Fatalf("%d charts; want 10", len(svgs))
	}
	for _, svg := range svgs {
		title := loadText(loadFind(svg, "title")[0])
		st := loadText(svg)
		if len(loadFind(svg, "polyline"))+len(loadFind(svg, "circle")) == 0 {
			t.Errorf("chart %q draws nothing", title)
		}
		if strings.Contains(title, "by percentile") {
			for _, want := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "percentile", "latency (ms)", "corrected", "service"} {
				if !strings.Contains(st, want) {
					t.Errorf("spectrum %q lacks %q", title, want)
				}
			}
		}
		if strings.Contains(title, "over time") && (!strings.Contains(st, "p50") || !strings.Contains(st, "p99") || !strings.Contains(st, "time since start (s)")) {
			t.Errorf("latency chart %q lacks its legend or axis title", title)
		}
		if loadAttr(svg, "viewbox") == "" && loadAttr(svg, "viewBox") == "" {
			t.Errorf("chart %q has no viewBox", title)
		}
	}
	// The stall at second 6 shows in the corrected p99 over time: the highest point of the
	// score_fanout latency chart is over 300 ms.
	for _, m := range []string{"score_fanout: corrected latency over time"} {
		found := false
		for _, svg := range svgs {
			if loadText(loadFind(svg, "title")[0]) == m {
				found = true
				if !strings.Contains(loadText(svg), "300") {
					t.Errorf("%s: no tick reaches 300 ms", m)
				}
			}
		}
		if !found {
			t.Errorf("no chart %q", m)
		}
	}
}

// TestLoadReportMerged: a merged folder shows its agents.
func TestLoadReportMerged(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var dirs []string
	for i, shard := range []string{"1/2", "2/2"} {
		r := metrics.NewRecorder(metrics.Options{Start: loadT0})
		r.Record(metrics.ScoreFanout, i, loadAt(10), loadAt(10), loadAt(12+float64(i)))
		r.Add(metrics.Ops, 10)
		dir := filepath.Join(root, "agent"+shard[:1])
		if _, err := metrics.WriteResults(dir, metrics.RunInfo{Scenario: "fanout", Agent: "pod-" + shard[:1], Shard: shard}, r.Finish(loadAt(1500)), nil); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	out := filepath.Join(root, "merged")
	if _, err := metrics.Merge(out, dirs, nil); err != nil {
		t.Fatal(err)
	}
	doc := checkHTML(t, loadPage(t, out))
	text := loadText(doc)
	for _, want := range []string{"PASS", "exit code 0", "Agents merged", "pod-1", "pod-2", "1/2", "2/2", "merge of 2 folders"} {
		if !strings.Contains(text, want) {
			t.Errorf("merged report does not show %q", want)
		}
	}
}

// TestLoadReportDegenerate: odd runs still give a well-formed page with drawable charts.
func TestLoadReportDegenerate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		seconds float64
		record  func(r *metrics.Recorder, sec int)
		charts  int
		want    []string
	}{
		// nothing recorded at all
		{"empty", 1, func(*metrics.Recorder, int) {}, 0, []string{"No latency samples", "PASS"}},
		// a single interval, a single sample: dots, not lines
		{"one sample", 0.5, func(r *metrics.Recorder, _ int) {
			r.Record(metrics.Connect, 0, loadAt(1), loadAt(1), loadAt(3))
		}, 3, []string{"connect"}},
		// every sample equal: a flat spectrum, a y axis that still has a range
		{"all equal", 3, func(r *metrics.Recorder, sec int) {
			for i := range 50 {
				at := float64(sec*1000 + i)
				r.Record(metrics.BattleEnd, i, loadAt(at), loadAt(at), loadAt(at+5))
			}
		}, 3, []string{"battle_end", "5.003"}},
		// samples in the first and last intervals only: a gap in the latency lines
		{"gap", 5, func(r *metrics.Recorder, sec int) {
			if sec == 0 || sec == 4 {
				r.Record(metrics.InviteDelivery, sec, loadAt(float64(sec*1000)), loadAt(float64(sec*1000)), loadAt(float64(sec*1000)+8))
			}
		}, 3, []string{"invite_delivery"}},
		// lost messages: the run fails with ExitLost
		{"lost", 1, func(r *metrics.Recorder, _ int) { r.Add(metrics.Lost, 2); r.Add(metrics.Ops, 5) }, 1, []string{"FAIL", "lost or arrived out of order", "exit code 4"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := loadRun(t, tt.seconds, metrics.RunInfo{Scenario: tt.name}, nil, tt.record)
			doc := checkHTML(t, loadPage(t, dir))
			if n := len(loadFind(doc, "svg")); n != tt.charts {
				t.Errorf("%d charts; want %d", n, tt.charts)
			}
			text := loadText(doc)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("page does not show %q", w)
				}
			}
			for _, svg := range loadFind(doc, "svg") {
				if len(loadFind(svg, "text")) < 6 {
					t.Errorf("chart %q has too few labels for axes and a legend", loadText(loadFind(svg, "title")[0]))
				}
				for _, pl := range loadFind(svg, "polyline") {
					if strings.Contains(loadAttr(pl, "points"), "NaN") || strings.Contains(loadAttr(pl, "points"), "Inf") {
						t.Errorf("polyline with %q", loadAttr(pl, "points"))
					}
				}
			}
		})
	}
}

// TestLoadReportHostile: names and values from a scenario or a server are escaped.
func TestLoadReportHostile(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert(1)</script>"'&` + "\x00\x1b[31m\xc3\x28"
	dir := loadRun(t, 1, metrics.RunInfo{
		Scenario: evil, Agent: evil, Targets: []string{"javascript:alert(1)"}, Parameters: map[string]string{evil: evil},
	}, nil, func(r *metrics.Recorder, _ int) {
		r.Record(evil, 0, loadAt(1), loadAt(1), loadAt(2)) // metric names are cleaned by the recorder
		r.Add(evil, 1)
		r.Set(evil, 1)
	})
	page := loadPage(t, dir)
	doc := checkHTML(t, page)
	if bytes.Contains(page, []byte("<script>")) {
		t.Errorf("page contains a raw <script>")
	}
	if !strings.Contains(loadText(doc), "<script>alert(1)</script>") {
		t.Errorf("the hostile name is not shown as text")
	}
}

// TestWriteLoadReportNoHistograms: without histograms the spectrum goes through the summary's
// percentiles.
func TestWriteLoadReportNoHistograms(t *testing.T) {
	t.Parallel()
	dir := busyRun(t)
	s, err := metrics.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteLoadReport(&b, s, nil); err != nil {
		t.Fatal(err)
	}
	doc := checkHTML(t, b.Bytes())
	for _, svg := range loadFind(doc, "svg") {
		title := loadText(loadFind(svg, "title")[0])
		if strings.Contains(title, "by percentile") && len(loadFind(svg, "polyline")) != 2 {
			t.Errorf("%s: %d lines; want corrected and service", title, len(loadFind(svg, "polyline")))
		}
	}
	if err := WriteLoadReport(&b, nil, nil); err == nil {
		t.Errorf("WriteLoadReport(nil) succeeded")
	}
	if _, err := WriteLoadReportDir(t.TempDir()); err == nil {
		t.Errorf("WriteLoadReportDir(empty folder) succeeded")
	}
}

// TestLoadReportLongRun: more intervals than points per chart are drawn in groups.
func TestLoadReportLongRun(t *testing.T) {
	t.Parallel()
	s := &metrics.Summary{Format: metrics.SummaryFormat, Start: loadT0, End: loadAt(130_000), Seconds: 130, IntervalMs: 100,
		Counters: map[string]int64{metrics.Ops: 3900}}
	m := metrics.MetricSummary{Name: metrics.ScoreFanout,
		Corrected: metrics.Stats{Count: 1300, Min: 1, P50: 4, P99: 7, Max: 7},
		Service:   metrics.Stats{Count: 1300, Min: 1, P50: 4, P99: 7, Max: 7}}
	for k := range 1300 {
		at := float64(k) / 10
		m.Series = append(m.Series, metrics.Point{T: at, Length: 0.1, Count: 1, P50: float64(1 + k%7), P99: float64(1 + k%7), Max: float64(1 + k%7), Rate: 10})
		s.Intervals = append(s.Intervals, metrics.IntervalInfo{T: at, Length: 0.1, Counters: map[string]int64{metrics.Ops: 3}})
	}
	s.Metrics = []metrics.MetricSummary{m}
	var b bytes.Buffer
	if err := WriteLoadReport(&b, s, nil); err != nil {
		t.Fatal(err)
	}
	doc := checkHTML(t, b.Bytes())
	captions := loadFind(doc, "figcaption")
	if len(captions) != 3 || !strings.Contains(loadText(captions[0]), "of 3 intervals") {
		t.Errorf("captions %d; want 3 saying points group 3 intervals", len(captions))
	}
	for _, svg := range loadFind(doc, "svg") {
		for _, pl := range loadFind(svg, "polyline") {
			if n := len(strings.Fields(loadAttr(pl, "points"))); n > chartMaxPts {
				t.Errorf("a line of %d points; want at most %d", n, chartMaxPts)
			}
		}
	}
}

func TestGaugeTextHasUnits(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    float64
		want string
	}{
		{"memory.bytes_per_connection", 9889.335, "9.7 KiB"},
		{"memory.rss_per_connection", 12404.15, "12.1 KiB"},
		{"generator.cpu_seconds", 16.032737, "16.03 s"},
		{"generator.cpu_per_core", 0.1335554, "13.4% of its cores"},
		{"machine.busy_per_core", 0.98, "98.0% of its cores"},
		{"connections.open", 16680, "16680"},
		{"rooms.ratio", 76731.73333333334, "7.673e+04"},
	} {
		if got := gaugeText(tt.name, tt.v); got != tt.want {
			t.Errorf("gaugeText(%s, %v) = %q; want %q", tt.name, tt.v, got, tt.want)
		}
	}
}

func TestOnlyFailuresAreSharesOfOps(t *testing.T) {
	for k, want := range map[string]bool{"errors": true, "errors.100421": true, "dropped": true, "late": true,
		"users.skipped": false, "frames.received": false, "lost": false, "ops": false, "connections": false} {
		if got := ofOps(k); got != want {
			t.Errorf("ofOps(%q) = %v; want %v", k, got, want)
		}
	}
}

// A run the generator was the bottleneck of is not trusted, and the report says why in its
// words: its own shortage of CPU, or the machine's it shared (crowded out).
func TestLoadReportSaysWhyTheGeneratorFailed(t *testing.T) {
	for _, crowded := range []bool{false, true} {
		g := &metrics.GeneratorReport{Bottleneck: true, Crowded: crowded, CPUShare: 0.14, MachineBusy: 0.98, LagP99: 60.8,
			Reasons: []string{"its own wake-ups were 60.8 ms late at p99"}}
		s := &metrics.Summary{
			Counters: map[string]int64{}, Gauges: map[string]float64{}, Generator: g,
			Thresholds: []metrics.ThresholdResult{{Expr: metrics.GeneratorRuleExpr, Builtin: true, Observed: 1, Text: "1"}},
		}
		v := newLoadView(s, nil)
		if v.Verdict != "NOT TRUSTWORTHY" || v.Exit != metrics.ExitGenerator || v.Why != g.Why() || v.GeneratorClass != "g-bottleneck" {
			t.Errorf("crowded %v: verdict %q, exit %d, why %q, class %q; want NOT TRUSTWORTHY, exit %d, why %q, g-bottleneck",
				crowded, v.Verdict, v.Exit, v.Why, v.GeneratorClass, metrics.ExitGenerator, g.Why())
		}
		if strings.Contains(v.Why, "crowded out") != crowded || strings.Contains(v.Generator, "give the generator CPU of its own") != crowded {
			t.Errorf("crowded %v: why %q, generator %q; want the machine named only when crowded", crowded, v.Why, v.Generator)
		}
	}
}
