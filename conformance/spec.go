// Package conformance holds the normative protocol (SPEC.md, embedded) and reads its numbered
// requirements, so the suite, its tests and its reports share one source of truth.
package conformance

import (
	_ "embed"
	"regexp"
	"strings"

	"github.com/pkarena/pkarena/conformance/results"
)

// SpecMarkdown is SPEC.md as built into the binary.
//
//go:embed SPEC.md
var SpecMarkdown string

// Requirement is one numbered requirement of SPEC.md.
type Requirement struct {
	ID      string
	Section string // the "## N. Title" heading it sits under
	Level   string // MUST, SHOULD or MAY: the strongest RFC 2119 keyword of its text
	Text    string
}

// Tier is the tier of a requirement's level (results.TierOf).
func (r Requirement) Tier() results.Tier { return results.TierOf(r.Level) }

var (
	reqLine = regexp.MustCompile(`^- \*\*([A-Z]+-\d{3})\*\*(.*)$`)
	reqID   = regexp.MustCompile(`\b[A-Z]+-\d{3}\b`)
)

// Requirements parses the numbered requirements of a SPEC.md text: a line "- **ID** text" and
// the indented lines that continue it.
func Requirements(markdown string) []Requirement {
	var out []Requirement
	section := ""
	open := false
	for _, line := range strings.Split(markdown, "\n") {
		switch m := reqLine.FindStringSubmatch(line); {
		case strings.HasPrefix(line, "## "):
			section, open = strings.TrimPrefix(line, "## "), false
		case m != nil:
			out = append(out, Requirement{ID: m[1], Section: section, Text: strings.TrimSpace(m[2])})
			open = true
		case open && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
			out[len(out)-1].Text += " " + strings.TrimSpace(line)
		default:
			open = false
		}
	}
	for i := range out {
		out[i].Level = level(out[i].Text)
	}
	return out
}

// level is the strongest RFC 2119 keyword of text ("" if none).
func level(text string) string {
	switch {
	case strings.Contains(text, "MUST") || strings.Contains(text, "REQUIRED") || strings.Contains(text, "SHALL"):
		return "MUST"
	case strings.Contains(text, "SHOULD") || strings.Contains(text, "RECOMMENDED"):
		return "SHOULD"
	case strings.Contains(text, "MAY") || strings.Contains(text, "OPTIONAL"):
		return "MAY"
	}
	return ""
}

// IDs lists the requirement IDs named in a spec's text, in order, each once.
func IDs(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range reqID.FindAllString(text, -1) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// TierOf is the tier of a spec naming ids: core if any is a MUST, else strict if any is a
// SHOULD, else optional.
func TierOf(ids []string, byID map[string]Requirement) results.Tier {
	tier := results.TierOptional
	for _, id := range ids {
		switch byID[id].Tier() {
		case results.TierCore:
			return results.TierCore
		case results.TierStrict:
			tier = results.TierStrict
		}
	}
	return tier
}

// ByID indexes requirements by ID.
func ByID(reqs []Requirement) map[string]Requirement {
	m := make(map[string]Requirement, len(reqs))
	for _, r := range reqs {
		m[r.ID] = r
	}
	return m
}
