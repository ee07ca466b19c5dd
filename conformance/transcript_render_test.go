package conformance

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/harness"
)

// The labels that introduce each message of the appendix, one line each, read back by the
// test (matchAny, transcript_test.go): who sends, who receives, what. Frames get theirs in
// frameGroup.
const (
	labelRESTRequest = "**backend →** `%s`"           // then an http block and the JSON body
	labelRESTAnswer  = "**→ backend** `%s` · HTTP %d" // then the JSON body
	labelWebhook     = "**→ webhook receiver** `%s`"  // then an http block and the JSON body
	labelUpgrade     = "**A →** HTTP upgrade"
	labelSwitching   = "**→ A** HTTP 101"
	labelTLSDocument = "**TLS document**"
)

// frameItem is one WebSocket frame of one participant, decoded enough to render it.
type frameItem struct {
	tag     string
	sent    bool
	typ     string // the frame's type; a reply's request type is in reqType
	reqType string
	seq     uint64
	payload string // the payload as sent, to find the same event fanned out to several members
	text    string
}

// render writes the appendix of a captured run.
func render(tr *transcript) (string, error) {
	m := &markdown{}
	m.para("# Appendix B (informative): a PK battle, frame by frame")
	for _, p := range introText {
		m.text(p)
	}
	if err := m.sigSection(tr.sig); err != nil {
		return "", err
	}
	lastReq := map[string]string{} // per participant: the type of its last request
	for _, s := range tr.steps {
		if s.section != "" {
			m.para("## " + s.section)
		}
		if s.handshake {
			m.handshake(tr)
		}
		if s.intro != "" {
			m.text(s.intro)
		}
		if s.title != "" {
			m.para("### " + s.title)
		}
		if s.text != "" {
			m.text(s.text)
		}
		for _, x := range s.rest {
			if err := m.rest(x); err != nil {
				return "", err
			}
		}
		if err := m.frames(s, lastReq); err != nil {
			return "", err
		}
	}
	if err := m.webhooks(tr.hooks); err != nil {
		return "", err
	}
	m.regenerate()
	return strings.TrimSuffix(m.String(), "\n"), nil
}

// markdown builds the appendix.
type markdown struct{ strings.Builder }

// para writes a paragraph or a heading between blank lines.
func (m *markdown) para(text string) {
	if strings.HasSuffix(m.String(), "```\n") {
		m.WriteString("\n")
	}
	m.WriteString(text)
	m.WriteString("\n\n")
}

// block writes a label line directly followed by fenced blocks (lang, text pairs); the next
// label follows at once.
func (m *markdown) block(label string, blocks ...string) {
	m.WriteString(label)
	m.WriteString("\n")
	for i := 0; i+1 < len(blocks); i += 2 {
		m.WriteString("```" + blocks[i] + "\n" + strings.TrimSuffix(blocks[i+1], "\n") + "\n```\n")
	}
}

// jsonBlock writes a label and a JSON text, pretty-printed.
func (m *markdown) jsonBlock(label string, raw []byte) error {
	p, err := prettyJSON(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	m.block(label, "json", p)
	return nil
}

// introText opens the appendix, one paragraph a string.
var introText = []string{
	"This appendix is informative: it shows, with real frames, what SPEC.md specifies; where the two " +
		"seem to differ, SPEC.md governs. It was captured from the reference server (default settings, " +
		"a webhook receiver configured) by `TestTranscript` (`conformance/transcript_test.go`), which also " +
		"checks every JSON block below against the schemas of `fixtures/` (B.7).",
	"The cast: host **A** (user `alice`, room `room-alice`) invites host **B** (user `bob`, room " +
		"`room-bob`); viewer **V** (user `carol`) watches A's room; the business **backend** calls the REST " +
		"API; a **webhook receiver** gets the server's POSTs. `A →` is a frame A sends; `→ A, V` a frame the " +
		"server sends to A and to V with the same payload, shown once with the first one's `seq` and `ts`, " +
		"the `seq` of each listed. Within a step the frames are in the order each participant saw them. " +
		"JSON is laid out for reading; without the whitespace added outside strings it is byte for byte " +
		"what was sent. IDs, times, ports, WebSocket keys and every UserSig but A's differ from run to run.",
}

// text writes a paragraph of prose, wrapped.
func (m *markdown) text(s string) { m.para(fill(s, proseWidth)) }

// proseWidth is the width prose is wrapped at.
const proseWidth = 100

// fill wraps s into lines of at most width characters where it can, breaking at spaces.
func fill(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len([]rune(w)) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len([]rune(w))
	}
	return b.String()
}

