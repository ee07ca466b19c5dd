package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/fixtures"
	"github.com/pkarena/pkarena/reference/usersig"
)

// transcriptFile is the appendix this test keeps true (SPEC.md's Appendix B).
const transcriptFile = "TRANSCRIPT.md"

var updateTranscript = flag.Bool("update", false, "write "+transcriptFile+" from a fresh capture of the reference server")

// TestTranscript captures a PK battle from the reference server, renders it as the appendix and
// checks conformance/TRANSCRIPT.md against it: the worked UserSig (B.1) identical, every
// participant the same frames in the same order. Then it checks the appendix itself, and the
// fresh one: every JSON block against the schemas of fixtures/. With -update it first writes
// the fresh capture to TRANSCRIPT.md.
func TestTranscript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := captureTranscript(ctx)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	fresh, err := render(tr)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	freshPath := filepath.Join(t.TempDir(), transcriptFile)
	if err := os.WriteFile(freshPath, []byte(fresh), 0o644); err != nil {
		t.Fatal(err)
	}
	if *updateTranscript {
		if err := os.WriteFile(transcriptFile, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(transcriptFile)
	if err != nil {
		t.Fatalf("%v (go test ./conformance -run TestTranscript -update writes it)", err)
	}
	committed := string(data)

	for name, doc := range map[string]string{transcriptFile: committed, "a fresh capture (" + freshPath + ")": fresh} {
		for _, err := range checkAppendix(doc) {
			t.Errorf("%s: %v", name, err)
		}
	}

	if got, want := section(committed, "## B.1 "), section(fresh, "## B.1 "); got != want {
		t.Errorf("%s: section B.1 differs from a fresh capture (%s); run go test ./conformance -run TestTranscript -update\n--- committed\n%s\n--- fresh\n%s", transcriptFile, freshPath, got, want)
	}
	got, err := sequences(committed)
	if err != nil {
		t.Fatalf("%s: %v", transcriptFile, err)
	}
	want, err := sequences(fresh)
	if err != nil {
		t.Fatalf("fresh capture: %v", err)
	}
	for _, who := range append(slices.Clone(parties), "backend", "webhook receiver") {
		if !slices.Equal(got[who], want[who]) {
			t.Errorf("%s: %s's messages differ from a fresh capture (%s); run go test ./conformance -run TestTranscript -update\n committed: %s\n fresh:     %s",
				transcriptFile, who, freshPath, strings.Join(got[who], ", "), strings.Join(want[who], ", "))
		}
	}
}

// The claims of B.1 about the reference server hold: the worked token verifies until
// TLS.time + TLS.expire and not a second later; the document's member order and whitespace
// do not matter; its numbers written as strings are refused with 70003.
func TestTranscriptUserSig(t *testing.T) {
	w, err := computeSig()
	if err != nil {
		t.Fatal(err)
	}
	verify := func(token string, at int64) int {
		if err := usersig.Verify(token, sigSecret, sigAppID, sigUser, time.Unix(at, 0)); err != nil {
			return err.Code
		}
		return 0
	}
	pack := func(doc string) string {
		token, err := client.PackUserSig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	for _, tc := range []struct {
		what  string
		token string
		at    int64
		want  int
	}{
		{"the worked token at TLS.time", w.token, sigTime, 0},
		{"the worked token at TLS.time + TLS.expire", w.token, sigTime + sigExpire, 0},
		{"the worked token a second later", w.token, sigTime + sigExpire + 1, 70001},
		{"the document reordered, with whitespace", pack(fmt.Sprintf(`{ "TLS.sig": %q, "TLS.time": %d, "TLS.expire": %d,
			"TLS.sdkappid": %d, "TLS.identifier": %q, "TLS.ver": "2.0" }`, w.sig, sigTime, sigExpire, sigAppID, sigUser)), sigTime, 0},
		{"TLS.sdkappid a string", pack(strings.Replace(string(w.doc), `:1400000001,`, `:"1400000001",`, 1)), sigTime, 70003},
		{"TLS.time a string", pack(strings.Replace(string(w.doc), `:1767225600,`, `:"1767225600",`, 1)), sigTime, 70003},
		{"TLS.expire a string", pack(strings.Replace(string(w.doc), `:315360000,`, `:"315360000",`, 1)), sigTime, 70003},
	} {
		if got := verify(tc.token, tc.at); got != tc.want {
			t.Errorf("%s: the reference server's verifier answers %d, want %d", tc.what, got, tc.want)
		}
	}
}

// parties are the tags of the WebSocket participants.
var parties = []string{hostA.tag, hostB.tag, viewer.tag}

// section returns the text from the line that starts with heading to the next "## " heading.
func section(doc, heading string) string {
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		return ""
	}
	rest := doc[i+1:]
	if j := strings.Index(rest[len(heading):], "\n## "); j >= 0 {
		return rest[:len(heading)+j]
	}
	return rest
}

// entry is a labelled message of the appendix: its label line and the fenced blocks under it.
type entry struct {
	line   int // of the label, 1-based
	label  string
	blocks []fenced
}

type fenced struct{ lang, text string }

// entries splits an appendix into its labelled messages. A JSON block without a label is an
// error: every JSON block must be checked.
func entries(doc string) ([]entry, error) {
	lines := strings.Split(doc, "\n")
	var out []entry
	var cur *entry
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		lang, isFence := strings.CutPrefix(line, "```")
		switch {
		case isFence && lang != "":
			j := i + 1
			for j < len(lines) && lines[j] != "```" {
				j++
			}
			if j == len(lines) {
				return nil, fmt.Errorf("line %d: a fenced block that does not end", i+1)
			}
			b := fenced{lang: lang, text: strings.Join(lines[i+1:j], "\n")}
			switch {
			case cur != nil:
				cur.blocks = append(cur.blocks, b)
			case lang == "json":
				return nil, fmt.Errorf("line %d: a JSON block without a label", i+1)
			}
			i = j
		case strings.HasPrefix(line, "**") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "```"):
			out = append(out, entry{line: i + 1, label: line})
			cur = &out[len(out)-1]
		default:
			cur = nil
		}
	}
	return out, nil
}

