package client

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// frameSeeds are frames of every shape the reader meets, ways to break them, values at the
// edges of every character class the scanner tests (edgeSeeds), and every prefix of three
// rich frames (a frame cut anywhere is a fault, never a read past its end).
var frameSeeds = append(baseSeeds, edgeSeeds()...)

// edgeValues are JSON values, and near-values, at the edges of the scanner's tests: digits
// 0 and 9 and the bytes beside them, exponents, hex digits of \u escapes at both ends of each
// range and just outside, every escape, control bytes, literals cut or overlong, whitespace
// JSON allows and some it does not.
var edgeValues = []string{
	`0`, `9`, `-0`, `-9`, `0.0`, `9.9`, `0.09`, `1e0`, `1E9`, `1e+9`, `1e-9`, `0e0`, `9E-0`,
	`1.5e`, `1.`, `.5`, `01`, `-01`, `-`, `+1`, `1e+`, `1e-`, `0x1`, `1/`, `1:`, `9a`, `1.e1`, `-.5`,
	`"\u0000"`, `"\u09af"`, `"\u0AFa"`, `"\uFfFf"`, `"\u00g0"`, `"\u00G0"`, `"\u00@0"`, `"\u00/0"`,
	`"\u00:0"`, "\"\\u00`0\"", `"\u00[0"`, `"\u00{0"`, `"\u12"`, `"\u123"`, `"\"`, `"\/"`,
	`"\b\f\n\r\t\"\\"`, `"\q"`, `"\a"`, `"\B"`, `"\U0041"`, "\"\x1f\"", "\"\x20\"", "\"\x7f\"", "\"\x00\"",
	`true`, `false`, `null`, `tru`, `nul`, `fals`, `truex`, `nulll`, `True`,
	`[]`, `[[]]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"":1}`, `{"a":{"b":[]}}`, `{"a" 1}`, `{1:1}`,
	"\t1", "\n1\r", "\v1", "\f1", "1\u00a0",
}

// edgeSeeds places each edge value where the scanner meets it: a member's value, in an
// array, in a nested object and in the payload (read through the index); and cuts three
// rich frames at every byte.
func edgeSeeds() []string {
	var out []string
	for _, v := range edgeValues {
		out = append(out, `{"a":`+v+`}`, `{"a":[`+v+`,`+v+`]}`, `{"a":{"b":`+v+`}}`, `{"type":"t","payload":{"b":`+v+`,"c":1}}`)
	}
	// An empty payload, then more members: the index's scan must end where the payload does.
	out = append(out, `{"payload":{},"seq":2}`, `{"payload":{ },"seq":2,"type":"t"}`, `{"payload":[],"seq":2}`)
	// Nesting at encoding/json's limit (10000) and past it, in a member and in the payload.
	for _, n := range []int{maxScanDepth - 2, maxScanDepth - 1, maxScanDepth, maxScanDepth + 1} {
		deep := strings.Repeat("[", n) + strings.Repeat("]", n)
		out = append(out, `{"a":`+deep+`}`, `{"payload":{"b":`+deep+`},"seq":1}`)
	}
	for _, f := range []string{baseSeeds[0], baseSeeds[3], `{"payload":{"a":[1,{"b":"\u00e9\n"}],"c":-2.5e-3,"d":[true,false,null]}}`} {
		for i := 1; i < len(f); i++ {
			out = append(out, f[:i])
		}
	}
	return out
}

