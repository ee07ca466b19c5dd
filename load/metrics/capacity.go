package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// CapacityFile is the capacity search's result in its folder.
const CapacityFile = "capacity.json"

// CapacityFormat is the Format of every capacity.json this package writes.
const CapacityFormat = "pkarena-load-capacity/1"

// Capacity is a capacity search: the same scenario run at rising rates of its open model
// until a threshold (the SLO) breaks. The knee is the highest rate that held.
type Capacity struct {
	Format     string         `json:"format"`
	Command    []string       `json:"command"`
	Scenario   string         `json:"scenario"`
	Param      string         `json:"param"`     // the scenario parameter stepped: gift_rate, cycle_rate
	Unit       string         `json:"unit"`      // of Param: "gifts/s", "cycles/s"
	Metric     string         `json:"metric"`    // the headline metric charted: score_fanout, invite_delivery
	SLO        []string       `json:"slo"`       // the thresholds every step is judged by (built-in rules too)
	Steps      []CapacityStep `json:"steps"`     // in the order run
	Knee       *CapacityStep  `json:"knee"`      // the highest rate that held; nil when none did
	Break      *CapacityStep  `json:"break"`     // the lowest rate that did not hold; nil when all did
	Saturated  string         `json:"saturated"` // which side gave way first: server, generator, machine, unknown, none
	Why        string         `json:"why"`       // in words
	End        time.Time      `json:"end"`
	StepLength float64        `json:"step_s"` // measured seconds per step
}

// Sides Capacity.Saturated names.
const (
	SideServer    = "server"
	SideGenerator = "generator"
	SideMachine   = "machine" // the generator crowded out (GeneratorReport.Crowded): the machine it shares gave way
	SideUnknown   = "unknown"
	SideNone      = "none"
)

// CapacityStep is one step: the rate offered and what came of it.
type CapacityStep struct {
	Rate      float64          `json:"rate"`            // the parameter's value
	Dir       string           `json:"dir"`             // the step's results folder
	Achieved  float64          `json:"achieved_per_s"`  // samples of Metric a second in the measured phase
	P50       float64          `json:"p50_ms"`          // Metric, corrected
	P99       float64          `json:"p99_ms"`          // Metric, corrected
	Held      bool             `json:"held"`            // every threshold passed and the generator kept up
	Failed    []string         `json:"failed"`          // the thresholds that failed, with what was observed
	Exit      int              `json:"exit_code"`       // the step's run's exit code
	Generator *GeneratorReport `json:"generator"`       // the generator's account of itself
	Lost      int64            `json:"lost"`            // messages lost
	Errors    int64            `json:"errors"`          // operations failed
	ErrorText string           `json:"error,omitempty"` // a step that could not run
}

// StepFrom judges one step from its summary.
func StepFrom(rate float64, dir, metric string, s *Summary) CapacityStep {
	st := CapacityStep{Rate: rate, Dir: dir, Exit: s.ExitCode(), Generator: s.Generator, Lost: s.Counters[Lost], Errors: s.Counters[Errors]}
	if m := s.Metric(metric); m != nil {
		c := m.Stats(Corrected)
		st.P50, st.P99 = c.P50, c.P99
		for _, p := range s.Phases {
			if p.Name == PhaseMeasured && p.End.After(p.Start) {
				st.Achieved = float64(c.Count) / p.End.Sub(p.Start).Seconds()
			}
		}
	}
	for _, r := range s.Thresholds {
		if !r.Pass {
			st.Failed = append(st.Failed, fmt.Sprintf("%s (observed %s)", r.Expr, r.Text))
		}
	}
	st.Held = st.Exit == ExitOK
	return st
}

// Judge sets the knee, the break and which side gave way, from the steps.
func (c *Capacity) Judge() {
	c.Knee, c.Break = nil, nil
	for i := range c.Steps {
		if st := &c.Steps[i]; !st.Held && (c.Break == nil || st.Rate < c.Break.Rate) {
			c.Break = st
		}
	}
	for i := range c.Steps { // the highest rate that held below the break
		st := &c.Steps[i]
		if st.Held && (c.Break == nil || st.Rate < c.Break.Rate) && (c.Knee == nil || st.Rate > c.Knee.Rate) {
			c.Knee = st
		}
	}
	switch b := c.Break; {
	case b == nil:
		c.Saturated, c.Why = SideNone, "every rate tried held: search higher"
	case b.ErrorText != "":
		c.Saturated, c.Why = SideUnknown, "the step at the break could not run: "+b.ErrorText
	case b.Generator != nil && b.Generator.Crowded:
		c.Saturated, c.Why = SideMachine, "the machine gave way first, not known whether the server or the generator would have alone: the generator fell behind its schedule, crowded out by the processes beside it ("+joinReasons(b.Generator.Reasons)+"); give the generator CPU of its own (another machine, or cores apart from the server's) to tell them apart"
	case b.Generator != nil && b.Generator.Bottleneck:
		c.Saturated, c.Why = SideGenerator, "the load generator gave way first: "+b.Generator.Verdict()
	case b.Generator != nil && b.Generator.Unknown != "":
		c.Saturated, c.Why = SideUnknown, "the generator could not be judged ("+b.Generator.Unknown+"), so the side that gave way is not known"
	default:
		c.Saturated, c.Why = SideServer, "the server gave way first: at the break the generator kept up ("+b.Generator.Verdict()+") and the SLO broke"
	}
}

// WriteCapacity writes capacity.json into dir.
func WriteCapacity(dir string, c *Capacity) error {
	c.Format = CapacityFormat
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("metrics: capacity: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CapacityFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("metrics: capacity: %w", err)
	}
	return nil
}