// The labels of the appendix (transcript_render_test.go writes them).
var (
	reRequest = regexp.MustCompile("^\\*\\*([ABV]) →\\*\\* `(\\w+)`$")
	reFrame   = regexp.MustCompile("^\\*\\*→ ([ABV](?:, [ABV])*)\\*\\* `(\\w+)`(?: to `(\\w+)`)? · seq (\\d+(?:, \\d+)*)$")
	reRESTReq = regexp.MustCompile("^\\*\\*backend →\\*\\* `(\\w+)`$")
	reRESTAns = regexp.MustCompile("^\\*\\*→ backend\\*\\* `(\\w+)` · HTTP (\\d+)$")
	reWebhook = regexp.MustCompile("^\\*\\*→ webhook receiver\\*\\* `([\\w.]+)`$")
)

// sequences lists, per participant, the messages of an appendix in order: for A, B and V the
// frames sent ("→ type") and received ("← type" with its seq); for the backend its REST calls
// and answers; for the webhook receiver the commands POSTed.
func sequences(doc string) (map[string][]string, error) {
	es, err := entries(doc)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range es {
		switch m := matchAny(e.label); {
		case m.re == reRequest:
			out[m.sub[1]] = append(out[m.sub[1]], "→ "+m.sub[2])
		case m.re == reFrame:
			tags, seqs := strings.Split(m.sub[1], ", "), strings.Split(m.sub[4], ", ")
			if len(tags) != len(seqs) {
				return nil, fmt.Errorf("line %d: %d recipients, %d seqs", e.line, len(tags), len(seqs))
			}
			for i, tag := range tags {
				out[tag] = append(out[tag], "← "+m.sub[2]+" "+seqs[i])
			}
		case m.re == reRESTReq:
			out["backend"] = append(out["backend"], "→ "+m.sub[1])
		case m.re == reRESTAns:
			out["backend"] = append(out["backend"], "← "+m.sub[1]+" HTTP "+m.sub[2])
		case m.re == reWebhook:
			out["webhook receiver"] = append(out["webhook receiver"], m.sub[1])
		}
	}
	return out, nil
}

