package metrics

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// decodeCount decodes an interval histogram and returns its sample count.
func decodeCount(t testing.TB, data []byte) int64 {
	t.Helper()
	p, err := hdr.DecodePacked(data)
	if err != nil {
		t.Fatalf("DecodePacked: %v", err)
	}
	return p.TotalCount()
}

// sample is one synthetic measurement.
type sample struct {
	metric                   string
	shard                    int
	intended, sent, received time.Time
}

// syntheticRun makes n samples over the given duration from t0, in received order: four
// metrics with skewed distributions (log-normal, Pareto, bimodal, and one whose sends
// sometimes stall, so that corrected and service latencies differ).
func syntheticRun(seed uint64, n int, duration time.Duration) []sample {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	out := make([]sample, 0, n)
	for range n {
		var metric string
		var service, stall time.Duration
		switch rng.IntN(4) {
		case 0: // fan-out: log-normal around 3 ms with a long tail
			metric = ScoreFanout
			service = ms(math.Exp(rng.NormFloat64()*0.9 + 1.1))
		case 1: // connect: Pareto, alpha 1.5, from 0.5 ms
			metric = Connect
			service = ms(0.5 / math.Pow(1-rng.Float64(), 1/1.5))
			if rng.IntN(2000) == 0 { // now and then over an hour: clamped
				service = 2 * time.Hour
			}
		case 2: // a reply: bimodal, 0.2 ms or 40 ms
			metric = ReplyMetric("requestBattle")
			service = ms(0.2 + rng.ExpFloat64()*0.05)
			if rng.IntN(10) == 0 {
				service = ms(40 + rng.ExpFloat64()*10)
			}
		default: // invitations: 1–5 ms, 5% sent after a generator stall of up to 2 s
			metric = InviteDelivery
			service = ms(1 + rng.Float64()*4)
			if rng.IntN(20) == 0 {
				stall = ms(rng.Float64() * 2000)
			}
		}
		received := t0.Add(time.Duration(rng.Int64N(int64(duration))))
		sent := received.Add(-service)
		out = append(out, sample{
			metric: metric, shard: rng.IntN(10_000),
			intended: sent.Add(-stall), sent: sent, received: received,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].received.Before(out[j].received) })
	return out
}

// feed records samples into recorders in received order, ticking every recorder at each
// interval boundary passed, and counts ops, errors and a lost message per sample pattern.
// route picks the recorders of a sample.
func feed(samples []sample, iv time.Duration, route func(sample) []*Recorder, all []*Recorder) {
	next := t0.Add(iv)
	for i, s := range samples {
		for !s.received.Before(next) {
			for _, r := range all {
				r.Tick(next)
			}
			next = next.Add(iv)
		}
		for _, r := range route(s) {
			r.Record(s.metric, s.shard, s.intended, s.sent, s.received)
			r.Add(Ops, 1)
			if i%97 == 0 {
				r.Add(Errors, 1)
				r.Add(ErrorCounter(100004), 1)
			}
			r.Add(Late, int64(i%2))
		}
	}
}

