package main

import (
	"flag"
	"io"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/runner"
)

// TestConformance runs the suite under go test (make test): against the embedded reference
// server unless PKARENA_* variables say otherwise; PKARENA_RESULTS_DIR writes the reports.
func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	settings, err := harness.Load(fs, nil, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	res := runner.Run(t, runner.Options{Settings: settings, Version: Version, Commit: Commit})
	if settings.ResultsDir != "" {
		if _, err := runner.WriteResults(settings.ResultsDir, res); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d specs: %+v", len(res.Specs), res.Totals)
}