type labelMatch struct {
	re  *regexp.Regexp
	sub []string
}

func matchAny(label string) labelMatch {
	for _, re := range []*regexp.Regexp{reRequest, reFrame, reRESTReq, reRESTAns, reWebhook} {
		if sub := re.FindStringSubmatch(label); sub != nil {
			return labelMatch{re, sub}
		}
	}
	return labelMatch{}
}

// checkAppendix checks every message of an appendix: frames against the JSON Schemas, REST
// calls against the OpenAPI description, webhooks replayed to the suite's receiver, the
// handshake and the token document against the worked UserSig, and each connection's seqs
// 1, 2, 3, ... in order (TRANS-005).
func checkAppendix(doc string) []error {
	var errs []error
	fail := func(e entry, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d (%s): %s", e.line, e.label, fmt.Sprintf(format, args...)))
	}
	v, err := fixtures.NewValidator()
	if err != nil {
		return []error{err}
	}
	rv, err := fixtures.NewRESTValidator()
	if err != nil {
		return []error{err}
	}
	hooks, err := harness.StartReceiver("127.0.0.1:0", sigAppID, hookSecret, v.ValidateWebhook)
	if err != nil {
		return []error{err}
	}
	defer hooks.Close()
	sig, err := computeSig()
	if err != nil {
		return []error{err}
	}
	es, err := entries(doc)
	if err != nil {
		return []error{err}
	}
	seqs := map[string]uint64{}
	var restReq *http.Request
	var wsKey string
	counts := map[string]int{}
	for _, e := range es {
		m := matchAny(e.label)
		langs := make([]string, len(e.blocks))
		for i, b := range e.blocks {
			langs[i] = b.lang
		}
		wantLangs := []string{"json"}
		switch {
		case e.label == labelUpgrade || e.label == labelSwitching:
			wantLangs = []string{"http"}
		case m.re == reRESTReq || m.re == reWebhook:
			wantLangs = []string{"http", "json"}
		}
		if !slices.Equal(langs, wantLangs) {
			fail(e, "blocks %v, want %v", langs, wantLangs)
			continue
		}
		last := e.blocks[len(e.blocks)-1].text
		body, err := compactJSON(last)
		if err != nil && wantLangs[len(wantLangs)-1] == "json" {
			fail(e, "not JSON: %v", err)
			continue
		}
		counts[e.label]++
		switch {
		case e.label == labelTLSDocument:
			if !bytes.Equal(body, sig.doc) {
				fail(e, "%s, want %s", body, sig.doc)
			}
		case e.label == labelUpgrade:
			req, err := readRequest(last, nil)
			if err != nil {
				fail(e, "%v", err)
				continue
			}
			q := req.URL.Query()
			if req.Method != http.MethodGet || req.URL.Path != client.Path || q.Get("userid") != sigUser || q.Get("sdkappid") != strconv.Itoa(sigAppID) || q.Get("usersig") != sig.token {
				fail(e, "want GET %s with sdkappid %d, userid %s and the usersig of B.1", client.Path, sigAppID, sigUser)
			}
			if !websocket.IsWebSocketUpgrade(req) || req.Header.Get("Sec-WebSocket-Version") != "13" {
				fail(e, "not a WebSocket upgrade (RFC 6455 §4.1)")
			}
			wsKey = req.Header.Get("Sec-WebSocket-Key")
		case e.label == labelSwitching:
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(strings.ReplaceAll(last, "\n", "\r\n")+"\r\n\r\n")), nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				fail(e, "not a 101 answer: %v", err)
				continue
			}
			// RFC 6455 §4.2.2: the accept value proves the server read this key.
			h := sha1.Sum([]byte(wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(h[:]) {
				fail(e, "Sec-WebSocket-Accept %q does not answer the request's key %q", got, wsKey)
			}
		case m.re == reRequest:
			if err := v.ValidateRequest(body); err != nil {
				fail(e, "%v", err)
			}
			if typ := frameType(body); typ != m.sub[2] {
				fail(e, "the frame's type is %q", typ)
			}
		case m.re == reFrame:
			if err := v.ValidateFrame(body, m.sub[3]); err != nil {
				fail(e, "%v", err)
			}
			if typ := frameType(body); typ != m.sub[2] {
				fail(e, "the frame's type is %q", typ)
			}
			var f struct{ Seq uint64 }
			_ = json.Unmarshal(body, &f)
			for i, tag := range strings.Split(m.sub[1], ", ") {
				seq, _ := strconv.ParseUint(strings.Split(m.sub[4], ", ")[i], 10, 64)
				if seq != seqs[tag]+1 {
					fail(e, "%s: seq %d after %d (TRANS-005)", tag, seq, seqs[tag])
				}
				seqs[tag] = seq
				if i == 0 && f.Seq != seq {
					fail(e, "the frame shown has seq %d", f.Seq)
				}
			}
		case m.re == reRESTReq:
			if restReq, err = readRequest(e.blocks[0].text, body); err != nil {
				fail(e, "%v", err)
				continue
			}
			if err := rv.ValidateRequest(restReq, body); err != nil {
				fail(e, "%v", err)
			}
		case m.re == reRESTAns:
			status, _ := strconv.Atoi(m.sub[2])
			if restReq == nil || !strings.HasSuffix(restReq.URL.Path, "/"+m.sub[1]) {
				fail(e, "an answer to no %s request", m.sub[1])
				continue
			}
			if err := rv.ValidateResponse(restReq, body, status, http.Header{"Content-Type": {"application/json"}}); err != nil {
				fail(e, "%v", err)
			}
			restReq = nil
		case m.re == reWebhook:
			if err := replayWebhook(hooks, e.blocks[0].text, body); err != nil {
				fail(e, "%v", err)
			}
		default:
			fail(e, "a label this test does not know")
		}
	}
	for _, label := range []string{labelTLSDocument, labelUpgrade, labelSwitching} {
		if counts[label] != 1 {
			errs = append(errs, fmt.Errorf("%d blocks labelled %s, want 1", counts[label], label))
		}
	}
	if n := len(hooks.Deliveries()); n != 3 {
		errs = append(errs, fmt.Errorf("%d webhooks, want 3 (create, start, end)", n))
	}
	for _, p := range hooks.Violations() {
		errs = append(errs, errors.New(p))
	}
	return errs
}

