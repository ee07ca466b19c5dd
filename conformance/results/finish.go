package results

import (
	"fmt"
	"slices"
	"strings"
)

// The two skips that do not block certification travel as the skip message of a spec (Ginkgo
// carries a string), so they are written and read here only.
const (
	notApplicablePrefix = "not applicable: "
	unsupportedPrefix   = "unsupported feature "
	disabledPrefix      = "disabled: "
)

// Disabling is the skip message of a spec switched off by the configuration; the runner reads
// it back with Disabled and reports the spec Disabled, with why as its Reason.
func Disabling(why string) string { return disabledPrefix + why }

// DisabledBy returns why a spec's skip message says it was switched off by the configuration,
// and whether it says so.
func DisabledBy(msg string) (string, bool) { return strings.CutPrefix(msg, disabledPrefix) }

// NotApplicable is the skip reason of a spec whose requirement does not apply to the server
// under test (BATTLE-000 to a server that has battles).
func NotApplicable(why string) string { return notApplicablePrefix + why }

// Unsupported is the skip reason of a spec of a feature the server declares unsupported:
// "unsupported feature <feature>: <why>". feature is one word.
func Unsupported(feature, why string) string { return unsupportedPrefix + feature + ": " + why }

// Finish computes everything in run that derives from its specs, so that the runner only fills
// in Suite, Target, Config, Certification, Started, Finished, Specs and Requirements (ID,
// Section, Level, Tier and Text). It sets:
//
//   - Totals, counting every spec by verdict, and Tiers, the same per spec tier (core, strict
//     and optional are always present, possibly zero).
//   - Each requirement's Specs, the names of the specs whose IDs contain the requirement's ID
//     in run order, and its Verdict, the worst verdict of those specs by Worse (Error > Fail >
//     Pass > Skip > Disabled), or Disabled when no spec names it.
//   - The run's Verdict: Error if any spec erred, else Fail if any core or optional spec
//     failed, else Pass. A failed strict-tier spec (a SHOULD) is a warning, as Autobahn's
//     NON-STRICT and h2spec's --strict are: it counts in Tiers["strict"] and Totals, and the
//     reports list it, but it does not make the run Fail or block certification.
//   - Certified and UncertifiedFeatures. The certification rule: a run is certified iff it is a
//     certification run, its Verdict is Pass and every core-tier spec passed, except specs that
//     were skipped because of an unsupported feature — such a skip's Reason starts with
//     "unsupported feature <name>:" (e.g. "unsupported feature battle: the server advertises
//     features.battle: false"), where <name> is non-empty and contains no space or colon.
//     The names of the features of those core-tier skips, sorted and without duplicates, are
//     UncertifiedFeatures. A core-tier spec skipped with a Reason starting "not applicable:"
//     (its requirement does not apply to this server, e.g. BATTLE-000 to a server that has
//     battles) does not block certification either. A core-tier spec that is Disabled, or
//     Skipped for any other reason, makes Certified false. For a run that is not a certification run, Certified is false and
//     UncertifiedFeatures is empty.
//
// A spec whose verdict is not one of the five is a harness fault: Finish sets it to Error and
// says so in its Reason. Finish is idempotent and does nothing when run is nil.
func Finish(run *Run) {
	if run == nil {
		return
	}
	run.Totals = Totals{}
	run.Tiers = map[Tier]Totals{TierCore: {}, TierStrict: {}, TierOptional: {}}
	for i := range run.Specs {
		s := &run.Specs[i]
		if !s.Verdict.Known() {
			why := fmt.Sprintf("invalid verdict %q (harness fault)", string(s.Verdict))
			if s.Reason != "" {
				why += ": " + s.Reason
			}
			s.Verdict, s.Reason = Error, why
		}
		run.Totals.Add(s.Verdict)
		t := run.Tiers[s.Tier]
		t.Add(s.Verdict)
		run.Tiers[s.Tier] = t
	}

	// Requirements: index them by ID, then walk the specs once.
	index := make(map[string][]int, len(run.Requirements))
	for i := range run.Requirements {
		r := &run.Requirements[i]
		r.Specs, r.Verdict = []string{}, Disabled
		index[r.ID] = append(index[r.ID], i)
	}
	for _, s := range run.Specs {
		var done map[int]bool // requirements already credited with this spec
		for _, id := range s.IDs {
			for _, i := range index[id] {
				if done[i] {
					continue
				}
				if done == nil {
					done = map[int]bool{}
				}
				done[i] = true
				r := &run.Requirements[i]
				if len(r.Specs) == 0 || Worse(s.Verdict, r.Verdict) {
					r.Verdict = s.Verdict
				}
				r.Specs = append(r.Specs, s.Name)
			}
		}
	}

	switch {
	case run.Totals.Errors > 0:
		run.Verdict = Error
	case run.Totals.Failed > run.Tiers[TierStrict].Failed:
		run.Verdict = Fail
	default:
		run.Verdict = Pass
	}

	run.Certified, run.UncertifiedFeatures = false, []string{}
	if !run.Certification {
		return
	}
	certified := run.Verdict == Pass
	for _, s := range run.Specs {
		if s.Tier != TierCore || s.Verdict == Pass {
			continue
		}
		if name, ok := unsupportedFeature(s); ok {
			run.UncertifiedFeatures = append(run.UncertifiedFeatures, name)
			continue
		}
		if s.Verdict == Skip && strings.HasPrefix(s.Reason, notApplicablePrefix) {
			continue
		}
		certified = false
	}
	slices.Sort(run.UncertifiedFeatures)
	run.UncertifiedFeatures = slices.Compact(run.UncertifiedFeatures)
	run.Certified = certified
}

// unsupportedFeature returns the feature named by a skipped spec's Reason (Unsupported), and
// whether the spec is such a skip.
func unsupportedFeature(s Spec) (string, bool) {
	if s.Verdict != Skip || !strings.HasPrefix(s.Reason, unsupportedPrefix) {
		return "", false
	}
	name, _, ok := strings.Cut(s.Reason[len(unsupportedPrefix):], ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return "", false
	}
	return name, true
}
