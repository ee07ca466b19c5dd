package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names of a results folder.
const (
	LogFile     = "metrics.hlog" // the interval log
	SummaryFile = "summary.json" // the Summary
	HgrmSuffix  = ".hgrm"        // after "<metric>.<kind>": a whole-run percentile distribution
)

// SummaryFormat is the Format of every summary.json this package writes; a reader that finds
// another major version refuses the file.
const SummaryFormat = "pkarena-load-summary/1"

// Summary is summary.json: a run (one agent's or a merge of several) in numbers. Latencies are
// in milliseconds.
type Summary struct {
	Format     string             `json:"format"`      // SummaryFormat
	Info       RunInfo            `json:"info"`        // what was run
	Start      time.Time          `json:"start"`       // the run's start; interval offsets count from it
	End        time.Time          `json:"end"`         // the run's end
	Seconds    float64            `json:"duration_s"`  // End − Start
	IntervalMs int64              `json:"interval_ms"` // length of an interval
	Agents     []AgentInfo        `json:"agents"`      // the agents merged (empty for one agent's run)
	Warnings   []string           `json:"warnings"`    // things a reader must know (e.g. missing shards)
	Metrics    []MetricSummary    `json:"metrics"`     // every metric with samples, in report order
	Counters   map[string]int64   `json:"counters"`    // final counters (summed over agents)
	Gauges     map[string]float64 `json:"gauges"`      // final gauges (merge: summed; names with "per_" averaged)
	Intervals  []IntervalInfo     `json:"intervals"`   // every interval with its counter changes
	Phases     []Phase            `json:"phases"`      // ramp, measured, drain (merged: the earliest start and latest end of each)
	Generator  *GeneratorReport   `json:"generator"`   // the load generator's account of itself over the measured phase
	Thresholds []ThresholdResult  `json:"thresholds"`  // verdicts, built-in rules included
	Passed     bool               `json:"passed"`      // every threshold passed
	Exit       int                `json:"exit_code"`   // ExitCode() when written
}

// RunInfo describes a run; the engine fills it in and WriteResults stores it as given.
type RunInfo struct {
	Scenario   string            `json:"scenario"`          // scenario name
	Model      string            `json:"model"`             // workload model: "open" or "closed"
	Seed       int64             `json:"seed"`              // random seed
	Shard      string            `json:"shard,omitempty"`   // "i/n" in a distributed run
	Targets    []string          `json:"targets"`           // server URL(s)
	Parameters map[string]string `json:"parameters"`        // scenario parameters as run
	Agent      string            `json:"agent"`             // agent name (host name, pod name)
	Version    string            `json:"version,omitempty"` // pkarena version
	// NotJudged, when set, says why the generator is not to be judged (GeneratorReport): the
	// embedded reference server shares its process, or the user said so.
	NotJudged string `json:"generator_not_judged,omitempty"`
}

// AgentInfo is one agent of a merged run.
type AgentInfo struct {
	Agent    string             `json:"agent"`
	Shard    string             `json:"shard,omitempty"`
	Dir      string             `json:"dir,omitempty"` // the results folder merged
	Start    time.Time          `json:"start"`
	End      time.Time          `json:"end"`
	Counters map[string]int64   `json:"counters"`
	Gauges   map[string]float64 `json:"gauges"`
}

// MetricSummary is one metric: whole-run statistics of both kinds and a per-interval series.
type MetricSummary struct {
	Name      string  `json:"name"`
	Corrected Stats   `json:"corrected"`
	Service   Stats   `json:"service"`
	Series    []Point `json:"series"` // intervals with samples, in time order
}

// Stats of a histogram in milliseconds. Values are HdrHistogram's (within 0.1%): Min is the
// lowest value of the lowest bucket, Max the highest of the highest.
type Stats struct {
	Count int64              `json:"count"`
	Min   float64            `json:"min"`
	Mean  float64            `json:"mean"`
	P50   float64            `json:"p50"`
	P90   float64            `json:"p90"`
	P99   float64            `json:"p99"`
	P999  float64            `json:"p99_9"`
	P9999 float64            `json:"p99_99"`
	Max   float64            `json:"max"`
	Extra map[string]float64 `json:"extra,omitempty"` // other percentiles thresholds asked for: "p95"
}

