package wsread

import (
	"testing"
)

// FuzzFrames: whatever bytes a server sends, the Reader neither panics nor loses its place:
// the frames it takes end inside the bytes, and what it leaves, unless it stopped on an error,
// is the start of a frame still arriving. A second Reader fed the same bytes one at a time
// (the way a slow socket hands them over) takes the same messages and ends the same way.
func FuzzFrames(f *testing.F) {
	for _, tc := range sameAsGorilla {
		if len(tc.data) < 4096 {
			f.Add(tc.data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole, bytewise Reader
		var got, want []string
		used, _, err := whole.frames(data, func(_ int, p []byte) bool { want = append(want, string(p)); return true })
		if used < 0 || used > len(data) {
			t.Fatalf("took %d of %d bytes", used, len(data))
		}
		if err == nil {
			if n, _, _, _, nerr := whole.next(data[used:]); n != 0 || nerr != nil {
				t.Fatalf("left %d bytes holding a whole frame (%d bytes, %v)", len(data)-used, n, nerr)
			}
		}
		var buf []byte
		var berr error
		for _, b := range data {
			buf = append(buf, b)
			n, _, e := bytewise.frames(buf, func(_ int, p []byte) bool { got = append(got, string(p)); return true })
			buf = buf[n:]
			if berr = e; e != nil {
				break
			}
		}
		if len(got) != len(want) || (err == nil) != (berr == nil) || (err != nil && err.Error() != berr.Error()) {
			t.Fatalf("byte by byte: %d messages, %v; at once: %d, %v", len(got), berr, len(want), err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("message %d: %q byte by byte, %q at once", i, got[i], want[i])
			}
		}
	})
}
