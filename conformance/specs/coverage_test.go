package specs

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

var (
	reqLine = regexp.MustCompile(`^- \*\*([A-Z]+-\d{3})\*\*(.*)$`)
	reqID   = regexp.MustCompile(`\b[A-Z]+-\d{3}\b`)
)

// requirement is one numbered requirement of SPEC.md.
type requirement struct {
	id   string
	text string
}

// level is the strongest RFC 2119 keyword of the requirement's text.
func (r requirement) level() string {
	for _, kw := range []string{"MUST", "REQUIRED", "SHALL", "SHOULD", "MAY"} {
		if strings.Contains(r.text, kw) {
			if kw == "REQUIRED" || kw == "SHALL" {
				return "MUST"
			}
			return kw
		}
	}
	return ""
}

// parseSpec reads the numbered requirements of SPEC.md: a line "- **ID** text" and the
// indented lines that continue it.
func parseSpec(t *testing.T, path string) []requirement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []requirement
	for _, line := range strings.Split(string(data), "\n") {
		switch m := reqLine.FindStringSubmatch(line); {
		case m != nil:
			out = append(out, requirement{id: m[1], text: m[2]})
		case len(out) > 0 && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
			out[len(out)-1].text += " " + strings.TrimSpace(line)
		case len(out) > 0 && !strings.HasPrefix(line, "  "):
			// A line that does not continue the last requirement ends it.
			out = append(out, requirement{}) // sentinel, dropped below
		}
	}
	var reqs []requirement
	for _, r := range out {
		if r.id != "" {
			reqs = append(reqs, r)
		}
	}
	return reqs
}

// The suite covers SPEC.md: every MUST requirement is named by at least one spec, and every ID
// a spec names exists. The IDs are taken from the specs' texts as Ginkgo reports them.
func TestRequirementCoverage(t *testing.T) {
	reqs := parseSpec(t, "../SPEC.md")
	if len(reqs) < 50 {
		t.Fatalf("parsed only %d requirements from SPEC.md; the parser is broken", len(reqs))
	}
	known := map[string]requirement{}
	for _, r := range reqs {
		if _, dup := known[r.id]; dup {
			t.Errorf("SPEC.md defines %s twice", r.id)
		}
		if r.level() == "" {
			t.Errorf("%s has no RFC 2119 keyword: %q", r.id, r.text)
		}
		known[r.id] = r
	}

	report := PreviewSpecs("pkarena protocol v1 conformance")
	named := map[string][]string{}
	specs := 0
	for _, sp := range report.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt { // only specs, not setup nodes
			continue
		}
		specs++
		text := sp.FullText()
		ids := reqID.FindAllString(text, -1)
		if len(ids) == 0 {
			t.Errorf("spec %q names no requirement", text)
		}
		for _, id := range ids {
			if _, ok := known[id]; !ok {
				t.Errorf("spec %q names %s, which SPEC.md does not define", text, id)
			}
			named[id] = append(named[id], text)
		}
	}
	var missing []string
	for _, r := range reqs {
		if r.level() == "MUST" && len(named[r.id]) == 0 {
			missing = append(missing, r.id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("MUST requirements without a spec: %s", strings.Join(missing, ", "))
	}
	t.Logf("%d requirements, %d named by %d specs", len(reqs), len(named), specs)
}
