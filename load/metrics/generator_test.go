package metrics

import (
	"strings"
	"testing"
)

// judged builds a summary with the generator's figures and the given losses and threshold
// failures, and judges it.
func judged(cpuShare, lagP99 float64, lost int64) *Summary {
	s := &Summary{
		Counters: map[string]int64{Ops: 1000, Lost: lost, FramesReceived: 4000},
		Gauges:   map[string]float64{GeneratorCPUSeconds: 2, GeneratorCPUSystem: 0.5, GeneratorCPUPerCore: cpuShare, GeneratorCores: 2},
		Metrics:  []MetricSummary{{Name: GeneratorLag, Corrected: Stats{Count: 100, P99: lagP99, Max: lagP99 + 1}}},
	}
	s.Generator = generatorReport(s)
	s.Thresholds = Evaluate(s, nil)
	return s
}

func TestGeneratorVerdictAndExit(t *testing.T) {
	for _, tt := range []struct {
		name       string
		share, lag float64
		lost       int64
		bottleneck bool
		exit       int
		reason     string // a part of the verdict
	}{
		{"kept up", 0.5, 1, 0, false, ExitOK, "kept up: 50% of its CPU, wake-up lag p99 1.0 ms"},
		{"just under both limits", 0.899, 19.9, 0, false, ExitOK, "kept up"},
		{"CPU at the limit", 0.9, 1, 0, true, ExitGenerator, "it used 90% of the CPU it may use (90% or more"},
		{"lag at the limit", 0.3, 20, 0, true, ExitGenerator, "20.0 ms late"},
		// A saturated generator makes its own losses: its verdict wins over ExitLost.
		{"saturated and losing", 0.95, 30, 7, true, ExitGenerator, "BOTTLENECK"},
		{"losing, generator fine", 0.5, 1, 7, false, ExitLost, "kept up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := judged(tt.share, tt.lag, tt.lost)
			if s.Generator.Bottleneck != tt.bottleneck || s.ExitCode() != tt.exit {
				t.Errorf("bottleneck %v, exit %d; want %v, %d (%s)", s.Generator.Bottleneck, s.ExitCode(), tt.bottleneck, tt.exit, s.Generator.Verdict())
			}
			if !strings.Contains(s.Generator.Verdict(), tt.reason) {
				t.Errorf("verdict %q; want it to say %q", s.Generator.Verdict(), tt.reason)
			}
			if got := s.Generator.PerFrame; got != 500 {
				t.Errorf("CPU per frame %v µs; want 500 (2 s over 4000 frames)", got)
			}
			if got := s.Generator.SystemPerFrame; got != 125 {
				t.Errorf("system CPU per frame %v µs; want 125 (0.5 s over 4000 frames)", got)
			}
		})
	}
	// Figures, but the run says not to judge: no rule, the reason shown.
	nj := judged(0.99, 50, 0)
	nj.Info.NotJudged = "the embedded reference server shares its process"
	nj.Generator = generatorReport(nj)
	if nj.Generator.Bottleneck || len(Evaluate(nj, nil)) != len(builtinThresholds) || !strings.Contains(nj.Generator.Verdict(), "embedded") {
		t.Errorf("a run not to be judged: %+v, verdict %q", nj.Generator, nj.Generator.Verdict())
	}
	// No frames received: no CPU a frame (a division by none would put NaN in summary.json,
	// which JSON cannot carry).
	nf := judged(0.5, 1, 0)
	nf.Counters[FramesReceived] = 0
	nf.Generator = generatorReport(nf)
	if nf.Generator.PerFrame != 0 || nf.Generator.SystemPerFrame != 0 {
		t.Errorf("no frames: CPU a frame %v, system %v; want 0 and 0", nf.Generator.PerFrame, nf.Generator.SystemPerFrame)
	}
	// No figures: not judged, and no rule.
	s := &Summary{Counters: map[string]int64{}, Gauges: map[string]float64{}}
	s.Generator = generatorReport(s)
	if s.Generator.Unknown == "" || len(Evaluate(s, nil)) != len(builtinThresholds) {
		t.Errorf("a summary without the generator's figures: %+v, %d rules", s.Generator, len(Evaluate(s, nil)))
	}
}

// The text summary says how much of the generator's CPU a frame the kernel spent, when the
// run recorded it, and says nothing of it when it did not (a run of an older version).
func TestGeneratorLineSplitsTheKernel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		system float64 // the gauge; -1: not recorded
		want   string
		not    string
	}{
		{"recorded", 0.5, "CPU 2.00 s in the measured phase (50% of 2 cores), 500.0 µs a frame received (4000 frames; of it 125.0 µs in the kernel)", ""},
		{"not recorded", -1, "500.0 µs a frame received (4000 frames)", "in the kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := judged(0.5, 1, 0)
			if tc.system < 0 {
				delete(s.Gauges, GeneratorCPUSystem)
			}
			s.Generator = generatorReport(s)
			var b strings.Builder
			if err := WriteTable(&b, s); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want) || (tc.not != "" && strings.Contains(b.String(), tc.not)) {
				t.Errorf("the summary's generator line: want %q, not %q:\n%s", tc.want, tc.not, b.String())
			}
		})
	}
}
