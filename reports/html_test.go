package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// voidElements have no end tag.
var voidElements = map[string]bool{"meta": true, "input": true, "br": true, "hr": true, "img": true, "link": true, "wbr": true}

// checkHTML checks that a report page stands alone and is well-formed: every element the page
// opens it closes in order, nothing is left open, only void and SVG elements close themselves;
// no <script>, <iframe> or <object>, no src or on* attribute, no link out of the page or its
// folder. It returns the parsed tree.
func checkHTML(t *testing.T, page []byte) *html.Node {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	var open []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if tok.DataAtom == atom.Script || tok.DataAtom == atom.Iframe || tok.DataAtom == atom.Object {
				t.Errorf("page has a <%s> element", tok.Data)
			}
			if !voidElements[tok.Data] {
				open = append(open, tok.Data)
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				t.Fatalf("</%s> closes %q", tok.Data, open)
			}
			open = open[:len(open)-1]
		case html.SelfClosingTagToken:
			if !voidElements[tok.Data] && !slices.Contains(open, "svg") {
				t.Errorf("<%s/> is neither a void element nor inside an SVG", tok.Data)
			}
		}
		for _, a := range tok.Attr {
			switch {
			case a.Key == "src" || strings.HasPrefix(a.Key, "on"):
				t.Errorf("<%s %s=%q>: no resource, no script", tok.Data, a.Key, a.Val)
			case a.Key == "href" && (strings.Contains(a.Val, ":") || strings.Contains(a.Val, "/")):
				t.Errorf("<%s href=%q>: links stay in the page or its folder", tok.Data, a.Val)
			}
		}
	}
	if len(open) != 0 {
		t.Fatalf("elements left open: %q", open)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	return doc
}

// htmlText returns the text of the document as a reader sees it, with element boundaries as
// newlines.
func htmlText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Style || n.DataAtom == atom.Title) {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode {
			b.WriteByte('\n')
		}
	}
	walk(n)
	return b.String()
}

// findAll returns the elements of n with tag a, in document order.
func findAll(n *html.Node, a atom.Atom) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && n.DataAtom == a {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, a)...)
	}
	return out
}

// attr returns n's attribute key.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// htmlOf renders run and checks that the page is well-formed.
func htmlOf(t *testing.T, run *results.Run) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, run); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return buf.String(), checkHTML(t, buf.Bytes())
}

// TestHTMLFixture checks the HTML page of the fixture.
func TestHTMLFixture(t *testing.T) {
	run := resultstest.Finished()
	page, doc := htmlOf(t, run)
	text := htmlText(doc)

	if strings.Contains(page, resultstest.HostileScript) || strings.Contains(page, "write <b>") {
		t.Error("the page contains unescaped markup from the server")
	}
	if !strings.Contains(text, resultstest.HostileScript) {
		t.Error("the page does not show the server's markup as text")
	}
	if strings.Contains(page, "\x01") || !utf8.ValidString(page) {
		t.Error("the page has control characters or invalid UTF-8")
	}
	if !strings.Contains(text, resultstest.HostileScript+"\u2401\uFFFD") {
		t.Error("the control character and invalid byte are not shown as ␁ and �")
	}

	var want []string
	want = append(want, "ERROR", "NOT CERTIFIED", "pkarena-conformance", "v0.4.0", "ff70659e196126", run.Suite.BinarySHA256,
		"ws://127.0.0.1:8080/v1/ws", "2026-11-24 23:30:00.000 UTC", "2026-11-24 23:31:23.250 UTC", "1m23s",
		"battle", "[redacted]", "9. Co-host connections", "12. Battles (PK)",
		"truncated: first 4000 of", "2 older frames not kept", "+12.500ms", "→ sent", "← received",
		"unsupported feature battle: the server advertises features.battle: false",
		"tier optional not selected (PKARENA_TIERS=core,strict)", "conformance/specs/cohost_test.go:93")
	for k := range run.Config {
		want = append(want, k)
	}
	for _, r := range run.Requirements {
		want = append(want, r.ID, r.Text)
	}
	for _, s := range run.Specs {
		want = append(want, s.Name)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the page does not show %q", w)
		}
	}

	// The sections come in the order users asked for.
	var ids []string
	for _, s := range findAll(doc, atom.Section) {
		ids = append(ids, attr(s, "id"))
	}
	if got := strings.Join(ids, ","); got != "totals,config,requirements,failures,specs" {
		t.Errorf("sections %s", got)
	}
	if h := findAll(doc, atom.Header); len(h) != 1 || !strings.Contains(htmlText(h[0]), "ERROR") {
		t.Error("the header does not show the verdict")
	}

	// Every internal link has a target; the page loads nothing from elsewhere.
	anchors := map[string]bool{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if id := attr(n, "id"); n.Type == html.ElementNode && id != "" {
			if anchors[id] {
				t.Errorf("duplicate id %q", id)
			}
			anchors[id] = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, a := range findAll(doc, atom.A) {
		href := attr(a, "href")
		if !strings.HasPrefix(href, "#") || !anchors[href[1:]] {
			t.Errorf("link %q has no target", href)
		}
	}
	for _, tag := range []atom.Atom{atom.Link, atom.Img, atom.Iframe, atom.Object} {
		if n := findAll(doc, tag); len(n) > 0 {
			t.Errorf("the page has %d <%s> elements", len(n), tag)
		}
	}

	// Only the failed and the erred spec are detailed, and the failed one's transcripts.
	if n := len(findAll(doc, atom.Article)); n != 2 {
		t.Errorf("%d failures detailed, want 2", n)
	}
	if n := len(findAll(doc, atom.Details)); n != 2 {
		t.Errorf("%d transcripts, want 2", n)
	}
}

// TestHTMLVerdicts checks the big verdict and the certification badge.
func TestHTMLVerdicts(t *testing.T) {
	tests := []struct {
		name  string
		run   *results.Run
		want  []string
		avoid []string
	}{
		// A certified run.
		{"certified", &results.Run{Certification: true, Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Pass, "")}},
			[]string{"PASS", "CERTIFIED", "certification run"}, []string{"NOT CERTIFIED", "FAIL"}},
		// A passing conformance run that is not a certification: no badge.
		{"not a certification", &results.Run{Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Pass, "")}},
			[]string{"PASS", "not a certification", "No spec failed or erred."}, []string{"CERTIFIED"}},
		// A failed certification run.
		{"failed", &results.Run{Certification: true, Specs: []results.Spec{resultstest.Spec("a", results.TierCore, results.Fail, "code 3")}},
			[]string{"FAIL", "NOT CERTIFIED", "code 3"}, nil},
		// An empty run: placeholders instead of empty tables.
		{"empty", &results.Run{}, []string{"No configuration recorded.", "No requirements recorded.", "—"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results.Finish(tt.run)
			_, doc := htmlOf(t, tt.run)
			text := htmlText(doc)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the page does not show %q", w)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(text, a) {
					t.Errorf("the page shows %q", a)
				}
			}
		})
	}
}

