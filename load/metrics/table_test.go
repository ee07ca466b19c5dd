package metrics

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	t.Parallel()
	s := evalSummary()
	s.Info = RunInfo{Scenario: "pk-battles", Agent: "agent-1\nsecond line"}
	s.Start = t0
	s.Seconds = 30
	s.Metrics = append([]MetricSummary{{
		Name:      ReplyMetric("requestBattle"),
		Corrected: Stats{Count: 12, P50: 0.25, P90: 0.5, P99: 1.5, P999: 1.5, Max: 1.5},
		Service:   Stats{Count: 12, P50: 0.25, P90: 0.5, P99: 1.5, P999: 1.5, Max: 1.5},
	}}, s.Metrics...)
	s.Gauges[ConnectionsOpen] = 100
	s.Warnings = []string{"2 of 3 shards merged"}
	s.Thresholds = Evaluate(s, mustParse(t, "score_fanout.p99 < 30ms", "errors.rate < 0.1%"))
	var b strings.Builder
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	for _, tt := range []struct {
		re   string
		what string
	}{
		{`^pk-battles  agent-1 second line  30\.0s  2023-11-14 22:13:20Z$`, "title on one line (a line break in a name cannot split it)"},
		{`^warning: 2 of 3 shards merged$`, "warnings"},
		{`^latency \(ms\)\s+kind\s+count\s+p50\s+p90\s+p99\s+p99\.9\s+max$`, "latency header"},
		{`^reply\.requestBattle\s+corrected\s+12\s+0\.250\s+0\.500\s+1\.500\s+1\.500\s+1\.500$`, "reply metric, corrected"},
		{`^score_fanout\s+corrected\s+900\s+5\.000\s+20\.000\s+40\.000\s+60\.000\s+75\.000$`, "score_fanout corrected"},
		{`^\s+service\s+900\s+3\.000\s+8\.000\s+15\.000\s+25\.000\s+30\.000$`, "score_fanout service"},
		{`^errors\s+5\s+0\.05%\s*$`, "errors with their rate of ops"},
		{`^ops\s+10000\s*$`, "ops without a rate"},
		{`^connections\.open\s+100\s*$`, "gauge"},
		{`^score_fanout\.p99 < 30ms\s+40\.00ms\s+FAIL\s*$`, "failed threshold"},
		{`^errors\.rate < 0\.1%\s+0\.05%\s+PASS\s*$`, "passed threshold"},
		{`^lost\.count == 0 \(built-in\)\s+0\s+PASS\s*$`, "built-in rule"},
		{`^verdict: FAIL: thresholds breached \(exit 1\)$`, "verdict and exit code"},
	} {
		re := regexp.MustCompile(tt.re)
		found := false
		for _, l := range lines {
			found = found || re.MatchString(l)
		}
		if !found {
			t.Errorf("no line for %s (%s) in:\n%s", tt.what, tt.re, out)
		}
	}
	// The latency rows line up: they all have the header's width.
	var width int
	for _, l := range lines {
		if strings.HasPrefix(l, "latency (ms)") {
			width = len(l)
		} else if width > 0 && (strings.Contains(l, "corrected") || strings.Contains(l, "service")) && len(l) != width {
			t.Errorf("row %q is %d wide; want %d", l, len(l), width)
		}
	}
}

func TestWriteTableEmpty(t *testing.T) {
	t.Parallel()
	s := &Summary{Start: t0, End: t0.Add(time.Second)}
	s.fillNil()
	var b strings.Builder
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no latency samples", "lost.count == 0 (built-in)", "verdict: PASS (exit 0)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestOneLine: control characters (C0, DEL, C1) and the Unicode line and paragraph separators
// become spaces, so that text from a server cannot break a table's line; everything printable
// at the edges of those ranges stays.
func TestOneLine(t *testing.T) {
	in := "a\x1f \x7e\x7f\u0080\u009f\u00a0\u2027\u2028\u2029\nb"
	want := "a  \x7e  " + " " + "\u00a0\u2027" + "   b"
	if got := oneLine(in); got != want {
		t.Errorf("oneLine(%q) = %q; want %q", in, got, want)
	}
	if strings.ContainsAny(oneLine("x\r\ny\tz"), "\r\n\t") {
		t.Error("oneLine left a line break or tab")
	}
}

// TestTableWithNothingToDivideBy: with no ops the counters show no rate, and with no frames
// the generator's line shows no CPU a frame ("-"), never NaN or Inf.
func TestTableWithNothingToDivideBy(t *testing.T) {
	s := judged(0.5, 1, 0)
	s.Counters[Ops], s.Counters[FramesReceived], s.Counters[Errors] = 0, 0, 3
	s.Generator = generatorReport(s)
	var b strings.Builder
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") || !strings.Contains(out, "- a frame received (0 frames)") {
		t.Errorf("the table with no ops and no frames:\n%s\nwant no NaN or Inf, and '- a frame received (0 frames)'", out)
	}
}
