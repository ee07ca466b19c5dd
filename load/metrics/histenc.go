package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// histEncoder writes interval histograms in the HdrHistogram V2 compressed encoding, the
// bytes PackedHistogram.Encode writes, keeping its zlib writer and buffers from one
// histogram to the next. Encode makes a new zlib writer for every histogram: about a
// megabyte of compressor tables allocated and cleared, ten times a second at least (two
// histograms a metric each interval). In bench-fanout's 10,000 deliveries a second that
// cost the generator 4% of its CPU, and the garbage about as much again in collections.
//
// It knows the recorder's own geometry (lowestMicros, sigFigs); a histogram of any other
// goes to Encode. The zero value is ready to use; it is not safe for concurrent use (the
// recorder calls it under tickMu).
type histEncoder struct {
	zw  *zlib.Writer
	raw []byte // the uncompressed encoding: header, then counts
	z   bytes.Buffer
}

// compressedHeader is the place of the compressed encoding's cookie and length.
var compressedHeader [8]byte

// The V2 encoding's cookies (HdrHistogram's format, as hdrhistogram-go writes it).
const (
	v2EncodingCookie           = 0x1c849303 | 0x10
	v2CompressedEncodingCookie = 0x1c849304 | 0x10
	v2HeaderBytes              = 40
)

// The recorder's histogram geometry, as HdrHistogram derives it from lowestMicros (1) and
// sigFigs (3): single-unit resolution up to 2×10³ needs 2¹¹ sub-buckets, half of which
// (2¹⁰) each further bucket adds; the unit is 2⁰.
const (
	encUnitMagnitude         = 0  // floor(log2(lowestMicros))
	encSubBucketHalfCountMag = 10 // ceil(log2(2×10^sigFigs)) - 1
	encSubBucketHalfCount    = 1 << encSubBucketHalfCountMag
	encSubBucketMask         = (2*encSubBucketHalfCount - 1) << encUnitMagnitude
)

// countsIndex is the index of v's bucket in the counts array of the recorder's geometry.
func countsIndex(v int64) int64 {
	bucket := int64(64-bits.LeadingZeros64(uint64(v|encSubBucketMask))) - encUnitMagnitude - (encSubBucketHalfCountMag + 1)
	sub := v >> uint(bucket+encUnitMagnitude)
	return (bucket+1)<<encSubBucketHalfCountMag + sub - encSubBucketHalfCount
}

// encode returns p's V2 compressed encoding in base64, as p.Encode would, in a new slice.
func (e *histEncoder) encode(p *hdr.PackedHistogram) []byte { return e.appendTo(nil, p) }

// appendTo appends p's V2 compressed encoding in base64, as p.Encode would write it, to dst.
func (e *histEncoder) appendTo(dst []byte, p *hdr.PackedHistogram) []byte {
	if p.LowestTrackableValue() != lowestMicros || p.SignificantFigures() != sigFigs {
		data, _ := p.Encode() // a histogram of another geometry; cannot fail
		return append(dst, data...)
	}
	raw := e.raw[:0]
	raw = binary.BigEndian.AppendUint32(raw, v2EncodingCookie)
	raw = binary.BigEndian.AppendUint32(raw, 0) // the counts' length, set below
	raw = binary.BigEndian.AppendUint32(raw, 0) // normalizingIndexOffset
	raw = binary.BigEndian.AppendUint32(raw, uint32(sigFigs))
	raw = binary.BigEndian.AppendUint64(raw, uint64(p.LowestTrackableValue()))
	raw = binary.BigEndian.AppendUint64(raw, uint64(p.HighestTrackableValue()))
	raw = binary.BigEndian.AppendUint64(raw, math.Float64bits(1)) // integer to double ratio
	// The counts in index order up to the last one not zero, each as a ZigZag LEB128
	// number; a run of two or more zeros is written as its length, negated.
	next := int64(0)
	for v, c := range p.ForEachBucket {
		if c == 0 {
			continue // a bucket kept but empty is part of the run of zeros around it
		}
		idx := countsIndex(v)
		switch gap := idx - next; {
		case gap == 1:
			raw = appendZigZag(raw, 0)
		case gap > 1:
			raw = appendZigZag(raw, -gap)
		}
		raw = appendZigZag(raw, c)
		next = idx + 1
	}
	if next == 0 {
		raw = appendZigZag(raw, 0) // an empty histogram: Encode writes the count at index 0
	}
	binary.BigEndian.PutUint32(raw[4:], uint32(len(raw)-v2HeaderBytes))
	e.raw = raw

	e.z.Reset()
	e.z.Write(compressedHeader[:]) // room for the compressed header, filled in below
	if e.zw == nil {
		e.zw, _ = zlib.NewWriterLevel(&e.z, zlib.BestCompression) // a valid level: no error
	} else {
		e.zw.Reset(&e.z)
	}
	_, _ = e.zw.Write(raw) // into a bytes.Buffer: cannot fail
	_ = e.zw.Close()
	z := e.z.Bytes()
	binary.BigEndian.PutUint32(z[0:], v2CompressedEncodingCookie)
	binary.BigEndian.PutUint32(z[4:], uint32(len(z)-8))
	return base64.StdEncoding.AppendEncode(dst, z)
}

// appendZigZag appends v in ZigZag LEB128, HdrHistogram's variable-length integer: at most
// eight bytes of seven bits, then a ninth of eight.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}
