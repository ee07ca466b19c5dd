package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/results"
)

// junitFrameBytes is how much of each frame's text the JUnit report keeps.
const junitFrameBytes = 2000

// junitMessageBytes bounds the message attribute of <failure> and <error> (the body has it all).
const junitMessageBytes = 1000

// The JUnit schema below is the one Jenkins, GitLab and GitHub's test reporters read (Ant's
// junit task, as extended by Maven Surefire): only elements and attributes they understand.

// junitSuites is the <testsuites> root.
type junitSuites struct {
	XMLName   xml.Name     `xml:"testsuites"`
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Skipped   int          `xml:"skipped,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr,omitempty"`
	Suites    []junitSuite `xml:"testsuite"`
}

// junitSuite is one <testsuite>: the specs of one tier.
type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitProperty is one <property name value/>.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase is one <testcase>: one spec.
type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped"`
	Error     *junitResult  `xml:"error"`
	Failure   *junitResult  `xml:"failure"`
	SystemOut *junitText    `xml:"system-out"`
}

// junitText is an element whose text is written as CDATA, readable in the raw file (encoding/xml
// splits any "]]>" in it; cleanText has removed what XML forbids).
type junitText struct {
	Text string `xml:",cdata"`
}

// junitResult is a <failure> or an <error>.
type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitSkipped is a <skipped message/>.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes run as JUnit XML for CI systems: a <testsuites> element holding one
// <testsuite> per tier that has specs (core, strict, optional, then any other tier a spec
// names), each with a <properties> block describing the run and one <testcase> per spec, named
// after the spec, of class "pkarena.<tier>". A failed spec has a <failure type="fail">, an erred
// one an <error type="error">, both with the message on one line (white space collapsed, cut to 1000 bytes) as the message attribute and
// the whole message and its location as the body; skipped and disabled specs have a <skipped>
// whose message starts with "skip: " or "disabled: ". A test case's <system-out> holds what
// its spec measured (one "name: value" a line), then, for a failed or erred spec, the
// transcripts, each frame cut to 2000 bytes.
//
// Counts come from the specs themselves (they cannot disagree with the test cases). Text is
// cleaned so that the document is well-formed XML 1.0 whatever the server sent: invalid UTF-8
// becomes U+FFFD and control characters their Unicode control pictures (U+2400–U+2421).
func WriteJUnit(w io.Writer, run *results.Run) error {
	if run == nil {
		return errNilRun
	}
	doc := junitDocument(run)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: writing JUnit XML: %w", err)
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("reports: writing JUnit XML: %w", err)
	}
	return nil
}

// junitDocument builds the JUnit document of run.
func junitDocument(run *results.Run) *junitSuites {
	name := run.Suite.Name
	if name == "" {
		name = "pkarena-conformance"
	}
	doc := &junitSuites{Name: cleanText(name), Timestamp: junitTimestamp(run.Started)}
	props := junitProperties(run)
	var sum float64
	for _, tier := range tierOrder(run) {
		suite := junitSuite{
			Name:       "pkarena." + junitTierName(tier),
			Timestamp:  doc.Timestamp,
			Properties: props,
		}
		var suiteTime float64
		for _, s := range run.Specs {
			if s.Tier != tier {
				continue
			}
			c := junitTestCase(s)
			suite.Tests++
			switch {
			case c.Failure != nil:
				suite.Failures++
			case c.Error != nil:
				suite.Errors++
			case c.Skipped != nil:
				suite.Skipped++
			}
			suiteTime += seconds(s.Seconds)
			suite.Cases = append(suite.Cases, c)
		}
		if suite.Tests == 0 {
			continue
		}
		suite.Time = junitSeconds(suiteTime)
		sum += suiteTime
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
		doc.Suites = append(doc.Suites, suite)
	}
	if d, ok := runDuration(run); ok {
		doc.Time = junitSeconds(d.Seconds())
	} else {
		doc.Time = junitSeconds(sum)
	}
	return doc
}

// junitTierName is a tier as it appears in suite and class names.
func junitTierName(tier results.Tier) string {
	if tier == "" {
		return "untiered"
	}
	return singleLine(string(tier))
}

