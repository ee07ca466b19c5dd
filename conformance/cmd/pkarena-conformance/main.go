// Command pkarena-conformance certifies a server against protocol v1 (conformance/SPEC.md).
//
// With no settings it tests the embedded reference server. Point it at any server with
// -target ws://host:port/v1/ws (or PKARENA_TARGET_URL), or at a container image with
// -target-image (PKARENA_TARGET_IMAGE). Settings come from flags, then PKARENA_* variables,
// then a YAML file (-config); -h lists them. Ginkgo's own flags work with the -ginkgo. prefix
// (-ginkgo.label-filter=cohost, -ginkgo.focus=BATTLE-0, -ginkgo.v).
//
//	pkarena-conformance -list                       # every spec, its tier and labels
//	pkarena-conformance -results results            # junit.xml, results.json, report.html, log
//	pkarena-conformance -certify -results cert      # a certification bundle
//
// Exit codes: 0 conformant (certified, for -certify), 1 not conformant, 2 bad usage,
// 3 harness or configuration error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/runner"
	"github.com/pkarena/pkarena/internal/exitcode"
	"github.com/pkarena/pkarena/reports"
)

// Version and Commit are stamped by make build (-ldflags -X).
var (
	Version = "dev"
	Commit  = "unknown"
)

// Exit codes, from the project's one table (internal/exitcode).
const (
	exitConformant    = exitcode.OK
	exitNonConformant = exitcode.Failed
	exitUsage         = exitcode.Usage
	exitError         = exitcode.Error
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }

// fakeT is what RunSpecs needs of a testing.T outside go test.
type fakeT struct{ failed bool }

// Fail records that the suite failed.
func (t *fakeT) Fail() { t.failed = true }

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.CommandLine // Ginkgo's -ginkgo.* flags live here
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "list every spec with its tier and labels, and exit")
	version := fs.Bool("version", false, "print the version and exit")
	ginkgoHelp := fs.Bool("help-ginkgo", false, "list Ginkgo's own flags (-ginkgo.*) and exit")
	ginkgoUsage := fs.Usage
	fs.Usage = func() { usage(fs) }
	settings, err := harness.Load(fs, args, getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitConformant // asked for: the usage is printed
	case *ginkgoHelp:
		var buf bytes.Buffer
		fs.SetOutput(&buf)
		ginkgoUsage()
		fs.SetOutput(stderr)
		_, _ = stdout.Write(ansi.ReplaceAll(buf.Bytes(), nil))
		return exitConformant
	case err != nil && !*list && !*version:
		fmt.Fprintln(stderr, "pkarena-conformance:", err)
		return exitUsage
	}
	if *version {
		fmt.Fprintf(stdout, "pkarena-conformance %s (%s), protocol v1\n", Version, Commit)
		return exitConformant
	}
	if *list {
		runner.List(stdout)
		return exitConformant
	}
	if err := runner.CheckDisable(settings.Disable); err != nil {
		fmt.Fprintln(stderr, "pkarena-conformance:", err)
		return exitUsage
	}
	if settings.Certify {
		if settings.ResultsDir == "" {
			settings.ResultsDir = "certification"
		}
		if err := checkCertifiable(settings); err != nil {
			fmt.Fprintln(stderr, "pkarena-conformance: certification:", err)
			return exitUsage
		}
	}
	self, _ := os.Executable()
	t := &fakeT{}
	res := runner.Run(t, runner.Options{Settings: settings, Version: Version, Commit: Commit, Binary: self})
	if settings.ResultsDir != "" {
		paths, err := runner.WriteResults(settings.ResultsDir, res)
		if err == nil && settings.Certify {
			var more []string
			more, err = writeBundle(settings.ResultsDir, res, args)
			paths = append(paths, more...)
		}
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-conformance: writing results:", err)
			return exitError
		}
		fmt.Fprintln(stdout, "\nresults:")
		for _, p := range paths {
			fmt.Fprintln(stdout, "  "+p)
		}
	}
	fmt.Fprintln(stdout)
	_ = reports.WriteSummary(stdout, res)
	return exitCode(res)
}

// exitCode maps the run's verdict (and certification) to the documented exit codes.
func exitCode(res *results.Run) int {
	switch {
	case res.Verdict == results.Error:
		return exitError
	case res.Verdict == results.Fail:
		return exitNonConformant
	case res.Certification && !res.Certified:
		return exitNonConformant
	}
	return exitConformant
}

// ansi matches the terminal colour sequences Ginkgo's usage is written with.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// usage lists the suite's own flags with their defaults, then points at Ginkgo's: -h no
// longer opens with a hundred lines of -ginkgo.* flags.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `usage: pkarena-conformance [flags]

Runs the conformance suite against -target (none: the embedded reference server) and prints
the verdict; -results writes junit.xml, results.json, report.html and conformance.log.

flags (each also a PKARENA_* variable or a key of the -config file):
`)
	defaults := harness.Defaults().Redacted()
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "ginkgo.") || strings.HasPrefix(f.Name, "test.") {
			return
		}
		name, text := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, text)
		d := defaults[strings.ReplaceAll(f.Name, "-", "_")]
		if f.Name == "secret" {
			d = harness.DefaultSecret + " (the development secret: set your own)"
		}
		if d != "" && d != "false" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprint(w, `
Ginkgo's own flags work with the -ginkgo. prefix, e.g. -ginkgo.focus=BATTLE-0,
-ginkgo.label-filter=cohost, -ginkgo.v, -ginkgo.no-color; -help-ginkgo lists them all.

exit: 0 conformant (certified, for -certify); 1 not conformant; 2 bad usage or a configuration
-certify refuses; 3 harness or configuration error.
`)
}
