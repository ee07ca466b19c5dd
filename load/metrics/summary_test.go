package metrics

import "testing"

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
