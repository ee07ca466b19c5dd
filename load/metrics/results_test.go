package metrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// smallRun records a known run: score_fanout 1..100 ms in interval 0, 5 ms ×10 in interval 2
// (sent 1 s late), connect 3 ms once; counters and a gauge. It returns the results folder and
// the summary WriteResults returned.
func smallRun(t testing.TB, thresholds ...string) (string, *Summary) {
	t.Helper()
	r := NewRecorder(Options{Start: t0})
	for i := 1; i <= 100; i++ {
		r.Record(ScoreFanout, i, at(100), at(100), at(100+float64(i)))
	}
	r.Record(Connect, 0, at(10), at(10), at(13))
	r.Add(Ops, 1000)
	r.Add(Errors, 1)
	r.Tick(at(2000)) // intervals 0 and 1 (empty)
	for i := range 10 {
		r.Record(ScoreFanout, i, at(1000), at(2000), at(2005))
	}
	r.Set(ConnectionsOpen, 7)
	dir := filepath.Join(t.TempDir(), "run")
	info := RunInfo{
		Scenario: "pk-battles", Model: "open", Seed: 7, Shard: "1/1", Targets: []string{"ws://127.0.0.1:7070/v1/ws"},
		Parameters: map[string]string{"hosts": "2000"}, Agent: "agent-1", Version: "test",
	}
	s, err := WriteResults(dir, info, r.Finish(at(2500)), mustParse(t, thresholds...))
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func TestHlogRoundTrip(t *testing.T) {
	t.Parallel()
	dir, _ := smallRun(t)
	f, err := os.Open(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		tag      string
		startMs  int64
		lengthMs int64
		count    int64
		max      int64
	}
	var got []line
	r := hdr.NewHistogramLogReader(f)
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		got = append(got, line{h.Tag(), h.StartTimeMs() - t0.UnixMilli(), h.EndTimeMs() - h.StartTimeMs(), h.TotalCount(), h.Max()})
	}
	// Interval 1 has no sample: left out. Timestamps come back within a millisecond (the
	// reader truncates after a float round trip).
	want := []line{
		// Max is the top of the max's bucket (HdrHistogram's highest equivalent value)
		{"connect.corrected", 0, 1000, 1, 3001},
		{"connect.service", 0, 1000, 1, 3001},
		{"score_fanout.corrected", 0, 1000, 100, 100031}, // 100 ms
		{"score_fanout.service", 0, 1000, 100, 100031},
		{"score_fanout.corrected", 2000, 500, 10, 1005055}, // sent 1 s late: corrected 1005 ms
		{"score_fanout.service", 2000, 500, 10, 5003},      // service 5 ms
	}
	if len(got) != len(want) {
		t.Fatalf("read %d histograms %+v; want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		ok := g.tag == w.tag && g.count == w.count && g.max == w.max &&
			(g.startMs == w.startMs || g.startMs == w.startMs-1) && g.lengthMs >= w.lengthMs-1 && g.lengthMs <= w.lengthMs+1
		if !ok {
			t.Errorf("histogram %d = %+v; want %+v", i, g, w)
		}
	}

	// The header: version, StartTime in milliseconds (Java's form), units, legend.
	text := string(readFile(t, filepath.Join(dir, LogFile)))
	for _, re := range []string{
		`(?m)^#\[Histogram log format version 1\.3\]$`,
		`(?m)^#\[StartTime: 1700000000\.000 \(seconds since epoch\), 2023-11-14T22:13:20\.000Z\]$`,
		`(?m)^#\[pkarena load metrics: values in microseconds`,
		`(?m)^#\[Run: scenario="pk-battles" agent="agent-1" shard="1/1" interval_ms=1000\]$`,
		`(?m)^"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"$`,
		`(?m)^Tag=score_fanout\.corrected,1700000002\.000000,0\.500000,1\.005055,HISTF`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("metrics.hlog does not match %s:\n%s", re, text)
		}
	}
}

