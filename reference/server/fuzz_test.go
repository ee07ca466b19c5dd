package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pkarena/pkarena/reference/protocol"
)

// envelopeSeeds are client frames: the SPEC's examples, then hostile ones (SPEC §14).
var envelopeSeeds = []string{
	`{"type":"heartbeat","id":"1"}`,
	`{"type":"createLive","id":"c-1","payload":{"liveID":"live_1001","liveName":"Evening show"}}`,
	`{"type":"requestConnection","id":"r-1","payload":{"liveIDs":["live_2002"],"timeout":10}}`,
	`{"type":"requestBattle","id":"b-1","payload":{"config":{"duration":300,"needResponse":true},"userIDs":["bob"],"timeout":10}}`,
	`{"type":"leaveLive","id":"x","payload":null}`,
	`{"type":"heartbeat","id":"` + strings.Repeat("i", 64) + `"}`,
	`{"type":"heartbeat","id":"` + strings.Repeat("i", 65) + `"}`,
	`{"type":"heartbeat","id":""}`,
	`{"type":"heartbeat","id":7}`,
	`{"type":"heartbeat"}`,
	`{"type":7,"id":"t"}`,
	`{"type":"","id":"t"}`,
	`{"id":"t"}`,
	`{"type":"heartbeat","type":"endLive","id":"d1"}`,
	`{"type":"heartbeat","id":"d2","id":"d3"}`,
	`{"type":"heartbeat","id":"t","payload":[1]}`,
	`{"type":"heartbeat","id":"t","payload":"x"}`,
	`{"type":"heartbeat","id":"t"} trailing`,
	`{"type":"heartbeat","id":"t"}{"type":"endLive","id":"u"}`,
	`{'type':'heartbeat'}`,
	`{"type":"lockSeat","id":"t7","payload":{"seatIndex":NaN}}`,
	`{"type":"heartbeat","id":"t","payload":{"seatIndex":1e400}}`,
	"{\"type\":\"heartbeat\",\"id\":\"t\x01\"}",
	"{\"type\":\"heart\xffbeat\",\"id\":\"\xfe\"}",
	`{"type":"heartbeat","id":"\ud800\udc00\udc00"}`,
	// Names and values the shallow decoder leaves to encoding/json, or must read as it does.
	`{"\u0074ype":"heartbeat","id":"e1"}`,
	`{"type":"heart\u0062eat","id":"e\"2\\"}`,
	`{"Type":"heartbeat","ID":"e3","type":"endLive","id":"e4"}`,
	` { "type" : "heartbeat" , "id" : "e5" , "payload" : { "a" : [ 1 , "}" , { } ] } } `,
	`{"type":"heartbeat","id":null,"payload":null}`,
	`{"type":null,"id":"e6"}`,
	`{"type":"heartbeat","id":"e7","payload":-1.5e3}`,
	`{"type":"heartbeat","id":"e8","payload":true,"payload":{"x":"\"]}"}}`,
	`{"type":"heartbeat","id":{"x":1}}`,
	`{"type":["heartbeat"],"id":"e9"}`,
	`{}`,
	`"{\"type\":\"heartbeat\",\"id\":\"e10\"}"`,
	"\uFEFF{\"type\":\"heartbeat\",\"id\":\"t9\"}",
	"  \t\n ",
	`null`,
	`[]`,
	`hello`,
	strings.Repeat("[", 3000) + strings.Repeat("]", 3000),
	`{"type":"heartbeat","id":"t10","payload":` + strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000) + `}`,
}

// FuzzParseRequest checks the envelope decoder (TRANS-003, INPUT-001..003): it never panics;
// it refuses with 100901 or 100002 only, always for a frame that is not JSON; a reply only
// ever echoes a valid id (1..64 bytes) or ""; an accepted request has a type, a valid id and a
// JSON payload other than null, and re-encodes to a frame that parses to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, perr := parseRequest(data)
		if want, werr := parseRequestOracle(data); req.Type != want.Type || req.ID != want.ID || !bytes.Equal(req.Payload, want.Payload) || !sameErr(perr, werr) {
			t.Fatalf("parseRequest(%q) = %+v, %v; the map decoding of encoding/json reads %+v, %v", data, req, perr, want, werr)
		}
		if req.ID != "" && len(req.ID) > maxRequestIDBytes {
			t.Fatalf("parseRequest(%q) kept an id of %d bytes", data, len(req.ID))
		}
		if perr != nil {
			if perr.Code != protocol.ErrMalformedFrame.Code && perr.Code != protocol.ErrInvalidParameter.Code {
				t.Fatalf("parseRequest(%q) = code %d; want 100901 or 100002", data, perr.Code)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("parseRequest(%q) accepted a frame that is not JSON", data)
		}
		if req.Type == "" || req.ID == "" {
			t.Fatalf("parseRequest(%q) = %+v: no type or no id", data, req)
		}
		if req.Payload != nil && (!json.Valid(req.Payload) || bytes.Equal(bytes.TrimSpace(req.Payload), []byte("null"))) {
			t.Fatalf("parseRequest(%q): payload %q", data, req.Payload)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("parseRequest(%q) = %+v, which does not marshal: %v", data, req, err)
		}
		req2, perr := parseRequest(again)
		if perr != nil {
			t.Fatalf("parseRequest(%q) = %+v; its encoding %s is refused: %v", data, req, again, perr)
		}
		if req2.Type != req.Type || req2.ID != req.ID || !sameJSON(req2.Payload, req.Payload) {
			t.Fatalf("parseRequest(%q) = %+v; its encoding %s parses to %+v", data, req, again, req2)
		}
	})
}

