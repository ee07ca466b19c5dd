package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tinyRun writes the smallest interesting results folder under dir: one sample of one
// metric, one counter, two intervals. Its files are short, so the fuzzer's mutations of them
// stay short and quick to minimize.
func tinyRun(tb testing.TB, dir string) (summary, log []byte) {
	tb.Helper()
	r := NewRecorder(Options{Start: t0})
	r.Record(Connect, 0, at(10), at(10), at(13))
	r.Add(Ops, 1)
	run := filepath.Join(dir, "tiny")
	if _, err := WriteResults(run, RunInfo{Agent: "a", Shard: "1/2"}, r.Finish(at(1500)), nil); err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(readFile(tb, filepath.Join(run, SummaryFile)), &doc); err != nil {
		tb.Fatal(err)
	}
	for _, k := range []string{"metrics", "thresholds", "passed", "exit_code", "duration_s", "warnings", "agents", "gauges"} {
		delete(doc, k) // Merge recomputes or defaults them
	}
	summary, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return summary, readFile(tb, filepath.Join(run, LogFile))
}

// thresholdSeeds are threshold expressions: the documented forms, then hostile ones.
var thresholdSeeds = []string{
	"score_fanout.p99 < 50ms", "score_fanout.service.p99.9 <= 20ms", "errors.rate < 0.1%", "lost.count == 0",
	"connect.p(95)<=500us", "connect.p95 > 250µs", "  battle_end.mean   <  12.5  ", "errors.100004.rate <= 0.0005",
	"connect.service.p100 < 2s", "dropped.rate < 1%", "x.p0 >= .5", "x.max == 1.",
	"", "=", "a.p101 < 1", "a.p99.999999999999999999999 < 1", "a.rate < 2", "a.count < 1ms", "a.service.rate < 1%",
	"a.p99 < " + strings.Repeat("9", 400), "a.p99 < 1e3", "a.p99 = 1", "a.p99 != 1", "a.p99 < -1", "a.p99 < NaN",
	"a..p99 < 1", ".p99 < 1", "a.p(99 < 1", "a.p99 < 1 ms ms", "a\x00.p99 < 1", "\xff.p99 < 1µs", "a.p99<<1",
}

// FuzzParseThreshold checks the threshold parser: it never panics; its errors wrap
// ErrBadThreshold; an accepted threshold has a known operator and statistic and a finite bound
// that is not negative, its normalized expression parses to the same threshold, and it
// evaluates on a real summary (and on none) without panicking.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range thresholdSeeds {
		f.Add(s)
	}
	_, summary := smallRun(f, "score_fanout.p99.9 < 50ms")
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := ParseThreshold(expr)
		if err != nil {
			if !errors.Is(err, ErrBadThreshold) {
				t.Fatalf("ParseThreshold(%q) = %v; want an ErrBadThreshold", expr, err)
			}
			return
		}
		switch th.Op {
		case "<", "<=", ">", ">=", "==":
		default:
			t.Fatalf("ParseThreshold(%q): operator %q", expr, th.Op)
		}
		if p, ok := th.percentile(); ok && (p < 0 || p > 100) || !ok && !isLatencyStat(th.Stat) && th.Stat != "count" && th.Stat != "rate" {
			t.Fatalf("ParseThreshold(%q): statistic %q", expr, th.Stat)
		}
		if math.IsNaN(th.Value) || math.IsInf(th.Value, 0) || th.Value < 0 || th.Stat == "rate" && th.Value > 1 {
			t.Fatalf("ParseThreshold(%q): bound %v", expr, th.Value)
		}
		again, err := ParseThreshold(th.Expr)
		if err != nil || !reflect.DeepEqual(again, th) {
			t.Fatalf("ParseThreshold(%q) = %+v; its expression %q parses to %+v, %v", expr, th, th.Expr, again, err)
		}
		for _, r := range Evaluate(summary, []Threshold{th}) {
			if r.Pass && r.Reason != "" {
				t.Fatalf("%s passes with a reason: %+v", th.Expr, r)
			}
		}
		_ = Evaluate(nil, []Threshold{th})
	})
}

// FuzzReadHistograms checks the .hlog reader on arbitrary files: it never panics, and every
// histogram it returns is tagged "<metric>.<kind>" and holds values in the recorder's range
// (1 µs .. 1 h, give or take the top bucket's width).
func FuzzReadHistograms(f *testing.F) {
	_, log := tinyRun(f, f.TempDir())
	f.Add(log)
	for _, s := range []string{
		"",
		"#[Histogram log format version 1.3]\n#[StartTime: 1700000000.000 (seconds since epoch)]\n",
		"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
		"Tag=a.corrected,0.0,1.0,1.0,HISTFAAAACB42pNpmSzMwMDAwQABTFCaEUzOmgESYH8CEWPsAAAnYgKX\n",
		"Tag=a.corrected,0.0,1.0,1.0,%%%\n",
		"Tag=a.corrected,nan,inf,-1,HISTFAAAAAA=\n",
		"0.000,1.000,1.000,HISTFAAAACB42pNpmSzMwMDAwQABTFCaEUzOmgESYH8CEWPsAAAnYgKX\n",
		"Tag=" + strings.Repeat("x", 5000) + "\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, log []byte) {
		if err := os.WriteFile(filepath.Join(dir, LogFile), log, 0o644); err != nil {
			t.Fatal(err)
		}
		hs, err := ReadHistograms(dir)
		if err != nil {
			return
		}
		for tag, h := range hs {
			if _, _, ok := splitTag(tag); !ok {
				t.Fatalf("ReadHistograms returned tag %q", tag)
			}
			if h.TotalCount() < 0 || h.TotalCount() > 0 && (h.Min() < lowestMicros || h.ValueAtQuantile(100) > 2*highestMicros) {
				t.Fatalf("%s: %d values %d..%d outside 1 µs .. 1 h", tag, h.TotalCount(), h.Min(), h.Max())
			}
			_ = h.ValueAtQuantile(99.9)
		}
	})
}

// FuzzMerge checks Merge on one agent's results folder whose summary.json and metrics.hlog
// are arbitrary: it never panics, and a merge it completes has a summary that reads back.
func FuzzMerge(f *testing.F) {
	summary, log := tinyRun(f, f.TempDir())
	f.Add(summary, log)
	f.Add(summary, []byte{})
	f.Add([]byte(strings.Replace(string(summary), `"interval_ms":1000`, `"interval_ms":1`, 1)), log)
	f.Add([]byte(strings.Replace(string(summary), `"interval_ms":1000`, `"interval_ms":-9223372036854775808`, 1)), log)
	f.Add([]byte(strings.Replace(string(summary), `"t":1`, `"t":1e300`, 1)), log)
	f.Add([]byte(`{"format":"x"}`), log)
	f.Add([]byte(`[]`), []byte("\xff"))
	dir := f.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.MkdirAll(in, 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, summary, log []byte) {
		if err := os.WriteFile(filepath.Join(in, SummaryFile), summary, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, LogFile), log, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Merge(out, []string{in}, nil)
		if err != nil {
			return
		}
		back, err := ReadSummary(out)
		if err != nil {
			t.Fatalf("Merge wrote a summary that does not read back: %v", err)
		}
		if back.IntervalMs != m.IntervalMs || len(back.Metrics) != len(m.Metrics) {
			t.Fatalf("Merge returned %d ms and %d metrics, wrote %d ms and %d", m.IntervalMs, len(m.Metrics), back.IntervalMs, len(back.Metrics))
		}
	})
}
