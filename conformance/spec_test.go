package conformance

import (
	"testing"

	"github.com/pkarena/pkarena/conformance/results"
)

func TestRequirements(t *testing.T) {
	md := "## 1. Transport\n\n" +
		"- **TRANS-001** The server MUST accept\n  connections.\n" +
		"- **TRANS-002** A client SHOULD retry.\n\n" +
		"```json\n{}\n```\n" +
		"## 2. Other\n" +
		"- **OTHER-001** A server MAY do this.\n" +
		"not a continuation\n"
	got := Requirements(md)
	want := []Requirement{
		{ID: "TRANS-001", Section: "1. Transport", Level: "MUST", Text: "The server MUST accept connections."},
		{ID: "TRANS-002", Section: "1. Transport", Level: "SHOULD", Text: "A client SHOULD retry."},
		{ID: "OTHER-001", Section: "2. Other", Level: "MAY", Text: "A server MAY do this."},
	}
	if len(got) != len(want) {
		t.Fatalf("Requirements = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("requirement %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	byID := ByID(got)
	for _, tt := range []struct {
		ids  []string
		tier results.Tier
	}{
		{[]string{"TRANS-002", "TRANS-001"}, results.TierCore},   // any MUST makes it core
		{[]string{"TRANS-002", "OTHER-001"}, results.TierStrict}, // a SHOULD without a MUST
		{[]string{"OTHER-001"}, results.TierOptional},            // MAYs only
	} {
		if got := TierOf(tt.ids, byID); got != tt.tier {
			t.Errorf("TierOf(%v) = %s; want %s", tt.ids, got, tt.tier)
		}
	}
	if got := IDs("[TRANS-001 TRANS-002] x TRANS-001"); len(got) != 2 {
		t.Errorf("IDs = %v; want two, each once", got)
	}
}

// The embedded SPEC.md parses: every requirement has a level and a section.
func TestEmbeddedSpec(t *testing.T) {
	reqs := Requirements(SpecMarkdown)
	if len(reqs) < 100 {
		t.Fatalf("only %d requirements in SPEC.md", len(reqs))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if r.Level == "" || r.Section == "" {
			t.Errorf("%s: level %q section %q: every requirement needs an RFC 2119 keyword and a section", r.ID, r.Level, r.Section)
		}
		if seen[r.ID] {
			t.Errorf("%s is defined twice", r.ID)
		}
		seen[r.ID] = true
	}
}
