package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
)

// journalLoad is the load bench-journal plays against each server: 900 hosts with 4 viewers
// each, 1,000 gifts a second, 10 s of ramp and 40 s measured (-set overrides any of them).
var journalLoad = []string{"hosts=900", "audience_per_room=4", "gift_rate=1000", "ramp_up=10s", "duration=40s"}

// journalServerArgs lift the REST limit (200 a second by default) so that it does not cap the
// gifts, and keep the servers' logs to warnings.
var journalServerArgs = []string{"-rest-rate-limit", "10000", "-log-level", "warn"}

// runJournalBench measures the battle journal's cost: the same pk load against a memory-only
// reference server and one with -state-dir, one after the other, on this machine, and the
// latencies side by side as ratios. It replaces reports/journal-bench.sh.
func runJournalBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-load bench-journal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverBin := fs.String("server-bin", "bin/pkarena-server", "the reference server binary (make build makes it)")
	out := fs.String("out", "results/bench-journal", "folder for the two runs' results, the servers' logs and the journal")
	write := fs.String("write", "", writeUsage)
	var sets repeatFlag
	fs.Var(&sets, "set", "a scenario parameter key=value over the benchmark's own ("+strings.Join(journalLoad, " ")+"); repeatable")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pkarena-load bench-journal: unexpected argument %q\n", fs.Arg(0))
		return metrics.ExitUsage
	}
	if _, err := os.Stat(*serverBin); err != nil {
		fmt.Fprintf(stderr, "pkarena-load bench-journal: server binary: %v (make build makes bin/pkarena-server)\n", err)
		return metrics.ExitUsage
	}
	if *write != "" {
		if err := checkFigures(*write); err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench-journal:", err)
			return metrics.ExitUsage
		}
	}
	state := filepath.Join(*out, "state")
	self, err := os.Executable()
	// Only what a previous benchmark left is removed, never -out itself: the journal server
	// must start on an empty state folder, or it restores the last run's battles.
	for _, dir := range []string{state, filepath.Join(*out, "memory"), filepath.Join(*out, "journal")} {
		if err == nil {
			err = os.RemoveAll(dir)
		}
	}
	if err == nil {
		err = os.MkdirAll(*out, 0o755)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench-journal:", err)
		return metrics.ExitError
	}
	runs := []struct {
		name string
		args []string
	}{
		{"memory", journalServerArgs},
		{"journal", append(append([]string{}, journalServerArgs...), "-state-dir", state)},
	}
	var sums []*metrics.Summary
	var journalMetrics string
	for _, r := range runs {
		fmt.Fprintf(stdout, "== %s server\n", r.name)
		s, err := startServer(ctx, *serverBin, r.args, filepath.Join(*out, r.name+"-server.log"))
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench-journal:", err)
			return metrics.ExitError
		}
		dir := filepath.Join(*out, r.name)
		runArgs := []string{"run", "-scenario", "pk", "-target", s.url, "-quiet", "-no-report", "-out", dir}
		for _, kv := range append(append([]string{}, journalLoad...), sets...) {
			runArgs = append(runArgs, "-set", kv)
		}
		cmd, err := startProcess(ctx, self, runArgs, filepath.Join(*out, r.name+"-load.log"))
		code := metrics.ExitError
		if err == nil {
			code = exitCode(cmd.Wait())
		}
		if r.name == "journal" {
			journalMetrics = scrapeJournalMetrics(s.url)
		}
		s.stop()
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench-journal:", err)
			return metrics.ExitError
		}
		sum, rerr := metrics.ReadSummary(dir)
		if rerr != nil {
			fmt.Fprintf(stderr, "pkarena-load bench-journal: the %s run (exit %d) left no summary: %v; see %s\n", r.name, code, rerr, filepath.Join(*out, r.name+"-load.log"))
			return metrics.ExitError
		}
		fmt.Fprintf(stdout, "%s run: exit %d, %d operations, %d errors, %d lost, %d out of order\n", r.name, code,
			sum.Counters[metrics.Ops], sum.Counters[metrics.Errors], sum.Counters[metrics.Lost], sum.Counters[metrics.OutOfOrder])
		sums = append(sums, sum)
	}
	size := int64(-1)
	if fi, err := os.Stat(filepath.Join(state, server.JournalFile)); err == nil {
		size = fi.Size()
	}
	md := journalFigures(sums[0], sums[1], journalMetrics, size, append([]string{"pkarena-load", "bench-journal"}, args...))
	fmt.Fprint(stdout, md)
	if *write != "" {
		if err := writeFigures(*write, md); err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench-journal:", err)
			return metrics.ExitError
		}
		fmt.Fprintln(stdout, "figures put at the top of", *write)
	}
	return metrics.ExitOK
}

