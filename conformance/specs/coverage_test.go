package specs

import (
	"flag"
	"os"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/pkarena/pkarena/conformance"
)

// goldenPath is the list of spec names: a removed or renamed spec shows up in review.
const goldenPath = "../../fixtures/conformance/specs.golden"

var update = flag.Bool("update", false, "rewrite "+goldenPath+" from the current specs")

// specTexts previews the Ginkgo tree and returns the full text of every spec, sorted.
func specTexts(t *testing.T) []string {
	t.Helper()
	report := PreviewSpecs("pkarena protocol v1 conformance")
	var out []string
	for _, sp := range report.SpecReports {
		if sp.LeafNodeType == types.NodeTypeIt {
			out = append(out, sp.FullText())
		}
	}
	sort.Strings(out)
	return out
}

// The suite covers SPEC.md: every MUST requirement is named by at least one spec, every ID a
// spec names exists, and every spec names one.
func TestRequirementCoverage(t *testing.T) {
	reqs := conformance.Requirements(conformance.SpecMarkdown)
	byID := conformance.ByID(reqs)
	named := map[string]int{}
	texts := specTexts(t)
	for _, text := range texts {
		ids := conformance.IDs(text)
		if len(ids) == 0 {
			t.Errorf("spec %q names no requirement", text)
		}
		for _, id := range ids {
			if _, ok := byID[id]; !ok {
				t.Errorf("spec %q names %s, which SPEC.md does not define", text, id)
			}
			named[id]++
		}
	}
	var missing []string
	for _, r := range reqs {
		if r.Level == "MUST" && named[r.ID] == 0 {
			missing = append(missing, r.ID)
		}
	}
	if len(missing) > 0 {
		t.Errorf("MUST requirements without a spec: %s", strings.Join(missing, ", "))
	}
	t.Logf("%d requirements, %d named by %d specs", len(reqs), len(named), len(texts))
}

// The golden list makes removals and renames deliberate: go test ./conformance/specs -update
// rewrites it, and the diff shows in review.
func TestGoldenSpecList(t *testing.T) {
	got := strings.Join(specTexts(t), "\n") + "\n"
	if *update {
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./conformance/specs -update to create it)", err)
	}
	if string(want) == got {
		return
	}
	wantSet := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		wantSet[l] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if !wantSet[l] {
			t.Errorf("new or renamed spec: %s", l)
		}
		delete(wantSet, l)
	}
	for l := range wantSet {
		t.Errorf("removed or renamed spec: %s", l)
	}
	t.Log("if the change is deliberate: go test ./conformance/specs -update, and commit " + goldenPath)
}
