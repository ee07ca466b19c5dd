package specs

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/hostile"
)

// corpus is the hostile-input corpus of fixtures/hostile, one spec per case.
var corpus = hostile.MustLoad()

// hostileScene is the scene every frame case starts from (hostile.HostH and the others).
type hostileScene struct {
	*scene
	members map[string]*client.Client
	battle  string
}

// newHostileScene sets up hosts h and g connected, viewer a in h's room and m in no room; with
// battle, h and g are in a battle too. Every member's events so far are marked read.
func newHostileScene(s *scene, battle bool) *hostileScene {
	GinkgoHelper()
	h, g := s.host(hostile.HostH), s.host(hostile.HostG)
	a := s.audience(hostile.Viewer, s.room(hostile.HostH))
	m := s.user(hostile.Stranger)
	connect(s, h, g)
	hs := &hostileScene{scene: s, members: map[string]*client.Client{
		hostile.HostH: h, hostile.HostG: g, hostile.Viewer: a, hostile.Stranger: m,
	}}
	if battle {
		battleWelcome(s)
		hs.battle = startBattle(s, 300, h, []*client.Client{g}, a).BattleInfo.BattleID
	}
	settle(s, h, g, a, m)
	return hs
}

// vars answers the placeholders of the corpus for this scene.
func (hs *hostileScene) vars(name string) (string, bool) {
	kind, who, _ := strings.Cut(name, ":")
	switch {
	case name == "battle" && hs.battle != "":
		return hs.battle, true
	case name == "limit":
		return strconv.Itoa(hs.welcome().Limits.MaxFrameBytes), true
	case kind == "room" && hs.members[who] != nil:
		return hs.room(who), true
	case kind == "user" && hs.members[who] != nil:
		return hs.id(who), true
	}
	return "", false
}

