// Command mutaudit is the second stage of `make mutation-audit`: it takes the mutants that
// Gremlins (github.com/go-gremlins/gremlins) generated and judged with a package's own unit
// tests (stage 1), and judges each one those tests let live with the conformance suite
// (stage 2), the way the hand-written mutants of reference/mutant are judged.
//
// For each mutant it swaps the one token Gremlins reported in a copy of the module under the
// temporary folder, builds pkarena-conformance from the copy (the suite with the embedded
// reference server, so the mutated core or server is the one under test), and runs it with
// -ginkgo.fail-fast: exit 1 (not conformant) kills the mutant, exit 0 lets it survive. A
// control run with no mutant must pass first. With -workers N, N mutants are judged at once,
// each in a copy of its own, after a control run in every copy side by side. The module in
// the working tree is never touched.
//
//	mutaudit -stage1 reference/core=results/mutation-audit/stage1-core.json \
//	    -max-duration 40m -write measurements/mutation-audit.md
//
// Survivors are either killed by a later spec, or listed in equivalent.txt with the reason
// no test can tell them from the original. Mutants inside the body of an `if` that requires
// mutant.On(X) (code only the hand-written mutants run) are judged equivalent without a run.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkarena/pkarena/internal/exitcode"
)

// Exit codes.
const (
	exitOK    = exitcode.OK
	exitUsage = exitcode.Usage
	exitError = exitcode.Error
)

// Verdict is what the suite said of one mutant.
type Verdict struct {
	// Result is killed (the suite failed), survived (it passed), not viable (it does not
	// build), timed out (the run exceeded -per-run) or error (the suite could not decide).
	Result  string  `json:"result"`
	Seconds float64 `json:"seconds"`
	// Failed lists the failing specs (the first one, with -ginkgo.fail-fast).
	Failed []string `json:"failed,omitempty"`
	// Detail says why a run errored.
	Detail string `json:"detail,omitempty"`
}

type stage1Flag []string

