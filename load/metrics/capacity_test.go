package metrics

import (
	"strings"
	"testing"
)

func TestCapacityJudge(t *testing.T) {
	kept := &GeneratorReport{CPUShare: 0.3, LagP99: 1}
	saturated := &GeneratorReport{Bottleneck: true, CPUShare: 0.95, Reasons: []string{"it ran out of CPU"}}
	notJudged := &GeneratorReport{Unknown: "the embedded reference server shares its process"}
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
		{"not judged", []CapacityStep{step(10, true, notJudged), step(20, false, notJudged)}, 10, 20, SideUnknown, "not known"},
		{"none held", []CapacityStep{step(10, false, kept)}, 0, 10, SideServer, "server gave way"},
		// A rate that held above a lower one that broke is no knee: the knee is below the break.
		{"not monotonic", []CapacityStep{step(10, true, kept), step(20, false, kept), step(40, true, kept)}, 10, 20, SideServer, "server"},
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
