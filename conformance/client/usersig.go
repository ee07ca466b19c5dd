package client

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// SignUserSig returns a Tencent UserSig v2 (SPEC AUTH-002) for userID of app appID, issued at
// issued and valid for expire. This is the client's own implementation of the algorithm, kept
// apart from the reference server's verifier on purpose.
func SignUserSig(secret string, appID uint64, userID string, expire time.Duration, issued time.Time) (string, error) {
	return SignUserSigBuf(secret, appID, userID, expire, issued, "")
}

// SignUserSigBuf is SignUserSig for a token that carries userBuf as TLS.userbuf, which the
// HMAC covers as a fifth line (SPEC AUTH-002); an empty userBuf gives the token without one.
func SignUserSigBuf(secret string, appID uint64, userID string, expire time.Duration, issued time.Time, userBuf string) (string, error) {
	t := issued.Unix()
	e := int64(expire / time.Second)
	content := "TLS.identifier:" + userID + "\n" +
		"TLS.sdkappid:" + strconv.FormatUint(appID, 10) + "\n" +
		"TLS.time:" + strconv.FormatInt(t, 10) + "\n" +
		"TLS.expire:" + strconv.FormatInt(e, 10) + "\n"
	if userBuf != "" {
		content += "TLS.userbuf:" + userBuf + "\n"
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(content))
	fields := map[string]any{
		"TLS.ver":        "2.0",
		"TLS.identifier": userID,
		"TLS.sdkappid":   appID,
		"TLS.expire":     e,
		"TLS.time":       t,
		"TLS.sig":        base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	}
	if userBuf != "" {
		fields["TLS.userbuf"] = userBuf
	}
	doc, err := json.Marshal(fields)
	if err != nil {
		return "", fmt.Errorf("sign usersig: %w", err)
	}
	return PackUserSig(doc)
}

// zlibWriters are reused: a zlib writer allocates about a megabyte, and a load run signs a
// token per connection.
var zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// PackUserSig packs a token document the way UserSig v2 does: zlib, then base64 with '+', '/'
// and '=' replaced by '*', '-' and '_'. Specs use it to craft tampered tokens.
func PackUserSig(doc []byte) (string, error) {
	var z bytes.Buffer
	w := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(w)
	w.Reset(&z)
	if _, err := w.Write(doc); err != nil {
		return "", fmt.Errorf("pack usersig: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("pack usersig: %w", err)
	}
	b := []byte(base64.StdEncoding.EncodeToString(z.Bytes()))
	for i, c := range b {
		switch c {
		case '+':
			b[i] = '*'
		case '/':
			b[i] = '-'
		case '=':
			b[i] = '_'
		}
	}
	return string(b), nil
}
