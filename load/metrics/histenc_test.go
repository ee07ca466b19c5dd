package metrics

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The encoder writes what PackedHistogram.Encode writes, byte for byte, for histograms of
// every shape the recorder makes, one encoder reused across all of them.
func TestHistEncoderMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var e histEncoder
	cases := []struct {
		name   string
		values []int64
	}{
		{"empty", nil},
		{"one at the lowest", []int64{lowestMicros}},
		{"one at the highest", []int64{highestMicros}},
		{"the edges of the first buckets", []int64{1, 2, 2047, 2048, 2049, 4095, 4096, 4097}},
		{"two apart (a run of one zero)", []int64{5, 7}},
		{"three apart (a run of two)", []int64{5, 8}},
		{"far apart", []int64{3, 90_000, 3_000_000_000}},
	}
	for i := range 40 {
		n := 1 + rng.IntN(5000)
		vals := make([]int64, n)
		for j := range vals {
			switch i % 4 {
			case 0: // latencies in milliseconds
				vals[j] = 500 + rng.Int64N(50_000)
			case 1: // anywhere in the range
				vals[j] = lowestMicros + rng.Int64N(highestMicros)
			case 2: // a few values, many times (large counts)
				vals[j] = []int64{10, 11, 1_000_000}[rng.IntN(3)]
			default: // spread over the decades
				vals[j] = int64(1) << rng.IntN(32)
			}
		}
		cases = append(cases, struct {
			name   string
			values []int64
		}{"random", vals})
	}
	for _, tc := range cases {
		p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
		for _, v := range tc.values {
			if err := p.RecordValue(v); err != nil {
				t.Fatalf("%s: RecordValue(%d): %v", tc.name, v, err)
			}
		}
		if tc.name == "far apart" {
			_ = p.RecordValues(90_000, 1<<40) // a count that takes all of LEB128's bytes
		}
		p.SetTag("x.corrected")
		p.SetStartTimeMs(1000)
		p.SetEndTimeMs(2000)
		want, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got := e.encode(p); !bytes.Equal(got, want) {
			t.Fatalf("%s (%d values): encode = %.80s...; Encode %.80s...", tc.name, len(tc.values), got, want)
		}
	}
}

// A histogram recorded, Reset and recorded again encodes as Encode encodes it; and a
// histogram of another geometry goes to Encode. (encode's skipping of a bucket kept with a
// count of 0 is defensive: no way was found to make a PackedHistogram keep one.)
func TestHistEncoderEdges(t *testing.T) {
	var e histEncoder
	other := hdr.NewPacked(1, 1000, 2)
	_ = other.RecordValue(5)
	want, _ := other.Encode()
	if got := e.encode(other); !bytes.Equal(got, want) {
		t.Errorf("another geometry: encode = %s; Encode %s", got, want)
	}
	p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
	_ = p.RecordValue(100)
	_ = p.RecordValue(300)
	p.Reset()
	_ = p.RecordValue(200)
	want, _ = p.Encode()
	if got := e.encode(p); !bytes.Equal(got, want) {
		t.Errorf("after Reset: encode = %s; Encode %s", got, want)
	}
}

func TestAppendZigZag(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0}}, {-1, []byte{1}}, {1, []byte{2}}, {63, []byte{0x7e}}, {64, []byte{0x80, 0x01}},
		{-65, []byte{0x81, 0x01}},
		{-1 << 63, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{1<<63 - 1, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		if got := appendZigZag(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("appendZigZag(%d) = % x; want % x", tc.v, got, tc.want)
		}
	}
}

func BenchmarkHistEncode(b *testing.B) {
	p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50_000 {
		_ = p.RecordValue(2000 + rng.Int64N(20_000))
	}
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Encode()
		}
	})
	b.Run("histEncoder", func(b *testing.B) {
		b.ReportAllocs()
		var e histEncoder
		for b.Loop() {
			e.encode(p)
		}
	})
}

// TestIntervalLineMatchesTheLogWriter: resultWriter.writeInterval writes, byte for byte, the
// line hdrhistogram-go's HistogramLogWriter writes for the same histogram (tag, start, length,
// max and payload), for starts and lengths that are not whole seconds and maxima of every
// size; and refuses a tag that would break the line.
func TestIntervalLineMatchesTheLogWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	var want, got bytes.Buffer
	lw := hdr.NewHistogramLogWriter(&want)
	w := &resultWriter{dir: "run", buf: bufio.NewWriter(&got)}
	for i := range 60 {
		p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
		for range 1 + rng.IntN(2000) {
			_ = p.RecordValue(lowestMicros + rng.Int64N([]int64{10, 5_000, highestMicros}[i%3]))
		}
		start := 1_700_000_000_000 + rng.Int64N(10_000_000)
		p.SetTag([]string{"score_fanout.corrected", "reply.joinLive.service", ""}[i%3])
		p.SetStartTimeMs(start)
		p.SetEndTimeMs(start + []int64{1, 999, 1000, 60_001}[i%4])
		if err := lw.OutputIntervalPackedHistogram(p); err != nil {
			t.Fatal(err)
		}
		if err := w.writeInterval(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.buf.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, wl := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(wl)) {
			if g[i] != wl[i] {
				t.Fatalf("line %d:\n got  %.120s\n want %.120s", i, g[i], wl[i])
			}
		}
		t.Fatalf("%d lines; want %d", len(g), len(wl))
	}
	for _, tag := range []string{"a,b", "a b", "a\nb"} {
		p := hdr.NewPacked(lowestMicros, highestMicros, sigFigs)
		_ = p.RecordValue(5)
		p.SetTag(tag)
		if err := w.writeInterval(p); err == nil || !strings.Contains(err.Error(), "metrics.hlog") {
			t.Errorf("tag %q: %v; want an error naming the log", tag, err)
		}
	}
}
