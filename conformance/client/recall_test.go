package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// forgetRecent empties the memory of recent payload objects.
func forgetRecent() {
	recentObjects.mu.Lock()
	defer recentObjects.mu.Unlock()
	recentObjects.slots = [recentSlots]recalled{}
	recentObjects.next = 0
}

// A payload recalled from an earlier frame decodes exactly as when it is scanned: the same
// frame, the same index, the same error or none (each frame is held to encoding/json too).
// The frames of a row are decoded in order after the memory is emptied, so that the later
// ones meet the earlier ones' payloads: under another envelope (recalled), with bytes after
// it that break the envelope, differing in one byte (scanned: valid or not), a prefix of a
// remembered one, and a remembered one followed by more text inside its value's place.
func TestRecalledPayloadDecodesAsScanned(t *testing.T) {
	nine := string(nineRoomScoreFrame())
	payload := nine[strings.Index(nine, `"payload":`)+len(`"payload":`) : len(nine)-1]
	for _, tt := range []struct {
		name   string
		frames []string
	}{
		{"the same payload under other envelopes", []string{
			nine,
			`{"type":"onBattleScoreChanged","seq":43,"ts":1765000000001,"payload":` + payload + `}`,
			`{"payload":` + payload + `,"seq":7}`,
			` { "type" : "x" , "payload" :` + payload + ` } `,
		}},
		{"the envelope broken after a remembered payload", []string{
			nine,
			`{"seq":1,"payload":` + payload + `x}`,
			`{"seq":1,"payload":` + payload + `"}`,
			`{"seq":1,"payload":` + payload + `,}`,
			`{"seq":1,"payload":` + payload,
		}},
		{"one byte different", []string{
			nine,
			strings.Replace(nine, `"score":800`, `"score":801`, 1),
			strings.Replace(nine, `"score":800`, `"score":80x`, 1),
			strings.Replace(nine, `"rank":1}`, `"rank":1,}`, 1),
			strings.Replace(nine, `"room-8"`, `"room-8\q"`, 1),
		}},
		{"a remembered payload's prefix and what goes beyond it", []string{
			`{"payload":{"a":"x","b":[1,2]}}`,
			`{"payload":{"a":"x","b":[1,2}}`,
			`{"payload":{"a":"x","b":[1,2]},"c":1}`,
			`{"payload":{"a":"x","b":[1,2]}}}`,
			`{"payload":{"a":"x","b":[1,2]`,
		}},
		{"an empty payload", []string{`{"payload":{}}`, `{"seq":2,"payload":{}}`, `{"payload":{}`, `{"payload":{}]}`}},
		{"a payload too large to remember", []string{
			`{"payload":{"a":"` + strings.Repeat("x", maxRecalled) + `"}}`,
			`{"seq":2,"payload":{"a":"` + strings.Repeat("x", maxRecalled) + `"}}`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forgetRecent()
			for i, s := range tt.frames {
				got, err := decodeFrame([]byte(s))
				forgetRecent()
				cold, coldErr := decodeFrame([]byte(s))
				rememberAll(tt.frames[:i+1]) // the memory as before this frame, and this one
				var want Frame
				wantErr := json.Unmarshal([]byte(s), &want)
				if (err == nil) != (wantErr == nil) || (err == nil) != (coldErr == nil) {
					t.Fatalf("frame %d %.80q: error %v; scanned %v; encoding/json %v", i, s, err, coldErr, wantErr)
				}
				if err != nil {
					continue
				}
				if !reflect.DeepEqual(got, cold) {
					t.Errorf("frame %d %.80q: recalled %+v; scanned %+v", i, s, got, cold)
				}
				if !bytes.Equal(got.Payload, want.Payload) || got.Seq != want.Seq || got.Type != want.Type {
					t.Errorf("frame %d %.80q: payload %.40q seq %d type %q; encoding/json %.40q %d %q", i, s, got.Payload, got.Seq, got.Type, want.Payload, want.Seq, want.Type)
				}
			}
		})
	}
}