func TestReadHistograms(t *testing.T) {
	t.Parallel()
	dir, s := smallRun(t)
	hs, err := ReadHistograms(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 {
		t.Fatalf("ReadHistograms: %d tags; want 4", len(hs))
	}
	h := hs[Tag(ScoreFanout, Corrected)]
	if h.TotalCount() != 110 || msOf(h.ValueAtQuantile(50)) != s.Metric(ScoreFanout).Corrected.P50 {
		t.Errorf("score_fanout.corrected: count %d p50 %v; want 110 and the summary's p50 %v",
			h.TotalCount(), msOf(h.ValueAtQuantile(50)), s.Metric(ScoreFanout).Corrected.P50)
	}
}

func TestHgrmFormat(t *testing.T) {
	t.Parallel()
	dir, s := smallRun(t)
	for _, name := range []string{"score_fanout.corrected.hgrm", "score_fanout.service.hgrm", "connect.corrected.hgrm", "connect.service.hgrm"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var rows [][]string
		var footer []string
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "#["):
				footer = append(footer, l)
			case strings.TrimSpace(l) == "" || strings.Contains(l, "Percentile"):
			default:
				rows = append(rows, strings.Fields(l))
			}
		}
		f.Close()
		if len(rows) < 2 || len(footer) != 3 {
			t.Fatalf("%s: %d rows, %d footer lines; want rows and 3 footer lines", name, len(rows), len(footer))
		}
		metric, kind, _ := splitTag(strings.TrimSuffix(name, HgrmSuffix))
		st := s.Metric(metric).Stats(kind)
		prevP, prevV := -1.0, -1.0
		for _, r := range rows {
			if len(r) != 4 {
				t.Fatalf("%s: row %q: want Value Percentile TotalCount 1/(1-Percentile)", name, r)
			}
			v, _ := strconv.ParseFloat(r[0], 64)
			p, _ := strconv.ParseFloat(r[1], 64)
			if p < prevP || v < prevV || p > 1 {
				t.Errorf("%s: row %q out of order", name, r)
			}
			prevP, prevV = p, v
		}
		last := rows[len(rows)-1]
		if last[1] != "1.000000" || last[2] != strconv.FormatInt(st.Count, 10) || last[3] != "inf" {
			t.Errorf("%s: last row %q; want percentile 1, total %d, inf", name, last, st.Count)
		}
		if v, _ := strconv.ParseFloat(last[0], 64); v != st.Max {
			t.Errorf("%s: last value %v ms; want the max %v ms (values in ms)", name, v, st.Max)
		}
		if !strings.Contains(footer[1], "Total count    = "+strings.Repeat(" ", 12-len(strconv.FormatInt(st.Count, 10)))+strconv.FormatInt(st.Count, 10)) {
			t.Errorf("%s: footer %q; want total count %d", name, footer[1], st.Count)
		}
	}
}

func TestSummaryContents(t *testing.T) {
	t.Parallel()
	dir, s := smallRun(t, "score_fanout.p99 < 50ms", "score_fanout.service.p75 < 60ms")
	read, err := ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, read), mustJSON(t, s); a != b {
		t.Errorf("ReadSummary differs from what WriteResults returned:\n%s\n%s", a, b)
	}
	sf := s.Metric(ScoreFanout)
	if sf == nil || s.Metric(Connect) == nil || len(s.Metrics) != 2 || s.Metrics[0].Name != Connect {
		t.Fatalf("metrics = %v; want connect then score_fanout", metricNames(s))
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"corrected count", float64(sf.Corrected.Count), 110},
		{"corrected min", sf.Corrected.Min, 1},
		{"corrected p50", sf.Corrected.P50, 55.007},   // 55th of 110 values (1..100, 1005 ×10), top of its bucket
		{"corrected p99", sf.Corrected.P99, 1005.055}, // the late sends
		{"corrected max", sf.Corrected.Max, 1005.055},
		{"service p99", sf.Service.P99, 99.007}, // without them
		{"service max", sf.Service.Max, 100.031},
		{"service p75 (threshold)", sf.Service.Extra["p75"], 73.023}, // 83rd of 1..100, 5 ×10
		{"duration", s.Seconds, 2.5},
		{"interval", float64(s.IntervalMs), 1000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	wantSeries := []Point{
		{T: 0, Length: 1, Count: 100, P50: 50.015, P99: 99.007, Max: 100.031, Rate: 100},
		{T: 2, Length: 0.5, Count: 10, P50: 1005.055, P99: 1005.055, Max: 1005.055, Rate: 20},
	}
	if len(sf.Series) != 2 {
		t.Fatalf("series = %+v; want 2 points", sf.Series)
	}
	for i, w := range wantSeries {
		g := sf.Series[i]
		if g.T != w.T || g.Length != w.Length || g.Count != w.Count || g.Rate != w.Rate || g.P50 != w.P50 || g.Max != w.Max {
			t.Errorf("series[%d] = %+v; want %+v", i, g, w)
		}
	}
	if len(s.Intervals) != 3 || s.Intervals[0].Counters[Ops] != 1000 || s.Intervals[2].Length != 0.5 {
		t.Errorf("intervals = %+v; want 3 with 1000 ops in the first", s.Intervals)
	}
	if s.Counters[Ops] != 1000 || s.Gauges[ConnectionsOpen] != 7 {
		t.Errorf("counters %v gauges %v", s.Counters, s.Gauges)
	}
	// score_fanout.p99 includes the 1 s late sends: it fails; service p75 passes; the built-ins pass
	var verdicts []string
	for _, r := range s.Thresholds {
		verdicts = append(verdicts, r.Expr+"="+strconv.FormatBool(r.Pass))
	}
	want := "score_fanout.p99 < 50ms=false score_fanout.service.p75 < 60ms=false lost.count == 0=true out_of_order.count == 0=true events.unexpected.count == 0=true protocol.violations.count == 0=true"
	if strings.Join(verdicts, " ") != want {
		t.Errorf("thresholds = %v; want %s", verdicts, want)
	}
	if s.Exit != ExitThresholds || s.Passed {
		t.Errorf("exit %d passed %t; want %d false", s.Exit, s.Passed, ExitThresholds)
	}
	// The JSON uses the documented names.
	var raw map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, SummaryFile)), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "info", "start", "end", "duration_s", "interval_ms", "agents", "warnings", "metrics", "counters", "gauges", "intervals", "thresholds", "passed", "exit_code"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary.json has no %q", k)
		}
	}
}

