package reports

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/load/metrics"
)

func TestCapacityReport(t *testing.T) {
	c := &metrics.Capacity{
		Scenario: "fanout", Param: "gift_rate", Unit: "gifts/s", Metric: metrics.ScoreFanout, StepLength: 20,
		SLO: []string{"score_fanout.p99 < 200ms", "score_fanout.p99 < 50ms", "errors.rate < 0.1%"}, Command: []string{"capacity", "-scenario", "fanout"},
		Steps: []metrics.CapacityStep{
			{Rate: 10, Held: true, Achieved: 4500, P50: 2, P99: 8, Generator: &metrics.GeneratorReport{CPUShare: 0.2, LagP99: 1}},
			{Rate: 40, Held: false, Achieved: 15000, P50: 30, P99: 120, Failed: []string{"score_fanout.p99 < 50ms (observed 120ms)"}, Generator: &metrics.GeneratorReport{CPUShare: 0.4, LagP99: 2}},
			{Rate: 20, Held: true, Achieved: 9000, P50: 3, P99: 20, Generator: &metrics.GeneratorReport{CPUShare: 0.3, LagP99: 1}},
		},
	}
	c.Judge()
	var buf bytes.Buffer
	if err := WriteCapacityReport(&buf, c); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	checkHTML(t, buf.Bytes())
	for _, want := range []string{"knee: 20 gifts/s", "the server gave way first", "breaks: score_fanout.p99 &lt; 50ms (observed 120ms)", ">SLO<", ">knee<"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The SLO line is drawn at the tightest bound, 50 ms, not the scenario's 200 ms: a
	// horizontal polyline whose two points share their y.
	v := newCapacityView(c)
	slo := v.Latency.Series[2]
	if slo.Name != "SLO" || len(slo.Lines) != 1 {
		t.Fatalf("series 2 is %q with %d lines; want the SLO line", slo.Name, len(slo.Lines))
	}
	var top *svgTick
	for i := range v.Latency.YTicks {
		if v.Latency.YTicks[i].Label == "50" {
			top = &v.Latency.YTicks[i]
		}
	}
	if top == nil || !strings.HasSuffix(strings.Fields(slo.Lines[0])[0], ","+strconv.FormatFloat(top.Y1, 'f', -1, 64)) {
		t.Errorf("the SLO line %q is not at the 50 ms tick (%+v)", slo.Lines[0], top)
	}
}
