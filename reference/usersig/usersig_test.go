package usersig

import (
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	good, err := Sign("k", 7, "alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(secret string, app uint64, user string, expire time.Duration, at time.Time) string {
		s, err := Sign(secret, app, user, expire, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tt := range []struct {
		name string
		sig  string
		code int // 0: valid
	}{
		// A token as issued verifies.
		{"valid", good, 0},
		// The last second of its life is still valid.
		{"at expiry", sign("k", 7, "alice", time.Hour, now.Add(-time.Hour)), 0},
		{"expired", sign("k", 7, "alice", time.Hour, now.Add(-time.Hour-time.Second)), 70001},
		{"wrong secret", sign("other", 7, "alice", time.Hour, now), 70003},
		{"other user", sign("k", 7, "bob", time.Hour, now), 70013},
		{"other app", sign("k", 8, "alice", time.Hour, now), 70014},
		{"empty", "", 70003},
		{"not base64", "%%%", 70003},
		{"not zlib", "aGVsbG8_", 70003},
		{"oversized", strings.Repeat("A", maxTokenBytes+1), 70003},
		// One flipped character breaks the signature or the packing.
		{"tampered", good[:len(good)-6] + "AAAAA_", 70003},
	} {
		err := Verify(tt.sig, "k", 7, "alice", now)
		switch {
		case tt.code == 0 && err != nil:
			t.Errorf("%s: Verify = %v; want valid", tt.name, err)
		case tt.code != 0 && (err == nil || err.Code != tt.code):
			t.Errorf("%s: Verify = %v; want code %d", tt.name, err, tt.code)
		}
	}
}

// A user ID that is not UTF-8 cannot be carried by the token's JSON (it would arrive as
// U+FFFD and never verify): Sign refuses it. Found by FuzzSignVerify.
func TestSignRefusesUserIDsJSONCannotCarry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, id := range []string{"\xff", "al\xc3ice", "\xed\xa0\x80"} {
		if sig, err := Sign("k", 7, id, time.Hour, now); err == nil {
			t.Errorf("Sign(%q) = %q, which Verify refuses (%v); want an error", id, sig, Verify(sig, "k", 7, id, now))
		}
	}
	// Any UTF-8, escaped by JSON or not, is carried exactly.
	for _, id := range []string{"用户", "a\"b\\c", "<&>\u2028", "\x00"} {
		sig, err := Sign("k", 7, id, time.Hour, now)
		if err != nil {
			t.Fatalf("Sign(%q) = %v", id, err)
		}
		if perr := Verify(sig, "k", 7, id, now); perr != nil {
			t.Errorf("Verify(Sign(%q)) = %v; want valid", id, perr)
		}
	}
}

// Sign refuses a user ID so long that its token would exceed what Verify inflates (it would
// never verify), and accepts one of 256 bytes even when JSON escapes every byte. Found by
// FuzzSignVerify.
func TestSignRefusesTokensVerifyWouldRefuse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	if sig, err := Sign("k", 7, strings.Repeat("\x03", 5000), time.Hour, now); err == nil {
		t.Errorf("Sign(5000 bytes) = a token of %d bytes; want an error", len(sig))
	}
	id := strings.Repeat("\x03", 256)
	sig, err := Sign("k", 7, id, time.Hour, now)
	if err != nil {
		t.Fatalf("Sign(256 escaped bytes) = %v", err)
	}
	if perr := Verify(sig, "k", 7, id, now); perr != nil {
		t.Errorf("Verify(Sign(256 escaped bytes)) = %v; want valid", perr)
	}
}
