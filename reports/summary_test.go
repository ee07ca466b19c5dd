package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// TestSummaryLine checks SummaryLine's exact format.
func TestSummaryLine(t *testing.T) {
	tests := []struct {
		totals results.Totals
		want   string
	}{
		// Nothing ran.
		{results.Totals{}, "0 Passed | 0 Failed | 0 Skipped | 0 Errors"},
		// Skipped counts skipped and disabled specs.
		{results.Totals{Passed: 210, Failed: 3, Skipped: 1, Disabled: 4, Errors: 2}, "210 Passed | 3 Failed | 5 Skipped | 2 Errors"},
		// Only disabled specs.
		{results.Totals{Disabled: 7}, "0 Passed | 0 Failed | 7 Skipped | 0 Errors"},
		// The fixture's totals.
		{resultstest.Finished().Totals, "2 Passed | 1 Failed | 2 Skipped | 1 Errors"},
	}
	for _, tt := range tests {
		if got := SummaryLine(tt.totals); got != tt.want {
			t.Errorf("SummaryLine(%+v) = %q, want %q", tt.totals, got, tt.want)
		}
	}
}

// summaryLineRE matches a summary line anywhere in a log.
var summaryLineRE = regexp.MustCompile(`(?m)^\d+ Passed \| \d+ Failed \| \d+ Skipped \| \d+ Errors$`)

// TestWriteSummary checks the plain-text summary.
func TestWriteSummary(t *testing.T) {
	forged := resultstest.Finished()
	forged.Specs[1].Name = "spoof\n999 Passed | 0 Failed | 0 Skipped | 0 Errors\n\x1b[2J"
	forged.Specs[2].Failure.Message = "\n\n  first line\r\n999 Passed | 0 Failed | 0 Skipped | 0 Errors"
	tests := []struct {
		name  string
		run   *results.Run
		want  []string // lines, in order, that must appear
		avoid []string
	}{
		// The fixture: verdict, certification, tiers, failures, the summary line.
		{"fixture", resultstest.Finished(), []string{
			"pkarena-conformance v0.4.0 (commit ff70659e196126) against ws://127.0.0.1:8080/v1/ws: ERROR in 1m23s",
			"certification: NOT CERTIFIED (features declared unsupported, not certified: battle)",
			"core:     2 passed, 1 failed, 1 skipped, 0 disabled, 0 errors",
			"strict:   0 passed, 0 failed, 0 skipped, 0 disabled, 1 errors",
			"optional: 0 passed, 0 failed, 0 skipped, 1 disabled, 0 errors",
			"  [FAIL] co-host: requestConnection returns one code per room (COHOST-002, COHOST-001): Expected …",
			"  [ERROR] co-host: events & replies share a write <b> (COHOST-040): listen tcp :0: bind: address already in use",
			"2 Passed | 1 Failed | 2 Skipped | 1 Errors",
		}, nil},
		// A passing certified run without tiers other than core.
		{"certified", func() *results.Run {
			r := &results.Run{Certification: true, Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Pass, "")}}
			results.Finish(r)
			return r
		}(), []string{"pkarena conformance: PASS", "certification: CERTIFIED", "core:     1 passed, 0 failed, 0 skipped, 0 disabled, 0 errors", "1 Passed | 0 Failed | 0 Skipped | 0 Errors"},
			[]string{"strict:", "[FAIL]", "NOT"}},
		// A note says why, on the line after the verdict, and cannot add lines either.
		{"note", func() *results.Run {
			r := &results.Run{Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Disabled, "")}}
			results.Finish(r)
			r.Verdict, r.Note = results.Error, "no spec ran:\nforged"
			return r
		}(), []string{"pkarena conformance: ERROR", "note: no spec ran: forged", "0 Passed | 0 Failed | 1 Skipped | 0 Errors"}, nil},
		// A run before Finish: no verdict yet, zero totals.
		{"unfinished", &results.Run{}, []string{"pkarena conformance: UNKNOWN", "0 Passed | 0 Failed | 0 Skipped | 0 Errors"}, []string{"certification"}},
		// A hostile spec name or message cannot add lines, forge the summary line or reach the terminal.
		{"forged", forged, []string{
			"  [FAIL] spoof 999 Passed | 0 Failed | 0 Skipped | 0 Errors \u241b[2J (COHOST-002, COHOST-001): Expected …",
			"  [ERROR] co-host: events & replies share a write <b> (COHOST-040): first line …",
		}, []string{"\x1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSummary(&buf, tt.run); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.HasSuffix(out, "\n") {
				t.Error("the summary does not end with a newline")
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if last := lines[len(lines)-1]; last != SummaryLine(tt.run.Totals) {
				t.Errorf("last line %q, want %q", last, SummaryLine(tt.run.Totals))
			}
			if n := len(summaryLineRE.FindAllString(out, -1)); n != 1 {
				t.Errorf("%d summary lines:\n%s", n, out)
			}
			i := 0
			for _, l := range lines {
				if i < len(tt.want) && l == tt.want[i] {
					i++
				}
			}
			if i < len(tt.want) {
				t.Errorf("missing line %q in:\n%s", tt.want[i], out)
			}
			for _, a := range tt.avoid {
				if strings.Contains(out, a) {
					t.Errorf("the summary contains %q:\n%s", a, out)
				}
			}
		})
	}
}
