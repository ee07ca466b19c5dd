package metrics

import (
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

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

// TestFillNilKeepsWhatIsThere: fillNil gives a summary's empty lists and maps a value (so that
// summary.json has [] and {}, not null) and leaves the filled ones as they are.
func TestFillNilKeepsWhatIsThere(t *testing.T) {
	full := &Summary{
		Info:     RunInfo{Targets: []string{"ws://x"}, Parameters: map[string]string{"hosts": "9"}},
		Agents:   []AgentInfo{{Agent: "a"}},
		Warnings: []string{"w"},
		Phases:   []Phase{{Name: PhaseMeasured}},
		Metrics:  []MetricSummary{{Name: Connect, Series: []Point{{Count: 1}}}},
		Counters: map[string]int64{Ops: 1},
	}
	full.fillNil()
	if full.Info.Targets[0] != "ws://x" || full.Info.Parameters["hosts"] != "9" || len(full.Agents) != 1 || len(full.Warnings) != 1 ||
		len(full.Phases) != 1 || len(full.Metrics[0].Series) != 1 || full.Counters[Ops] != 1 {
		t.Errorf("fillNil changed a filled summary: %+v", full)
	}
	empty := &Summary{Metrics: []MetricSummary{{Name: Connect}}}
	empty.fillNil()
	if empty.Info.Targets == nil || empty.Info.Parameters == nil || empty.Agents == nil || empty.Warnings == nil ||
		empty.Phases == nil || empty.Metrics[0].Series == nil || empty.Counters == nil {
		t.Errorf("fillNil left a nil list or map: %+v", empty)
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