// sigSection is B.1: A's UserSig computed step by step.
func (m *markdown) sigSection(w workedSig) error {
	m.para("## B.1 Host A's UserSig, step by step (AUTH-002)")
	issued := time.Unix(sigTime, 0).UTC().Format(time.RFC3339)
	m.text(fmt.Sprintf("Inputs: the reference server's development secret `%s` and sdkappid `%d` "+
		"(`bin/pkarena-server -h`), userid `%s`, `TLS.time` %d (%s) and `TLS.expire` %d seconds (%d days: "+
		"the token is valid until `TLS.time + TLS.expire`, AUTH-004, AUTHZ-003; Tencent's tools default to "+
		"180 days).", sigSecret, sigAppID, sigUser, sigTime, issued, sigExpire, sigExpire/86400))
	m.para(fmt.Sprintf("1. The HMAC input: four lines, each ended by a line feed (0x0A, the last one too), numbers\n"+
		"   in decimal, nothing else: %d bytes.\n\n"+
		"```text\n%s```\n\n"+
		"2. The HMAC key is the secret's bytes as they are (no hashing, no hex or base64 decoding):\n"+
		"   `%s` (%d bytes).\n"+
		"3. HMAC-SHA256(key, input), 32 bytes:\n"+
		"   `%s`.\n"+
		"4. `TLS.sig` is that digest in standard base64 (RFC 4648 §4: `A–Z a–z 0–9 + /`, padded with\n"+
		"   `=`), not the token's alphabet: `%s`.\n"+
		"5. The token document: `TLS.ver` the string `\"2.0\"`, `TLS.identifier` the userid as a string,\n"+
		"   `TLS.sdkappid`, `TLS.expire` and `TLS.time` JSON **numbers** (the reference server refuses\n"+
		"   strings there with 70003), `TLS.sig` a string. Member order and whitespace do not matter\n"+
		"   (the server parses the JSON and recomputes the HMAC from its values); these %d bytes are\n"+
		"   what was compressed:",
		len(w.content), w.content, hex.EncodeToString([]byte(sigSecret)), len(sigSecret), hex.EncodeToString(w.digest), w.sig, len(w.doc)))
	m.block(labelTLSDocument, "json", string(w.doc))
	m.para(fmt.Sprintf("6. zlib (RFC 1950: deflate with the zlib header and Adler-32; here Go's `compress/zlib` at\n"+
		"   its default level), %d bytes. Another compressor may give other bytes, and so another\n"+
		"   token that is just as valid: the server only inflates.\n\n"+
		"```text\n%s\n```\n\n"+
		"7. Standard base64 of those bytes, padded:\n\n"+
		"```text\n%s\n```\n\n"+
		"8. The token: `+` → `*`, `/` → `-`, `=` → `_` in that text. This is A's `usersig`:\n\n"+
		"```text\n%s\n```\n\n"+
		"In a URL query the token is percent-encoded as any value is; Go's `url.Values` writes `*` as\n"+
		"`%%2A` (B.2), and the server reads the query decoded.",
		len(w.zlib), wrap(hex.EncodeToString(w.zlib), 96), wrap(w.std, 96), wrap(w.token, 96)))
	return nil
}

// wrap cuts s into lines of n characters.
func wrap(s string, n int) string {
	var lines []string
	for len(s) > n {
		lines = append(lines, s[:n])
		s = s[n:]
	}
	return strings.Join(append(lines, s), "\n")
}

// handshake writes A's WebSocket upgrade and its answer.
func (m *markdown) handshake(tr *transcript) {
	m.text("A opens its connection with an HTTP/1.1 upgrade (RFC 6455) to `/v1/ws` (TRANS-001), " +
		"authenticating in the query (AUTH-001): `sdkappid`, `userid`, the optional `username`, and `usersig`, " +
		"the token of B.1. A refused handshake gets an HTTP error with a JSON body instead (AUTH-003 to AUTH-005).")
	m.block(labelUpgrade, "http", tr.upgrade)
	m.block(labelSwitching, "http", tr.switching)
}

// frames writes the frames of a step: a participant's request and its reply first, then the
// events, an event fanned out to several participants once.
func (m *markdown) frames(s capturedStep, lastReq map[string]string) error {
	queues := map[string][]frameItem{}
	for _, who := range everyone {
		for _, f := range s.frames[who.tag] {
			it, err := decodeItem(who.tag, f, lastReq)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name(), err)
			}
			queues[who.tag] = append(queues[who.tag], it)
		}
	}
	for {
		group := nextGroup(queues)
		if group == nil {
			return nil
		}
		if err := m.frameGroup(group); err != nil {
			return err
		}
	}
}

