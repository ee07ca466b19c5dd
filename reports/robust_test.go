package reports

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// hostileText holds everything a server could put into a name, a message or a frame.
const hostileText = "a]]>b</pre></td><!-- --> & \"q\" 'q' \x00\x01\x08\x0b\x0c\x1b[31m\x7f \xc3\x28 \xed\xa0\x80 \uFFFE\uFFFF \u2028 \r\n\t" + resultstest.HostileScript

// degenerateRuns are runs the writers must render without panicking into well-formed output.
func degenerateRuns() []struct {
	name    string
	run     *results.Run
	jsonErr bool
} {
	hostile := resultstest.Finished()
	hostile.Suite = results.SuiteInfo{Name: hostileText, Version: hostileText, Commit: hostileText, Protocol: hostileText, BinarySHA256: hostileText}
	hostile.Target = hostileText
	hostile.Config[hostileText] = hostileText
	hostile.Config[""] = ""
	hostile.UncertifiedFeatures = []string{hostileText}
	hostile.Requirements = append(hostile.Requirements, results.Requirement{ID: hostileText, Section: hostileText, Level: hostileText, Tier: hostileText, Text: hostileText, Verdict: results.Verdict(hostileText), Specs: []string{hostileText, "no such spec"}})
	hostile.Specs = append(hostile.Specs, results.Spec{Name: hostileText, IDs: []string{hostileText, "COHOST-001", "NOPE-1"}, Labels: []string{hostileText}, Tier: hostileText,
		Verdict: results.Fail, Reason: hostileText, Location: hostileText, Seconds: 1e300,
		Failure: &results.Failure{Message: hostileText, Location: hostileText, Transcripts: []results.Transcript{
			{Client: hostileText, Dropped: -3, Frames: []results.Frame{{Dir: hostileText, Text: hostileText}, {At: resultstest.T0, Dir: "sent", Text: strings.Repeat("é", 3000)}}},
			{},
		}}})
	hostile.Tiers[hostileText] = results.Totals{Passed: -1}

	return []struct {
		name    string
		run     *results.Run
		jsonErr bool
	}{
		// The zero run.
		{"zero", &results.Run{}, false},
		// A run before Finish, with a failed spec without a Failure and invalid verdicts.
		{"unfinished", &results.Run{Specs: []results.Spec{
			{Name: "a", Verdict: results.Fail}, {Name: "b", Verdict: results.Error}, {Name: "c"}, {Name: "d", Verdict: "weird"}, {Name: "a", Verdict: results.Pass},
		}, Requirements: []results.Requirement{{}, {}}}, false},
		// Durations and times that make no sense.
		{"bad numbers", &results.Run{Started: resultstest.T0, Finished: resultstest.T0.Add(-time.Hour), Specs: []results.Spec{
			{Name: "a", Verdict: results.Pass, Seconds: math.NaN()}, {Name: "b", Verdict: results.Pass, Seconds: math.Inf(-1)}, {Name: "c", Verdict: results.Pass, Seconds: -1},
		}}, false},
		// A year JSON's time format cannot carry: WriteJSON fails with an error, the others work.
		{"year 10000", &results.Run{Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		// Every text hostile.
		{"hostile", hostile, false},
	}
}

// TestWritersDegenerate checks that every writer renders odd runs into well-formed output.
func TestWritersDegenerate(t *testing.T) {
	for _, tt := range degenerateRuns() {
		t.Run(tt.name, func(t *testing.T) {
			checkWriters(t, tt.run, tt.jsonErr)
		})
	}
}

// checkWriters runs every writer on run and checks its output.
func checkWriters(t *testing.T, run *results.Run, jsonErr bool) {
	t.Helper()
	var buf bytes.Buffer
	err := WriteJSON(&buf, run)
	switch {
	case jsonErr && err == nil:
		t.Error("WriteJSON accepted a run JSON cannot carry")
	case !jsonErr && err != nil:
		t.Errorf("WriteJSON: %v", err)
	case err == nil:
		if _, err := ReadJSON(&buf); err != nil {
			t.Errorf("ReadJSON: %v", err)
		}
	}

	buf.Reset()
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	doc := parseJUnit(t, buf.Bytes())
	if doc.Tests != len(run.Specs) {
		t.Errorf("JUnit: %d tests, %d specs", doc.Tests, len(run.Specs))
	}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if strings.Contains(c.SystemOut, "a]]") && !strings.Contains(c.SystemOut, "a]]>b") {
				t.Errorf("JUnit: \"]]>\" did not survive CDATA:\n%s", c.SystemOut)
			}
		}
	}

	buf.Reset()
	if err := WriteHTML(&buf, run); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	page := buf.String()
	checkHTML(t, buf.Bytes())
	if strings.Contains(page, resultstest.HostileScript) || strings.Contains(page, "\x1b") || strings.Contains(page, "\x00") {
		t.Error("HTML: the server's text got through unescaped")
	}

	buf.Reset()
	if err := WriteSummary(&buf, run); err != nil {
		t.Fatalf("WriteSummary: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[len(lines)-1] != SummaryLine(run.Totals) || len(summaryLineRE.FindAllString(buf.String(), -1)) != 1 {
		t.Errorf("summary does not end with its only summary line:\n%s", buf.String())
	}
}

// FuzzWriters feeds arbitrary text and verdicts through Finish and every writer.
func FuzzWriters(f *testing.F) {
	f.Add("spec", "message", `{"type":"reply"}`, "fail", "core", "unsupported feature battle: no")
	f.Add(hostileText, hostileText, hostileText, "error", hostileText, hostileText)
	f.Add("", "", "", "", "", "")
	f.Add("\xff", "]]>", "\x00", "skip", "strict", "unsupported feature x:")
	f.Fuzz(func(t *testing.T, name, message, frame, verdict, tier, reason string) {
		run := &results.Run{
			Suite:         results.SuiteInfo{Name: name},
			Target:        frame,
			Config:        map[string]string{name: reason},
			Certification: true,
			Started:       resultstest.T0,
			Finished:      resultstest.T0.Add(time.Second),
			Requirements:  []results.Requirement{{ID: name, Section: tier, Text: message}},
			Specs: []results.Spec{
				{Name: name, IDs: []string{name}, Labels: []string{tier}, Tier: results.Tier(tier), Verdict: results.Verdict(verdict), Reason: reason,
					Failure: &results.Failure{Message: message, Location: reason, Transcripts: []results.Transcript{{Client: name, Frames: []results.Frame{{At: resultstest.T0, Dir: verdict, Text: frame}}}}}},
				{Name: reason, Tier: results.TierCore, Verdict: results.Skip, Reason: reason},
			},
		}
		checkWriters(t, run, false) // before Finish
		results.Finish(run)
		checkWriters(t, run, false)
	})
}
