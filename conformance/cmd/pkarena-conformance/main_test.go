// Command pkarena-conformance runs the conformance suite of protocol v1 against a server.
//
// It is built with `go test -c` (make build puts it in bin/) and needs no Go toolchain to run.
// With no settings it starts the embedded reference server; PKARENA_TARGET_URL,
// PKARENA_SDKAPPID and PKARENA_SECRET point it at any other server. Ginkgo's flags apply, with
// the -ginkgo. prefix (-ginkgo.label-filter=cohost, -ginkgo.junit-report=junit.xml, ...).
package main

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	_ "github.com/pkarena/pkarena/conformance/specs"
)

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "pkarena protocol v1 conformance")
}