// decodeItem reads a transcript frame; lastReq tracks each participant's last request.
func decodeItem(tag string, f client.TranscriptFrame, lastReq map[string]string) (frameItem, error) {
	var env struct {
		Type    string          `json:"type"`
		Seq     uint64          `json:"seq"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(f.Text), &env); err != nil {
		return frameItem{}, fmt.Errorf("%s: %w: %.200s", tag, err, f.Text)
	}
	it := frameItem{tag: tag, sent: f.Sent, typ: env.Type, seq: env.Seq, payload: string(env.Payload), text: f.Text}
	switch {
	case f.Sent:
		lastReq[tag] = env.Type
	case env.Type == client.TypeReply:
		it.reqType = lastReq[tag]
	}
	return it, nil
}

// nextGroup takes the next frames to show from the participants' queues: a request or reply
// at the head of a queue, alone; else an event at the head of every queue that holds the same
// event, together; else the first head. It returns nil when the queues are empty.
func nextGroup(queues map[string][]frameItem) []frameItem {
	take := func(tags ...string) []frameItem {
		var out []frameItem
		for _, t := range tags {
			out = append(out, queues[t][0])
			queues[t] = queues[t][1:]
		}
		return out
	}
	for _, who := range everyone {
		if q := queues[who.tag]; len(q) > 0 && (q[0].sent || q[0].typ == client.TypeReply) {
			return take(who.tag)
		}
	}
	first := ""
	for _, who := range everyone {
		q := queues[who.tag]
		if len(q) == 0 {
			continue
		}
		if first == "" {
			first = who.tag
		}
		same, atHead := []string{}, true
		for _, other := range everyone {
			for i, it := range queues[other.tag] {
				if !it.sent && it.typ == q[0].typ && it.payload == q[0].payload {
					same = append(same, other.tag)
					atHead = atHead && i == 0
					break
				}
			}
		}
		if atHead {
			return take(same...)
		}
	}
	if first == "" {
		return nil
	}
	return take(first)
}

// frameGroup writes one frame, or one event and the participants it went to.
func (m *markdown) frameGroup(g []frameItem) error {
	head := g[0]
	var label string
	switch {
	case head.sent:
		label = fmt.Sprintf("**%s →** `%s`", head.tag, head.typ)
	case head.typ == client.TypeReply:
		label = fmt.Sprintf("**→ %s** `reply` to `%s` · seq %d", head.tag, head.reqType, head.seq)
	default:
		tags, seqs := make([]string, len(g)), make([]string, len(g))
		for i, it := range g {
			tags[i], seqs[i] = it.tag, fmt.Sprint(it.seq)
		}
		label = fmt.Sprintf("**→ %s** `%s` · seq %s", strings.Join(tags, ", "), head.typ, strings.Join(seqs, ", "))
	}
	return m.jsonBlock(label, []byte(head.text))
}

// rest writes a REST call and its answer.
func (m *markdown) rest(x restExchange) error {
	p, err := prettyJSON(x.body)
	if err != nil {
		return err
	}
	m.block(fmt.Sprintf(labelRESTRequest, x.api),
		"http", x.requestLine+"\nHost: "+x.host+"\nContent-Type: application/json", "json", p)
	return m.jsonBlock(fmt.Sprintf(labelRESTAnswer, x.api, x.status), x.answer)
}

// webhookHeaders are the headers of a webhook shown: the protocol's own (HOOK-003, HOOK-004).
var webhookHeaders = []string{"Content-Type", harness.HeaderEventID, harness.HeaderTimestamp, harness.HeaderSignature}

// webhooks writes B.6: the webhooks of the battle.
func (m *markdown) webhooks(hooks []harness.Delivery) error {
	m.para("## B.6 Webhooks")
	m.text(fmt.Sprintf("The server POSTs one webhook when the battle is created, one when it starts and one when it "+
		"ends (HOOK-001), in that order (HOOK-006), to its `-webhook-url` (here the receiver's "+
		"`http://127.0.0.1:<port>/pkarena-hooks`). `OptPlatform` is `Unknown` for a battle requested over the "+
		"WebSocket, and `ClientIP` the address of the client whose request made the webhook: A's request, B's "+
		"acceptance and B's exit, all from the loopback here (empty for an end the battle's timer makes). Each carries an `EventId` (HOOK-003) and, as a webhook secret is "+
		"set (`%s`), `X-Pkarena-Signature: v1=` hex HMAC-SHA256(secret, timestamp + \".\" + body) over the "+
		"body as sent, the compact JSON (HOOK-004). Only these headers are shown.", hookSecret))
	for _, d := range hooks {
		lines := []string{"POST /pkarena-hooks?" + d.Query.Encode() + " HTTP/1.1"}
		for _, h := range webhookHeaders {
			lines = append(lines, h+": "+d.Header.Get(h))
		}
		p, err := prettyJSON(d.Body)
		if err != nil {
			return err
		}
		m.block(fmt.Sprintf(labelWebhook, d.Command), "http", strings.Join(lines, "\n"), "json", p)
	}
	return nil
}

// regenerate writes B.7: how the appendix is made and checked.
func (m *markdown) regenerate() {
	m.para("## B.7 How this file is made")
	m.para("```sh\n" +
		"go test ./conformance -run TestTranscript -update   # capture a new run into conformance/TRANSCRIPT.md\n" +
		"go test ./conformance -run TestTranscript           # check this file (part of make test)\n" +
		"```")
	m.text("`TestTranscript` starts the reference server in-process, plays the script above with the " +
		"conformance client (`conformance/client`; A's connection with the token of B.1), captures every " +
		"frame, the REST calls and the webhooks, and renders this file. Without `-update` it checks this file " +
		"against a fresh capture: section B.1 identical, every participant the same frames in the same order " +
		"with the same `seq`s. And it checks this file itself: every request, reply and event against the JSON " +
		"Schemas of `fixtures/schemas/v1/`, every REST call and answer against `fixtures/openapi/rest-v1.yaml`, " +
		"every webhook, replayed to the suite's webhook receiver, for its query, schema and signature, and the " +
		"handshake's `usersig` against B.1.")
}
