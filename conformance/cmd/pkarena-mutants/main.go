// Command pkarena-mutants tests the conformance suite: it runs a pkarena-conformance binary
// built with -tags pkarena_mutants once per mutant of reference/mutant, with only the specs
// that name the requirements the mutant must break, and checks that the suite goes red
// (exit 1, not conformant) every time. A control run with no mutant, beside theirs, must pass
// for any verdict to count.
//
//	go build -tags pkarena_mutants -o bin/pkarena-conformance-mutants ./conformance/cmd/pkarena-conformance
//	pkarena-mutants -binary bin/pkarena-conformance-mutants -results results
//
// It prints a table and the kill rate, writes mutants.json, and exits 0 only if every mutant
// was caught. The mutants run -workers at a time (3 by default): each run is a separate
// process with its own embedded server, and mostly waits on the suite's timers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pkarena/pkarena/internal/exitcode"
	"github.com/pkarena/pkarena/reference/mutant"
)

// perRun bounds one run of the suite.
const perRun = 5 * time.Minute

// Outcome is what became of one mutant.
type Outcome struct {
	Mutant      string   `json:"mutant"`
	Description string   `json:"description"`
	Catches     []string `json:"catches"`
	// Result is caught (the suite said not conformant), survived (it passed) or error (the
	// suite could not decide: exit code 2 or 3, or a crash).
	Result   string  `json:"result"`
	ExitCode int     `json:"exitCode"`
	Seconds  float64 `json:"seconds"`
	// Failed lists the specs that failed, from the run's log.
	Failed []string `json:"failed,omitempty"`
}

// Report is mutants.json.
type Report struct {
	Binary   string    `json:"binary"`
	Control  Outcome   `json:"control"`
	Mutants  []Outcome `json:"mutants"`
	Caught   int       `json:"caught"`
	Total    int       `json:"total"`
	KillRate float64   `json:"killRate"`
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-mutants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("binary", "bin/pkarena-conformance-mutants", "pkarena-conformance built with -tags pkarena_mutants")
	results := fs.String("results", "", "folder for mutants.json and the runs' logs; empty: none")
	only := fs.String("only", "", "run this mutant only")
	workers := fs.Int("workers", 3, "mutants run at once (1.."+fmt.Sprint(maxWorkers)+"): a run mostly waits on the suite's timers, a few seconds of CPU in a minute")
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if *workers < 1 || *workers > maxWorkers {
		fmt.Fprintf(stderr, "pkarena-mutants: -workers %d: must be 1..%d\n", *workers, maxWorkers)
		return exitcode.Usage
	}
	if _, err := os.Stat(*binary); err != nil {
		fmt.Fprintln(stderr, "pkarena-mutants:", err)
		return exitcode.Usage
	}
	var all []string
	for _, m := range mutant.Catalogue {
		all = append(all, m.Catches...)
	}
	rep := Report{Binary: *binary}
	// The control run goes beside the mutants' (it takes as long as a few of them): its
	// verdict is awaited before any of theirs is believed.
	control := make(chan Outcome, 1)
	go func() { control <- runOne(*binary, "", "no mutant: the specs must pass", all, *results) }()
	fmt.Fprintf(stdout, "%-32s %-9s %6s  %s\n", "MUTANT", "RESULT", "TIME", "CAUGHT BY")
	var chosen []mutant.Mutant
	for _, m := range mutant.Catalogue {
		if *only == "" || m.Name == *only {
			chosen = append(chosen, m)
		}
	}
	rep.Mutants = runAll(chosen, *workers, func(m mutant.Mutant) Outcome {
		return runOne(*binary, m.Name, m.Description, m.Catches, *results)
	}, func(o Outcome) {
		by := strings.Join(o.Failed, "; ")
		if len(by) > 100 {
			by = by[:100] + "…"
		}
		fmt.Fprintf(stdout, "%-32s %-9s %5.1fs  %s\n", o.Mutant, o.Result, o.Seconds, by)
	})
	if rep.Control = <-control; rep.Control.Result != "survived" {
		fmt.Fprintf(stderr, "pkarena-mutants: the control run (no mutant) did not pass (exit %d): the suite or the build is broken, and no verdict above counts\n", rep.Control.ExitCode)
		return exitcode.Error
	}
	fmt.Fprintf(stdout, "\ncontrol run without a mutant, beside them: passed in %.1f s\n", rep.Control.Seconds)
	for _, o := range rep.Mutants {
		rep.Total++
		if o.Result == "caught" {
			rep.Caught++
		}
	}
	if rep.Total > 0 {
		rep.KillRate = float64(rep.Caught) / float64(rep.Total)
	}
	fmt.Fprintf(stdout, "\nkill rate: %d of %d mutants caught (%.0f%%)\n", rep.Caught, rep.Total, 100*rep.KillRate)
	if *results != "" {
		if err := os.MkdirAll(*results, 0o755); err != nil {
			fmt.Fprintln(stderr, "pkarena-mutants:", err)
			return exitcode.Error
		}
		data, _ := json.MarshalIndent(rep, "", "  ")
		p := filepath.Join(*results, "mutants.json")
		if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "pkarena-mutants:", err)
			return exitcode.Error
		}
		fmt.Fprintln(stdout, "report: "+p)
	}
	if rep.Caught != rep.Total {
		return exitcode.Failed
	}
	return exitcode.OK
}

