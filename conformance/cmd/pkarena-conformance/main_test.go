package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
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

// -h lists the suite's own flags with their defaults, and none of Ginkgo's.
func TestUsageListsOwnFlagsFirst(t *testing.T) {
	fs := flag.NewFlagSet("pkarena-conformance", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.Bool("ginkgo.seed", false, "Ginkgo's")
	fs.Usage = func() { usage(fs) }
	if _, err := harness.Load(fs, []string{"-h"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v; want flag.ErrHelp", err)
	}
	got := out.String()
	for _, want := range []string{"-target", "-disable", "(default 5s)", "(default 1400000001)", "-help-ginkgo lists them all"} {
		if !strings.Contains(got, want) {
			t.Errorf("usage lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ginkgo.seed") {
		t.Errorf("usage lists Ginkgo's flags:\n%s", got)
	}
}