// baseSeeds are frames of every shape the reader meets, and ways to break them.
var baseSeeds = []string{
	`{"type":"onBattleScoreChanged","seq":42,"ts":1765000000000,"payload":{"battleID":"b-1","version":7,"battleUserList":[{"userID":"u","score":3}]}}`,
	`{"type":"reply","seq":3,"ts":1,"id":"g17","code":0,"message":"","payload":{}}`,
	`{"type":"reply","seq":3,"ts":1,"id":"g17","code":100421,"message":"battle \"b\" ended","payload":{}}`,
	` { "type" : "welcome" , "seq" : 1 , "ts" : 0 , "payload" : { "a" : [ 1 , -2.5e+3 , true , false , null , "\u00e9" ] } } `,
	`{"Type":"x","seq":1}`, `{"ſeq":1}`, `{"type":null}`, `{"id":null}`, `{"payload":null}`, `{"seq":-1}`, `{"seq":1.0}`,
	`{"seq":18446744073709551615}`, `{"seq":18446744073709551616}`, `{"ts":-9223372036854775808}`, `{"code":1e2}`,
	`{"type":"a","type":"b"}`, `{"x\u0079":1}`, `{}`, `[]`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":"\x"}`, `{"a":"` + "\x01" + `"}`,
	`{"a":[1,2}`, `{"a":{"b":1]}`, `{"a":1} x`, `{"type":"\ud800"}`, `{"type":"` + "\xff" + `"}`, `nul`, ``,
	// cut short after each kind of token: a fault, never a read past the end
	`{`, `{ `, `{"a"`, `{"a" `, `{"a":`, `{"a":1,`, `{"a":1, `, `{"a":"x`, `{"a":[`, `{"a":{`,
}

// FuzzDecodeFrame holds decodeFrame to encoding/json: the same error or none, the same frame.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)] // a read past the frame's end panics, as it must not happen
		var want Frame
		wantErr := json.Unmarshal(data, &want)
		got, err := decodeFrame(data)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decodeFrame(%q) error %v; encoding/json says %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		got.slow, want.slow, got.payOff, got.payIndex = false, false, 0, memberIndex{}
		if !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("decodeFrame(%q) payload %q; encoding/json %q", data, got.Payload, want.Payload)
		}
		got.Payload, want.Payload = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeFrame(%q) = %+v; encoding/json %+v", data, got, want)
		}
	})
}

// FuzzMembers: members accepts only what encoding/json accepts as an object, and hands over
// every member.
func FuzzMembers(f *testing.F) {
	for _, s := range frameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)] // a read past the frame's end panics, as it must not happen
		n := 0
		m := members{data: data}
		for m.next() {
			n++
			if !json.Valid(m.value) {
				t.Fatalf("members(%q) gave member %q an invalid value %q", data, m.name, m.value)
			}
		}
		ok := m.ok()
		var obj map[string]json.RawMessage
		err := json.Unmarshal(data, &obj)
		if ok && (err != nil || obj == nil) {
			t.Fatalf("members(%q) accepted what encoding/json refuses: %v", data, err)
		}
		if ok && n < len(obj) {
			t.Fatalf("members(%q) gave %d members; there are at least %d", data, n, len(obj))
		}
	})
}

