// Package usersig signs and verifies Tencent's UserSig v2 tokens (SPEC AUTH-002): an HMAC-SHA256
// over the identifier, app ID, issue time and lifetime, packed as zlib-compressed JSON in a
// URL-safe base64 variant.
package usersig

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// maxTokenBytes bounds what Verify inflates, so a hostile token cannot exhaust memory.
const maxTokenBytes = 4096

type token struct {
	Ver     string `json:"TLS.ver"`
	Ident   string `json:"TLS.identifier"`
	AppID   uint64 `json:"TLS.sdkappid"`
	Expire  int64  `json:"TLS.expire"`
	Time    int64  `json:"TLS.time"`
	Sig     string `json:"TLS.sig"`
	UserBuf string `json:"TLS.userbuf,omitempty"`
}

var urlSafe = strings.NewReplacer("+", "*", "/", "-", "=", "_")
var urlUnsafe = strings.NewReplacer("*", "+", "-", "/", "_", "=")

func mac(secret, ident string, appID uint64, t, expire int64, userBuf string) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n", ident, appID, t, expire)
	if userBuf != "" {
		fmt.Fprintf(h, "TLS.userbuf:%s\n", userBuf)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// zlibReaders are reused: a zlib reader allocates tens of kilobytes, and every handshake
// inflates a token.
var zlibReaders sync.Pool

// inflater returns a pooled zlib reader of packed (put it back in zlibReaders when done).
func inflater(packed []byte) (io.ReadCloser, error) {
	if zr, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(bytes.NewReader(packed), nil); err != nil {
			zlibReaders.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return zlib.NewReader(bytes.NewReader(packed))
}

// Sign returns a UserSig for userID valid from now for expire. userID must be UTF-8 (the
// token carries it as JSON, which has no other text) and short enough for the token to stay
// within what Verify accepts.
func Sign(secret string, appID uint64, userID string, expire time.Duration, now time.Time) (string, error) {
	if !utf8.ValidString(userID) {
		return "", fmt.Errorf("sign usersig: user ID %q is not UTF-8", userID)
	}
	t := token{Ver: "2.0", Ident: userID, AppID: appID, Expire: int64(expire / time.Second), Time: now.Unix()}
	t.Sig = mac(secret, t.Ident, t.AppID, t.Time, t.Expire, "")
	raw, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("sign usersig: %w", err)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("sign usersig: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("sign usersig: %w", err)
	}
	sig := urlSafe.Replace(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if len(raw) > maxTokenBytes || len(sig) > maxTokenBytes {
		return "", fmt.Errorf("sign usersig: the token for a user ID of %d bytes is longer than Verify accepts (%d bytes)", len(userID), maxTokenBytes)
	}
	return sig, nil
}

// Verify checks sig for userID and appID at time now. It returns one of the UserSig errors of
// the protocol error table (70001, 70003, 70013, 70014) with a message saying what is wrong.
func Verify(sig, secret string, appID uint64, userID string, now time.Time) *protocol.Error {
	_, err := VerifyUntil(sig, secret, appID, userID, now)
	return err
}

// VerifyUntil is Verify that also returns when the token expires (TLS.time + TLS.expire), for
// a connection that must not outlive it (AUTHZ-003).
func VerifyUntil(sig, secret string, appID uint64, userID string, now time.Time) (time.Time, *protocol.Error) {
	t, err := verify(sig, secret, appID, userID, now)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(t.Time+t.Expire, 0), nil
}

func verify(sig, secret string, appID uint64, userID string, now time.Time) (*token, *protocol.Error) {
	if sig == "" {
		return nil, protocol.ErrUserSigInvalid.With("usersig: missing")
	}
	if len(sig) > maxTokenBytes {
		return nil, protocol.ErrUserSigInvalid.With("usersig: longer than %d bytes", maxTokenBytes)
	}
	packed, err := base64.StdEncoding.DecodeString(urlUnsafe.Replace(sig))
	if err != nil {
		return nil, protocol.ErrUserSigInvalid.With("usersig: not base64: %v", err)
	}
	zr, err := inflater(packed)
	if err != nil {
		return nil, protocol.ErrUserSigInvalid.With("usersig: not zlib: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxTokenBytes+1))
	zlibReaders.Put(zr)
	if err != nil || len(raw) > maxTokenBytes {
		return nil, protocol.ErrUserSigInvalid.With("usersig: cannot inflate")
	}
	if mutant.On(mutant.TokenNumbersByValue) {
		raw = wholeNumbersPlain(raw)
	}
	var t token
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, protocol.ErrUserSigInvalid.With("usersig: not a TLS v2 JSON token: %v", err)
	}
	if t.Ver != "2.0" || t.Sig == "" {
		return nil, protocol.ErrUserSigInvalid.With("usersig: TLS.ver %q: only 2.0 is supported", t.Ver)
	}
	buf := t.UserBuf
	if mutant.On(mutant.UserBufUnsigned) {
		buf = ""
	}
	want := mac(secret, t.Ident, t.AppID, t.Time, t.Expire, buf)
	if !hmac.Equal([]byte(want), []byte(t.Sig)) {
		return nil, protocol.ErrUserSigInvalid.With("usersig: signature does not match")
	}
	if t.Ident != userID && !(mutant.On(mutant.IdentifierAnyCase) && strings.EqualFold(t.Ident, userID)) {
		return nil, protocol.ErrUserSigUserIDMismatch.With("usersig: signed for userid %q, not %q", t.Ident, userID)
	}
	if t.AppID != appID {
		return nil, protocol.ErrUserSigAppIDMismatch.With("usersig: signed for sdkappid %d, not %d", t.AppID, appID)
	}
	if now.Unix() > t.Time+t.Expire {
		return nil, protocol.ErrUserSigExpired.With("usersig: expired at %s", time.Unix(t.Time+t.Expire, 0).UTC().Format(time.RFC3339))
	}
	return &t, nil
}

// wholeNumbersPlain rewrites the token's numbers that are whole, however written (3600.0,
// 3.6e3), in plain digits: the reading of mutant.TokenNumbersByValue, which AUTH-002 forbids.
func wholeNumbersPlain(raw []byte) []byte {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return raw
	}
	for k, v := range doc {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil && f == math.Trunc(f) {
				doc[k] = int64(f)
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return raw
	}
	return out
}
