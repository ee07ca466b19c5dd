// Package results is the model of a conformance run — what the runner fills in, what
// results.json holds, and the certification rule (Finish) — and the one vocabulary of its
// verdicts, tiers and skip reasons. The package reports renders it; it decides nothing.
package results

import "time"

// Verdict is the outcome of a spec, a requirement or a whole run.
type Verdict string

// Verdicts, after the OCI conformance suite's: a feature the server legitimately lacks is
// Skip, not Fail; something switched off in the configuration is Disabled; a fault of the
// harness itself (bad configuration, a crash in the suite) is Error, never blamed on the server.
const (
	Pass     Verdict = "pass"
	Fail     Verdict = "fail"
	Skip     Verdict = "skip"     // the server advertises the feature as unsupported
	Disabled Verdict = "disabled" // turned off in the configuration (or outside the tiers run)
	Error    Verdict = "error"    // harness or configuration fault
)

// Tier is the tier of a spec or requirement, from SPEC.md's RFC 2119 levels.
type Tier string

// Tiers of specs.
const (
	TierCore     Tier = "core"     // checks at least one MUST: certification cannot skip or disable it
	TierStrict   Tier = "strict"   // checks SHOULDs only: reported apart
	TierOptional Tier = "optional" // checks MAYs only
)

// Tiers lists the tiers, strongest first.
var Tiers = []Tier{TierCore, TierStrict, TierOptional}

// ParseTier reads a tier's name.
func ParseTier(name string) (Tier, bool) {
	for _, t := range Tiers {
		if string(t) == name {
			return t, true
		}
	}
	return "", false
}

// TierOf is the tier of a requirement level: MUST core, SHOULD strict, anything else optional.
func TierOf(level string) Tier {
	switch level {
	case "MUST":
		return TierCore
	case "SHOULD":
		return TierStrict
	}
	return TierOptional
}

// Run is one run of the conformance suite.
type Run struct {
	Suite SuiteInfo `json:"suite"`
	// Target describes the server under test.
	Target string `json:"target"`
	// Config is the effective configuration with secrets redacted.
	Config map[string]string `json:"config"`
	// Certification is true for a certification run (see Certified).
	Certification bool      `json:"certification"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	// Verdict is Pass when no spec failed or erred, Fail when a spec failed, Error when the
	// harness failed (Error wins over Fail).
	Verdict Verdict `json:"verdict"`
	// Certified is true for a certification run with verdict Pass in which no core spec was
	// skipped or disabled, except the specs of features the server declares unsupported,
	// listed in UncertifiedFeatures.
	Certified           bool     `json:"certified"`
	UncertifiedFeatures []string `json:"uncertifiedFeatures"`
	// Note says why the verdict is what it is when the spec counts alone do not: no spec ran,
	// or core specs were left out, so a pass covers part of the protocol only.
	Note string `json:"note,omitempty"`
	// Totals counts every spec; Tiers counts them per tier.
	Totals Totals          `json:"totals"`
	Tiers  map[Tier]Totals `json:"tiers"`
	// Requirements lists every requirement of SPEC.md with the specs that check it.
	Requirements []Requirement `json:"requirements"`
	// Specs lists every spec in run order.
	Specs []Spec `json:"specs"`
}

// SuiteInfo identifies the suite that ran.
type SuiteInfo struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Protocol string `json:"protocol"`
	// BinarySHA256 is the hex SHA-256 of the suite's executable.
	BinarySHA256 string `json:"binarySHA256"`
}

// Totals counts specs by verdict.
type Totals struct {
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
	Disabled int `json:"disabled"`
	Errors   int `json:"errors"`
}

// Total is how many specs t counts.
func (t Totals) Total() int { return t.Passed + t.Failed + t.Skipped + t.Disabled + t.Errors }

// Known reports whether v is one of the five verdicts.
func (v Verdict) Known() bool {
	switch v {
	case Pass, Fail, Skip, Disabled, Error:
		return true
	}
	return false
}

// Add counts one verdict.
func (t *Totals) Add(v Verdict) {
	switch v {
	case Pass:
		t.Passed++
	case Fail:
		t.Failed++
	case Skip:
		t.Skipped++
	case Disabled:
		t.Disabled++
	case Error:
		t.Errors++
	}
}

// Requirement is one numbered requirement of SPEC.md and how its specs fared.
type Requirement struct {
	ID      string `json:"id"`
	Section string `json:"section"`
	// Level is MUST, SHOULD or MAY; Tier follows from it.
	Level string `json:"level"`
	Tier  Tier   `json:"tier"`
	Text  string `json:"text"`
	// Verdict is the worst verdict of its specs (Error > Fail > Pass > Skip > Disabled), or
	// Disabled when no spec names it.
	Verdict Verdict `json:"verdict"`
	// Specs are the names of the specs that name the requirement.
	Specs []string `json:"specs"`
}

// Spec is one spec of the suite.
type Spec struct {
	Name   string   `json:"name"`
	IDs    []string `json:"ids"`
	Labels []string `json:"labels"`
	Tier   Tier     `json:"tier"`
	// Verdict of the spec; Reason says why it was skipped, disabled, failed or erred.
	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason,omitempty"`
	Location string  `json:"location"`
	Seconds  float64 `json:"seconds"`
	// Measured is what the spec measured or counted on its way (a close's timing, a
	// delivery's percentiles), whatever its verdict, in the order it noted them.
	Measured []Measurement `json:"measured,omitempty"`
	Failure  *Failure      `json:"failure,omitempty"`
}

// Measurement is one figure a spec noted: what it is, and its value as text.
type Measurement struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Failure is what went wrong in a spec that failed or erred.
type Failure struct {
	Message  string `json:"message"`
	Location string `json:"location"`
	// Transcripts are the frames the spec's clients sent and received, newest last.
	Transcripts []Transcript `json:"transcripts,omitempty"`
}

// Transcript is one client's traffic during a spec.
type Transcript struct {
	Client string  `json:"client"`
	Frames []Frame `json:"frames"`
	// Dropped counts older frames not kept.
	Dropped int `json:"dropped,omitempty"`
}

// Frame is one frame sent or received.
type Frame struct {
	At   time.Time `json:"at"`
	Dir  string    `json:"dir"` // "sent" or "received"
	Text string    `json:"text"`
}

// Worse reports whether verdict a is worse than b: Error > Fail > Pass > Skip > Disabled.
func Worse(a, b Verdict) bool { return rank(a) > rank(b) }

func rank(v Verdict) int {
	switch v {
	case Error:
		return 4
	case Fail:
		return 3
	case Pass:
		return 2
	case Skip:
		return 1
	}
	return 0
}
