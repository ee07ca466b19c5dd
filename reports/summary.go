package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/pkarena/pkarena/conformance/results"
)

// summaryMessageBytes bounds the message line of a failed spec in the summary.
const summaryMessageBytes = 300

// SummaryLine returns the stable last line of a conformance run's log, which reviewers grep:
// exactly "N Passed | N Failed | N Skipped | N Errors", where Skipped counts the skipped and the
// disabled specs.
func SummaryLine(t results.Totals) string {
	return fmt.Sprintf("%d Passed | %d Failed | %d Skipped | %d Errors",
		t.Passed, t.Failed, t.Skipped+t.Disabled, t.Errors)
}

// WriteSummary writes a short plain-text summary of run for the log: the verdict, whether a
// certification run certified the server, the totals per tier, each failed and erred spec with
// the first line of its message, and SummaryLine(run.Totals) as the very last line.
//
// Names and messages are cleaned (control characters become their Unicode control pictures and
// line breaks spaces), so that nothing the server sent can add a line to the log, forge the
// summary line or send escape sequences to a terminal.
func WriteSummary(w io.Writer, run *results.Run) error {
	if run == nil {
		return errNilRun
	}
	var b bytes.Buffer
	name := run.Suite.Name
	if name == "" {
		name = "pkarena conformance"
	}
	fmt.Fprintf(&b, "%s", singleLine(name))
	if run.Suite.Version != "" {
		fmt.Fprintf(&b, " %s", singleLine(run.Suite.Version))
	}
	if run.Suite.Commit != "" {
		fmt.Fprintf(&b, " (commit %s)", singleLine(run.Suite.Commit))
	}
	if run.Target != "" {
		fmt.Fprintf(&b, " against %s", singleLine(run.Target))
	}
	fmt.Fprintf(&b, ": %s", verdictWord(run.Verdict))
	if d, ok := runDuration(run); ok {
		fmt.Fprintf(&b, " in %s", humanSeconds(d.Seconds()))
	}
	b.WriteByte('\n')
	if run.Note != "" {
		fmt.Fprintf(&b, "note: %s\n", singleLine(run.Note))
	}

	if run.Certification {
		if run.Certified {
			b.WriteString("certification: CERTIFIED")
		} else {
			b.WriteString("certification: NOT CERTIFIED")
		}
		if len(run.UncertifiedFeatures) > 0 {
			fmt.Fprintf(&b, " (features declared unsupported, not certified: %s)",
				singleLine(strings.Join(run.UncertifiedFeatures, ", ")))
		}
		b.WriteByte('\n')
	}

	for _, tier := range tierOrder(run) {
		t, ok := run.Tiers[tier]
		if !ok || t.Total() == 0 {
			continue
		}
		fmt.Fprintf(&b, "%-9s %d passed, %d failed, %d skipped, %d disabled, %d errors\n",
			singleLine(tierLabel(tier))+":", t.Passed, t.Failed, t.Skipped, t.Disabled, t.Errors)
	}

	for _, s := range run.Specs {
		if s.Verdict != results.Fail && s.Verdict != results.Error {
			continue
		}
		message := s.Reason
		if s.Failure != nil && s.Failure.Message != "" {
			message = s.Failure.Message
		}
		fmt.Fprintf(&b, "  [%s] %s", verdictWord(s.Verdict), singleLine(s.Name))
		if len(s.IDs) > 0 {
			fmt.Fprintf(&b, " (%s)", singleLine(strings.Join(s.IDs, ", ")))
		}
		if m := oneLine(message, summaryMessageBytes); m != "" {
			fmt.Fprintf(&b, ": %s", m)
		}
		b.WriteByte('\n')
	}

	b.WriteString(SummaryLine(run.Totals))
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// verdictWord is a verdict as shown to people: "PASS", "FAIL", ...; an empty or unknown
// verdict is shown cleaned, in capitals, or as "UNKNOWN".
func verdictWord(v results.Verdict) string {
	if v == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(singleLine(string(v)))
}
