package results_test

import (
	"reflect"
	"slices"
	"testing"

	. "github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// TestFinishFixture checks Finish's arithmetic on the realistic fixture.
func TestFinishFixture(t *testing.T) {
	run := resultstest.Finished()
	if want := (Totals{Passed: 2, Failed: 1, Skipped: 1, Disabled: 1, Errors: 1}); run.Totals != want {
		t.Errorf("Totals = %+v, want %+v", run.Totals, want)
	}
	wantTiers := map[Tier]Totals{
		TierCore:     {Passed: 2, Failed: 1, Skipped: 1},
		TierStrict:   {Errors: 1},
		TierOptional: {Disabled: 1},
	}
	if !reflect.DeepEqual(run.Tiers, wantTiers) {
		t.Errorf("Tiers = %+v, want %+v", run.Tiers, wantTiers)
	}
	wantReqs := []struct {
		id      string
		verdict Verdict
		specs   []string
	}{
		// Three specs name it; the worst of pass, fail, pass is fail.
		{"COHOST-001", Fail, []string{"co-host: only hosts may request a connection", "co-host: requestConnection returns one code per room", "co-host: heartbeat round trip"}},
		// Its only spec failed.
		{"COHOST-002", Fail, []string{"co-host: requestConnection returns one code per room"}},
		// Its only spec erred.
		{"COHOST-040", Error, []string{"co-host: events & replies share a write <b>"}},
		// Its only spec was skipped (unsupported feature).
		{"BATTLE-001", Skip, []string{"battle: needResponse=false starts at once"}},
		// Its only spec was disabled.
		{"BATTLE-020", Disabled, []string{"battle: extensionInfo is echoed"}},
		// No spec names it: Disabled, with an empty (not nil) list.
		{"BATTLE-099", Disabled, []string{}},
	}
	for i, w := range wantReqs {
		r := run.Requirements[i]
		if r.ID != w.id || r.Verdict != w.verdict || !reflect.DeepEqual(r.Specs, w.specs) {
			t.Errorf("requirement %d = %s %s %q, want %s %s %q", i, r.ID, r.Verdict, r.Specs, w.id, w.verdict, w.specs)
		}
	}
	if run.Verdict != Error {
		t.Errorf("Verdict = %s, want error (a spec erred)", run.Verdict)
	}
	if run.Certified {
		t.Error("Certified = true for a run that erred")
	}
	if want := []string{"battle"}; !slices.Equal(run.UncertifiedFeatures, want) {
		t.Errorf("UncertifiedFeatures = %q, want %q", run.UncertifiedFeatures, want)
	}

	// Finish is idempotent.
	again := resultstest.Finished()
	Finish(again)
	if !reflect.DeepEqual(run, again) {
		t.Error("a second Finish changed the run")
	}
}

// TestFinishCertification checks the run verdict and the certification rule.
func TestFinishCertification(t *testing.T) {
	const battleSkip = "unsupported feature battle: the server advertises features.battle: false"
	tests := []struct {
		name          string
		certification bool
		specs         []Spec
		verdict       Verdict
		certified     bool
		features      []string
	}{
		// Every spec passed: certified.
		{"all pass", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierStrict, Pass, ""), resultstest.Spec("c", TierOptional, Pass, ""),
		}, Pass, true, []string{}},
		// A core spec disabled: the verdict is still pass, but the run is not certified.
		{"core disabled", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Disabled, "excluded by --label-filter"),
		}, Pass, false, []string{}},
		// A core spec skipped because of an unsupported feature: certified, the feature listed.
		{"unsupported feature skip", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Skip, battleSkip),
		}, Pass, true, []string{"battle"}},
		// Several such skips: the features are sorted and listed once.
		{"unsupported features sorted and unique", true, []Spec{
			resultstest.Spec("a", TierCore, Skip, battleSkip), resultstest.Spec("b", TierCore, Skip, "unsupported feature seats: no seat support"),
			resultstest.Spec("c", TierCore, Skip, battleSkip), resultstest.Spec("d", TierCore, Skip, "unsupported feature audience: none"),
		}, Pass, true, []string{"audience", "battle", "seats"}},
		// A core spec skipped for another reason: not certified.
		{"core skip other reason", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Skip, "no Docker engine reachable"),
		}, Pass, false, []string{}},
		// A skip whose reason only looks like an unsupported feature (no name): not certified.
		{"malformed unsupported reason", true, []Spec{
			resultstest.Spec("a", TierCore, Skip, "unsupported feature : nameless"),
		}, Pass, false, []string{}},
		// The prefix without the colon is not the documented form: not certified.
		{"unsupported reason without colon", true, []Spec{
			resultstest.Spec("a", TierCore, Skip, "unsupported feature battle"),
		}, Pass, false, []string{}},
		// An unsupported-feature reason on a disabled spec is not a skip: not certified.
		{"disabled with unsupported reason", true, []Spec{
			resultstest.Spec("a", TierCore, Disabled, battleSkip),
		}, Pass, false, []string{}},
		// Skips and disabled specs outside the core tier do not matter, nor their features.
		{"strict and optional skips", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierStrict, Skip, "no Docker engine reachable"),
			resultstest.Spec("c", TierOptional, Disabled, "tier not selected"), resultstest.Spec("d", TierOptional, Skip, battleSkip),
		}, Pass, true, []string{}},
		// A failure: verdict fail, not certified.
		{"failure", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Fail, "code 3, want 0"),
		}, Fail, false, []string{}},
		// A failed SHOULD is a warning: the run passes and is certified.
		{"strict failure", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierStrict, Fail, "late"),
		}, Pass, true, []string{}},
		// A core spec whose requirement does not apply does not block certification.
		{"not applicable", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Skip, "not applicable: the server has battles"),
		}, Pass, true, []string{}},
		// A failed MAY (optional tier) fails the run like a MUST.
		{"optional failure", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierOptional, Fail, "wrong"),
		}, Fail, false, []string{}},
		// An error and a failure: the error wins.
		{"error and failure", true, []Spec{
			resultstest.Spec("a", TierCore, Fail, "code 3"), resultstest.Spec("b", TierOptional, Error, "harness crashed"), resultstest.Spec("c", TierCore, Pass, ""),
		}, Error, false, []string{}},
		// An invalid verdict is a harness fault: error.
		{"invalid verdict", true, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, "", ""),
		}, Error, false, []string{}},
		// Not a certification run: never certified, no features listed.
		{"not a certification run", false, []Spec{
			resultstest.Spec("a", TierCore, Pass, ""), resultstest.Spec("b", TierCore, Skip, battleSkip),
		}, Pass, false, []string{}},
		// No specs at all: the rule holds vacuously (the runner lists excluded specs as Disabled,
		// so this only happens when it is broken).
		{"no specs", true, nil, Pass, true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &Run{Certification: tt.certification, Specs: tt.specs}
			Finish(run)
			if run.Verdict != tt.verdict {
				t.Errorf("Verdict = %s, want %s", run.Verdict, tt.verdict)
			}
			if run.Certified != tt.certified {
				t.Errorf("Certified = %v, want %v", run.Certified, tt.certified)
			}
			if !reflect.DeepEqual(run.UncertifiedFeatures, tt.features) {
				t.Errorf("UncertifiedFeatures = %q, want %q", run.UncertifiedFeatures, tt.features)
			}
			var sum Totals
			for _, tier := range run.Tiers {
				sum.Passed += tier.Passed
				sum.Failed += tier.Failed
				sum.Skipped += tier.Skipped
				sum.Disabled += tier.Disabled
				sum.Errors += tier.Errors
			}
			if sum != run.Totals || run.Totals.Total() != len(tt.specs) {
				t.Errorf("Totals %+v, sum of Tiers %+v, %d specs", run.Totals, sum, len(tt.specs))
			}
		})
	}
}

