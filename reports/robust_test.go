package reports

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// hostileText holds everything a server could put into a name, a message or a frame.
const hostileText = "a]]>b</pre></td><!-- --> & \"q\" 'q' \x00\x01\x08\x0b\x0c\x1b[31m\x7f \xc3\x28 \xed\xa0\x80 \uFFFE\uFFFF \u2028 \r\n\t" + hostileScript

// degenerateRuns are runs the writers must render without panicking into well-formed output.
func degenerateRuns() []struct {
	name    string
	run     *ConformanceRun
	jsonErr bool
} {
	hostile := finishedFixture()
	hostile.Suite = SuiteInfo{Name: hostileText, Version: hostileText, Commit: hostileText, Protocol: hostileText, BinarySHA256: hostileText}
	hostile.Target = hostileText
	hostile.Config[hostileText] = hostileText
	hostile.Config[""] = ""
	hostile.UncertifiedFeatures = []string{hostileText}
	hostile.Requirements = append(hostile.Requirements, Requirement{ID: hostileText, Section: hostileText, Level: hostileText, Tier: hostileText, Text: hostileText, Verdict: Verdict(hostileText), Specs: []string{hostileText, "no such spec"}})
	hostile.Specs = append(hostile.Specs, Spec{Name: hostileText, IDs: []string{hostileText, "COHOST-001", "NOPE-1"}, Labels: []string{hostileText}, Tier: hostileText,
		Verdict: Fail, Reason: hostileText, Location: hostileText, Seconds: 1e300,
		Failure: &Failure{Message: hostileText, Location: hostileText, Transcripts: []Transcript{
			{Client: hostileText, Dropped: -3, Frames: []Frame{{Dir: hostileText, Text: hostileText}, {At: t0, Dir: "sent", Text: strings.Repeat("é", 3000)}}},
			{},
		}}})
	hostile.Tiers[hostileText] = Totals{Passed: -1}

	return []struct {
		name    string
		run     *ConformanceRun
		jsonErr bool
	}{
		// The zero run.
		{"zero", &ConformanceRun{}, false},
		// A run before Finish, with a failed spec without a Failure and invalid verdicts.
		{"unfinished", &ConformanceRun{Specs: []Spec{
			{Name: "a", Verdict: Fail}, {Name: "b", Verdict: Error}, {Name: "c"}, {Name: "d", Verdict: "weird"}, {Name: "a", Verdict: Pass},
		}, Requirements: []Requirement{{}, {}}}, false},
		// Durations and times that make no sense.
		{"bad numbers", &ConformanceRun{Started: t0, Finished: t0.Add(-time.Hour), Specs: []Spec{
			{Name: "a", Verdict: Pass, Seconds: math.NaN()}, {Name: "b", Verdict: Pass, Seconds: math.Inf(-1)}, {Name: "c", Verdict: Pass, Seconds: -1},
		}}, false},
		// A year JSON's time format cannot carry: WriteJSON fails with an error, the others work.
		{"year 10000", &ConformanceRun{Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
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
func checkWriters(t *testing.T, run *ConformanceRun, jsonErr bool) {
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
	if strings.Contains(page, hostileScript) || strings.Contains(page, "\x1b") || strings.Contains(page, "\x00") {
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
		run := &ConformanceRun{
			Suite:         SuiteInfo{Name: name},
			Target:        frame,
			Config:        map[string]string{name: reason},
			Certification: true,
			Started:       t0,
			Finished:      t0.Add(time.Second),
			Requirements:  []Requirement{{ID: name, Section: tier, Text: message}},
			Specs: []Spec{
				{Name: name, IDs: []string{name}, Labels: []string{tier}, Tier: tier, Verdict: Verdict(verdict), Reason: reason,
					Failure: &Failure{Message: message, Location: reason, Transcripts: []Transcript{{Client: name, Frames: []Frame{{At: t0, Dir: verdict, Text: frame}}}}}},
				{Name: reason, Tier: TierCore, Verdict: Skip, Reason: reason},
			},
		}
		checkWriters(t, run, false) // before Finish
		Finish(run)
		checkWriters(t, run, false)
	})
}
