// Package specs holds the conformance specs of protocol v1 (conformance/SPEC.md) as Ginkgo v2
// containers. Importing the package registers them; the binary in
// conformance/cmd/pkarena-conformance runs them.
//
// Every spec's text starts with the IDs of the SPEC requirements it checks, in brackets, and
// carries a Label per feature (transport, auth, room, seat, cohost, limits, timeout, liveness,
// input, battle). Specs talk to the server only through conformance/client, and every frame a
// spec's clients receive is checked against the JSON Schemas of fixtures/.
package specs

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pkarena/pkarena/conformance"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
)

// target is the server under test, set up once per suite run.
var target *harness.Target

// runID makes user and room IDs unique to one run, so that runs against a shared server do
// not collide.
var runID string

// configured holds the settings Configure gave; nil means "read PKARENA_* at BeforeSuite".
var configured *harness.Settings

// Configure sets the target and the selection of the next run. Without it the suite reads
// the PKARENA_* environment (as under go test).
func Configure(s harness.Settings) { configured = &s }

var requirements = conformance.ByID(conformance.Requirements(conformance.SpecMarkdown))

// disabledReason says why the configuration switches a spec off, or "".
func disabledReason(s harness.Settings, text string, labels []string) string {
	ids := conformance.IDs(text)
	tier := conformance.TierOf(ids, requirements)
	if len(s.Tiers) > 0 && !slices.Contains(s.Tiers, string(tier)) {
		return "tier " + string(tier) + " is not among the tiers run (" + strings.Join(s.Tiers, ",") + ")"
	}
	for _, d := range s.Disable {
		if slices.Contains(ids, d) || slices.Contains(labels, d) {
			return d + " is disabled in the configuration"
		}
	}
	return ""
}

var _ = BeforeEach(func() {
	if configured == nil {
		return
	}
	r := CurrentSpecReport()
	if reason := disabledReason(*configured, r.FullText(), r.Labels()); reason != "" {
		Skip(results.Disabling(reason))
	}
})

var _ = BeforeSuite(func() {
	var settings harness.Settings
	var err error
	if configured != nil {
		settings = *configured
	} else {
		settings, err = harness.FromEnv(os.Getenv)
		if err != nil {
			Fail("configuration: " + err.Error())
		}
	}
	target, err = harness.Start(settings)
	if err != nil {
		Fail("starting the target: " + err.Error())
	}
	DeferCleanup(target.Close)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	runID = hex.EncodeToString(b)[:5]
	AddReportEntry(TargetEntry, target.Description)
	GinkgoWriter.Printf("target: %s\n", target.Description)
})
