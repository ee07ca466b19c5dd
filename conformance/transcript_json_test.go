package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The appendix shows JSON pretty-printed, yet byte for byte what was sent: the printer only
// adds whitespace outside strings and keeps every member in its order and every string and
// number as written, so json.Compact of a block gives back the bytes on the wire (a webhook's
// signature can be checked on it).

// jsonWidth is the width a JSON value is laid out in: a value whose one-line form fits stays
// on one line.
const jsonWidth = 120

// jsonNode is a parsed JSON value that keeps its members' order and its scalars' text.
type jsonNode struct {
	kind byte     // '{', '[', or 0 for a scalar
	raw  []byte   // a scalar's text as written (a string with its quotes and escapes)
	keys [][]byte // an object's member names as written, quotes included
	kids []*jsonNode
}

// prettyJSON lays out one valid JSON text.
func prettyJSON(raw []byte) (string, error) {
	if !json.Valid(raw) {
		return "", fmt.Errorf("not JSON: %.100s", raw)
	}
	n, _ := parseJSON(raw, 0)
	var b strings.Builder
	n.write(&b, 0, 0)
	return b.String(), nil
}

// compactJSON is the one-line form of a pretty-printed JSON text: the bytes that were sent.
func compactJSON(text string) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parseJSON parses the value at b[i:] of a text known to be valid; it returns the index after it.
func parseJSON(b []byte, i int) (*jsonNode, int) {
	i = skipSpace(b, i)
	switch b[i] {
	case '{', '[':
		n := &jsonNode{kind: b[i]}
		closing := byte('}')
		if n.kind == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		for b[i] != closing {
			if n.kind == '{' {
				end := stringEnd(b, i)
				n.keys = append(n.keys, b[i:end])
				i = skipSpace(b, end) + 1 // the colon
			}
			var kid *jsonNode
			kid, i = parseJSON(b, i)
			n.kids = append(n.kids, kid)
			if i = skipSpace(b, i); b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return n, i + 1
	case '"':
		end := stringEnd(b, i)
		return &jsonNode{raw: b[i:end]}, end
	}
	end := i
	for end < len(b) && !strings.ContainsRune(",]} \t\r\n", rune(b[end])) {
		end++
	}
	return &jsonNode{raw: b[i:end]}, end
}

// stringEnd returns the index after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// line is the value on one line, with a space after each colon and comma.
func (n *jsonNode) line() string {
	if n.kind == 0 {
		return string(n.raw)
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.line()
		if n.kind == '{' {
			parts[i] = string(n.keys[i]) + ": " + parts[i]
		}
	}
	if n.kind == '{' {
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// write lays the value out at indent, lead being the width of what precedes it on its line.
// A value too wide for one line is laid out member by member: its scalar members as many to a
// line as fit, each object or array on a line of its own, or laid out the same way below its
// name when it is too wide for one.
func (n *jsonNode) write(b *strings.Builder, indent, lead int) {
	one := n.line()
	if n.kind == 0 || len(n.kids) == 0 || indent+lead+len(one) <= jsonWidth {
		b.WriteString(one)
		return
	}
	pad := strings.Repeat(" ", indent+2)
	b.WriteByte(n.kind)
	b.WriteByte('\n')
	cur := "" // the members gathered for the current line
	flush := func() {
		if cur != "" {
			b.WriteString(pad + cur + "\n")
			cur = ""
		}
	}
	for i, k := range n.kids {
		key := ""
		if n.kind == '{' {
			key = string(n.keys[i]) + ": "
		}
		sep := ","
		if i == len(n.kids)-1 {
			sep = ""
		}
		piece := key + k.line() + sep
		composite := len(k.kids) > 0
		if composite {
			flush()
		}
		switch {
		case cur != "" && len(pad)+len(cur)+1+len(piece) <= jsonWidth:
			cur += " " + piece
		case len(pad)+len(piece) <= jsonWidth:
			flush()
			cur = piece
			if composite {
				flush()
			}
		default:
			flush()
			b.WriteString(pad + key)
			k.write(b, indent+2, len(key))
			b.WriteString(sep + "\n")
		}
	}
	flush()
	b.WriteString(pad[2:])
	if n.kind == '{' {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
}