// junitProperties describes the run; every test suite carries the same block.
func junitProperties(run *results.Run) []junitProperty {
	props := []junitProperty{
		{"suite.name", run.Suite.Name},
		{"suite.version", run.Suite.Version},
		{"suite.commit", run.Suite.Commit},
		{"suite.protocol", run.Suite.Protocol},
		{"suite.binarySHA256", run.Suite.BinarySHA256},
		{"target", run.Target},
		{"certification", strconv.FormatBool(run.Certification)},
		{"verdict", string(run.Verdict)},
	}
	if run.Certification {
		props = append(props,
			junitProperty{"certified", strconv.FormatBool(run.Certified)},
			junitProperty{"uncertifiedFeatures", strings.Join(run.UncertifiedFeatures, ",")})
	}
	keys := make([]string, 0, len(run.Config))
	for k := range run.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		props = append(props, junitProperty{"config." + k, run.Config[k]})
	}
	for i := range props {
		props[i].Name, props[i].Value = cleanText(props[i].Name), cleanText(props[i].Value)
	}
	return props
}

// junitTestCase renders one spec.
func junitTestCase(s results.Spec) junitCase {
	c := junitCase{
		Name:      cleanText(s.Name),
		Classname: "pkarena." + junitTierName(s.Tier),
		Time:      junitSeconds(s.Seconds),
	}
	failed := false
	switch s.Verdict {
	case results.Pass:
	case results.Skip, results.Disabled:
		c.Skipped = &junitSkipped{Message: string(s.Verdict) + ": " + cleanText(s.Reason)}
	default: // Fail, Error, and an invalid verdict, which is a harness fault
		failed = true
		message, location := s.Reason, s.Location
		if f := s.Failure; f != nil {
			if f.Message != "" {
				message = f.Message
			}
			if f.Location != "" {
				location = f.Location
			}
		}
		body := cleanText(message)
		if location != "" {
			body += "\n\nat " + cleanText(location)
		}
		if s.Verdict == results.Fail {
			c.Failure = &junitResult{Message: compact(message, junitMessageBytes), Type: "fail", Body: body}
		} else {
			if s.Verdict != results.Error {
				message = fmt.Sprintf("invalid verdict %q: %s", string(s.Verdict), message)
				body = cleanText(fmt.Sprintf("invalid verdict %q\n\n", string(s.Verdict))) + body
			}
			c.Error = &junitResult{Message: compact(message, junitMessageBytes), Type: "error", Body: body}
		}
	}
	out := measuredText(s.Measured)
	if f := s.Failure; failed && f != nil && len(f.Transcripts) > 0 {
		out += transcriptText(f.Transcripts, junitFrameBytes)
	}
	if out != "" {
		c.SystemOut = &junitText{out}
	}
	return c
}

// measuredText renders what a spec measured, one "name: value" a line, cleaned.
func measuredText(ms []results.Measurement) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(cleanText(m.Name + ": " + m.Value))
		b.WriteByte('\n')
	}
	return b.String()
}

// transcriptText renders transcripts as plain text, one frame per line prefixed with its time
// in milliseconds since the spec's first frame and its direction, each frame cut to max bytes.
func transcriptText(ts []results.Transcript, max int) string {
	if len(ts) == 0 {
		return ""
	}
	origin := firstFrame(ts)
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "transcript of client %s: %d frames", singleLine(t.Client), len(t.Frames))
		if t.Dropped > 0 {
			fmt.Fprintf(&b, " (%d older frames not kept)", t.Dropped)
		}
		b.WriteString("\n")
		for _, f := range t.Frames {
			text, kept, cut := truncate(f.Text, max)
			fmt.Fprintf(&b, "%10s %s %s", relativeMillis(origin, f.At), arrow(f.Dir), text)
			if cut {
				fmt.Fprintf(&b, " … [truncated: %d of %d bytes shown]", kept, len(f.Text))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// firstFrame returns the time of the earliest frame of ts that has a time, or the zero time.
func firstFrame(ts []results.Transcript) time.Time {
	var first time.Time
	for _, t := range ts {
		for _, f := range t.Frames {
			if !f.At.IsZero() && (first.IsZero() || f.At.Before(first)) {
				first = f.At
			}
		}
	}
	return first
}

// relativeMillis formats at as "+12.345ms" after origin, or "?" when either is unknown.
func relativeMillis(origin, at time.Time) string {
	if origin.IsZero() || at.IsZero() {
		return "?"
	}
	return fmt.Sprintf("+%.3fms", float64(at.Sub(origin))/float64(time.Millisecond))
}

// arrow shows a frame's direction: → sent, ← received.
func arrow(dir string) string {
	switch dir {
	case "sent":
		return "→"
	case "received":
		return "←"
	}
	return "?"
}

// junitSeconds formats seconds as JUnit's time attribute.
func junitSeconds(v float64) string { return strconv.FormatFloat(seconds(v), 'f', 3, 64) }

// junitTimestamp formats t as JUnit's timestamp attribute (ISO 8601 without zone, in UTC), or ""
// for the zero time.
func junitTimestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}