// journalFigureNames are the journal server's samples the benchmark reports.
var journalFigureNames = []string{"pkarena_journal_records_total", "pkarena_journal_commit_seconds_sum",
	"pkarena_journal_commit_seconds_count", "pkarena_score_update_latency_seconds_sum", "pkarena_score_update_latency_seconds_count"}

// scrapeJournalMetrics returns the journal server's own figures from its /metrics: the
// journal's records and commits, and the score latency it measured.
func scrapeJournalMetrics(wsURL string) string {
	u := strings.Replace(strings.TrimSuffix(wsURL, "/v1/ws"), "ws://", "http://", 1) + server.MetricsPath
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return "(the metrics could not be read: " + err.Error() + ")"
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, " ")
		if slices.Contains(journalFigureNames, name) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// journalFigures is the benchmark's result in Markdown: each metric's latencies on both
// servers and the ratios journal ÷ memory.
func journalFigures(mem, jrn *metrics.Summary, serverMetrics string, journalBytes int64, args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The battle journal's cost, %s\n\n", jrn.End.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `%s`. The same `pk` load (%s) against a memory-only reference server, then one with `-state-dir`, on this machine.\n\n",
		strings.Join(args, " "), strings.Join(journalLoad, ", "))
	fmt.Fprintf(&b, "| run | exit | operations | errors | lost | out of order |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range []struct {
		name string
		s    *metrics.Summary
	}{{"memory only", mem}, {"journal", jrn}} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", r.name, r.s.ExitCode(), r.s.Counters[metrics.Ops], r.s.Counters[metrics.Errors],
			r.s.Counters[metrics.Lost], r.s.Counters[metrics.OutOfOrder])
	}
	fmt.Fprintf(&b, "\n| metric, ms (samples) | memory only: p50 / p99 / p99.9 | journal: p50 / p99 / p99.9 | p50 ratio | p99 ratio |\n|---|---|---|---:|---:|\n")
	byName := map[string]metrics.MetricSummary{}
	for _, m := range mem.Metrics {
		byName[m.Name] = m
	}
	for _, j := range jrn.Metrics {
		m, ok := byName[j.Name]
		if !ok {
			continue
		}
		for _, kind := range []struct {
			label  string
			ms, js metrics.Stats
		}{{"corrected", m.Corrected, j.Corrected}, {"service", m.Service, j.Service}} {
			fmt.Fprintf(&b, "| %s %s (%d) | %s / %s / %s | %s / %s / %s | %.2f | %.2f |\n", j.Name, kind.label, kind.js.Count,
				ftoa(kind.ms.P50), ftoa(kind.ms.P99), ftoa(kind.ms.P999), ftoa(kind.js.P50), ftoa(kind.js.P99), ftoa(kind.js.P999),
				ratio(kind.js.P50, kind.ms.P50), ratio(kind.js.P99, kind.ms.P99))
		}
	}
	fmt.Fprintf(&b, "\nThe journal server's own figures (`/metrics` after its run) and the journal's size:\n\n```\n%s%s bytes\n```\n", serverMetrics, sizeText(journalBytes))
	return b.String()
}

func sizeText(n int64) string {
	if n < 0 {
		return "(no journal file) "
	}
	return fmt.Sprintf("%s %d", server.JournalFile, n)
}