func TestEmptyRun(t *testing.T) {
	t.Parallel()
	r := NewRecorder(Options{Start: t0})
	dir := filepath.Join(t.TempDir(), "empty")
	s, err := WriteResults(dir, RunInfo{}, r.Finish(t0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Metrics) != 0 || len(s.Intervals) != 0 || s.Exit != ExitOK {
		t.Errorf("empty run: metrics %v intervals %v exit %d; want none, none, 0", s.Metrics, s.Intervals, s.Exit)
	}
	if hs, err := ReadHistograms(dir); err != nil || len(hs) != 0 {
		t.Errorf("ReadHistograms(empty) = %v, %v; want none", hs, err)
	}
	if _, err := WriteResults(dir, RunInfo{}, nil, nil); err == nil {
		t.Errorf("WriteResults(nil totals) succeeded; want an error")
	}
}

func TestReadSummaryErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		content string
		wantErr string
	}{
		{"", "no such file"},    // missing file
		{"{", "unexpected end"}, // not JSON
		{`{"format":"pkarena-load-summary/2","interval_ms":1000}`, "not supported"}, // a future format
		{`{"format":"pkarena-load-summary/1"}`, "interval_ms"},                      // incomplete
	} {
		dir := t.TempDir()
		if tt.content != "" {
			if err := os.WriteFile(filepath.Join(dir, SummaryFile), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ReadSummary(dir); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ReadSummary(%q) = %v; want an error about %q", tt.content, err, tt.wantErr)
		}
	}
}

// TestIntervalTimesSurviveTheLog: the merge finds each logged histogram's exact interval even
// though the log's float timestamps come back truncated (for starts that are not whole
// seconds).
func TestIntervalTimesSurviveTheLog(t *testing.T) {
	t.Parallel()
	start := time.UnixMilli(1_700_000_000_001) // x.001 s: 0.001 has no exact float
	r := NewRecorder(Options{Start: start, Interval: 100 * time.Millisecond})
	for k := range 30 {
		recv := start.Add(time.Duration(k)*100*time.Millisecond + 50*time.Millisecond)
		r.Record(Connect, 0, recv.Add(-time.Millisecond), recv.Add(-time.Millisecond), recv)
		r.Tick(start.Add(time.Duration(k+1) * 100 * time.Millisecond))
	}
	root := t.TempDir()
	one, err := WriteResults(filepath.Join(root, "a"), RunInfo{}, r.Finish(start.Add(3*time.Second)), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(filepath.Join(root, "m"), []string{filepath.Join(root, "a")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Metric(Connect).Series) != 30 {
		t.Errorf("merged series has %d points; want 30, one per interval", len(m.Metric(Connect).Series))
	}
	if !reflect.DeepEqual(m.Metric(Connect).Corrected, one.Metric(Connect).Corrected) {
		t.Errorf("merge of one folder changed its statistics")
	}
}

// mustJSON encodes v or fails the test.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatsOfKnownValues: a histogram's statistics in milliseconds, its mean among them, from
// values the histogram holds exactly (0.5, 1 and 1.5 ms: mean 1 ms), and an extra percentile.
func TestStatsOfKnownValues(t *testing.T) {
	h := hdr.New(lowestMicros, highestMicros, sigFigs)
	for _, us := range []int64{500, 1000, 1500} {
		if err := h.RecordValue(us); err != nil {
			t.Fatal(err)
		}
	}
	st := statsOf(h, []float64{60})
	if st.Count != 3 || st.Min != 0.5 || st.Max != 1.5 || st.Mean != 1 || st.P50 != 1 || st.P99 != 1.5 || st.Extra["p60"] != 1 {
		t.Errorf("stats %+v; want count 3, min 0.5, max 1.5, mean 1, p50 1, p99 1.5, p60 1 (ms)", st)
	}
}

// TestAFailedWriteIsAnError: a results file that cannot be written (here: a link to
// /dev/full, whose every write fails with ENOSPC) fails WriteResults with the file's name and
// the reason; the error of a write is never replaced by the close's success after it.
func TestAFailedWriteIsAnError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	for _, name := range []string{LogFile, ScoreFanout + ".corrected.hgrm", SummaryFile} {
		t.Run(name, func(t *testing.T) {
			r := NewRecorder(Options{Start: t0})
			r.Record(ScoreFanout, 0, at(10), at(10), at(13))
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/full", filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			_, err := WriteResults(dir, RunInfo{}, r.Finish(at(2000)), nil)
			if err == nil || !strings.Contains(err.Error(), name) || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("WriteResults with %s unwritable: %v; want an error naming it, wrapping ENOSPC", name, err)
			}
		})
	}
}
