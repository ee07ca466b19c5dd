package metrics

import (
	"fmt"
	"strings"
	"time"
)

// The load generator's account of itself. A generator that saturates before the server
// measures itself: its latencies then describe the generator, not the server. Each agent
// records, over the measured phase, its CPU time and the lag of its own scheduling (a
// goroutine asking to wake every GeneratorLagTick, recorded as the metric GeneratorLag);
// the summary judges from them whether the generator was the bottleneck, says so, and fails
// the run with ExitGenerator.
const (
	GeneratorLag         = "generator_lag"                // metric: how late the generator's own wake-ups were
	GeneratorCPUSeconds  = "generator.cpu_seconds"        // gauge: CPU the generator used in the measured phase (summed over agents)
	GeneratorCPUSystem   = "generator.cpu_system_seconds" // gauge: of it, the kernel's time on its behalf (system time; summed over agents)
	GeneratorCPUPerCore  = "generator.cpu_per_core"       // gauge: that CPU over the cores it may use and the phase's length (averaged over agents)
	GeneratorCores       = "generator.cores"              // gauge: the cores it may use (GOMAXPROCS), summed over agents
	GeneratorLagTick     = 10 * time.Millisecond          // how often the lag is sampled
	GeneratorMaxCPUShare = 0.9                            // at or over this share of its cores, the generator was the bottleneck
	GeneratorMaxLagP99   = 20 * time.Millisecond          // at or over this p99 lag, likewise
)

// Phase names of a run: the population connects (ramp), the scenario runs and is measured,
// the drain waits for what is on its way.
const (
	PhaseRamp     = "ramp"
	PhaseMeasured = "measured"
	PhaseDrain    = "drain"
)

// Phase is a named part of a run, in wall-clock time.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// GeneratorReport is the generator's account of itself over the measured phase.
type GeneratorReport struct {
	CPUSeconds float64  `json:"cpu_s"`             // CPU used, all agents
	CPUShare   float64  `json:"cpu_share"`         // of the cores each agent may use, averaged over agents
	LagP99     float64  `json:"lag_p99_ms"`        // p99 of its wake-up lag, ms (all agents)
	LagMax     float64  `json:"lag_max_ms"`        // the worst wake-up lag, ms
	Late       int64    `json:"late"`              // sends made more than 10 ms after their time
	Bottleneck bool     `json:"bottleneck"`        // the generator, not the server, limited the run
	Reasons    []string `json:"reasons,omitempty"` // why it was judged the bottleneck
	Unknown    string   `json:"unknown,omitempty"` // why nothing could be judged (no figures recorded)
	Samples    int64    `json:"lag_samples"`       // lag samples behind LagP99
	Cores      float64  `json:"cores"`             // cores the agents could use, in all
	Frames     int64    `json:"frames,omitempty"`  // frames received in the measured phase, all agents
	PerFrame   float64  `json:"cpu_us_per_frame"`  // CPU per frame received, µs (0 when no frame was counted)
	// System is the part of CPUSeconds spent in the kernel (system time): receiving a frame
	// costs the kernel the same whatever reads it (TCP, its acknowledgement, the firewall's
	// connection tracking), so the rest is the generator's own code. SystemPerFrame is it
	// per frame received, µs. Both 0 when it was not recorded (an older run).
	System         float64 `json:"cpu_system_s,omitempty"`
	SystemPerFrame float64 `json:"cpu_system_us_per_frame,omitempty"`
	// MachineBusy is the share of the whole machine's CPU that was busy in the measured phase
	// (MachineBusyPerCore; 0 where it could not be read). Crowded says why a generator that
	// fell behind its schedule did: it used less than GeneratorMaxCPUShare of its own CPU
	// while the machine was MachineMaxBusy busy or more, so processes beside it (other
	// agents, a server under test on the same machine) held the CPU it waited for. A
	// crowded generator is still the bottleneck of the run (its sends and reads were late),
	// but more agents on the same machine would not help it.
	MachineBusy float64 `json:"machine_busy,omitempty"`
	Crowded     bool    `json:"crowded,omitempty"`
}

// FramesReceived and BytesReceived count the frames the generator received in the measured
// phase, and their bytes: the denominator of GeneratorReport.PerFrame, and the frames' size.
const (
	FramesReceived = "frames.received"
	BytesReceived  = "frames.bytes"
)