// nineRoomScoreFrame is an onBattleScoreChanged frame of a nine-room battle, as bench-fanout's
// generator reads them.
func nineRoomScoreFrame() []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"onBattleScoreChanged","seq":42,"ts":1765000000000,"payload":{"battleID":"85b8372d-b1","version":41,"battleUserList":[`)
	for i := range 9 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"liveID":"room-%d","userID":"host-%d","userName":"Host %d","avatarURL":"https://example.com/a/%d.png","score":%d,"rank":%d}`, i, i, i, i, 100*i, 9-i)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

func BenchmarkDecodeFrame(b *testing.B) {
	data := []byte(frameSeeds[0])
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFrame(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same nine-room score frame again and again, as each member of a group reads it: its
	// payload is recalled (recall.go) after the first.
	nine := nineRoomScoreFrame()
	b.Run("scan nine rooms", func(b *testing.B) {
		b.SetBytes(int64(len(nine)))
		for b.Loop() {
			if _, err := decodeFrame(nine); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A payload unlike the ones remembered each time (one more than the memory holds, in
	// turn): each is scanned, and remembered for nothing.
	var fresh [][]byte
	for v := range recentSlots + 1 {
		fresh = append(fresh, bytes.Replace(nine, []byte(`"version":41`), fmt.Appendf(nil, `"version":%d`, 50+v), 1))
	}
	b.Run("scan nine rooms, a new payload each", func(b *testing.B) {
		b.SetBytes(int64(len(nine)))
		n := 0
		for b.Loop() {
			if _, err := decodeFrame(fresh[n%len(fresh)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f Frame
			if err := json.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzLookupValidMembers holds LookupValidMembers to LookupMembers on valid JSON, which is
// all it is given (an Event's Payload), and makes it return on anything else.
func FuzzLookupValidMembers(f *testing.F) {
	for _, s := range frameSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"a":"\\","type":1}`, `{"a":"\\\"","seq":"x"}`, `{"a":"x\\\\\"y","id":[{"}":"]"}]}`, `{"a":[[[]]],"b":{"c":{}}}`,
		`{"a":-0.5e-7,"b":true,"c":null,"d":false}`, `{"a":"\u0022","type":"t"}`, `{"a":"`, `{"a":[`, `{"a":}}}`, `{"a":1]`,
	} {
		f.Add([]byte(s))
	}
	names := []string{"type", "seq", "id", "payload", "b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)] // a read past the frame's end panics, as it must not happen
		got := make([][]byte, len(names))
		ok := LookupValidMembers(data, names, got) // returns whatever data is
		if !json.Valid(data) {
			return
		}
		want := make([][]byte, len(names))
		wantOK := LookupMembers(data, names, want)
		if ok != wantOK {
			t.Fatalf("LookupValidMembers(%q) = %v; LookupMembers %v", data, ok, wantOK)
		}
		for i := range names {
			if ok && !bytes.Equal(got[i], want[i]) {
				t.Fatalf("LookupValidMembers(%q) %s = %q; LookupMembers %q", data, names[i], got[i], want[i])
			}
		}
	})
}

// FuzzLookupPayload: looking up a decoded frame's payload members through the index the
// decoding made answers as LookupMembers walking the payload does, whatever the payload.
func FuzzLookupPayload(f *testing.F) {
	for _, s := range frameSeeds {
		f.Add([]byte(s))
	}
	f.Add(nineRoomScoreFrame())
	for _, s := range []string{
		`{"payload":{"type":1,"seq":2},"payload":{"b":3}}`, `{"payload":{"b":1},"payload":null}`, `{"payload":[1,{"b":2}]}`,
		`{"payload":{"B":1}}`, `{"payload":{"t\u0079pe":1}}`, `{"payload":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"b":9}}`,
		`{"payload":{"a":{"b":1},"b":[{"type":2}]}}`, `{"payload" : { "b" : 1 } }`,
	} {
		f.Add([]byte(s))
	}
	names := []string{"type", "seq", "id", "b", "battleUserList", "version"}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)] // a read past the frame's end panics, as it must not happen
		fr, err := ParseFrame(data)
		if err != nil || fr.Payload == nil {
			return
		}
		got := make([][]byte, len(names))
		ok := fr.LookupPayload(names, got)
		want := make([][]byte, len(names))
		wantOK := LookupMembers(fr.Payload, names, want)
		if ok != wantOK {
			t.Fatalf("LookupPayload of %q = %v; LookupMembers %v", data, ok, wantOK)
		}
		for i := range names {
			if ok && !bytes.Equal(got[i], want[i]) {
				t.Fatalf("LookupPayload of %q: %s = %q; LookupMembers %q", data, names[i], got[i], want[i])
			}
		}
		if owned := owned(fr, true); ok { // a copy kept by the client keeps its index right
			copied := make([][]byte, len(names))
			if !owned.LookupPayload(names, copied) {
				t.Fatalf("LookupPayload of the copy of %q = false", data)
			}
			for i := range names {
				if !bytes.Equal(copied[i], want[i]) {
					t.Fatalf("LookupPayload of the copy of %q: %s = %q; want %q", data, names[i], copied[i], want[i])
				}
			}
		}
	})
}

// Decoding a frame allocates nothing: every connection of the load generator decodes every
// frame it reads. (Indexing the payload once made the Frame escape: one allocation of its
// whole size a frame.)
func TestDecodeFrameAllocatesNothing(t *testing.T) {
	nine := nineRoomScoreFrame()
	var sink Frame
	if n := testing.AllocsPerRun(200, func() {
		f, err := decodeFrame(nine)
		if err != nil {
			t.Fatal(err)
		}
		sink = f
	}); n != 0 {
		t.Errorf("decodeFrame allocates %v times a frame; want 0", n)
	}
	if !sink.payIndex.indexed {
		t.Error("a score frame's payload was not indexed")
	}
}

// TestScanStringWordAtATime holds scanString, which reads eight bytes at a time, to
// encoding/json: each byte that can end a run of plain bytes (and some that cannot) at every
// place of strings up to three words long, behind plain ASCII, multi-byte UTF-8 and DEL.
func TestScanStringWordAtATime(t *testing.T) {
	tails := []string{`"`, `\"x"`, `\u00e9"`, `\q"`, `\u12"`, "\x00\"", "\x1f\"", "\x20\"", "\x7f\"", `/"`, `é"`, ``}
	for _, filler := range []string{"a", "é", "\x7f"} {
		for n := 0; n < 24; n++ {
			for _, tail := range tails {
				data := []byte(`"` + strings.Repeat(filler, n)[:n] + tail + `,"next":1`)
				end, escaped, ok := scanString(data, 0)
				// The string ends where the shortest prefix of data is valid JSON; no prefix
				// is when the string is not well-formed.
				wantEnd, wantOK := 0, false
				for k := 2; k <= len(data) && !wantOK; k++ {
					wantEnd, wantOK = k, json.Valid(data[:k])
				}
				if ok != wantOK || ok && end != wantEnd {
					t.Errorf("scanString(%q) = end %d, ok %v; encoding/json: end %d, ok %v", data, end, ok, wantEnd, wantOK)
				}
				if ok && escaped != bytes.Contains(data[1:end-1], []byte(`\`)) {
					t.Errorf("scanString(%q): escaped %v", data, escaped)
				}
			}
		}
	}
}

// TestSpecialBytes: the lowest byte specialBytes marks is the first quote, backslash or
// control character of the word, whatever the bytes above it; none marked when there is none.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	for pos := range 8 {
		for v := range 256 {
			for _, above := range []byte{'a', 0x00, 0xff, '"'} {
				var w [8]byte
				for k := range w {
					w[k] = 'a'
					if k > pos {
						w[k] = above
					}
				}
				w[pos] = byte(v)
				want := 8 // no special byte
				for k := range w {
					if special(w[k]) {
						want = k
						break
					}
				}
				got := 8
				if m := specialBytes(binary.LittleEndian.Uint64(w[:])); m != 0 {
					got = bits.TrailingZeros64(m) / 8
				}
				if got != want {
					t.Fatalf("specialBytes(%q): first special byte at %d; want %d", w, got, want)
				}
			}
		}
	}
}

// TestDecodeFrameTakesTheFastPath: frames the server sends, an empty payload among them,
// are decoded in place with the payload indexed, not handed to encoding/json (whose answer
// would be the same, only slower: the differential fuzz targets cannot tell).
func TestDecodeFrameTakesTheFastPath(t *testing.T) {
	for _, data := range [][]byte{
		[]byte(`{"type":"t","seq":1,"ts":2,"payload":{}}`),
		[]byte(`{"payload":{ },"seq":2}`),
		[]byte(`{"payload":{"b":1,"c":[{}]},"type":"t"}`),
		nineRoomScoreFrame(),
	} {
		f, err := decodeFrame(data)
		if err != nil || f.payOff == 0 || !f.payIndex.indexed {
			t.Errorf("decodeFrame(%q): %v, payload at %d, indexed %v; want it decoded in place, its payload indexed", data, err, f.payOff, f.payIndex.indexed)
		}
	}
}
