package usersig

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pkarena/pkarena/reference/protocol"
)

// fuzzSecret and fuzzAppID are the server's settings in the fuzz targets.
const (
	fuzzSecret = "pkarena-dev-secret"
	fuzzAppID  = 1400000001
)

// pack makes a token in UserSig's packing of raw: zlib, base64, the URL-safe alphabet.
func pack(raw []byte) string {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return urlSafe.Replace(base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// bomb is a token that inflates to 1 MiB: far beyond maxTokenBytes, yet small enough to pass
// the length check.
func bomb() string { return pack(make([]byte, 1<<20)) }

// sameError reports whether two Verify results are identical.
func sameError(a, b *protocol.Error) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// FuzzVerify checks Verify on arbitrary tokens: it never panics, it answers nil or one of the
// UserSig codes (70001, 70003, 70013, 70014), the same token verifies the same way twice (the
// pooled zlib readers keep no state between calls), and a token that verifies is refused for
// another user or app.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	good, err := Sign(fuzzSecret, fuzzAppID, "alice", time.Hour, now)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good, "", "%%%", "aGVsbG8_", strings.Repeat("A", maxTokenBytes+1), good[:len(good)-6] + "AAAAA_", bomb(),
		pack([]byte(`{"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":1400000001,"TLS.expire":3600,"TLS.time":1700000000,"TLS.sig":"x"}`)),
		pack([]byte(`{"TLS.ver":"2.0","TLS.identifier":["alice"],"TLS.sdkappid":-1,"TLS.expire":1e400}`)),
		pack([]byte(`{"TLS.ver":"2.0","TLS.time":9223372036854775807,"TLS.expire":9223372036854775807,"TLS.sig":"x"}`)),
		pack([]byte(`[` + strings.Repeat(`[`, 1000) + strings.Repeat(`]`, 1000) + `]`)),
		pack([]byte("\xff\xfe")), pack(nil),
	} {
		f.Add(s, "alice", uint64(fuzzAppID), now.Unix())
	}
	f.Fuzz(func(t *testing.T, sig, userID string, appID uint64, at int64) {
		when := time.Unix(at, 0)
		first := Verify(sig, fuzzSecret, appID, userID, when)
		if first != nil {
			switch first.Code {
			case protocol.ErrUserSigExpired.Code, protocol.ErrUserSigInvalid.Code,
				protocol.ErrUserSigUserIDMismatch.Code, protocol.ErrUserSigAppIDMismatch.Code:
			default:
				t.Fatalf("Verify(%q) = code %d; want a UserSig code", sig, first.Code)
			}
		}
		if again := Verify(sig, fuzzSecret, appID, userID, when); !sameError(first, again) {
			t.Fatalf("Verify(%q) = %v, then %v", sig, first, again)
		}
		if first == nil {
			if err := Verify(sig, fuzzSecret, appID, userID+"x", when); err == nil || err.Code != protocol.ErrUserSigUserIDMismatch.Code {
				t.Fatalf("Verify(%q) for another user = %v; want 70013", sig, err)
			}
			if err := Verify(sig, fuzzSecret, appID+1, userID, when); err == nil || err.Code != protocol.ErrUserSigAppIDMismatch.Code {
				t.Fatalf("Verify(%q) for another app = %v; want 70014", sig, err)
			}
		}
	})
}

// maxSignedUserID is the length up to which Sign must accept any UTF-8 user ID: even with
// every byte escaped by JSON, its token stays within maxTokenBytes.
const maxSignedUserID = 256

// maxSignTime is the last second of year 9999: the times a token is signed and verified at.
const maxSignTime = 253402300799

// FuzzSignVerify checks that a generated token always verifies: for any secret, user and app,
// from its issue time to the last second of its life, and is expired one second later. Sign
// must refuse a user ID that is not UTF-8 (JSON carries nothing else), and may refuse one too
// long for a token Verify accepts, never one of up to maxSignedUserID bytes.
func FuzzSignVerify(f *testing.F) {
	f.Add("k", "alice", uint64(7), int64(3600), int64(1_700_000_000))
	f.Add("", "", uint64(0), int64(0), int64(0))
	f.Add("s\x00\xff", "用户\n<&>\u2028\"", ^uint64(0), int64(180*24*3600), int64(maxSignTime))
	f.Add("k", "\xff", uint64(1), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, secret, userID string, appID uint64, expireS, at int64) {
		expireS = min(max(expireS, 0), 100*365*24*3600) // up to a century
		at = min(max(at, 0), maxSignTime)
		issued := time.Unix(at, 0)
		sig, err := Sign(secret, appID, userID, time.Duration(expireS)*time.Second, issued)
		if !utf8.ValidString(userID) {
			if err == nil {
				t.Fatalf("Sign(%q) = a token; want an error: the user ID is not UTF-8", userID)
			}
			return
		}
		if err != nil {
			if len(userID) <= maxSignedUserID {
				t.Fatalf("Sign(%q, %d, %q) = %v", secret, appID, userID, err)
			}
			return // too long for a token Verify accepts
		}
		for _, when := range []time.Time{issued, issued.Add(time.Duration(expireS) * time.Second)} {
			if perr := Verify(sig, secret, appID, userID, when); perr != nil {
				t.Fatalf("Sign(%q, %d, %q, %ds, %v) = %q, which does not verify at %v: %v", secret, appID, userID, expireS, issued, sig, when, perr)
			}
		}
		late := issued.Add(time.Duration(expireS+1) * time.Second)
		if perr := Verify(sig, secret, appID, userID, late); perr == nil || perr.Code != protocol.ErrUserSigExpired.Code {
			t.Fatalf("token of %ds issued at %v, verified at %v = %v; want 70001", expireS, issued, late, perr)
		}
	})
}

// Verify inflates at most maxTokenBytes of a token: a zlib bomb is refused without inflating
// it (each call allocates far less than the 1 MiB the token holds).
func TestVerifyBoundsInflation(t *testing.T) {
	sig := bomb()
	if len(sig) > maxTokenBytes {
		t.Fatalf("the bomb is %d bytes long: the length check, not the inflation bound, would stop it", len(sig))
	}
	const calls = 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < calls; i++ {
		if err := Verify(sig, fuzzSecret, fuzzAppID, "alice", time.Now()); err == nil || err.Code != protocol.ErrUserSigInvalid.Code {
			t.Fatalf("Verify(bomb) = %v; want 70003", err)
		}
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / calls; perCall > 256<<10 {
		t.Errorf("Verify(bomb) allocates %d bytes a call; want at most 256 KiB", perCall)
	}
}
