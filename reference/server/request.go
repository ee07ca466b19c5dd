package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// maxRequestIDBytes bounds a request id (TRANS-003).
const maxRequestIDBytes = 64

// parseRequest reads the envelope of a client frame (TRANS-003, INPUT-001..003). The id is
// read first: a reply only ever echoes a valid id (1..64 bytes), else "". A frame that is not
// an object or has no non-empty string type is 100901; then a bad id is 100002 (naming id);
// the type is looked up after both (100902, core.Handle): INPUT-002's order.
//
// It runs on the connection's reader, whose stack is most of what an idle connection costs:
// decoding the envelope into a map with encoding/json took that goroutine's stack from 4 KB
// to 8 KB at every request until the next collection halved it again. So the text is checked
// with json.Valid (a loop, not a recursion) and the envelope's members are found by
// envelopeMembers; a frame with escapes in a member's name goes to encoding/json
// (parseRequestJSON), which answers the same for every frame (FuzzParseRequest), and so does
// an id or type with escapes or bytes that are not UTF-8 (jsonString): rare, and at worst a
// stack grown until the next collection.
func parseRequest(data []byte) (protocol.Request, *protocol.Error) {
	if !json.Valid(data) || mutant.On(mutant.NestingLimitLow) && nestingDepth(data) > lowNestingDepth {
		return protocol.Request{}, protocol.ErrMalformedFrame.With("frame: %s", unreadable(data))
	}
	id, typ, payload, ok := envelopeMembers(data)
	if !ok {
		return parseRequestJSON(data)
	}
	return requestOf(id, typ, payload)
}

// jsonMaxDepth is how deep encoding/json reads arrays and objects (its scanner's bound, which
// json.Valid applies): a frame or REST body nested deeper is not read. INPUT-001 and REST-003
// let a server bound the depth past 64 levels (TestJSONMaxDepth pins the bound).
const jsonMaxDepth = 10000

// lowNestingDepth is the bound of mutant.NestingLimitLow, under INPUT-001's 64.
const lowNestingDepth = 16

// unreadable says why data, a frame or REST body json.Valid refused, is not read: nested too
// deep, or not JSON.
func unreadable(data []byte) string {
	bound := jsonMaxDepth
	if mutant.On(mutant.NestingLimitLow) {
		bound = lowNestingDepth
	}
	if d := nestingDepth(data); d > bound {
		return fmt.Sprintf("nested %d levels deep: this server reads JSON nested %d levels at most", d, bound)
	}
	return "not a JSON object"
}

// nestingDepth returns how deep the arrays and objects of data nest (0 for a scalar), counting
// its brackets outside strings without checking anything else.
func nestingDepth(data []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i = skipJSONString(data, i) - 1
		case '[', '{':
			if depth++; depth > deepest {
				deepest = depth
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// parseRequestJSON is parseRequest through encoding/json: for frames envelopeMembers leaves.
func parseRequestJSON(data []byte) (protocol.Request, *protocol.Error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil || env == nil {
		return protocol.Request{}, protocol.ErrMalformedFrame.With("frame: not a JSON object")
	}
	return requestOf(env["id"], env["type"], env["payload"])
}

// requestOf makes the request of an envelope's raw id, type and payload (nil: absent).
func requestOf(id, typ, payload []byte) (protocol.Request, *protocol.Error) {
	var req protocol.Request
	var idErr *protocol.Error
	switch {
	case id == nil:
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case !jsonString(id, &req.ID):
		req.ID, idErr = "", protocol.ErrInvalidParameter.With("id: must be a string")
	case req.ID == "":
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case (len(req.ID) > maxRequestIDBytes || mutant.On(mutant.IDLengthEscaped) && len(id)-2 > maxRequestIDBytes) && !(mutant.On(mutant.IDCountedInCharacters) && utf8.RuneCountInString(req.ID) <= maxRequestIDBytes):
		idErr = protocol.ErrInvalidParameter.With("id: longer than %d bytes (%d)", maxRequestIDBytes, len(req.ID))
		req.ID = ""
	}
	if idErr != nil && mutant.On(mutant.IDBeforeType) {
		return req, idErr // the id checked before the type
	}
	if mutant.On(mutant.TypeMatchedAsWritten) && len(typ) >= 2 && typ[0] == '"' && typ[len(typ)-1] == '"' {
		req.Type = string(typ[1 : len(typ)-1]) // a type is a bare name: matched as written
	} else if typ == nil || !jsonString(typ, &req.Type) {
		return req, protocol.ErrMalformedFrame.With("type: a non-empty string is required")
	}
	if req.Type == "" {
		return req, protocol.ErrMalformedFrame.With("type: a non-empty string is required")
	}
	if idErr != nil && mutant.On(mutant.UnknownTypeBeforeID) && !core.KnownType(req.Type) {
		return req, protocol.ErrUnknownType.With("unknown request type %q", req.Type) // the type looked up before the id is checked
	}
	if idErr != nil {
		return req, idErr
	}
	if payload != nil && !bytes.Equal(bytes.TrimSpace(payload), []byte("null")) {
		req.Payload = payload
	}
	return req, nil
}

// jsonString sets *s from the JSON value v as json.Unmarshal into a string does, and reports
// whether it would succeed (null succeeds and leaves *s alone). A string without escapes is
// taken as it is; anything else goes to encoding/json.
func jsonString(v []byte, s *string) bool {
	if len(v) >= 2 && v[0] == '"' {
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*s = string(inner)
			return true
		}
	}
	return json.Unmarshal(v, s) == nil
}

// envelopeMembers finds the raw values of the members id, type and payload of data, a valid
// JSON text (json.Valid), as a map decoded by encoding/json holds them: the last of each
// name, nil when absent. ok is false when data is not an object, or a member's name has
// escapes (it might spell one of the three): the caller then decodes with encoding/json.
func envelopeMembers(data []byte) (id, typ, payload []byte, ok bool) {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, nil, nil, false
	}
	for i = skipJSONSpace(data, i+1); i < len(data) && data[i] != '}'; {
		if data[i] == ',' {
			i = skipJSONSpace(data, i+1)
		}
		end := skipJSONString(data, i)
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return nil, nil, nil, false
		}
		i = skipJSONSpace(data, end) // at the colon
		i = skipJSONSpace(data, i+1) // at the value
		vend := skipJSONValue(data, i)
		switch string(name) {
		case "id":
			id = data[i:vend]
		case "type":
			typ = data[i:vend]
		case "payload":
			if payload == nil || !mutant.On(mutant.FirstPayloadCounts) {
				payload = data[i:vend]
			}
		}
		i = skipJSONSpace(data, vend)
	}
	return id, typ, payload, true
}

// skipJSONSpace returns the index of the first byte from i on that is not JSON whitespace.
func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipJSONString returns the index after the string starting at data[i] (its opening quote),
// in valid JSON.
func skipJSONString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipJSONValue returns the index after the value starting at data[i], in valid JSON: it
// follows strings and brackets and checks nothing.
func skipJSONValue(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch data[i] {
		case '"':
			i = skipJSONString(data, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the object holding a number or literal
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i // after a number or literal
			}
		}
		i++
	}
	return i
}
