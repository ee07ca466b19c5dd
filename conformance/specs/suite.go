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

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/harness"
)

// target is the server under test, set up once per suite run.
var target *harness.Target

// runID makes user and room IDs unique to one run, so that runs against a shared server do
// not collide.
var runID string

var _ = BeforeSuite(func() {
	settings, err := harness.FromEnv(os.Getenv)
	Expect(err).NotTo(HaveOccurred(), "configuration")
	target, err = harness.Start(settings)
	Expect(err).NotTo(HaveOccurred(), "starting the target")
	DeferCleanup(target.Close)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	runID = hex.EncodeToString(b)[:5]
	AddReportEntry("target", target.Description)
	GinkgoWriter.Printf("target: %s\n", target.Description)
})