// frameType is the type member of a frame.
func frameType(raw []byte) string {
	var f struct{ Type string }
	_ = json.Unmarshal(raw, &f)
	return f.Type
}

// readRequest parses the head of an HTTP request as shown in an http block, with body.
func readRequest(head string, body []byte) (*http.Request, error) {
	text := strings.ReplaceAll(strings.TrimSpace(head), "\n", "\r\n") + "\r\n"
	if body != nil {
		text += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(text + "\r\n" + string(body))))
	if err != nil {
		return nil, fmt.Errorf("not an HTTP request: %w", err)
	}
	req.URL.Scheme, req.URL.Host = "http", req.Host
	req.RequestURI = ""
	return req, nil
}

// replayWebhook POSTs a webhook as shown (request line, headers, body) to a receiver, which
// checks its query, headers, schema and signature (HOOK-001..004), on a clock set to the
// second the webhook was signed: the transcript was recorded earlier.
func replayWebhook(hooks *harness.Receiver, head string, body []byte) error {
	shown, err := readRequest(head, body)
	if err != nil {
		return err
	}
	signed, err := strconv.ParseInt(shown.Header.Get(harness.HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", harness.HeaderTimestamp, err)
	}
	hooks.SetClock(func() time.Time { return time.Unix(signed, 0) })
	base, _, _ := strings.Cut(hooks.URL, "/pkarena-hooks")
	req, err := http.NewRequest(shown.Method, base+shown.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = shown.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return nil
}
