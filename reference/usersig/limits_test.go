package usersig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// signed is the UserSig of tok as Sign makes it, with whatever fields tok has (TLS.userbuf
// among them), signed with secret; and its JSON.
func signed(t *testing.T, tok token, secret string) (sig string, raw []byte) {
	t.Helper()
	tok.Sig = mac(secret, tok.Ident, tok.AppID, tok.Time, tok.Expire, tok.UserBuf)
	raw, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return pack(raw), raw
}

// TestMACIsTheDocumentedString: the signature is HMAC-SHA256 over the lines the TLS v2
// format names, TLS.userbuf last and only when there is one; a token carrying a userbuf
// verifies, and one whose userbuf was changed does not.
func TestMACIsTheDocumentedString(t *testing.T) {
	want := func(s string) string {
		h := hmac.New(sha256.New, []byte("k"))
		h.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	lines := "TLS.identifier:alice\nTLS.sdkappid:7\nTLS.time:1700000000\nTLS.expire:3600\n"
	if got := mac("k", "alice", 7, 1_700_000_000, 3600, ""); got != want(lines) {
		t.Errorf("mac without userbuf = %s; want %s", got, want(lines))
	}
	if got := mac("k", "alice", 7, 1_700_000_000, 3600, "buf"); got != want(lines+"TLS.userbuf:buf\n") {
		t.Errorf("mac with userbuf = %s; want %s", got, want(lines+"TLS.userbuf:buf\n"))
	}

	now := time.Unix(1_700_000_000, 0)
	tok := token{Ver: "2.0", Ident: "alice", AppID: 7, Expire: 3600, Time: now.Unix(), UserBuf: "buf"}
	sig, _ := signed(t, tok, "k")
	if err := Verify(sig, "k", 7, "alice", now); err != nil {
		t.Errorf("a token with a userbuf: Verify = %v; want valid", err)
	}
	tok.Sig = mac("k", tok.Ident, tok.AppID, tok.Time, tok.Expire, tok.UserBuf)
	tok.UserBuf = "fub"
	raw, _ := json.Marshal(tok)
	if err := Verify(pack(raw), "k", 7, "alice", now); err == nil || err.Code != 70003 {
		t.Errorf("a token whose userbuf was changed after signing: Verify = %v; want 70003", err)
	}
}

// TestVerifyUntilAndTheExpiredMessage: a token's end is its issue time plus its lifetime,
// and an expired token's error says when that was.
func TestVerifyUntilAndTheExpiredMessage(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sig, err := Sign("k", 7, "alice", time.Hour, now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if until, perr := VerifyUntil(sig, "k", 7, "alice", now); perr != nil || !until.Equal(now.Add(50*time.Minute)) {
		t.Errorf("VerifyUntil = %v, %v; want %v", until, perr, now.Add(50*time.Minute))
	}
	perr := Verify(sig, "k", 7, "alice", now.Add(2*time.Hour))
	if end := now.Add(50 * time.Minute).UTC().Format(time.RFC3339); perr == nil || perr.Code != 70001 || !strings.Contains(perr.Error(), "expired at "+end) {
		t.Errorf("Verify after the end = %v; want 70001 saying it expired at %s", perr, end)
	}
}

// TestTokenSizeAtTheLimit: Sign makes, and Verify accepts, a token whose JSON is exactly
// maxTokenBytes long, and refuses one a byte longer; the same for a UserSig of exactly
// maxTokenBytes characters.
func TestTokenSizeAtTheLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	base, _ := json.Marshal(token{Ver: "2.0", AppID: 7, Expire: 3600, Time: now.Unix(), Sig: mac("k", "", 7, now.Unix(), 3600, "")})
	atLimit := strings.Repeat("a", maxTokenBytes-len(base))
	sig, err := Sign("k", 7, atLimit, time.Hour, now)
	if err != nil {
		t.Fatalf("Sign of a token of exactly %d bytes: %v", maxTokenBytes, err)
	}
	if perr := Verify(sig, "k", 7, atLimit, now); perr != nil {
		t.Errorf("Verify of a token of exactly %d bytes = %v; want valid", maxTokenBytes, perr)
	}
	if _, err := Sign("k", 7, atLimit+"a", time.Hour, now); err == nil {
		t.Errorf("Sign of a token of %d bytes: no error", maxTokenBytes+1)
	}
	// The same, past Sign: a token of maxTokenBytes+1 bytes of JSON does not inflate.
	over, raw := signed(t, token{Ver: "2.0", Ident: atLimit + "a", AppID: 7, Expire: 3600, Time: now.Unix()}, "k")
	if len(raw) != maxTokenBytes+1 {
		t.Fatalf("the packed token has %d bytes of JSON; want %d", len(raw), maxTokenBytes+1)
	}
	if perr := Verify(over, "k", 7, atLimit+"a", now); perr == nil || perr.Code != 70003 || !strings.Contains(perr.Error(), "cannot inflate") {
		t.Errorf("Verify of %d bytes of JSON = %v; want 70003, cannot inflate", maxTokenBytes+1, perr)
	}

	// A UserSig of exactly maxTokenBytes characters: Sign makes it for a user ID of bytes that
	// do not compress much, of whichever length makes it so, and Verify accepts it.
	// Printable bytes JSON leaves as they are (no quote, backslash, <, > or &): about 6.4 bits
	// each, so the packed token is longer than its JSON.
	var alphabet []byte
	for c := byte('#'); c <= '~'; c++ {
		if !strings.ContainsRune(`\<>&`, rune(c)) {
			alphabet = append(alphabet, c)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, maxTokenBytes)
	for i := range noise {
		noise[i] = alphabet[rng.IntN(len(alphabet))]
	}
	found := false
	for n := 2000; n < maxTokenBytes && !found; n++ {
		id := string(noise[:n])
		sig, err := Sign("k", 7, id, time.Hour, now)
		if err != nil {
			break // past the limit
		}
		if len(sig) == maxTokenBytes {
			found = true
			if perr := Verify(sig, "k", 7, id, now); perr != nil {
				t.Errorf("Verify of a UserSig of exactly %d characters = %v; want valid", maxTokenBytes, perr)
			}
			if perr := Verify(sig+"_", "k", 7, id, now); perr == nil || !strings.Contains(perr.Error(), "longer than") {
				t.Errorf("Verify of a UserSig of %d characters = %v; want 70003, longer than", maxTokenBytes+1, perr)
			}
		}
	}
	if !found {
		t.Fatalf("Sign made no UserSig of exactly %d characters for a user ID of any length", maxTokenBytes)
	}
}