// rememberAll decodes frames in order from an empty memory, leaving it as it was after them.
func rememberAll(frames []string) {
	forgetRecent()
	for _, s := range frames {
		_, _ = decodeFrame([]byte(s))
	}
}

// A payload is recalled only when it is one remembered: after a frame, the next frame with the
// same payload under another envelope takes its index from memory, not from a scan.
func TestRecallFindsARememberedPayload(t *testing.T) {
	forgetRecent()
	nine := nineRoomScoreFrame()
	if _, err := decodeFrame(nine); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(nine, []byte(`"payload":`)) + len(`"payload":`)
	var idx memberIndex
	end, ok := recallIndexed(nine, i, &idx)
	if !ok || end != len(nine)-1 || !idx.indexed || idx.n != 3 {
		t.Fatalf("recall of the payload just decoded: end %d ok %v, index %+v; want end %d, three members", end, ok, idx, len(nine)-1)
	}
	other := bytes.Replace(nine, []byte(`"version":41`), []byte(`"version":42`), 1)
	if _, ok := recallIndexed(other, i, &idx); ok {
		t.Fatal("a payload one byte different was recalled")
	}
}

// Objects under minRecalled bytes are scanned each time and never remembered, so that the
// small payloads of replies do not push out the large ones fanned out to many connections; an
// object of minRecalled bytes is remembered.
func TestSmallPayloadsAreNotRemembered(t *testing.T) {
	forgetRecent()
	nine := nineRoomScoreFrame()
	if _, err := decodeFrame(nine); err != nil {
		t.Fatal(err)
	}
	// Objects of minRecalled-1 bytes: {"a":"xx…"} (8 bytes around the text).
	for v := range recentSlots + 1 {
		small := fmt.Sprintf(`{"seq":%d,"payload":{"a":"%s"}}`, v, strings.Repeat(string(rune('a'+v)), minRecalled-1-8))
		if _, err := decodeFrame([]byte(small)); err != nil {
			t.Fatal(err)
		}
	}
	i := bytes.Index(nine, []byte(`"payload":`)) + len(`"payload":`)
	var idx memberIndex
	if _, ok := recallIndexed(nine, i, &idx); !ok {
		t.Fatalf("the nine-room payload was pushed out by %d payloads of %d bytes", recentSlots+1, minRecalled-1)
	}
	at := []byte(`{"payload":{"a":"` + strings.Repeat("z", minRecalled-8) + `"}}`)
	if _, err := decodeFrame(at); err != nil {
		t.Fatal(err)
	}
	if _, ok := recallIndexed(at, len(`{"payload":`), &idx); !ok {
		t.Fatalf("an object of %d bytes (minRecalled) was not remembered", minRecalled)
	}
}

// Connections read on several goroutines at once share the memory: under the race detector,
// goroutines decoding frames of a few payloads in turn each get what a scan gives.
func TestRecallIsSharedSafely(t *testing.T) {
	forgetRecent()
	var frames [][]byte
	var want []Frame
	for v := range recentSlots + 2 { // more payloads than slots: recalls and scans mixed
		f := bytes.Replace(nineRoomScoreFrame(), []byte(`"version":41`), fmt.Appendf(nil, `"version":%d`, v), 1)
		frames = append(frames, f)
		var w Frame
		if err := json.Unmarshal(f, &w); err != nil {
			t.Fatal(err)
		}
		want = append(want, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 2000 {
				k := (n + g) % len(frames)
				f, err := decodeFrame(frames[k])
				if err != nil || !bytes.Equal(f.Payload, want[k].Payload) || f.Seq != want[k].Seq || !f.payIndex.indexed {
					errs <- fmt.Errorf("goroutine %d, frame %d: %v, payload %.40q, indexed %v", g, k, err, f.Payload, f.payIndex.indexed)
					return
				}
				vals := make([][]byte, 1)
				if ok := f.LookupPayload([]string{"version"}, vals); !ok || string(vals[0]) != fmt.Sprint(k) {
					errs <- fmt.Errorf("goroutine %d, frame %d: version %q, %v; want %d", g, k, vals[0], ok, k)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