// TestMergeIsLossless is the proof that distributed runs lose nothing: the same samples go
// once into one recorder and, split by shard, into three; the three results folders are
// merged; every reported figure of the merge equals the single recorder's exactly, and so
// does every bucket of every histogram.
func TestMergeIsLossless(t *testing.T) {
	t.Parallel()
	const n = 30_000
	iv := time.Second
	duration := 10*time.Second + 500*time.Millisecond
	samples := syntheticRun(42, n, duration)

	single := NewRecorder(Options{Start: t0, Interval: iv})
	agents := []*Recorder{
		NewRecorder(Options{Start: t0, Interval: iv, Shards: 4}),
		NewRecorder(Options{Start: t0, Interval: iv, Shards: 16}),
		NewRecorder(Options{Start: t0, Interval: iv}),
	}
	all := append([]*Recorder{single}, agents...)
	feed(samples, iv, func(s sample) []*Recorder { return []*Recorder{single, agents[s.shard%3]} }, all)

	root := t.TempDir()
	thresholds := mustParse(t, "score_fanout.p99 < 50ms", "connect.service.p95 < 1s", "errors.rate < 0.1%")
	info := RunInfo{Scenario: "synthetic", Model: "open", Seed: 42, Targets: []string{"ws://x"}, Agent: "single"}
	one, err := WriteResults(filepath.Join(root, "single"), info, single.Finish(t0.Add(duration)), thresholds)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i, a := range agents {
		info := info
		info.Agent = "agent-" + string(rune('a'+i))
		info.Shard = string(rune('1'+i)) + "/3"
		dir := filepath.Join(root, info.Agent)
		s, err := WriteResults(dir, info, a.Finish(t0.Add(duration)), thresholds)
		if err != nil {
			t.Fatal(err)
		}
		// the split is real: each agent has about a third of the samples
		if c := s.Metric(ScoreFanout).Corrected.Count; c < int64(n/4/3*8/10) || c > int64(n/4/3*12/10) {
			t.Errorf("agent %d has %d score_fanout samples; want about %d", i, c, n/4/3)
		}
		dirs = append(dirs, dir)
	}
	merged, err := Merge(filepath.Join(root, "merged"), dirs, thresholds)
	if err != nil {
		t.Fatal(err)
	}

	if len(one.Metrics) != 4 {
		t.Fatalf("single run has metrics %v; want 4", metricNames(one))
	}
	// Every statistic of every metric and kind: count, min, mean, p50 .. p99.99, max and the
	// p95 the threshold asked for; and every interval's count, p50, p99, max and rate.
	if !reflect.DeepEqual(merged.Metrics, one.Metrics) {
		for i := range one.Metrics {
			if i < len(merged.Metrics) && !reflect.DeepEqual(merged.Metrics[i], one.Metrics[i]) {
				t.Errorf("metric %s:\n merged %+v\n single %+v", one.Metrics[i].Name, merged.Metrics[i], one.Metrics[i])
			}
		}
		t.Fatalf("merged metrics differ from the single run's")
	}
	if got := merged.Metric(Connect).Service.Extra["p95"]; got == 0 {
		t.Errorf("connect service p95 (asked by a threshold) missing from the merged summary")
	}
	if !reflect.DeepEqual(merged.Counters, one.Counters) {
		t.Errorf("counters: merged %v; single %v", merged.Counters, one.Counters)
	}
	if !reflect.DeepEqual(merged.Intervals, one.Intervals) {
		t.Errorf("intervals: merged %v; single %v", merged.Intervals, one.Intervals)
	}
	if !reflect.DeepEqual(merged.Thresholds, one.Thresholds) || merged.Exit != one.Exit {
		t.Errorf("thresholds: merged %+v (exit %d); single %+v (exit %d)", merged.Thresholds, merged.Exit, one.Thresholds, one.Exit)
	}
	if one.Counters[OutOfRange] == 0 {
		t.Errorf("no out-of-range sample: the Pareto tail should pass an hour at least once")
	}

	// Every bucket of every whole-run histogram, as read back from the .hlog files.
	hOne, err := ReadHistograms(filepath.Join(root, "single"))
	if err != nil {
		t.Fatal(err)
	}
	hMerged, err := ReadHistograms(filepath.Join(root, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hOne) != 8 || len(hMerged) != len(hOne) {
		t.Fatalf("tags: single %d, merged %d; want 8", len(hOne), len(hMerged))
	}
	for tag, h := range hOne {
		m := hMerged[tag]
		if m == nil || !slices.Equal(m.Export().Counts, h.Export().Counts) || m.TotalCount() != h.TotalCount() {
			t.Errorf("%s: merged histogram differs from the single run's", tag)
			continue
		}
		for q := 0.0; q <= 100; q += 0.5 {
			if a, b := m.ValueAtQuantile(q), h.ValueAtQuantile(q); a != b {
				t.Errorf("%s p%v: merged %d µs, single %d µs", tag, q, a, b)
			}
		}
	}
	// The interval logs hold the same histograms: one line per metric, kind and interval
	// that had samples, none for one that had none.
	if a, b := histogramLines(t, filepath.Join(root, "single", LogFile)), histogramLines(t, filepath.Join(root, "merged", LogFile)); a != b || a < 8*10 {
		t.Errorf("interval logs: the single run's has %d histograms, the merge's %d; want the same, at least 80 (8 tags, 10 intervals)", a, b)
	}
	// The .hgrm files are byte for byte the same.
	for tag := range hOne {
		a := readFile(t, filepath.Join(root, "single", tag+HgrmSuffix))
		b := readFile(t, filepath.Join(root, "merged", tag+HgrmSuffix))
		if !bytes.Equal(a, b) {
			t.Errorf("%s%s differs between the single run and the merge", tag, HgrmSuffix)
		}
	}
	if len(merged.Agents) != 3 || len(merged.Warnings) != 0 || merged.Info.Agent != "merge of 3 folders" {
		t.Errorf("merged agents %d, warnings %v, agent %q; want 3, none, \"merge of 3 folders\"",
			len(merged.Agents), merged.Warnings, merged.Info.Agent)
	}
	// A merge of merges is a merge too: (a+b) + c = a + b + c.
	ab, err := Merge(filepath.Join(root, "ab"), dirs[:2], nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ab
	abc, err := Merge(filepath.Join(root, "abc"), []string{filepath.Join(root, "ab"), dirs[2]}, thresholds)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(abc.Metrics, one.Metrics) || !reflect.DeepEqual(abc.Counters, one.Counters) {
		t.Errorf("a merge of a merge differs from the single run")
	}
}

// TestMergeAlignsAgentsStartedApart: agents that started up to half an interval apart share
// intervals on the grid; whole-run figures are still exact.
func TestMergeAlignsAgentsStartedApart(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	iv := time.Second
	offsets := []time.Duration{0, 300 * time.Millisecond, -400 * time.Millisecond}
	single := NewRecorder(Options{Start: t0})
	var dirs []string
	for i, off := range offsets {
		start := t0.Add(off)
		r := NewRecorder(Options{Start: start, Interval: iv})
		for k := range 5 { // one sample per second, 1+i ms each
			recv := start.Add(time.Duration(k)*iv + 100*time.Millisecond)
			lat := time.Duration(1+i) * time.Millisecond
			r.Record(Connect, i, recv.Add(-lat), recv.Add(-lat), recv)
			single.Record(Connect, i, recv.Add(-lat), recv.Add(-lat), recv)
			r.Tick(start.Add(time.Duration(k+1) * iv))
		}
		dir := filepath.Join(root, string(rune('a'+i)))
		if _, err := WriteResults(dir, RunInfo{Agent: dir, Shard: string(rune('1'+i)) + "/4"}, r.Finish(start.Add(5*iv)), nil); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	one, err := WriteResults(filepath.Join(root, "single"), RunInfo{}, single.Finish(t0.Add(6*iv)), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(filepath.Join(root, "merged"), dirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Start.Equal(t0.Add(-400*time.Millisecond)) || !m.End.Equal(t0.Add(5300*time.Millisecond)) {
		t.Errorf("merged start, end = %v, %v; want the earliest start and the latest end", m.Start, m.End)
	}
	if got, want := m.Metric(Connect).Corrected, one.Metric(Connect).Corrected; !reflect.DeepEqual(got, want) {
		t.Errorf("merged stats %+v; want %+v", got, want)
	}
	// agents at +0.3 s and −0.4 s round to the grid of the agent at 0: five shared intervals
	if n := len(m.Intervals); n != 5 {
		t.Errorf("merged intervals = %d; want 5", n)
	}
	for _, p := range m.Metric(Connect).Series {
		if p.Count != 3 {
			t.Errorf("interval at %vs has %d samples; want 3 (one per agent)", p.T, p.Count)
		}
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "3 of 4 shards") {
		t.Errorf("warnings = %q; want one about 3 of 4 shards", m.Warnings)
	}
}

func TestMergeErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(name string, iv time.Duration, shard string) string {
		r := NewRecorder(Options{Start: t0, Interval: iv})
		r.Record(Connect, 0, at(1), at(1), at(2))
		dir := filepath.Join(root, name)
		if _, err := WriteResults(dir, RunInfo{Agent: name, Shard: shard}, r.Finish(at(2000)), nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a := write("a", time.Second, "1/2")
	b := write("b", time.Second, "1/2")
	c := write("c", 2*time.Second, "2/2")
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		out     string
		in      []string
		wantErr string
	}{
		{filepath.Join(root, "m1"), nil, "no results folder"},                                            // nothing to merge
		{filepath.Join(root, "m2"), []string{a, c}, "same interval"},                                     // 1 s and 2 s intervals
		{filepath.Join(root, "m3"), []string{a, a}, "same folder"},                                       // one folder twice
		{filepath.Join(root, "m4"), []string{a, b}, "shard 1/2 appears twice (" + a + " and " + b + ")"}, // two agents, one shard: their folders named
		{a, []string{a, c}, "also an input"},                                                             // overwriting an input
		{filepath.Join(root, "m5"), []string{empty}, "summary.json"},                                     // not a results folder
	} {
		_, err := Merge(tt.out, tt.in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Merge(%s, %v) = %v; want an error about %q", filepath.Base(tt.out), tt.in, err, tt.wantErr)
		}
	}
}

// TestMergeDifferentRuns: agents that ran different scenarios merge, with a warning.
func TestMergeDifferentRuns(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var dirs []string
	for i, scenario := range []string{"pk", "fanout"} {
		r := NewRecorder(Options{Start: t0})
		r.Record(Connect, 0, at(1), at(1), at(2))
		r.Set(MemoryPerConnection, float64(1000*(i+1)))
		r.Set(ConnectionsOpen, 10)
		dir := filepath.Join(root, scenario)
		if _, err := WriteResults(dir, RunInfo{Scenario: scenario, Targets: []string{"ws://" + scenario}}, r.Finish(at(1000)), nil); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	m, err := Merge(filepath.Join(root, "m"), dirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], `different scenario: "pk", "fanout"`) {
		t.Errorf("warnings = %q; want one naming both scenarios", m.Warnings)
	}
	if !slices.Equal(m.Info.Targets, []string{"ws://pk", "ws://fanout"}) {
		t.Errorf("targets = %v; want both", m.Info.Targets)
	}
	if m.Gauges[ConnectionsOpen] != 20 || m.Gauges[MemoryPerConnection] != 1500 {
		t.Errorf("gauges = %v; want connections summed (20) and memory per connection averaged (1500)", m.Gauges)
	}
}

// mustParse parses thresholds or fails the test.
func mustParse(t testing.TB, exprs ...string) []Threshold {
	t.Helper()
	ts, err := ParseThresholds(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// readFile reads a file or fails the test.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricNames lists a summary's metric names.
func metricNames(s *Summary) []string {
	var out []string
	for _, m := range s.Metrics {
		out = append(out, m.Name)
	}
	return out
}

// TestGridOf: a start time goes to the nearest multiple of the interval, a half up, before
// 1970 as after it.
func TestGridOf(t *testing.T) {
	for _, tt := range []struct{ ms, want int64 }{
		{0, 0}, {499, 0}, {500, 1000}, {1499, 1000}, {1500, 2000},
		{-1, 0}, {-500, 0}, {-501, -1000}, {-1500, -1000}, {-1501, -2000}, {-2000, -2000},
	} {
		if got := gridOf(tt.ms, 1000); got != tt.want {
			t.Errorf("gridOf(%d, 1000) = %d; want %d", tt.ms, got, tt.want)
		}
	}
}

// histogramLines counts the histograms of an .hlog file: its lines other than comments and
// the legend.
func histogramLines(t *testing.T, path string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "\"StartTimestamp\"") {
			n++
		}
	}
	return n
}

// TestMergeToleratesAMillisecond: an interval's histogram may start a millisecond off the
// time its summary gives it (each is rounded to the millisecond on its own) and still merges;
// two milliseconds off is an error naming the histogram.
func TestMergeToleratesAMillisecond(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		shift time.Duration
		ok    bool
	}{
		{time.Millisecond, true}, {-time.Millisecond, true},
		{2 * time.Millisecond, false}, {-2 * time.Millisecond, false},
	} {
		t.Run(tt.shift.String(), func(t *testing.T) {
			root := t.TempDir()
			r := NewRecorder(Options{Start: t0, Interval: time.Second})
			r.Record(Connect, 0, at(100), at(100), at(102))
			dir := filepath.Join(root, "a")
			if _, err := WriteResults(dir, RunInfo{Agent: "a"}, r.Finish(at(1000)), nil); err != nil {
				t.Fatal(err)
			}
			s, err := ReadSummary(dir)
			if err != nil {
				t.Fatal(err)
			}
			s.Start = s.Start.Add(tt.shift) // the summary's times move; the log's do not
			if err := WriteSummary(dir, s); err != nil {
				t.Fatal(err)
			}
			_, err = Merge(filepath.Join(root, "m"), []string{dir}, nil)
			if tt.ok && err != nil {
				t.Errorf("a histogram %v off its interval: %v; want it merged", tt.shift, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "in no interval")) {
				t.Errorf("a histogram %v off its interval: %v; want an error, in no interval", tt.shift, err)
			}
		})
	}
}
