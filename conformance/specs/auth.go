package specs

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// handshake is the query of one handshake attempt.
type handshake struct {
	appID  string
	userID string
	sig    string
	extra  string // appended to the query as is
}

// goodHandshake is a valid handshake of user name of scene s.
func goodHandshake(s *scene, name string) handshake {
	GinkgoHelper()
	sig, err := target.Sign(s.id(name))
	Expect(err).NotTo(HaveOccurred())
	return handshake{appID: strconv.FormatUint(target.SDKAppID, 10), userID: s.id(name), sig: sig}
}

// expectRefused attempts the handshake and checks the HTTP status, the code and that the
// body matches its schema.
func expectRefused(s *scene, h handshake, status, code int) {
	GinkgoHelper()
	ws, resp, err := websocket.DefaultDialer.DialContext(s.ctx, target.HandshakeURL(h.appID, h.userID, h.sig)+h.extra, nil)
	if err == nil {
		ws.Close()
	}
	Expect(err).To(HaveOccurred(), "the handshake must be refused")
	Expect(resp).NotTo(BeNil(), "an HTTP response: %v", err)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(status), "HTTP status; body %s", body)
	Expect(resp.Header.Get("Content-Type")).To(HavePrefix("application/json"))
	var b struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	Expect(json.Unmarshal(body, &b)).To(Succeed(), "body %s", body)
	Expect(b.Code).To(Equal(code), "code; body %s", body)
	Expect(b.Message).NotTo(BeEmpty())
	Expect(target.ValidateHandshakeError(body)).To(Succeed())
}

// withUserBuf is token with its TLS.userbuf set to buf and its signature kept as it was.
func withUserBuf(token, buf string) string {
	GinkgoHelper()
	packed, err := base64.StdEncoding.DecodeString(strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(token))
	Expect(err).NotTo(HaveOccurred())
	z, err := zlib.NewReader(bytes.NewReader(packed))
	Expect(err).NotTo(HaveOccurred())
	var doc map[string]any
	Expect(json.NewDecoder(z).Decode(&doc)).To(Succeed())
	doc["TLS.userbuf"] = buf
	raw, err := json.Marshal(doc)
	Expect(err).NotTo(HaveOccurred())
	out, err := client.PackUserSig(raw)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// expectAccepted attempts the handshake and checks that it opens a connection.
func expectAccepted(s *scene, h handshake) {
	GinkgoHelper()
	ws, resp, err := websocket.DefaultDialer.DialContext(s.ctx, target.HandshakeURL(h.appID, h.userID, h.sig)+h.extra, nil)
	if resp != nil && err != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		Expect(err).NotTo(HaveOccurred(), "HTTP %d: %s", resp.StatusCode, body)
	}
	Expect(err).NotTo(HaveOccurred())
	ws.Close()
}

// tokenDoc is a UserSig v2 document with the given signature.
func tokenDoc(userID string, appID uint64, issued time.Time, expire int64, sig string) []byte {
	doc, _ := json.Marshal(map[string]any{
		"TLS.ver": "2.0", "TLS.identifier": userID, "TLS.sdkappid": appID,
		"TLS.time": issued.Unix(), "TLS.expire": expire, "TLS.sig": sig,
	})
	return doc
}

