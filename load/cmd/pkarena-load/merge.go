package main

import (
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reports"
)

// runMerge combines the results folders of the agents of a distributed run.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-load merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pkarena-load merge -out DIR [flags] AGENT_DIR...\n\nAdds the agents' interval histograms (exactly) and counters, and judges the thresholds\nthe agents ran with, plus any given here.\n\nFlags:")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "folder of the merged results (required)")
	var extra repeatFlag
	fs.Var(&extra, "threshold", "a further pass/fail rule (repeatable)")
	noReport := fs.Bool("no-report", false, "do not render report.html")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return metrics.ExitUsage
	}
	exprs, err := agentThresholds(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load merge:", err)
		return metrics.ExitError
	}
	for _, x := range extra {
		if !slices.Contains(exprs, x) {
			exprs = append(exprs, x)
		}
	}
	thresholds, err := metrics.ParseThresholds(exprs)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load merge:", err)
		return metrics.ExitUsage
	}
	sum, err := metrics.Merge(*out, fs.Args(), thresholds)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load merge:", err)
		return metrics.ExitError
	}
	fmt.Fprintf(stdout, "merged %d agents into %s\n\n", len(fs.Args()), *out)
	for _, w := range sum.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return finish(*out, sum, !*noReport, nil, stdout, stderr)
}

// agentThresholds collects the thresholds the agents were judged by (built-in rules aside:
// Evaluate adds them anyway).
func agentThresholds(dirs []string) ([]string, error) {
	var exprs []string
	for _, d := range dirs {
		s, err := metrics.ReadSummary(d)
		if err != nil {
			return nil, err
		}
		for _, t := range s.Thresholds {
			if !t.Builtin && !slices.Contains(exprs, t.Expr) {
				exprs = append(exprs, t.Expr)
			}
		}
	}
	return exprs, nil
}

// runReport renders report.html from a results folder.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-load report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pkarena-load report DIR\n\nRenders DIR/report.html from DIR's summary.json and metrics.hlog: percentile spectrum,\nlatency and throughput over time, counters, thresholds.")
	}
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return metrics.ExitUsage
	}
	path, err := reports.WriteLoadReportDir(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load report:", err)
		return metrics.ExitError
	}
	fmt.Fprintln(stdout, path)
	return metrics.ExitOK
}
