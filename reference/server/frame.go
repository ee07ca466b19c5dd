package server

import (
	"encoding/binary"
	"encoding/json"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// outFrame is a frame waiting in a connection's send queue. The payload is marshalled once by
// the hub and shared by every recipient; the writer adds seq and ts (TRANS-004, TRANS-005).
type outFrame struct {
	typ     string
	reply   bool // a reply: id, code and message are written
	id      string
	code    int
	message string
	payload []byte
}

// frameOverhead is about what encode adds to a frame's strings and payload: the field names,
// seq, ts and code.
const frameOverhead = 96

// size is the frame's size as the send queue's byte bound counts it (CLOSE-002): its encoded
// length, give or take the escaping of id and message. It depends only on the frame, so the
// hub (queueing) and the writer (taking) count the same.
func (f *outFrame) size() int64 {
	return int64(len(f.typ) + len(f.id) + len(f.message) + len(f.payload) + frameOverhead)
}

// encode appends the frame's JSON to buf with the given seq and timestamp.
func (f *outFrame) encode(buf []byte, seq uint64, ts int64) []byte {
	buf = append(buf, `{"type":`...)
	buf = appendType(buf, f.typ)
	buf = append(buf, `,"seq":`...)
	buf = strconv.AppendUint(buf, seq, 10)
	buf = append(buf, `,"ts":`...)
	buf = strconv.AppendInt(buf, ts, 10)
	if f.reply {
		buf = append(buf, `,"id":`...)
		if mutant.On(mutant.ReplyIDUnescaped) {
			buf = appendIDUnescaped(buf, f.id)
		} else {
			buf = appendJSONString(buf, f.id)
		}
		buf = append(buf, `,"code":`...)
		buf = strconv.AppendInt(buf, int64(f.code), 10)
		buf = append(buf, `,"message":`...)
		buf = appendJSONString(buf, f.message)
	}
	buf = append(buf, `,"payload":`...)
	buf = append(buf, f.payload...)
	return append(buf, '}')
}

// appendType quotes a frame's type. Every type is a name of the protocol, printable ASCII
// that needs no escape, appended as it is; strconv.AppendQuote, which looks at each rune, cost
// 2% of the server's CPU in a fan-out, written for every frame to every connection. Any
// other string is quoted as JSON.
func appendType(buf []byte, typ string) []byte {
	for i := 0; i < len(typ); i++ {
		if c := typ[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return appendJSONString(buf, typ)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, typ...)
	return append(buf, '"')
}

// appendJSONString quotes s as JSON (strconv.Quote escapes differ from JSON for some runes).
func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}

// frameHeaderRoom is the room a writer leaves before a frame's JSON for its WebSocket header:
// the longest a server's header can be (RFC 6455 §5.2: two bytes, eight of length, no mask).
const frameHeaderRoom = 10

// textFrame puts the header of an unmasked, final text frame (RFC 6455 §5.2) before the JSON
// in buf[frameHeaderRoom:], in the room left for it, and returns the whole frame: the writer
// sends it in one write rather than through gorilla's message writer, which copied it into a
// pooled buffer, allocated to give the buffer back and took a channel lock for every message
// (5–12% of the server's CPU at 10,000 deliveries a second: measurements/fanout.md).
func textFrame(buf []byte) []byte {
	n := len(buf) - frameHeaderRoom
	var start int
	switch {
	case n < 126:
		start = frameHeaderRoom - 2
		buf[start+1] = byte(n)
	case n <= 0xffff:
		start = frameHeaderRoom - 4
		buf[start+1] = 126
		binary.BigEndian.PutUint16(buf[start+2:], uint16(n))
	default:
		start = 0
		buf[1] = 127
		binary.BigEndian.PutUint64(buf[2:], uint64(n))
	}
	buf[start] = 0x80 | websocket.TextMessage // FIN, opcode 1
	return buf[start:]
}

var emptyPayload = []byte("{}")

func marshalPayload(v any) []byte {
	if v == nil {
		return emptyPayload
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Payloads are the protocol's own structs; failing here is a programming error, and a
		// frame without its payload would be worse than an empty one.
		return emptyPayload
	}
	return b
}

func replyFrame(id string, v any, err *protocol.Error) *outFrame {
	if err != nil {
		return &outFrame{typ: protocol.TypeReply, reply: true, id: id, code: err.Code, message: err.Message, payload: emptyPayload}
	}
	return &outFrame{typ: protocol.TypeReply, reply: true, id: id, payload: marshalPayload(v)}
}

// appendIDUnescaped is mutant.ReplyIDUnescaped: a reply's id appended as it is unless it holds
// a control character or a byte that is not ASCII (a quote and a backslash go out raw).
func appendIDUnescaped(buf []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e {
			return appendJSONString(buf, id)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, id...)
	return append(buf, '"')
}