var _ = Describe("Authentication", Label("auth"), func() {
	DescribeTable("a handshake with a bad token is refused with HTTP 401 and the documented code",
		func(ctx SpecContext, mutate func(s *scene, h *handshake), code int) {
			s := newScene(ctx)
			h := goodHandshake(s, "u")
			mutate(s, &h)
			expectRefused(s, h, http.StatusUnauthorized, code)
		},
		Entry("[AUTH-003] no usersig", func(_ *scene, h *handshake) { h.sig = "" }, client.CodeUserSigInvalid),
		Entry("[AUTH-003] a usersig that is not base64", func(_ *scene, h *handshake) { h.sig = "%%not-a-token%%" }, client.CodeUserSigInvalid),
		Entry("[AUTH-003] a usersig that is base64 but not zlib", func(_ *scene, h *handshake) { h.sig = "aGVsbG8gd29ybGQ_" }, client.CodeUserSigInvalid),
		Entry("[AUTH-003] a packed document that is not JSON", func(_ *scene, h *handshake) {
			h.sig, _ = client.PackUserSig([]byte("not json"))
		}, client.CodeUserSigInvalid),
		Entry("[AUTH-002 AUTH-003] a token signed with another secret", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret+"-wrong", target.SDKAppID, s.id("u"), time.Hour, time.Now())
		}, client.CodeUserSigInvalid),
		Entry("[AUTH-002 AUTH-003] a well-formed token whose signature is not the HMAC", func(s *scene, h *handshake) {
			h.sig, _ = client.PackUserSig(tokenDoc(s.id("u"), target.SDKAppID, time.Now(), 3600, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
		}, client.CodeUserSigInvalid),
		Entry("[AUTH-004] an expired token", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID, s.id("u"), time.Minute, time.Now().Add(-time.Hour))
		}, client.CodeUserSigExpired),
		Entry("[AUTH-005] a token signed for another user", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID, s.id("other"), time.Hour, time.Now())
		}, client.CodeUserSigUserIDMismatch),
		Entry("[AUTH-005] a token signed for the userid in another case", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID, strings.ToUpper(s.id("u")), time.Hour, time.Now()) // its "-u" ends it: never unchanged
		}, client.CodeUserSigUserIDMismatch),
		Entry("[AUTH-002 AUTH-003] a token carrying a TLS.userbuf its HMAC does not cover (signed over four lines)", func(s *scene, h *handshake) {
			signed, _ := client.SignUserSig(target.Secret, target.SDKAppID, s.id("u"), time.Hour, time.Now())
			h.sig = withUserBuf(signed, "vip=9")
		}, client.CodeUserSigInvalid),
		Entry("[AUTH-005] a token signed for another sdkappid", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID+1, s.id("u"), time.Hour, time.Now())
		}, client.CodeUserSigAppIDMismatch),
		Entry("[AUTH-005] a handshake naming an sdkappid the server does not serve", func(s *scene, h *handshake) {
			h.appID = strconv.FormatUint(target.SDKAppID+1, 10)
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID+1, s.id("u"), time.Hour, time.Now())
		}, client.CodeUserSigAppIDMismatch),
	)

	DescribeTable("a malformed handshake is refused with HTTP 400 and 100002",
		func(ctx SpecContext, mutate func(s *scene, h *handshake)) {
			s := newScene(ctx)
			h := goodHandshake(s, "u")
			mutate(s, &h)
			expectRefused(s, h, http.StatusBadRequest, client.CodeInvalidParameter)
		},
		Entry("[AUTH-001] no userid", func(_ *scene, h *handshake) { h.userID = "" }),
		Entry("[AUTH-001] a userid with a space", func(_ *scene, h *handshake) {
			h.userID = "a b"
			h.sig, _ = target.Sign(h.userID)
		}),
		Entry("[AUTH-001] a userid of 33 bytes", func(_ *scene, h *handshake) {
			h.userID = strings.Repeat("u", 33)
			h.sig, _ = target.Sign(h.userID)
		}),
		Entry("[AUTH-001] no sdkappid", func(_ *scene, h *handshake) { h.appID = "" }),
		Entry("[AUTH-001] an sdkappid that is not a decimal integer", func(_ *scene, h *handshake) { h.appID = "0x1f" }),
		Entry("[AUTH-001] a username of 65 bytes", func(_ *scene, h *handshake) { h.extra = "&username=" + strings.Repeat("n", 65) }),
		Entry("[AUTH-001] an avatarurl of 513 bytes", func(_ *scene, h *handshake) { h.extra = "&avatarurl=" + strings.Repeat("a", 513) }),
		Entry("[AUTH-001] a username of 33 two-byte characters (66 bytes)", func(_ *scene, h *handshake) {
			h.extra = "&username=" + url.QueryEscape(strings.Repeat("é", 33))
		}),
		Entry("[AUTH-001] an avatarurl of 257 two-byte characters (514 bytes)", func(_ *scene, h *handshake) {
			h.extra = "&avatarurl=" + url.QueryEscape(strings.Repeat("é", 257))
		}),
	)

	It("[AUTH-002] a token carrying TLS.userbuf, signed over its fifth line, opens a connection and a REST call", func(ctx SpecContext) {
		s := newScene(ctx)
		h := goodHandshake(s, "u")
		var err error
		h.sig, err = client.SignUserSigBuf(target.Secret, target.SDKAppID, s.id("u"), time.Hour, time.Now(), "vip=1")
		Expect(err).NotTo(HaveOccurred())
		expectAccepted(s, h)

		r := s.rest()
		q := r.Query()
		sig, err := client.SignUserSigBuf(target.Secret, target.SDKAppID, target.Admin, time.Hour, time.Now(), "vip=1")
		Expect(err).NotTo(HaveOccurred())
		q.Set("usersig", sig)
		_, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, q, []byte(`{"BattleId":"`+s.id("none")+`"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(env.ErrorCode).To(Equal(client.CodeBattleNotExist), "past the usersig check: %s", env.ErrorInfo)
	})

	It("[AUTH-001] username and avatarurl of the handshake become the user's userName and avatarURL", func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("h", func(cfg *client.Config) { cfg.UserName = "Alice A."; cfg.AvatarURL = "https://example.com/a.png" })
		r, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LiveInfo.LiveOwner).To(Equal(client.LiveUserInfo{UserID: c.UserID(), UserName: "Alice A.", AvatarURL: "https://example.com/a.png"}))
		Expect(r.SeatList[0].UserInfo.UserName).To(Equal("Alice A."))
	})

	It("[AUTH-001] a parameter the specification does not define is ignored, given twice or with its name in capitals", func(ctx SpecContext) {
		s := newScene(ctx)
		h := goodHandshake(s, "u")
		h.extra = "&x-app-tag=1&x-app-tag=2&USERID=" + s.id("other") + "&Userid=" + s.id("other")
		expectAccepted(s, h)
	})

	It("[AUTH-006 LIVE-021 RESUME-001] a second connection of the same user closes the first with 4009, and the first counts as lost: its session ends, its token resumes nothing", func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h")
		a := s.audience("a", s.room("h"))
		settle(s, a)
		token, last := first.ResumeToken(), first.LastSeq()
		second := s.user("h")
		Expect(first.WaitClosed(s.ctx)).To(Equal(client.CloseReplaced))
		if token != "" { // the server resumes sessions: the replaced one ended before the new welcome
			_, err := s.resumeDial("h", token, last)
			expectRefusedResume(err, "a resume of a session a new login replaced")
			_, _, closed := second.CloseCode()
			Expect(closed).To(BeFalse(), "the refused resume leaves the new login alone")
		}
		ended := next[client.LiveEnded](s, a, client.EvLiveEnded)
		Expect(ended.LiveID).To(Equal(s.room("h")))
		Expect(ended.Reason).To(Equal(client.EndedByServer), "the replaced host's room ends as on a lost connection")
		// The new connection starts in no room and works.
		_, err := second.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h2")})
		Expect(err).NotTo(HaveOccurred())
	})

	It("[AUTHZ-003 LIVE-021] a connection is closed with 4001 when its token expires, and counts as lost", func(ctx SpecContext) {
		s := newScene(ctx, 10*time.Second)
		const lifetime = 3 * time.Second
		h := s.user("h", func(cfg *client.Config) { cfg.SigExpire = lifetime })
		_, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		a := s.audience("a", s.room("h"))
		settle(s, a)
		// The token counts whole seconds from its issue second: it ends within the lifetime.
		wait, cancel := context2(s, lifetime+target.EventTimeout)
		defer cancel()
		code, err := h.WaitClosed(wait)
		Expect(err).NotTo(HaveOccurred(), "the connection outlived its token")
		Expect(code).To(Equal(client.CloseTokenExpired))
		ended := next[client.LiveEnded](s, a, client.EvLiveEnded)
		Expect(ended.Reason).To(Equal(client.EndedByServer), "the room ends as on a lost connection")
		// A fresh token connects again.
		Expect(s.user("h2").Heartbeat(s.ctx)).To(Succeed())
	})

	It("[AUTHZ-003] no kind of client frame keeps a connection past its token (heartbeats, WebSocket pings, unsolicited pongs, other requests), and a request sent after it expired is not executed", func(ctx SpecContext) {
		s := newScene(ctx, 12*time.Second)
		const lifetime = 3 * time.Second
		hosts := make([]*client.Client, len(signals))
		audience := make([]*client.Client, len(signals))
		expires := make([]time.Time, len(signals))
		var every time.Duration // twice as often as the welcome asks; set with the first host
		stop := make(chan struct{})
		var wg sync.WaitGroup
		DeferCleanup(func() { close(stop); wg.Wait() })
		for i, sig := range signals {
			name := fmt.Sprint("e", i)
			hosts[i] = s.user(name, func(cfg *client.Config) {
				cfg.NoHeartbeat = true
				// Signed here, so that the expiry is known: TLS.time is the issue second.
				issued := time.Now()
				token, err := client.SignUserSig(cfg.Secret, cfg.SDKAppID, cfg.UserID, lifetime, issued)
				Expect(err).NotTo(HaveOccurred())
				cfg.UserSig = token
				expires[i] = time.Unix(issued.Unix(), 0).Add(lifetime)
			})
			if every == 0 {
				every = time.Duration(s.welcome().Timing.HeartbeatIntervalMs) * time.Millisecond / 2
			}
			// The host lives on its one kind of frame from the start, so that a slow setup of
			// the others cannot let it fall silent; failures after its close are expected.
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					sig.send(s.ctx, hosts[i], s.room(name), func(error) {})
					select {
					case <-tick.C:
					case <-stop:
						return
					}
				}
			}()
			_, err := hosts[i].CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name)})
			Expect(err).NotTo(HaveOccurred())
			audience[i] = s.audience(fmt.Sprint("v", i), s.room(name))
		}
		settle(s, audience...)

		for i, sig := range signals {
			// Just after the expiry the host locks a seat: read after the token expired, the
			// request must not run, whether or not the close has gone out yet.
			select {
			case <-time.After(time.Until(expires[i].Add(20 * time.Millisecond))):
			case <-s.ctx.Done():
			}
			hosts[i].Go(client.ReqLockSeat, map[string]any{"seatIndex": 1}, func(client.Frame, error) {})
			wait, cancel := context2(s, target.EventTimeout)
			code, err := hosts[i].WaitClosed(wait)
			cancel()
			Expect(err).NotTo(HaveOccurred(), "the connection living on %s outlived its token", sig.name)
			Expect(code).To(Equal(client.CloseTokenExpired), "the connection living on %s", sig.name)
			ended := next[client.LiveEnded](s, audience[i], client.EvLiveEnded)
			Expect(ended.Reason).To(Equal(client.EndedByServer), "the room ends as on a lost connection")
			Expect(audience[i].Unread(client.EvSeatListChanged)).To(BeEmpty(),
				"the lockSeat sent by the host on %s after its token expired was executed", sig.name)
		}
	})
})