// generatorReport judges the generator from a summary's gauges, counters and GeneratorLag
// metric. A summary without those figures (an older run, a bare reader) gets Unknown.
func generatorReport(s *Summary) *GeneratorReport {
	cpu, ok := s.Gauges[GeneratorCPUSeconds]
	lag := s.Metric(GeneratorLag)
	if !ok || lag == nil {
		return &GeneratorReport{Unknown: "no figures of its own"}
	}
	st := lag.Stats(Corrected)
	g := &GeneratorReport{
		CPUSeconds: cpu, CPUShare: s.Gauges[GeneratorCPUPerCore], Cores: s.Gauges[GeneratorCores],
		LagP99: st.P99, LagMax: st.Max, Samples: st.Count, Late: s.Counters[Late], Frames: s.Counters[FramesReceived],
		System: s.Gauges[GeneratorCPUSystem], MachineBusy: s.Gauges[MachineBusyPerCore],
	}
	if g.Frames > 0 {
		g.PerFrame = g.CPUSeconds * 1e6 / float64(g.Frames)
		g.SystemPerFrame = g.System * 1e6 / float64(g.Frames)
	}
	if s.Info.NotJudged != "" {
		g.Unknown = s.Info.NotJudged
		return g
	}
	cpuBound := g.CPUShare >= GeneratorMaxCPUShare
	if cpuBound {
		g.Reasons = append(g.Reasons, fmt.Sprintf("it used %.0f%% of the CPU it may use (%.0f%% or more: it ran out of CPU)", 100*g.CPUShare, 100*GeneratorMaxCPUShare))
	}
	if g.LagP99 >= ms(GeneratorMaxLagP99) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("its own wake-ups were %.1f ms late at p99 (%v or more: its schedule slipped)", g.LagP99, GeneratorMaxLagP99))
		if !cpuBound && g.MachineBusy >= MachineMaxBusy {
			g.Crowded = true
			g.Reasons = append(g.Reasons, fmt.Sprintf("it used %.0f%% of the CPU it may use while the machine's CPU was %.0f%% busy (%.0f%% or more: processes beside it, such as other agents or a server under test on the same machine, held the CPU it waited for)", 100*g.CPUShare, 100*g.MachineBusy, 100*MachineMaxBusy))
		}
	}
	g.Bottleneck = len(g.Reasons) > 0
	return g
}

// Verdict is one line on the generator for people: whether it was the bottleneck, and why.
func (g *GeneratorReport) Verdict() string {
	switch {
	case g == nil:
		return "the load generator: not judged (no figures of its own)"
	case g.Unknown != "":
		return "the load generator: not judged (" + g.Unknown + ")"
	case g.Crowded:
		return "THE LOAD GENERATOR WAS THE BOTTLENECK, not the server: " + joinReasons(g.Reasons) + "; its latencies describe the machine: give the generator CPU of its own (another machine, or cores apart from the server's) or lower the load"
	case g.Bottleneck:
		return "THE LOAD GENERATOR WAS THE BOTTLENECK, not the server: " + joinReasons(g.Reasons) + "; its latencies describe itself: add agents on other machines (-shard i/n) or lower the load"
	}
	busy := ""
	if g.MachineBusy > 0 {
		busy = fmt.Sprintf(", the machine %.0f%% busy", 100*g.MachineBusy)
	}
	return fmt.Sprintf("the load generator kept up: %.0f%% of its CPU, wake-up lag p99 %.1f ms%s", 100*g.CPUShare, g.LagP99, busy)
}

// Why is the reason a run the generator was the bottleneck of is not trusted, in a few words
// for its verdict line: the generator's own shortage, or the machine's it shared.
func (g *GeneratorReport) Why() string {
	if g != nil && g.Crowded {
		return "the load generator was the bottleneck, crowded out by the processes beside it: its figures describe the machine, not the server"
	}
	return "the load generator was the bottleneck: its figures describe itself, not the server"
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }

// generatorRule is the built-in threshold result of the generator's verdict, or false when
// it could not be judged.
func generatorRule(s *Summary) (ThresholdResult, bool) {
	g := s.Generator
	if g == nil || g.Unknown != "" {
		return ThresholdResult{}, false
	}
	r := ThresholdResult{Expr: GeneratorRuleExpr, Text: "0", Pass: !g.Bottleneck, Builtin: true}
	if g.Bottleneck {
		r.Observed, r.Text, r.Reason = 1, "1", joinReasons(g.Reasons)
	}
	return r, true
}

// GeneratorRuleExpr is the built-in rule on the generator's verdict; when it fails the run
// exits with ExitGenerator.
const GeneratorRuleExpr = "generator.bottleneck == 0"

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