func (s *stage1Flag) String() string     { return strings.Join(*s, ",") }
func (s *stage1Flag) Set(v string) error { *s = append(*s, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("mutaudit", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var stage1 stage1Flag
	fset.Var(&stage1, "stage1", "dir=gremlins.json: a package folder (relative to the module root) and Gremlins' -o report of it; repeatable")
	root := fset.String("root", ".", "the module root to copy")
	statuses := fset.String("statuses", "LIVED", "comma-separated stage-1 statuses sent to stage 2 (LIVED, NOT COVERED)")
	maxDuration := fset.Duration("max-duration", 40*time.Minute, "stop starting stage-2 runs after this long; the rest are reported as not judged")
	perRun := fset.Duration("per-run", 4*time.Minute, "bound on one build and run of the suite")
	workers := fset.Int("workers", 1, "mutants judged at once, each in a copy of the module of its own (a suite run mostly waits: 3 fit 2 cores)")
	equivalent := fset.String("equivalent", "tools/mutaudit/equivalent.txt", "the mutants judged equivalent, with reasons")
	stage1Seconds := fset.Float64("stage1-seconds", 0, "stage 1's wall time, for the report")
	command := fset.String("command", "make mutation-audit", "the command to name in the report")
	note := fset.String("note", "", "a paragraph on this run's scope, for the report")
	write := fset.String("write", "", "write the Markdown report here")
	jsonOut := fset.String("json", "", "write every mutant and its verdicts here as JSON")
	previous := fset.String("previous", "", "an earlier run's -json, of the same tree: its verdicts are reused, not run again (drop it after adding a spec)")
	if err := fset.Parse(args); err != nil {
		return exitUsage
	}
	if len(stage1) == 0 {
		fmt.Fprintln(stderr, "mutaudit: at least one -stage1 dir=report.json is needed")
		return exitUsage
	}
	if *workers < 1 || *workers > 16 {
		fmt.Fprintf(stderr, "mutaudit: -workers %d: want 1..16\n", *workers)
		return exitUsage
	}
	start := time.Now()
	// An interrupt stops stage 2 and still writes the report: the mutants left are not judged.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var all []Mutant
	for _, s := range stage1 {
		dir, path, ok := strings.Cut(s, "=")
		if !ok {
			fmt.Fprintf(stderr, "mutaudit: -stage1 %q: want dir=report.json\n", s)
			return exitUsage
		}
		ms, err := readGremlins(path, dir)
		if err != nil {
			fmt.Fprintln(stderr, "mutaudit:", err)
			return exitError
		}
		all = append(all, ms...)
	}
	equiv, err := readEquivalent(*equivalent)
	if err != nil {
		fmt.Fprintln(stderr, "mutaudit:", err)
		return exitError
	}
	for key, j := range guarded(*root, all) { // the hand-written list's reasons come first
		if _, listed := equiv[key]; !listed {
			equiv[key] = j
		}
	}
	reuse := map[string]Mutant{}
	if *previous != "" {
		data, err := os.ReadFile(*previous)
		var prev []Mutant
		if err == nil {
			err = json.Unmarshal(data, &prev)
		}
		if err != nil {
			fmt.Fprintln(stderr, "mutaudit: -previous:", err)
			return exitError
		}
		for _, m := range prev {
			if m.Stage2 != nil && m.Stage2.Result != "error" {
				reuse[m.Key()] = m
			}
		}
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*statuses, ",") {
		want[strings.TrimSpace(s)] = true
	}

	work, err := os.MkdirTemp("", "pkarena-mutaudit-")
	if err != nil {
		fmt.Fprintln(stderr, "mutaudit:", err)
		return exitError
	}
	defer os.RemoveAll(work)
	// Worker w judges in its own copy, work/w<w>/module, and builds there.
	dirs := make([]string, *workers)
	for w := range dirs {
		dirs[w] = filepath.Join(work, fmt.Sprintf("w%d", w))
		if err := copyModule(*root, filepath.Join(dirs[w], "module")); err != nil {
			fmt.Fprintln(stderr, "mutaudit: copy the module:", err)
			return exitError
		}
	}
	fmt.Fprintf(stdout, "stage 2: the suite against each mutant, %d at once, in copies under %s\n", *workers, work)
	// A control run in every copy, at once: each must pass, side by side as the mutants will
	// be judged, before any verdict means anything.
	controls := make([]Verdict, len(dirs))
	var wg sync.WaitGroup
	for w := range dirs {
		wg.Add(1)
		go func() { // each writes its own element only, read after Wait
			defer wg.Done()
			controls[w] = judge(ctx, filepath.Join(dirs[w], "module"), dirs[w], *perRun)
		}()
	}
	wg.Wait()
	control, failed := controls[0], false
	for w, v := range controls {
		fmt.Fprintf(stdout, "control run without a mutant (copy %d): %s in %.0f s %s\n", w, v.Result, v.Seconds, v.Detail)
		failed = failed || v.Result != "survived"
	}
	if failed {
		fmt.Fprintln(stderr, "mutaudit: a control run (no mutant) did not pass: the suite or the build is broken, or the machine cannot hold this many runs at once (-workers); no verdict is possible")
		return exitError
	}
	var jobs []job
	for i := range all {
		m := &all[i]
		if equiv[m.Key()].Equivalent || !want[m.Stage1] {
			continue // an equivalent mutant needs no run: it cannot be killed
		}
		if p, ok := reuse[m.Key()]; ok {
			m.Stage2, m.Original, m.Mutated = p.Stage2, p.Original, p.Mutated
			continue
		}
		jobs = append(jobs, job{i: i, m: *m})
	}
	var writeErr error
	judgeAll(ctx, jobs, *workers, start.Add(*maxDuration), func(ctx context.Context, w int, m *Mutant) Verdict {
		return judgeMutant(ctx, filepath.Join(dirs[w], "module"), dirs[w], m, *perRun)
	}, func(a judged) {
		if !a.ok {
			return
		}
		m := &all[a.i]
		m.Original, m.Mutated, m.Stage2 = a.m.Original, a.m.Mutated, &a.v
		fmt.Fprintf(stdout, "%-52s %-10s %4.0f s  %s\n", m.Key(), a.v.Result, a.v.Seconds, strings.Join(a.v.Failed, "; ")+a.v.Detail)
		if err := writeJSON(*jsonOut, all); err != nil && writeErr == nil { // after every verdict, for -previous
			writeErr = err
		}
	})
	if writeErr != nil {
		fmt.Fprintln(stderr, "mutaudit:", writeErr)
		return exitError
	}
	rep := buildReport(all, equiv, want, control, *command, *stage1Seconds, time.Since(start).Seconds(), *maxDuration, describe(*root))
	rep.note, rep.workers = *note, *workers
	fmt.Fprint(stdout, rep.summary())
	if err := writeJSON(*jsonOut, all); err != nil {
		fmt.Fprintln(stderr, "mutaudit:", err)
		return exitError
	}
	if *write != "" {
		if err := os.WriteFile(*write, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintln(stderr, "mutaudit:", err)
			return exitError
		}
		fmt.Fprintln(stdout, "report: "+*write)
	}
	return exitOK
}

// judgeMutant applies m to its file in the copy mod, runs the suite, and restores the file.
func judgeMutant(ctx context.Context, mod, work string, m *Mutant, perRun time.Duration) Verdict {
	path := filepath.Join(mod, m.Dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		return Verdict{Result: "error", Detail: err.Error()}
	}
	mutated, before, after, err := apply(orig, m.Line, m.Column, m.Type)
	if err != nil {
		return Verdict{Result: "error", Detail: err.Error()}
	}
	m.Original, m.Mutated = before, after
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		return Verdict{Result: "error", Detail: err.Error()}
	}
	defer os.WriteFile(path, orig, 0o644)
	if m.Stage1 == "NOT COVERED" || m.Stage1 == "LIVED" {
		if v, decided := unitTests(ctx, mod, m.Dir, perRun, m.Stage1); decided {
			return v
		}
	}
	return judge(ctx, mod, work, perRun)
}

// unitTests runs the unit tests of the package in dir of the copy mod, with a mutant applied
// that Gremlins reported NOT COVERED or LIVED (stage1). Gremlins calls NOT COVERED what Go's
// coverage profile does not put in a block, which includes the cases of a switch without a
// tag: tests that run those lines exist and Gremlins never ran them. A LIVED mutant meets the
// package's tests as they are now: a test written after Gremlins' run (for a survivor of an
// earlier audit) kills it without a new stage 1. A failing test kills the mutant at the cost
// of one package's tests rather than the suite's; a build failure makes it not viable. decided
// is false when the tests pass (or cannot tell): the suite then judges.
func unitTests(parent context.Context, mod, dir string, perRun time.Duration, stage1 string) (v Verdict, decided bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, perRun)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "./"+filepath.ToSlash(dir))
	cmd.Dir = mod
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		return Verdict{}, false
	}
	if name := failedTest.FindStringSubmatch(string(out)); name != nil {
		// The kill counts when the failing test fails again on its own (see judge).
		top, _, _ := strings.Cut(name[1], "/")
		again := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^"+regexp.QuoteMeta(top)+"$", "./"+filepath.ToSlash(dir))
		again.Dir = mod
		if again.Run() == nil {
			return Verdict{}, false // passed alone: the suite judges
		}
	} else if panicked.MatchString(string(out)) {
		// A panic outside a test's own goroutine (the server's hub, say) ends the test binary
		// without naming a test: it counts when the package's tests crash again.
		again := exec.CommandContext(ctx, "go", "test", "-count=1", "./"+filepath.ToSlash(dir))
		again.Dir = mod
		out2, err := again.CombinedOutput()
		if err == nil || !panicked.MatchString(string(out2)) {
			return Verdict{}, false
		}
	}
	why := "Gremlins called the line NOT COVERED"
	if stage1 == "LIVED" {
		why = "a test the package's tests did not have at stage 1"
	}
	return unitVerdict(string(out), time.Since(start).Seconds(), why)
}