// parseRequestOracle is parseRequest as it was before it read the envelope without
// encoding/json (9d8526e), word for word: FuzzParseRequest holds parseRequest to it. It
// shares nothing with parseRequest, so a change to requestOf or jsonString is held to it too;
// but for the words of a frame it does not read, unreadable's (too deep, or not JSON).
func parseRequestOracle(data []byte) (protocol.Request, *protocol.Error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil || env == nil {
		return protocol.Request{}, protocol.ErrMalformedFrame.With("frame: %s", unreadable(data))
	}
	var req protocol.Request
	var idErr *protocol.Error
	switch raw, ok := env["id"]; {
	case !ok:
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case json.Unmarshal(raw, &req.ID) != nil:
		req.ID, idErr = "", protocol.ErrInvalidParameter.With("id: must be a string")
	case req.ID == "":
		idErr = protocol.ErrInvalidParameter.With("id: a non-empty string is required")
	case len(req.ID) > maxRequestIDBytes:
		idErr = protocol.ErrInvalidParameter.With("id: longer than %d bytes (%d)", maxRequestIDBytes, len(req.ID))
		req.ID = ""
	}
	raw, ok := env["type"]
	if !ok || json.Unmarshal(raw, &req.Type) != nil || req.Type == "" {
		return req, protocol.ErrMalformedFrame.With("type: a non-empty string is required")
	}
	if idErr != nil {
		return req, idErr
	}
	if p, ok := env["payload"]; ok && !bytes.Equal(bytes.TrimSpace(p), []byte("null")) {
		req.Payload = p
	}
	return req, nil
}

// sameErr reports whether two refusals are the same (both nil, or the same code and message).
func sameErr(a, b *protocol.Error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// sameJSON reports whether two JSON texts hold the same value (nil is the empty text):
// json.Marshal escapes <, >, & and U+2028 in a RawMessage, so the bytes may differ.
func sameJSON(a, b []byte) bool {
	if len(bytes.TrimSpace(a)) == 0 || len(bytes.TrimSpace(b)) == 0 {
		return len(bytes.TrimSpace(a)) == len(bytes.TrimSpace(b))
	}
	ca, erra := canonicalJSON(a)
	cb, errb := canonicalJSON(b)
	return erra == nil && errb == nil && bytes.Equal(ca, cb)
}

// canonicalJSON re-encodes a JSON text with its numbers as written and its keys sorted.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// FuzzFrameEncode checks the frame encoder with client-chosen text: a reply echoes the
// request's id and a message that may quote the request (TRANS-004, TRANS-006). The encoding
// must be one JSON object whose fields are the frame's; an event has no id, code or message
// (TRANS-010).
func FuzzFrameEncode(f *testing.F) {
	f.Add("1", "", 0, uint64(1), int64(1_700_000_000_000))
	f.Add("c-1", `unknown request type "explode"`, protocol.ErrUnknownType.Code, uint64(2), int64(0))
	f.Add("\x00\"\\</script>\u2028", "\xff\xfe", -1, uint64(1<<63), int64(-1))
	f.Add(strings.Repeat("i", 64), strings.Repeat("m", 40), 100002, ^uint64(0), int64(-1<<63))
	f.Fuzz(func(t *testing.T, id, message string, code int, seq uint64, ts int64) {
		frames := []*outFrame{
			replyFrame(id, protocol.LiveRef{LiveID: message}, nil),
			replyFrame(id, nil, &protocol.Error{Code: code, Message: message}),
			{typ: protocol.EvLiveEnded, payload: marshalPayload(protocol.LiveEnded{LiveID: id, Reason: code, Message: message})},
		}
		if utf8.ValidString(id) { // any type, though the server's are the protocol's names
			frames = append(frames, &outFrame{typ: id, payload: emptyPayload})
		}
		for _, of := range frames {
			buf := of.encode(nil, seq, ts)
			var fields map[string]json.RawMessage
			var fr protocol.Frame
			if err := json.Unmarshal(buf, &fields); err != nil || json.Unmarshal(buf, &fr) != nil {
				t.Fatalf("encode(%+v) = %q: not a JSON object: %v", of, buf, err)
			}
			if fr.Type != of.typ || fr.Seq != seq || fr.TS != ts || !sameJSON(fr.Payload, of.payload) {
				t.Fatalf("encode(%+v, %d, %d) = %q: fields differ", of, seq, ts, buf)
			}
			_, hasID := fields["id"]
			_, hasCode := fields["code"]
			_, hasMessage := fields["message"]
			if !of.reply {
				if hasID || hasCode || hasMessage {
					t.Fatalf("event %q carries id, code or message", buf)
				}
				continue
			}
			if fr.ID == nil || fr.Code == nil || fr.Message == nil || *fr.Code != of.code {
				t.Fatalf("reply %q: id, code or message missing or wrong", buf)
			}
			if utf8.ValidString(of.id) && *fr.ID != of.id || utf8.ValidString(of.message) && *fr.Message != of.message {
				t.Fatalf("reply %q: id %q message %q; want %q and %q", buf, *fr.ID, *fr.Message, of.id, of.message)
			}
		}
	})
}