var failedLine = regexp.MustCompile(`(?m)^FAIL\s+\S+\s+\S+\s+(.*)$`)

// maxWorkers bounds -workers: more runs at once than this would make the suite's timing
// specs compete for two cores.
const maxWorkers = 8

// runAll runs every mutant with run, workers at a time, and returns the outcomes in the order
// of ms; report is called with each outcome in that order too, as soon as it and every one
// before it are done (the table stays in catalogue order while the runs overlap).
func runAll(ms []mutant.Mutant, workers int, run func(mutant.Mutant) Outcome, report func(Outcome)) []Outcome {
	outs := make([]Outcome, len(ms))
	done := make(chan int)
	next := make(chan int, len(ms))
	for i := range ms {
		next <- i
	}
	close(next)
	for range min(workers, len(ms)) {
		go func() {
			for i := range next {
				outs[i] = run(ms[i])
				done <- i
			}
		}()
	}
	finished := make([]bool, len(ms))
	printed := 0
	for range ms {
		finished[<-done] = true
		for printed < len(ms) && finished[printed] {
			report(outs[printed])
			printed++
		}
	}
	return outs
}

// runOne runs the suite focused on the specs naming ids, with mutant name switched on.
func runOne(binary, name, desc string, ids []string, results string) Outcome {
	o := Outcome{Mutant: name, Description: desc, Catches: ids}
	logDir, err := os.MkdirTemp("", "pkarena-mutant-")
	if err != nil {
		o.Result = "error"
		return o
	}
	defer os.RemoveAll(logDir)
	focus := `\b(` + strings.Join(ids, "|") + `)\b`
	ctx, cancel := context.WithTimeout(context.Background(), perRun)
	defer cancel()
	args := []string{"-results", logDir, "-ginkgo.focus", focus, "-ginkgo.no-color"}
	if name != "" {
		// A mutant is caught by its first failing spec: the rest need not run (two of the
		// hostile hunt's took two minutes each running every TRANS-003 spec to the end).
		args = append(args, "-ginkgo.fail-fast")
	}
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), mutant.Env+"="+name)
	out, _ := cmd.CombinedOutput()
	o.ExitCode = cmd.ProcessState.ExitCode()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		o.Result = "error"
	case o.ExitCode == 0:
		o.Result = "survived"
	case o.ExitCode == 1:
		o.Result = "caught"
	default:
		o.Result = "error"
	}
	if log, err := os.ReadFile(filepath.Join(logDir, "conformance.log")); err == nil {
		for _, m := range failedLine.FindAllStringSubmatch(string(log), -1) {
			o.Failed = append(o.Failed, strings.SplitN(m[1], "  -- ", 2)[0])
		}
	}
	var res struct {
		Started, Finished time.Time
	}
	if data, err := os.ReadFile(filepath.Join(logDir, "results.json")); err == nil && json.Unmarshal(data, &res) == nil {
		o.Seconds = res.Finished.Sub(res.Started).Seconds()
	}
	if results != "" && o.Result != "caught" && name != "" {
		_ = os.MkdirAll(results, 0o755)
		_ = os.WriteFile(filepath.Join(results, "mutant-"+name+".log"), out, 0o644)
	}
	return o
}
