// Package runner runs the conformance suite once and turns Ginkgo's report into pkarena's
// results (results.Run): verdicts per spec and per requirement, tiers, failure
// transcripts, and the files of the results folder. The binary and `go test` both use it.
package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/specs"
	"github.com/pkarena/pkarena/reports"
)

// Description is the suite's name in reports.
const Description = "pkarena protocol v1 conformance"

// Options are one run's settings and identity.
type Options struct {
	Settings harness.Settings
	// Version and Commit identify the suite build (stamped by make build).
	Version, Commit string
	// Binary is the executable whose SHA-256 the results record; empty: none.
	Binary string
}

// captured is Ginkgo's report of the run, handed over by the ReportAfterSuite node.
var captured types.Report

var _ = ReportAfterSuite("pkarena results", func(r Report) { captured = r })

// Run configures the specs with o.Settings, runs them (RunSpecs on t) and returns the results;
// with a results folder it also writes the reports there. The Ginkgo configuration (focus,
// label filter, verbosity, seed) comes from GinkgoConfiguration, i.e. the -ginkgo.* flags.
func Run(t GinkgoTestingT, o Options) *results.Run {
	RegisterFailHandler(Fail)
	specs.Configure(o.Settings)
	suiteCfg, reporterCfg := GinkgoConfiguration()
	if suiteCfg.Timeout == time.Hour { // Ginkgo's default: bound a run by the specs' own budgets instead
		suiteCfg.Timeout = 2 * time.Hour
	}
	started := time.Now()
	RunSpecs(t, Description, suiteCfg, reporterCfg)
	run := Build(captured, o, started, time.Now())
	return run
}

// Build turns Ginkgo's report into results.
func Build(r types.Report, o Options, started, finished time.Time) *results.Run {
	reqs := conformance.Requirements(conformance.SpecMarkdown)
	byID := conformance.ByID(reqs)
	run := &results.Run{
		Suite: results.SuiteInfo{
			Name: "pkarena-conformance", Version: o.Version, Commit: o.Commit, Protocol: "v1",
			BinarySHA256: checksum(o.Binary),
		},
		Target:        targetDescription(r),
		Config:        o.Settings.Redacted(),
		Certification: o.Settings.Certify,
		Started:       started,
		Finished:      finished,
	}
	suiteError := ""
	for _, sp := range r.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt && sp.State.Is(types.SpecStateFailureStates) {
			suiteError = fmt.Sprintf("%s failed: %s", sp.LeafNodeType, firstLine(sp.Failure.Message))
		}
	}
	for _, sp := range r.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt {
			continue
		}
		run.Specs = append(run.Specs, specResult(sp, byID, suiteError))
	}
	if suiteError != "" && len(run.Specs) == 0 {
		// Ginkgo reports no spec when the suite's setup failed: say so rather than pass.
		run.Specs = append(run.Specs, results.Spec{
			Name: "suite setup", Tier: results.TierCore, Verdict: results.Error, Reason: suiteError,
			Failure: &results.Failure{Message: suiteError},
		})
	}
	for _, rq := range reqs {
		run.Requirements = append(run.Requirements, results.Requirement{
			ID: rq.ID, Section: rq.Section, Level: rq.Level, Tier: rq.Tier(), Text: rq.Text,
		})
	}
	results.Finish(run)
	if t := run.Totals; t.Passed+t.Failed+t.Errors == 0 && run.Verdict == results.Pass {
		run.Verdict = results.Error // nothing ran: a run that checked nothing is no verdict
		run.Certified = false
		run.Note = fmt.Sprintf("no spec ran: the focus, label filter, tiers and -disable settings left none of the %d specs (pkarena-conformance -list shows them)", len(run.Specs))
	} else if core := run.Tiers[results.TierCore]; run.Verdict == results.Pass && core.Disabled > 0 {
		run.Note = fmt.Sprintf("partial run: %d of %d core specs were disabled, so this pass covers part of the protocol only", core.Disabled, core.Total())
	}
	return run
}

// specResult maps one spec's Ginkgo outcome to a verdict.
func specResult(sp types.SpecReport, byID map[string]conformance.Requirement, suiteError string) results.Spec {
	name := sp.FullText()
	ids := conformance.IDs(name)
	s := results.Spec{
		Name: name, IDs: ids, Labels: sp.Labels(), Tier: conformance.TierOf(ids, byID),
		Location: sp.LeafNodeLocation.String(), Seconds: sp.RunTime.Seconds(),
	}
	s.Measured = measured(sp)
	msg := sp.Failure.Message
	disabledWhy, disabled := results.DisabledBy(msg)
	switch {
	case sp.State == types.SpecStatePassed:
		s.Verdict = results.Pass
	case sp.State == types.SpecStateSkipped && disabled:
		s.Verdict, s.Reason = results.Disabled, disabledWhy
	case sp.State == types.SpecStateSkipped && suiteError != "":
		s.Verdict, s.Reason = results.Error, "not run: "+suiteError
	case sp.State == types.SpecStateSkipped && msg == "":
		s.Verdict, s.Reason = results.Disabled, "not selected by the focus or label filter"
	case sp.State == types.SpecStateSkipped || sp.State == types.SpecStatePending:
		s.Verdict, s.Reason = results.Skip, msg
	case sp.State == types.SpecStateFailed && slowSuite(sp) != "":
		s.Verdict, s.Reason = results.Error, slowSuite(sp)
	case sp.State == types.SpecStateFailed:
		s.Verdict, s.Reason = results.Fail, firstLine(msg)
	default: // panicked, interrupted, aborted, timed out: the harness, not the server
		s.Verdict, s.Reason = results.Error, sp.State.String()+": "+firstLine(msg)
	}
	if s.Verdict == results.Fail || s.Verdict == results.Error {
		f := &results.Failure{Message: msg, Location: sp.Failure.Location.String()}
		for _, ae := range sp.AdditionalFailures {
			f.Message += "\n\nand then: " + ae.Failure.Message
		}
		for _, e := range sp.ReportEntries {
			if e.Name != specs.TranscriptEntry {
				continue
			}
			if tr, ok := e.GetRawValue().(results.Transcript); ok {
				f.Transcripts = append(f.Transcripts, tr)
			}
		}
		s.Failure = f
	}
	return s
}

