package client

import (
	"sync"
	"time"
)

// maxTranscriptText bounds the text kept of one frame.
const maxTranscriptText = 4096

// TranscriptFrame is one frame a client sent or received.
type TranscriptFrame struct {
	At   time.Time
	Sent bool // true: sent by the client; false: received
	Text string
}

// transcript keeps the last frames of a connection in a ring.
type transcript struct {
	mu      sync.Mutex
	frames  []TranscriptFrame
	next    int // ring position of the next frame, once full
	dropped int
}

func (t *transcript) add(sent bool, data []byte) {
	if t == nil {
		return
	}
	text := string(data)
	if len(text) > maxTranscriptText {
		text = text[:maxTranscriptText] + "…(truncated)"
	}
	f := TranscriptFrame{At: time.Now(), Sent: sent, Text: text}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.frames) < cap(t.frames) {
		t.frames = append(t.frames, f)
		return
	}
	t.frames[t.next] = f
	t.next = (t.next + 1) % len(t.frames)
	t.dropped++
}

// Transcript returns the frames kept (Config.Transcript of them at most), oldest first, and
// how many older ones were dropped. It is empty unless Config.Transcript was set.
func (c *Client) Transcript() ([]TranscriptFrame, int) {
	t := c.transcript
	if t == nil {
		return nil, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TranscriptFrame, 0, len(t.frames))
	out = append(out, t.frames[t.next:]...)
	out = append(out, t.frames[:t.next]...)
	return out, t.dropped
}