// expand fills in the placeholders of text for the scene.
func (hs *hostileScene) expand(text string) string {
	GinkgoHelper()
	out, err := hostile.Expand(text, hs.vars)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// roomsRead is what rooms h and g show to anyone: their fetchLiveInfo.
type roomsRead map[string]client.LiveInfo

// readRooms reads rooms h and g with fetchLiveInfo from a host other than from, the sender of
// the case, whose connection may have closed.
func (hs *hostileScene) readRooms(from string) roomsRead {
	GinkgoHelper()
	reader := hs.members[hostile.HostH]
	if from == hostile.HostH {
		reader = hs.members[hostile.HostG]
	}
	out := roomsRead{}
	for _, who := range []string{hostile.HostH, hostile.HostG} {
		info, err := reader.FetchLiveInfo(hs.ctx, hs.room(who))
		Expect(err).NotTo(HaveOccurred(), "fetchLiveInfo of room %s", who)
		out[who] = info
	}
	return out
}

// maskKey returns a fresh masking key (RFC 6455 §5.3).
func maskKey() [4]byte {
	var k [4]byte
	_, _ = rand.Read(k[:])
	return k
}

// wireBytes encodes the frames of a case sent below the WebSocket layer: its raw frame, or its
// fragments as one text message.
func (hs *hostileScene) wireBytes(f hostile.Frame) []byte {
	GinkgoHelper()
	frames := []hostile.Wire{}
	if f.Wire != nil {
		frames = append(frames, *f.Wire)
	}
	for i, part := range f.Fragments {
		w := hostile.Wire{Fin: i == len(f.Fragments)-1, Payload: url.PathEscape(hs.expand(part))}
		if i == 0 {
			w.Opcode = websocket.TextMessage
		}
		frames = append(frames, w)
	}
	var raw []byte
	for _, w := range frames {
		b, err := w.Bytes(maskKey())
		Expect(err).NotTo(HaveOccurred())
		raw = append(raw, b...)
	}
	return raw
}

// sendHostileFrame sends case f from its member and checks the outcome: the reply (each one,
// in a flood, where 100012 may stand in for it) or the close code.
func sendHostileFrame(hs *hostileScene, f hostile.Frame) {
	GinkgoHelper()
	c := hs.members[f.From]
	var raw []byte
	switch {
	case f.Wire != nil || len(f.Fragments) > 0:
		raw = hs.wireBytes(f)
	case f.Binary != "":
		raw, _ = base64.StdEncoding.DecodeString(f.Binary)
	default:
		raw = []byte(hs.expand(f.Text))
	}
	if f.Close != 0 {
		switch {
		case f.Binary != "":
			Expect(c.WriteFrame(hs.ctx, websocket.BinaryMessage, raw)).To(Succeed())
		case f.Wire != nil:
			Expect(c.WriteWire(hs.ctx, raw)).To(Succeed())
		default:
			Expect(c.WriteFrame(hs.ctx, websocket.TextMessage, raw)).To(Succeed())
		}
		wait, cancel := context2(hs.scene, target.EventTimeout)
		defer cancel()
		code, err := c.WaitClosed(wait)
		Expect(err).NotTo(HaveOccurred(), "the server must close the connection within %v", target.EventTimeout)
		Expect(code).To(Equal(f.Close), "close code")
		return
	}
	// The request type, when the frame has one, lets the client check a successful reply
	// against its schema.
	var env struct {
		Type string `json:"type"`
	}
	if len(f.Fragments) > 0 {
		_ = json.Unmarshal([]byte(hs.expand(strings.Join(f.Fragments, ""))), &env)
	} else {
		_ = json.Unmarshal(raw, &env)
	}
	times := max(f.Times, 1)
	refused := 0
	for i := 0; i < times; i++ {
		var reply client.Frame
		var err error
		// A reply is due within the time an event is (the close above too): a server that
		// answers with another id, or not at all, fails here rather than at the scene's end.
		wait, cancel := context2(hs.scene, target.EventTimeout)
		switch {
		case f.Or != nil:
			reply, err = c.SendAny(wait, []string{f.ID, f.Or.ID}, env.Type, raw)
		case f.Wire != nil || len(f.Fragments) > 0:
			reply, err = c.SendWire(wait, f.ID, env.Type, raw)
		default:
			reply, err = c.Send(wait, f.ID, env.Type, raw)
		}
		cancel()
		Expect(err).NotTo(HaveOccurred(), "message %d of %d: no reply with id %q within %v", i+1, times, f.ID, target.EventTimeout)
		if f.Or != nil && *reply.ID == f.Or.ID && *reply.Code == f.Or.Reply {
			continue // the other outcome the SPEC allows
		}
		if f.Or != nil {
			Expect(*reply.ID).To(Equal(f.ID), "the reply's id: want %q with code %d, or %q with code %d", f.ID, *f.Reply, f.Or.ID, f.Or.Reply)
		}
		if times > 1 && *reply.Code == client.CodeRateLimited && *f.Reply != client.CodeRateLimited {
			refused++
			continue
		}
		Expect(*reply.Code).To(Equal(*f.Reply), "message %d of %d: reply %s", i+1, times, *reply.Message)
		if f.Field != "" {
			Expect(*reply.Message).To(ContainSubstring(f.Field), "the message names the field")
		}
	}
	if times > 1 {
		AddReportEntry("refused with 100012", fmt.Sprintf("%d of %d", refused, times))
	}
	Expect(c.Sync(hs.ctx)).To(Succeed(), "the connection stays usable")
}

// signToken makes the usersig t describes for userID.
func signToken(s *scene, t hostile.Token, userID string) string {
	GinkgoHelper()
	app := target.SDKAppID
	secret := target.Secret
	var sig string
	var err error
	switch t.Kind {
	case "", "valid":
		sig, err = client.SignUserSig(secret, app, userID, time.Hour, time.Now())
	case "none":
	case "raw":
		sig, err = hostile.Expand(t.Raw, func(string) (string, bool) { return "", false })
	case "sign":
		if t.User == "other" {
			userID += "-other"
		}
		if t.Secret == "wrong" {
			secret += "-wrong"
		}
		expire := t.Expire
		if expire == 0 {
			expire = 3600
		}
		sig, err = client.SignUserSig(secret, uint64(int64(app)+t.App), userID, time.Duration(expire)*time.Second, time.Now().Add(time.Duration(t.Issued)*time.Second))
	case "packed":
		now := time.Now().Unix()
		m := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(m, "TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:3600\n", userID, app, now)
		doc, xerr := hostile.Expand(t.Raw, func(name string) (string, bool) {
			switch name {
			case "user":
				return userID, true
			case "app":
				return strconv.FormatUint(app, 10), true
			case "mac":
				return base64.StdEncoding.EncodeToString(m.Sum(nil)), true
			}
			return "", false
		})
		Expect(xerr).NotTo(HaveOccurred())
		sig, err = client.PackUserSig([]byte(doc))
	case "bomb":
		sig, err = client.PackUserSig(make([]byte, t.Size))
	}
	Expect(err).NotTo(HaveOccurred())
	return sig
}

// tryHostileHandshake makes the handshake of case h and checks its refusal.
func tryHostileHandshake(s *scene, h hostile.Handshake) {
	GinkgoHelper()
	user := s.id("u")
	if h.UserID != "" {
		var err error
		user, err = url.PathUnescape(h.UserID)
		Expect(err).NotTo(HaveOccurred())
	}
	u, err := url.Parse(target.HandshakeURL(strconv.FormatUint(target.SDKAppID, 10), user, signToken(s, h.Token, user)))
	Expect(err).NotTo(HaveOccurred())
	if h.Query != "" {
		valid := signToken(s, hostile.Token{}, user)
		q, err := hostile.Expand(h.Query, func(name string) (string, bool) {
			switch name {
			case "user":
				return url.QueryEscape(user), true
			case "app":
				return strconv.FormatUint(target.SDKAppID, 10), true
			case "sig":
				return url.QueryEscape(valid), true
			}
			return "", false
		})
		Expect(err).NotTo(HaveOccurred())
		u.RawQuery = q
	}
	// The user of a fresh userid has a connection open: a refused handshake must not replace
	// it (AUTH-006 applies to a connection that opens).
	var open *client.Client
	if h.UserID == "" {
		open = s.user("u")
	}
	extra, err := hostile.Expand(h.Extra, func(string) (string, bool) { return "", false })
	Expect(err).NotTo(HaveOccurred())
	ws, resp, err := websocket.DefaultDialer.DialContext(s.ctx, u.String()+extra, nil)
	if err == nil {
		ws.Close()
	}
	Expect(err).To(HaveOccurred(), "the handshake must be refused")
	Expect(resp).NotTo(BeNil(), "an HTTP response: %v", err)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(h.Status), "HTTP status; body %s", body)
	var b struct {
		Code int `json:"code"`
	}
	Expect(json.Unmarshal(body, &b)).To(Succeed(), "body %s", body)
	Expect(b.Code).To(Equal(h.Code), "code; body %s", body)
	Expect(target.ValidateHandshakeError(body)).To(Succeed())
	if open != nil {
		Expect(open.Sync(s.ctx)).To(Succeed(), "the user's open connection stays open after a refused handshake (no 4009)")
	}
}