// measured is what sp noted with AddReportEntry, less the entries the harness reads itself
// (a transcript, the suite's own slowness, the target's description).
func measured(sp types.SpecReport) []results.Measurement {
	var out []results.Measurement
	for _, e := range sp.ReportEntries {
		switch e.Name {
		case specs.TranscriptEntry, specs.SlowSuiteEntry, specs.TargetEntry:
			continue
		}
		out = append(out, results.Measurement{Name: e.Name, Value: e.StringRepresentation()})
	}
	return out
}

// slowSuite is the reason a failed spec is the harness's fault: its SlowSuiteEntry, or "".
func slowSuite(sp types.SpecReport) string {
	for _, e := range sp.ReportEntries {
		if e.Name == specs.SlowSuiteEntry {
			return e.StringRepresentation()
		}
	}
	return ""
}

// targetDescription is the "target" report entry of the BeforeSuite, if any.
func targetDescription(r types.Report) string {
	for _, sp := range r.SpecReports {
		for _, e := range sp.ReportEntries {
			if e.Name == specs.TargetEntry {
				return e.StringRepresentation()
			}
		}
	}
	return "(unknown: the suite did not start)"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checksum is the hex SHA-256 of a file, or "" if it cannot be read.
func checksum(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// WriteResults writes junit.xml, results.json, report.html and conformance.log into dir and
// returns their paths.
func WriteResults(dir string, run *results.Run) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := []struct {
		name  string
		write func(io.Writer, *results.Run) error
	}{
		{"results.json", reports.WriteJSON},
		{"junit.xml", reports.WriteJUnit},
		{"report.html", reports.WriteHTML},
		{"conformance.log", writeLog},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFile(p, func(w io.Writer) error { return f.write(w, run) }); err != nil {
			return paths, fmt.Errorf("%s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeLog writes one line per spec, then the summary whose last line is the stable
// "N Passed | N Failed | N Skipped | N Errors".
func writeLog(w io.Writer, run *results.Run) error {
	fmt.Fprintf(w, "pkarena-conformance %s (%s), protocol %s\ntarget: %s\nstarted %s, finished %s\n\n",
		run.Suite.Version, run.Suite.Commit, run.Suite.Protocol, run.Target,
		run.Started.UTC().Format(time.RFC3339), run.Finished.UTC().Format(time.RFC3339))
	for _, s := range run.Specs {
		line := fmt.Sprintf("%-8s %-8s %6.2fs  %s", strings.ToUpper(string(s.Verdict)), s.Tier, s.Seconds, s.Name)
		if s.Reason != "" && s.Verdict != results.Pass {
			line += "  -- " + s.Reason
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	return reports.WriteSummary(w, run)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// List writes every spec of the suite, with its tier, requirement IDs and labels, sorted by
// tier then name, without running anything.
func List(w io.Writer) {
	byID := conformance.ByID(conformance.Requirements(conformance.SpecMarkdown))
	report := PreviewSpecs(Description)
	type row struct{ tier, ids, labels, name string }
	var rows []row
	for _, sp := range report.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt {
			continue
		}
		ids := conformance.IDs(sp.FullText())
		rows = append(rows, row{string(conformance.TierOf(ids, byID)), strings.Join(ids, " "), strings.Join(sp.Labels(), ","), sp.FullText()})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].tier != rows[j].tier {
			return rows[i].tier < rows[j].tier
		}
		return rows[i].name < rows[j].name
	})
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s [%s] %s\n", r.tier, r.labels, r.name)
	}
	fmt.Fprintf(w, "%d specs\n", len(rows))
}

// CheckDisable refuses -disable entries that name no spec: a misspelt label or requirement ID
// would otherwise switch nothing off, silently.
func CheckDisable(entries []string) error {
	if len(entries) == 0 {
		return nil
	}
	known := map[string]bool{}
	var labels []string
	for _, sp := range PreviewSpecs(Description).SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt {
			continue
		}
		for _, id := range conformance.IDs(sp.FullText()) {
			known[id] = true
		}
		for _, l := range sp.Labels() {
			if !known[l] {
				labels = append(labels, l)
			}
			known[l] = true
		}
	}
	for _, d := range entries {
		if !known[d] {
			sort.Strings(labels)
			return fmt.Errorf("-disable %q: no spec has this label or requirement ID (labels: %s; IDs as in SPEC.md, e.g. AUTHZ-003; -list shows every spec)", d, strings.Join(labels, ", "))
		}
	}
	return nil
}