// What a spec measured shows under its name, passed or failed, as text: a value carrying the
// server's markup does not become markup.
func TestHTMLShowsWhatSpecsMeasured(t *testing.T) {
	passed := resultstest.Spec("Transport [CLOSE-003] a close", results.TierStrict, results.Pass, "")
	passed.Measured = []results.Measurement{{Name: "the server's socket closed", Value: "21ms after its close frame"}}
	failed := resultstest.Spec("Faults [FAULT-004] a stop", results.TierCore, results.Fail, "too slow")
	failed.Measured = []results.Measurement{{Name: "stopped in", Value: "9.5s"}, {Name: "said", Value: resultstest.HostileScript}}
	run := &results.Run{Specs: []results.Spec{passed, failed}}
	results.Finish(run)
	page, doc := htmlOf(t, run)
	text := htmlText(doc)
	for _, w := range []string{"the server's socket closed: 21ms after its close frame", "stopped in: 9.5s", "said: " + resultstest.HostileScript} {
		if !strings.Contains(text, w) {
			t.Errorf("the page does not show %q", w)
		}
	}
	if strings.Contains(page, resultstest.HostileScript) {
		t.Error("the page contains a measurement's markup unescaped")
	}
}

// TestHTMLLarge checks that a run of the expected size renders quickly into a page of a
// reasonable size.
func TestHTMLLarge(t *testing.T) {
	run := &results.Run{Certification: true}
	for i := range 130 {
		run.Requirements = append(run.Requirements, results.Requirement{
			ID: fmt.Sprintf("AREA-%03d", i), Section: fmt.Sprintf("%d. Section", i/10), Level: "MUST", Tier: results.TierCore,
			Text: strings.Repeat("The server MUST do something precise. ", 4)})
	}
	for i := range 260 {
		s := resultstest.Spec(fmt.Sprintf("spec %d", i), results.TierCore, results.Pass, "", fmt.Sprintf("AREA-%03d", i%130))
		if i%50 == 0 {
			s.Verdict = results.Fail
			s.Failure = &results.Failure{Message: "boom", Transcripts: []results.Transcript{{Client: "c", Frames: slices.Repeat([]results.Frame{{At: resultstest.T0, Dir: "received", Text: `{"type":"x"}`}}, 100)}}}
		}
		run.Specs = append(run.Specs, s)
	}
	results.Finish(run)
	page, doc := htmlOf(t, run)
	if n := len(findAll(doc, atom.Tr)); n < 130+260+6*100 {
		t.Errorf("%d table rows", n)
	}
	if len(page) > 2<<20 {
		t.Errorf("the page is %d bytes", len(page))
	}
}

// Specs are listed by area, in run order within one, each area under a heading row; the note
// is shown under the run's details.
func TestHTMLGroupsSpecsByArea(t *testing.T) {
	run := &results.Run{Specs: []results.Spec{
		resultstest.Spec("Seats [SEAT-001] b1", results.TierCore, results.Pass, ""),
		resultstest.Spec("Auth [AUTH-001] a1", results.TierCore, results.Pass, ""),
		resultstest.Spec("Seats [SEAT-002] b2", results.TierCore, results.Pass, ""),
		resultstest.Spec("Auth [AUTH-002] a2", results.TierCore, results.Pass, ""),
		resultstest.Spec("Auth a nested context [AUTH-003] a3", results.TierCore, results.Pass, ""),
	}, Note: "partial run: <b>"}
	results.Finish(run)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, run); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	order := []string{`<tr class="area"><th colspan="8">Auth</th>`, "a1", "a2", "a3", `<tr class="area"><th colspan="8">Seats</th>`, "b1", "b2"}
	at := 0
	for _, s := range order {
		i := strings.Index(out[at:], s)
		if i < 0 {
			t.Fatalf("%q missing or out of order in the specs list", s)
		}
		at += i + len(s)
	}
	if !strings.Contains(out, "partial run: &lt;b&gt;") {
		t.Error("the note is not shown (escaped)")
	}
}
