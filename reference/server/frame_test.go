package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// size, which the send queue's byte bound counts (CLOSE-002), is the frame's encoded length
// give or take the digits of seq and ts and the escaping of id and message: each of the
// frame's parts counts once, however long. The parts here are long enough (200 bytes and
// more) that counting one of them twice, or taking it away, is far outside that give.
func TestFrameSizeTracksItsEncoding(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	payload := []byte(`{"text":"` + long("p", 900) + `"}`)
	for _, tt := range []struct {
		name string
		f    outFrame
	}{
		{"an event", outFrame{typ: "onBattleScoreChanged", payload: payload}},
		{"an event with a long type", outFrame{typ: "on" + long("T", 300), payload: []byte(`{}`)}},
		{"a reply", outFrame{typ: "reply", reply: true, id: long("i", 256), code: 100002, message: long("m", 400), payload: payload}},
		{"a reply with an empty payload", outFrame{typ: "reply", reply: true, id: long("i", 300), message: "ok", payload: []byte(`{}`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, seq := range []uint64{1, 1 << 40} {
				enc := tt.f.encode(nil, seq, 1_767_225_600_000)
				if !json.Valid(enc) {
					t.Fatalf("encode gave invalid JSON: %.200s", enc)
				}
				if diff := tt.f.size() - int64(len(enc)); diff < -60 || diff > 60 {
					t.Errorf("seq %d: size() = %d, encoded %d bytes: off by %d (want within 60)", seq, tt.f.size(), len(enc), diff)
				}
			}
		})
	}
}

// textFrame's header is RFC 6455's for a final, unmasked text frame, at the edges of its three
// length encodings, and gorilla's reader takes each frame back whole.
func TestTextFrameHeader(t *testing.T) {
	for _, tt := range []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		payload := bytes.Repeat([]byte("x"), tt.n)
		f := textFrame(append(make([]byte, frameHeaderRoom), payload...))
		if !bytes.HasPrefix(f, tt.header) || !bytes.Equal(f[len(tt.header):], payload) {
			t.Errorf("%d bytes: the frame starts % x, %d bytes in all; want header % x then the %d bytes",
				tt.n, f[:min(len(f), 10)], len(f), tt.header, tt.n)
		}
	}
	sizes := []int{0, 1, 125, 126, 127, 1035, 65535, 65536, 70000}
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for i, n := range sizes {
			buf := append(make([]byte, frameHeaderRoom), bytes.Repeat([]byte{'a' + byte(i)}, n)...)
			if _, err := ws.NetConn().Write(textFrame(buf)); err != nil {
				return
			}
		}
		_, _, _ = ws.ReadMessage() // until the client has read them all and closes
	}))
	defer hs.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, n := range sizes {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d (%d bytes): %v", i, n, err)
		}
		if want := bytes.Repeat([]byte{'a' + byte(i)}, n); mt != websocket.TextMessage || !bytes.Equal(data, want) {
			t.Errorf("frame %d: type %d, %d bytes; want a text frame of %d bytes of %q", i, mt, len(data), n, 'a'+byte(i))
		}
	}
}