// TestFinishInvalidVerdict checks that a spec with an invalid verdict becomes an error that says
// why.
func TestFinishInvalidVerdict(t *testing.T) {
	run := &Run{Specs: []Spec{resultstest.Spec("a", TierCore, "flaky", "retried")}}
	Finish(run)
	if s := run.Specs[0]; s.Verdict != Error || s.Reason != `invalid verdict "flaky" (harness fault): retried` {
		t.Errorf("spec = %s %q", s.Verdict, s.Reason)
	}
}

// TestFinishRequirementDetails checks how specs are credited to requirements.
func TestFinishRequirementDetails(t *testing.T) {
	tests := []struct {
		name    string
		specs   []Spec
		verdict Verdict
		names   []string
	}{
		// A spec naming the requirement twice is listed once.
		{"duplicate ID", []Spec{resultstest.Spec("a", TierCore, Pass, "", "R-1", "R-1")}, Pass, []string{"a"}},
		// Skip outranks Disabled.
		{"skip over disabled", []Spec{resultstest.Spec("a", TierCore, Disabled, "", "R-1"), resultstest.Spec("b", TierCore, Skip, "", "R-1")}, Skip, []string{"a", "b"}},
		// Pass over Skip, whatever the order.
		{"pass over skip", []Spec{resultstest.Spec("a", TierCore, Pass, "", "R-1"), resultstest.Spec("b", TierCore, Skip, "", "R-1")}, Pass, []string{"a", "b"}},
		// Only disabled specs: Disabled.
		{"only disabled", []Spec{resultstest.Spec("a", TierCore, Disabled, "", "R-1")}, Disabled, []string{"a"}},
		// IDs are matched exactly.
		{"exact match", []Spec{resultstest.Spec("a", TierCore, Fail, "", "r-1", "R-10", "R-1 ")}, Disabled, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &Run{Requirements: []Requirement{{ID: "R-1"}}, Specs: tt.specs}
			Finish(run)
			r := run.Requirements[0]
			if r.Verdict != tt.verdict || !reflect.DeepEqual(r.Specs, tt.names) {
				t.Errorf("requirement = %s %q, want %s %q", r.Verdict, r.Specs, tt.verdict, tt.names)
			}
		})
	}
}

// TestFinishNil checks that Finish accepts nil.
func TestFinishNil(t *testing.T) {
	Finish(nil)
}