// unitVerdict reads the output of a failed go test run: the first failing test kills the
// mutant, a build failure makes it not viable, anything else decides nothing.
func unitVerdict(out string, seconds float64, why string) (Verdict, bool) {
	switch {
	case strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]"):
		return Verdict{Result: "not viable", Seconds: seconds, Detail: firstLine(out)}, true
	case failedTest.MatchString(out):
		return Verdict{Result: "killed", Seconds: seconds, Failed: []string{"unit test " + failedTest.FindStringSubmatch(out)[1] + " (" + why + ")"}}, true
	case panicked.MatchString(out):
		return Verdict{Result: "killed", Seconds: seconds, Failed: []string{"the package's unit tests crashed: " + panicked.FindStringSubmatch(out)[1] + " (" + why + ")"}}, true
	}
	return Verdict{}, false
}

// failedTest finds go test's first failing test.
var failedTest = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// writeJSON writes every mutant and its verdicts to path, if path is set.
func writeJSON(path string, all []Mutant) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

var failedLine = regexp.MustCompile(`(?m)^FAIL\s+\S+\s+\S+\s+(.*)$`)

// judge builds pkarena-conformance in mod and runs it (the embedded server) to the first
// failure.
func judge(parent context.Context, mod, work string, perRun time.Duration) Verdict {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, perRun)
	defer cancel()
	bin := filepath.Join(work, "pkarena-conformance")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./conformance/cmd/pkarena-conformance")
	build.Dir = mod
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Verdict{Result: "timed out", Seconds: time.Since(start).Seconds(), Detail: "building"}
		}
		return Verdict{Result: "not viable", Seconds: time.Since(start).Seconds(), Detail: firstLine(string(out))}
	}
	logs := filepath.Join(work, "run")
	_ = os.RemoveAll(logs)
	cmd := exec.CommandContext(ctx, bin, "-results", logs, "-ginkgo.fail-fast", "-ginkgo.no-color")
	cmd.Dir = mod
	out, _ := cmd.CombinedOutput()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	v := verdictOf(code, string(out), errors.Is(ctx.Err(), context.DeadlineExceeded))
	v.Seconds = time.Since(start).Seconds()
	if log, err := os.ReadFile(filepath.Join(logs, "conformance.log")); err == nil {
		for _, m := range failedLine.FindAllStringSubmatch(string(log), -1) {
			v.Failed = append(v.Failed, strings.SplitN(m[1], "  -- ", 2)[0])
		}
	}
	if v.Result == "killed" && code == 1 && len(v.Failed) > 0 {
		// The kill counts when the failing spec fails again on its own: beside other runs on
		// a starved machine a spec may fail for the machine's sake, not the mutant's. (A
		// panic of the server, exit 2, names no spec: it stands.)
		again := exec.CommandContext(ctx, bin, "-results", logs+"-again", "-ginkgo.focus", regexp.QuoteMeta(v.Failed[0]), "-ginkgo.no-color")
		again.Dir = mod
		_, _ = again.CombinedOutput()
		if again.ProcessState == nil || again.ProcessState.ExitCode() != 1 {
			return Verdict{Result: "error", Seconds: time.Since(start).Seconds(), Failed: v.Failed, Detail: "the kill did not repeat: the failing spec passed when run alone"}
		}
	}
	return v
}

