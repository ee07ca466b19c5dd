package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// The JUnit schema as a CI system reads it, written independently of junit.go.
type (
	xTestsuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []xTestsuite `xml:"testsuite"`
	}
	xTestsuite struct {
		Name       string      `xml:"name,attr"`
		Tests      int         `xml:"tests,attr"`
		Failures   int         `xml:"failures,attr"`
		Errors     int         `xml:"errors,attr"`
		Skipped    int         `xml:"skipped,attr"`
		Time       string      `xml:"time,attr"`
		Timestamp  string      `xml:"timestamp,attr"`
		Properties []xProperty `xml:"properties>property"`
		Cases      []xTestcase `xml:"testcase"`
	}
	xProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	xTestcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *xResult `xml:"failure"`
		Error     *xResult `xml:"error"`
		Skipped   *xResult `xml:"skipped"`
		SystemOut string   `xml:"system-out"`
	}
	xResult struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",chardata"`
	}
)

// parseJUnit checks that doc is well-formed XML 1.0 token by token, then decodes it.
func parseJUnit(t *testing.T, doc []byte) *xTestsuites {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("JUnit XML is not well-formed: %v\n%s", err, doc)
		}
	}
	var s xTestsuites
	if err := xml.Unmarshal(doc, &s); err != nil {
		t.Fatalf("decoding JUnit XML: %v", err)
	}
	return &s
}

// junitOf writes run as JUnit XML and parses it back.
func junitOf(t *testing.T, run *results.Run) (*xTestsuites, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	return parseJUnit(t, buf.Bytes()), buf.String()
}

// TestJUnitFixture checks the JUnit report of the fixture.
func TestJUnitFixture(t *testing.T) {
	doc, raw := junitOf(t, resultstest.Finished())
	if !strings.HasPrefix(raw, xml.Header) {
		t.Error("no XML declaration")
	}
	if doc.Name != "pkarena-conformance" || doc.Tests != 6 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 2 || doc.Time != "83.250" {
		t.Errorf("testsuites = %q tests %d failures %d errors %d skipped %d time %s", doc.Name, doc.Tests, doc.Failures, doc.Errors, doc.Skipped, doc.Time)
	}
	suites := []struct {
		name                             string
		tests, failures, errors, skipped int
		time                             string
	}{
		// Four core specs: two pass, one fail, one skip.
		{"pkarena.core", 4, 1, 0, 1, "1.842"},
		// One strict spec, erred.
		{"pkarena.strict", 1, 0, 1, 0, "0.001"},
		// One optional spec, disabled (counted as skipped).
		{"pkarena.optional", 1, 0, 0, 1, "0.000"},
	}
	if len(doc.Suites) != len(suites) {
		t.Fatalf("%d test suites, want %d", len(doc.Suites), len(suites))
	}
	var cases []xTestcase
	for i, w := range suites {
		s := doc.Suites[i]
		if s.Name != w.name || s.Tests != w.tests || s.Failures != w.failures || s.Errors != w.errors || s.Skipped != w.skipped || s.Time != w.time {
			t.Errorf("suite %d = %+v, want %+v", i, s, w)
		}
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s: tests %d, %d test cases", s.Name, s.Tests, len(s.Cases))
		}
		if s.Timestamp != "2026-11-24T23:30:00" {
			t.Errorf("suite %s: timestamp %q", s.Name, s.Timestamp)
		}
		props := map[string]string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
		for k, v := range map[string]string{
			"suite.version": "v0.4.0", "suite.commit": "ff70659e196126", "target": "ws://127.0.0.1:8080/v1/ws",
			"certification": "true", "certified": "false", "uncertifiedFeatures": "battle", "config.PKARENA_TIERS": "core,strict",
		} {
			if props[k] != v {
				t.Errorf("suite %s: property %s = %q, want %q", s.Name, k, props[k], v)
			}
		}
		cases = append(cases, s.Cases...)
	}

	byName := map[string]xTestcase{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	failed := byName["co-host: requestConnection returns one code per room"]
	if failed.Classname != "pkarena.core" || failed.Time != "1.500" || failed.Failure == nil || failed.Failure.Type != "fail" {
		t.Fatalf("failed test case = %+v", failed)
	}
	if failed.Failure.Message != "Expected <int>: 3 to equal <int>: 0 server said: "+resultstest.HostileScript+" \u2401 \uFFFD" {
		t.Errorf("failure message = %q", failed.Failure.Message)
	}
	for _, want := range []string{"to equal", resultstest.HostileScript + " \u2401 \uFFFD", "at conformance/specs/cohost_test.go:93"} {
		if !strings.Contains(failed.Failure.Body, want) {
			t.Errorf("failure body lacks %q:\n%s", want, failed.Failure.Body)
		}
	}
	for _, want := range []string{
		"transcript of client host-a: 3 frames (2 older frames not kept)",
		"  +0.000ms → {\"type\":\"requestConnection\"",
		" +12.500ms ← {\"type\":\"reply\",\"id\":\"7\",\"code\":3,\"message\":\"" + resultstest.HostileScript + "\u2401\uFFFD\"}",
		fmt.Sprintf("[truncated: 2000 of %d bytes shown]", len(resultstest.Fixture().Specs[1].Failure.Transcripts[0].Frames[2].Text)),
		"transcript of client host-b " + resultstest.HostileScript + ": 1 frames",
		"  +5.000ms ← {\"type\":\"onConnectionRequestReceived\",\"seq\":4}",
	} {
		if !strings.Contains(failed.SystemOut, want) {
			t.Errorf("system-out lacks %q:\n%s", want, failed.SystemOut)
		}
	}
	// The server's markup is text (escaped, or in CDATA), never an element.
	d := xml.NewDecoder(strings.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "script" {
			t.Error("the server's markup became an XML element")
		}
	}

	erred := byName["co-host: events & replies share a write <b>"]
	if erred.Classname != "pkarena.strict" || erred.Error == nil || erred.Error.Type != "error" ||
		erred.Error.Message != "listen tcp :0: bind: address already in use" || erred.Failure != nil {
		t.Errorf("erred test case = %+v", erred)
	}
	if skipped := byName["battle: needResponse=false starts at once"]; skipped.Skipped == nil ||
		skipped.Skipped.Message != "skip: unsupported feature battle: the server advertises features.battle: false" {
		t.Errorf("skipped test case = %+v", skipped)
	}
	if disabled := byName["battle: extensionInfo is echoed"]; disabled.Skipped == nil || disabled.Classname != "pkarena.optional" ||
		disabled.Skipped.Message != "disabled: tier optional not selected (PKARENA_TIERS=core,strict)" {
		t.Errorf("disabled test case = %+v", disabled)
	}
	if passed := byName["co-host: heartbeat round trip"]; passed.Failure != nil || passed.Error != nil || passed.Skipped != nil || passed.SystemOut != "" {
		t.Errorf("passed test case = %+v", passed)
	}
}

// A test case's <system-out> starts with what its spec measured, passed or failed; a failed
// spec's transcripts follow.
func TestJUnitCarriesWhatSpecsMeasured(t *testing.T) {
	passed := resultstest.Spec("a stop", results.TierCore, results.Pass, "")
	passed.Measured = []results.Measurement{{Name: "stopped in", Value: "32ms"}}
	failed := resultstest.Spec("a close", results.TierStrict, results.Fail, "late")
	failed.Measured = []results.Measurement{{Name: "closed", Value: "1.02s\x01"}}
	failed.Failure = &results.Failure{Message: "late", Transcripts: []results.Transcript{{Client: "c", Frames: []results.Frame{{At: resultstest.T0, Dir: "received", Text: `{"type":"x"}`}}}}}
	doc, _ := junitOf(t, &results.Run{Specs: []results.Spec{passed, failed}})
	byName := map[string]string{}
	for _, su := range doc.Suites {
		for _, c := range su.Cases {
			byName[c.Name] = c.SystemOut
		}
	}
	if got := byName["a stop"]; got != "stopped in: 32ms\n" {
		t.Errorf("the passed spec's system-out %q; want its measurement", got)
	}
	if got := byName["a close"]; !strings.HasPrefix(got, "closed: 1.02s\u2401\n") || !strings.Contains(got, "transcript of client c") {
		t.Errorf("the failed spec's system-out %q; want its measurement, then its transcript", got)
	}
}

// TestJUnitEdgeCases checks suites and counts on unusual runs.
func TestJUnitEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		run    *results.Run
		suites []string
		tests  int
		errors int
		time   string
	}{
		// No specs: an empty <testsuites>.
		{"empty", &results.Run{}, nil, 0, 0, "0.000"},
		// Only strict specs: the empty core and optional suites are left out.
		{"strict only", &results.Run{Specs: []results.Spec{resultstest.Spec("a", results.TierStrict, results.Pass, "")}}, []string{"pkarena.strict"}, 1, 0, "0.010"},
		// Specs of unknown tiers are not lost: their suites follow, sorted.
		{"other tiers", &results.Run{Specs: []results.Spec{resultstest.Spec("a", "zeta", results.Pass, ""), resultstest.Spec("b", "", results.Pass, ""), resultstest.Spec("c", results.TierOptional, results.Pass, "")}},
			[]string{"pkarena.optional", "pkarena.untiered", "pkarena.zeta"}, 3, 0, "0.030"},
		// A spec with an invalid verdict is reported as an error, not a pass.
		{"invalid verdict", &results.Run{Specs: []results.Spec{resultstest.Spec("a", results.TierCore, "", "")}}, []string{"pkarena.core"}, 1, 1, "0.010"},
		// Failed and erred specs without a Failure still get a message, from Reason.
		{"fail without failure", &results.Run{Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Error, "boom")}}, []string{"pkarena.core"}, 1, 1, "0.010"},
		// Bad durations are written as 0; the run's time falls back on the sum of the specs'.
		{"bad durations", &results.Run{Started: resultstest.T0, Finished: resultstest.T0.Add(-time.Second), Specs: []results.Spec{
			{Name: "a", Tier: results.TierCore, Verdict: results.Pass, Seconds: math.NaN()}, {Name: "b", Tier: results.TierCore, Verdict: results.Pass, Seconds: -4}}},
			[]string{"pkarena.core"}, 2, 0, "0.000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := junitOf(t, tt.run)
			var names []string
			for _, s := range doc.Suites {
				names = append(names, s.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.suites, ",") || doc.Tests != tt.tests || doc.Errors != tt.errors || doc.Time != tt.time {
				t.Errorf("suites %q tests %d errors %d time %s; want %q %d %d %s", names, doc.Tests, doc.Errors, doc.Time, tt.suites, tt.tests, tt.errors, tt.time)
			}
			for _, s := range doc.Suites {
				for _, c := range s.Cases {
					if c.Error != nil && c.Error.Message == "" {
						t.Errorf("error without message: %+v", c)
					}
				}
			}
		})
	}
}
