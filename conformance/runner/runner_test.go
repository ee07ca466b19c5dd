package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/specs"
)

func TestCheckDisable(t *testing.T) {
	for _, tt := range []struct {
		entries []string
		bad     string // the entry the error must name; "" for none
	}{
		{nil, ""},
		{[]string{"auth", "network"}, ""},
		{[]string{"AUTHZ-003", "FAULT-002"}, ""},
		{[]string{"auth", "NOPE-999"}, "NOPE-999"},
		{[]string{"Auth"}, "Auth"}, // labels are matched exactly, as the suite matches them
	} {
		err := CheckDisable(tt.entries)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%q: %v; want accepted", tt.entries, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("%q: %v; want an error naming %q", tt.entries, err, tt.bad)
		}
	}
}

// A spec's report entries are its measurements, in order, but for those the harness reads
// itself: a transcript, the suite's own slowness, the target's description.
func TestMeasured(t *testing.T) {
	entry := func(name string, v any) types.ReportEntry {
		return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v)}
	}
	sp := types.SpecReport{ReportEntries: []types.ReportEntry{
		entry(specs.TargetEntry, "server at ws://127.0.0.1:7171/v1/ws"),
		entry("stopped in", "32ms"),
		entry(specs.TranscriptEntry, results.Transcript{Client: "a"}),
		entry("fan-out recipients", 450),
		entry(specs.SlowSuiteEntry, "the suite was slow"),
	}}
	want := []results.Measurement{{Name: "stopped in", Value: "32ms"}, {Name: "fan-out recipients", Value: "450"}}
	if got := measured(sp); !slices.Equal(got, want) {
		t.Errorf("measured: %+v; want %+v", got, want)
	}
	sp.State = types.SpecStatePassed
	if got := specResult(sp, nil, "").Measured; !slices.Equal(got, want) {
		t.Errorf("a passed spec's result measured %+v; want %+v", got, want)
	}
	if got := measured(types.SpecReport{}); got != nil {
		t.Errorf("measured of no entries: %+v; want none", got)
	}
}