// verdictOf reads a suite run's exit code and output. Exit 1 (not conformant) kills the
// mutant and exit 0 lets it live. A panic kills it too: the embedded server runs inside the
// suite's process, so a mutant that crashes the server on a request the suite sends ends the
// run with Go's exit 2 and a panic trace; an external server doing the same would fail every
// spec after it. Any other exit is an error of the harness, not a verdict.
func verdictOf(code int, out string, timedOut bool) Verdict {
	switch {
	case timedOut:
		return Verdict{Result: "timed out"}
	case code == 0:
		return Verdict{Result: "survived"}
	case code == 1:
		return Verdict{Result: "killed"}
	case code == 2 && panicked.MatchString(out) && strings.Contains(out, " [running]:\n"):
		return Verdict{Result: "killed", Failed: []string{"the server under test panicked: " + panicked.FindStringSubmatch(out)[1]}}
	}
	return Verdict{Result: "error", Detail: fmt.Sprintf("exit %d: %s", code, lastLine(out))}
}

// panicked finds Go's panic line, which may follow Ginkgo's progress dots on the same line.
var panicked = regexp.MustCompile(`(?m)^\S*panic: (.*)$`)

// copyModule copies the module at root to dst, without .git, bin/ and results/.
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "results":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}

// Judgement is a hand-written verdict on a survivor.
type Judgement struct {
	// Equivalent: no client can tell the mutant from the original. Otherwise the survivor is
	// not killed, and Reason says why the suite does not reach it.
	Equivalent bool
	Reason     string
}

// readEquivalent reads the hand-written verdicts: one mutant a line, its key (as Mutant.Key
// prints it), then " | " and why it is equivalent, or " ! " and why it is a survivor the suite
// does not kill; # starts a comment.
func readEquivalent(path string) (map[string]Judgement, error) {
	out := map[string]Judgement{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, equiv := strings.Cut(line, " | ")
		if !equiv {
			key, reason, _ = strings.Cut(line, " ! ")
		}
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"dir/file.go:line:col MUTATOR | reason\" or \"... ! reason\"", path, n)
		}
		out[strings.TrimSpace(key)] = Judgement{Equivalent: equiv, Reason: strings.TrimSpace(reason)}
	}
	return out, sc.Err()
}

func describe(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