// sendHostileREST sends case r and checks the answer, and that a refused request changed
// nothing: the battle's score version stays and no member gets an event.
func sendHostileREST(hs *hostileScene, r hostile.REST) {
	GinkgoHelper()
	rest := hs.rest()
	q := rest.Query()
	for k, v := range r.Query {
		if v == "-" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if r.Token != nil {
		q.Set("usersig", signToken(hs.scene, *r.Token, q.Get("identifier")))
	}
	for _, k := range r.Repeat {
		q.Add(k, q.Get(k))
	}
	var before client.GetBattleInfoResponse
	if hs.battle != "" {
		var err error
		before, err = rest.GetBattleInfo(hs.ctx, hs.battle, "")
		Expect(err).NotTo(HaveOccurred())
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	status, env, err := rest.Do(hs.ctx, method, r.API, q, []byte(hs.expand(r.Body)))
	Expect(err).NotTo(HaveOccurred())
	want := r.Status
	if want == 0 {
		want = http.StatusOK
	}
	Expect(status).To(Equal(want), "HTTP status; answer %+v", env)
	code := r.Code
	if r.Or != nil && env.ErrorCode == *r.Or {
		code = *r.Or // the other answer the SPEC allows
	}
	Expect(env.ErrorCode).To(Equal(code), "ErrorCode; ErrorInfo %q", env.ErrorInfo)
	if r.Field != "" {
		Expect(env.ErrorInfo).To(ContainSubstring(r.Field), "the message names the field")
	}
	if code == 0 {
		return
	}
	if hs.battle != "" {
		after, err := rest.GetBattleInfo(hs.ctx, hs.battle, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.ScoreVersion).To(Equal(before.ScoreVersion), "a refused request changes no score")
	}
	for _, name := range []string{hostile.HostH, hostile.HostG, hostile.Viewer} {
		none(hs.scene, hs.members[name])
	}
}

// corpusEntries makes one table entry per case, named "[IDs] name".
func corpusEntries[T any](cases []T, describe func(T) (ids, name string)) []TableEntry {
	var out []TableEntry
	for _, c := range cases {
		ids, name := describe(c)
		out = append(out, Entry("["+ids+"] "+name, c))
	}
	return out
}

var _ = Describe("Hostile input", Label("input", "hostile"), func() {
	DescribeTable("a hostile frame gets its documented outcome and nobody else notices",
		func(ctx SpecContext, f hostile.Frame) {
			s := newScene(ctx, time.Minute)
			hs := newHostileScene(s, f.Battle)
			before := hs.readRooms(f.From)
			sendHostileFrame(hs, f)
			for name, c := range hs.members {
				if name != f.From {
					none(s, c)
				}
			}
			// INPUT-004, INPUT-005: a refused or hostile message changes no room, not even in
			// what no event reports. A viewer whose connection the case closed may have left.
			after := hs.readRooms(f.From)
			if h := after[hostile.HostH]; f.Close != 0 && f.From == hostile.Viewer && h.CurrentUserCount == before[hostile.HostH].CurrentUserCount-1 {
				h.CurrentUserCount++
				after[hostile.HostH] = h
			}
			Expect(after).To(Equal(before), "rooms h and g read with fetchLiveInfo before and after the case")
		}, corpusEntries(corpus.Frames, func(f hostile.Frame) (string, string) { return f.Requirements, f.Name }))

	DescribeTable("a hostile handshake is refused with its documented status and code",
		func(ctx SpecContext, h hostile.Handshake) {
			tryHostileHandshake(newScene(ctx), h)
		}, corpusEntries(corpus.Handshakes, func(h hostile.Handshake) (string, string) { return h.Requirements, h.Name }))

	DescribeTable("a hostile REST request gets its documented answer and changes nothing",
		func(ctx SpecContext, r hostile.REST) {
			s := newScene(ctx)
			hs := &hostileScene{scene: s, members: map[string]*client.Client{
				hostile.HostH: s.host(hostile.HostH), hostile.HostG: s.host(hostile.HostG),
			}}
			hs.members[hostile.Viewer] = s.audience(hostile.Viewer, s.room(hostile.HostH))
			if r.Battle {
				connect(s, hs.members[hostile.HostH], hs.members[hostile.HostG])
				battleWelcome(s)
				hs.battle = startBattle(s, 300, hs.members[hostile.HostH], []*client.Client{hs.members[hostile.HostG]}, hs.members[hostile.Viewer]).BattleInfo.BattleID
			}
			settle(s, hs.members[hostile.HostH], hs.members[hostile.HostG], hs.members[hostile.Viewer])
			sendHostileREST(hs, r)
		}, corpusEntries(corpus.REST, func(r hostile.REST) (string, string) { return r.Requirements, r.Name }))
})