// standardPercentiles are the percentiles every Stats has.
var standardPercentiles = []float64{50, 90, 99, 99.9, 99.99}

// value returns a statistic by name: "min", "mean", "max", "p<N>".
func (s Stats) value(stat string) (float64, bool) {
	switch stat {
	case "min", "p0":
		return s.Min, true
	case "mean":
		return s.Mean, true
	case "max", "p100":
		return s.Max, true
	case "p50":
		return s.P50, true
	case "p90":
		return s.P90, true
	case "p99":
		return s.P99, true
	case "p99.9":
		return s.P999, true
	case "p99.99":
		return s.P9999, true
	}
	v, ok := s.Extra[stat]
	return v, ok
}

// Point is one interval of a metric's series.
type Point struct {
	T      float64 `json:"t"`        // interval start, seconds since the Summary's Start
	Length float64 `json:"length_s"` // interval length in seconds
	Count  int64   `json:"count"`    // samples
	P50    float64 `json:"p50"`      // corrected p50, ms
	P99    float64 `json:"p99"`      // corrected p99, ms
	Max    float64 `json:"max"`      // corrected max, ms
	Rate   float64 `json:"rate"`     // samples per second
}

// IntervalInfo is one interval of the run and the counters that changed during it.
type IntervalInfo struct {
	T        float64          `json:"t"`        // start, seconds since the Summary's Start
	Length   float64          `json:"length_s"` // length in seconds
	Counters map[string]int64 `json:"counters,omitempty"`
}

// Metric returns the metric of a name, or nil.
func (s *Summary) Metric(name string) *MetricSummary {
	for i := range s.Metrics {
		if s.Metrics[i].Name == name {
			return &s.Metrics[i]
		}
	}
	return nil
}

// Stats returns the statistics of one kind.
func (m *MetricSummary) Stats(k Kind) Stats {
	if k == Service {
		return m.Service
	}
	return m.Corrected
}

// WriteSummary writes s as dir/summary.json, indented.
func WriteSummary(dir string, s *Summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("metrics: encoding summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// ReadSummary reads dir/summary.json.
func ReadSummary(dir string) (*Summary, error) {
	path := filepath.Join(dir, SummaryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("metrics: reading %s: %w", path, err)
	}
	if s.Format != SummaryFormat {
		return nil, fmt.Errorf("metrics: %s: format %q is not supported (this version reads %q)", path, s.Format, SummaryFormat)
	}
	if s.IntervalMs <= 0 {
		return nil, fmt.Errorf("metrics: %s: interval_ms is missing", path)
	}
	s.fillNil()
	return &s, nil
}

// fillNil replaces nil maps and slices by empty ones, so that JSON shows [] and {} and readers
// need no nil checks.
func (s *Summary) fillNil() {
	if s.Info.Targets == nil {
		s.Info.Targets = []string{}
	}
	if s.Info.Parameters == nil {
		s.Info.Parameters = map[string]string{}
	}
	if s.Agents == nil {
		s.Agents = []AgentInfo{}
	}
	if s.Warnings == nil {
		s.Warnings = []string{}
	}
	if s.Phases == nil {
		s.Phases = []Phase{}
	}
	if s.Metrics == nil {
		s.Metrics = []MetricSummary{}
	}
	for i := range s.Metrics {
		if s.Metrics[i].Series == nil {
			s.Metrics[i].Series = []Point{}
		}
	}
	if s.Counters == nil {
		s.Counters = map[string]int64{}
	}
	if s.Gauges == nil {
		s.Gauges = map[string]float64{}
	}
	if s.Intervals == nil {
		s.Intervals = []IntervalInfo{}
	}
	if s.Thresholds == nil {
		s.Thresholds = []ThresholdResult{}
	}
}
