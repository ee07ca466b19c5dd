package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestCapacityJudge(t *testing.T) {
	kept := &GeneratorReport{CPUShare: 0.3, LagP99: 1}
	saturated := &GeneratorReport{Bottleneck: true, CPUShare: 0.95, Reasons: []string{"it ran out of CPU"}}
	notJudged := &GeneratorReport{Unknown: "the embedded reference server shares its process"}
	crowded := &GeneratorReport{Bottleneck: true, Crowded: true, CPUShare: 0.14, MachineBusy: 0.99, Reasons: []string{"the machine's CPU was 99% busy"}}
	step := func(rate float64, held bool, g *GeneratorReport) CapacityStep {
		return CapacityStep{Rate: rate, Held: held, Generator: g}
	}
	for _, tt := range []struct {
		name        string
		steps       []CapacityStep
		knee, brk   float64 // 0: none
		saturated   string
		whyContains string
	}{
		{"all held", []CapacityStep{step(10, true, kept), step(20, true, kept)}, 20, 0, SideNone, "search higher"},
		{"the server broke", []CapacityStep{step(10, true, kept), step(20, false, kept), step(15, true, kept)}, 15, 20, SideServer, "server gave way"},
		{"the generator broke", []CapacityStep{step(10, true, kept), step(20, false, saturated)}, 10, 20, SideGenerator, "generator gave way"},
		{"the shared machine broke", []CapacityStep{step(10, true, kept), step(20, false, crowded)}, 10, 20, SideMachine, "the machine gave way first"},
		{"crowded above the break only", []CapacityStep{step(10, true, kept), step(20, false, kept), step(40, false, crowded)}, 10, 20, SideServer, "server gave way"},
		{"not judged", []CapacityStep{step(10, true, notJudged), step(20, false, notJudged)}, 10, 20, SideUnknown, "not known"},
		{"none held", []CapacityStep{step(10, false, kept)}, 0, 10, SideServer, "server gave way"},
		// A rate that held above a lower one that broke is no knee: the knee is below the break.
		{"not monotonic", []CapacityStep{step(10, true, kept), step(20, false, kept), step(40, true, kept)}, 10, 20, SideServer, "server"},
		// Given from the highest down: the break is the lowest rate that broke, whatever the order.
		{"two breaks, the higher first", []CapacityStep{step(40, false, saturated), step(20, false, kept), step(10, true, kept), step(15, true, kept)}, 15, 20, SideServer, "server gave way"},
		// A rate tried twice that held once and broke once is no knee.
		{"held and broke at one rate", []CapacityStep{step(10, true, kept), step(20, true, kept), step(20, false, kept)}, 10, 20, SideServer, "server"},
		{"a step that could not run", []CapacityStep{step(10, true, kept), {Rate: 20, ErrorText: "the run exited 1"}}, 10, 20, SideUnknown, "could not run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Capacity{Steps: tt.steps}
			c.Judge()
			knee, brk := 0.0, 0.0
			if c.Knee != nil {
				knee = c.Knee.Rate
			}
			if c.Break != nil {
				brk = c.Break.Rate
			}
			if knee != tt.knee || brk != tt.brk || c.Saturated != tt.saturated {
				t.Errorf("knee %v, break %v, saturated %q; want %v, %v, %q", knee, brk, c.Saturated, tt.knee, tt.brk, tt.saturated)
			}
			if !contains(c.Why, tt.whyContains) {
				t.Errorf("why %q; want it to say %q", c.Why, tt.whyContains)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestStepFrom: a step's latencies are the metric's corrected ones, its achieved rate the
// metric's count over the measured phase alone, its failures each failed threshold with
// what was observed, and it held only when the run's exit status was OK.
func TestStepFrom(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	summary := func(pass bool, phases ...Phase) *Summary {
		return &Summary{
			Counters: map[string]int64{Lost: 0, Errors: 2},
			Metrics: []MetricSummary{
				{Name: "other", Corrected: Stats{Count: 99, P50: 1, P99: 1}},
				{Name: "score_fanout", Corrected: Stats{Count: 600, P50: 2.5, P99: 9}, Service: Stats{Count: 600, P50: 1, P99: 2}},
			},
			Phases:     phases,
			Thresholds: []ThresholdResult{{Expr: "score_fanout.p99 < 5ms", Text: "9ms", Pass: pass}, {Expr: "errors.count < 10", Text: "2", Pass: true}},
		}
	}
	ramp := Phase{Name: "ramp", Start: start, End: start.Add(30 * time.Second)}
	measured := Phase{Name: PhaseMeasured, Start: start.Add(30 * time.Second), End: start.Add(90 * time.Second)}

	st := StepFrom(120, "step-1", "score_fanout", summary(false, ramp, measured))
	if st.P50 != 2.5 || st.P99 != 9 || st.Achieved != 10 || st.Errors != 2 || st.Rate != 120 || st.Dir != "step-1" {
		t.Errorf("step %+v; want p50 2.5, p99 9 (corrected), achieved 10/s (600 over the 60 s measured), 2 errors", st)
	}
	if st.Held || st.Exit != ExitThresholds || len(st.Failed) != 1 || st.Failed[0] != "score_fanout.p99 < 5ms (observed 9ms)" {
		t.Errorf("held %v, exit %d, failed %q; want not held, exit %d, the failed threshold with what was observed", st.Held, st.Exit, st.Failed, ExitThresholds)
	}
	if st := StepFrom(120, "", "score_fanout", summary(true, measured)); !st.Held || st.Exit != ExitOK || len(st.Failed) != 0 {
		t.Errorf("every threshold passed: held %v, exit %d, failed %q; want held", st.Held, st.Exit, st.Failed)
	}
	// A measured phase that never ran (its end not after its start) gives no rate, not a
	// division by nothing; a metric the run did not record gives no figures.
	empty := Phase{Name: PhaseMeasured, Start: start, End: start}
	if st := StepFrom(120, "", "score_fanout", summary(true, empty)); st.Achieved != 0 || st.P99 != 9 {
		t.Errorf("an empty measured phase: achieved %v, p99 %v; want 0 and 9", st.Achieved, st.P99)
	}
	if st := StepFrom(120, "", "missing", summary(true, measured)); st.Achieved != 0 || st.P50 != 0 || st.P99 != 0 {
		t.Errorf("a metric not recorded: %+v; want no figures", st)
	}
}
