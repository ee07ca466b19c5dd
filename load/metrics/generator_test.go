package metrics

import (
	"fmt"
	"strings"
	"testing"
)

// judged builds a summary with the generator's figures and the given losses and threshold
// failures, and judges it.
func judged(cpuShare, lagP99 float64, lost int64) *Summary {
	return judgedOn(cpuShare, lagP99, 0, lost)
}

// judgedOn is judged on a machine whose CPU was busy that share of the time (0: not known,
// as where /proc/stat cannot be read).
func judgedOn(cpuShare, lagP99, machineBusy float64, lost int64) *Summary {
	s := &Summary{
		Counters: map[string]int64{Ops: 1000, Lost: lost, FramesReceived: 4000},
		Gauges:   map[string]float64{GeneratorCPUSeconds: 2, GeneratorCPUSystem: 0.5, GeneratorCPUPerCore: cpuShare, GeneratorCores: 2},
		Metrics:  []MetricSummary{{Name: GeneratorLag, Corrected: Stats{Count: 100, P99: lagP99, Max: lagP99 + 1}}},
	}
	if machineBusy > 0 {
		s.Gauges[MachineBusyPerCore] = machineBusy
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

// A generator behind its schedule that used little of its own CPU on a machine busy to the
// limit was crowded out by the processes beside it: still the run's bottleneck (exit 5), but
// told apart, with advice that more agents on that machine would not follow. Its own
// shortage of CPU wins; a machine not known to be busy gives the plain verdict.
func TestGeneratorCrowdedOutByTheMachine(t *testing.T) {
	for _, tt := range []struct {
		name             string
		share, lag       float64
		busy             float64 // 0: not known
		bottleneck       bool
		crowded          bool
		say, notSay, why string
	}{
		{"lagging on a busy machine", 0.14, 60.8, 0.98, true, true,
			"it used 14% of the CPU it may use while the machine's CPU was 98% busy", "add agents", "crowded out"},
		{"busy machine at the limit", 0.3, 20, 0.9, true, true, "give the generator CPU of its own", "add agents", "crowded out"},
		{"busy machine just under the limit", 0.3, 20, 0.899, true, false, "add agents on other machines", "machine's CPU was", "describe itself"},
		{"machine not known", 0.3, 20, 0, true, false, "add agents on other machines", "machine's CPU was", "describe itself"},
		{"its own CPU spent as well", 0.95, 60, 0.99, true, false, "it ran out of CPU", "give the generator CPU of its own", "describe itself"},
		{"on time on a busy machine", 0.5, 19.9, 1, false, false, "kept up: 50% of its CPU, wake-up lag p99 19.9 ms, the machine 100% busy", "BOTTLENECK", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := judgedOn(tt.share, tt.lag, tt.busy, 0)
			g := s.Generator
			if g.Bottleneck != tt.bottleneck || g.Crowded != tt.crowded || g.MachineBusy != tt.busy {
				t.Fatalf("bottleneck %v, crowded %v, machine busy %v; want %v, %v, %v (%s)", g.Bottleneck, g.Crowded, g.MachineBusy, tt.bottleneck, tt.crowded, tt.busy, g.Verdict())
			}
			if v := g.Verdict(); !strings.Contains(v, tt.say) || strings.Contains(v, tt.notSay) {
				t.Errorf("verdict %q; want it to say %q and not %q", v, tt.say, tt.notSay)
			}
			var b strings.Builder
			if err := WriteTable(&b, s); err != nil {
				t.Fatal(err)
			}
			table := b.String()
			if tt.bottleneck && (!strings.Contains(table, "verdict: NOT TRUSTWORTHY: "+g.Why()+" (exit 5)") || !strings.Contains(g.Why(), tt.why)) {
				t.Errorf("the table's verdict with why %q (want it to say %q):\n%s", g.Why(), tt.why, table)
			}
			busyFigure := fmt.Sprintf("%g cores; the machine's CPU %.0f%% busy)", 2.0, 100*tt.busy)
			if strings.Contains(table, busyFigure) != (tt.busy > 0) {
				t.Errorf("the generator's CPU line should say %q only when the machine's share is known:\n%s", busyFigure, table)
			}
		})
	}
}
