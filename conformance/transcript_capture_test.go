package conformance

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/fixtures"
	"github.com/pkarena/pkarena/reference/server"
)

// The appendix conformance/TRANSCRIPT.md is captured from a real run of the reference server
// (capture) and rendered as Markdown (render, transcript_render_test.go). Its cast: host A
// (alice, room room-alice) invites host B (bob, room room-bob); viewer V (carol) watches A's room.

// The fixed inputs of the worked UserSig example (B.1): the reference server's development
// defaults, and a token issued at a fixed second for ten years, so that the same token (and
// the same worked values) opens A's connection in every run until 2036.
const (
	sigSecret  = "pkarena-dev-secret"
	sigAppID   = 1400000001
	sigUser    = "alice"
	sigTime    = 1767225600                    // 2026-01-01T00:00:00Z
	sigExpire  = 315360000                     // 3650 days
	adminUser  = "administrator"               // the reference server's default REST administrator
	hookSecret = harness.EmbeddedWebhookSecret // the webhook secret of the capture's server
)

// Who is who in the transcript: a tag, the user and the room.
type cast struct {
	tag, user, name, room string
}

var (
	hostA  = cast{"A", "alice", "Alice", "room-alice"}
	hostB  = cast{"B", "bob", "Bob", "room-bob"}
	viewer = cast{"V", "carol", "Carol", ""}
	// everyone, in the order the recipients of an event are listed.
	everyone = []cast{hostA, hostB, viewer}
)

// workedSig is the UserSig of A computed step by step (AUTH-002).
type workedSig struct {
	content string // the HMAC input
	digest  []byte // HMAC-SHA256(secret, content)
	sig     string // TLS.sig: standard base64 of digest
	doc     []byte // the JSON document that carries it
	zlib    []byte // doc, zlib-compressed (Go's compress/zlib, default level)
	std     string // standard base64 of zlib
	token   string // the UserSig: std with + / = replaced by * - _
}

// computeSig works out A's UserSig from the fixed inputs. The packing is the conformance
// client's own (client.PackUserSig); the reference server's verifier checks the result in the
// test.
func computeSig() (workedSig, error) {
	var w workedSig
	w.content = fmt.Sprintf("TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n", sigUser, sigAppID, sigTime, sigExpire)
	mac := hmac.New(sha256.New, []byte(sigSecret))
	mac.Write([]byte(w.content))
	w.digest = mac.Sum(nil)
	w.sig = base64.StdEncoding.EncodeToString(w.digest)
	// The members in the order of SPEC AUTH-002 (the order does not matter to a verifier); the
	// base64 of TLS.sig needs no JSON escape.
	ident, err := json.Marshal(sigUser)
	if err != nil {
		return w, err
	}
	w.doc = fmt.Appendf(nil, `{"TLS.ver":"2.0","TLS.identifier":%s,"TLS.sdkappid":%d,"TLS.expire":%d,"TLS.time":%d,"TLS.sig":"%s"}`,
		ident, sigAppID, sigExpire, sigTime, w.sig)
	if w.token, err = client.PackUserSig(w.doc); err != nil {
		return w, err
	}
	w.std = strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(w.token)
	w.zlib, err = base64.StdEncoding.DecodeString(w.std)
	return w, err
}

// restExchange is one REST call of the business backend and its answer.
type restExchange struct {
	api, requestLine, host string
	body, answer           []byte
	status                 int
}

// capturedStep is what every participant sent and received during one step of the script,
// and the REST calls made in it.
type capturedStep struct {
	step
	frames map[string][]client.TranscriptFrame // by cast tag
	rest   []restExchange
}

// transcript is one captured run.
type transcript struct {
	sig       workedSig
	upgrade   string // A's WebSocket upgrade request, as written to the socket
	switching string // the server's answer, as read
	steps     []capturedStep
	hooks     []harness.Delivery
}

// step is one step of the script: its text in the appendix, what it does, and the events
// each participant must then have received (by cast tag; the capture waits for them).
type step struct {
	section, intro string // the "## " heading this step opens, if any, and its text
	title, text    string // the step's "### " heading, if any, and its text
	handshake      bool   // A's handshake is shown after the section heading
	run            func(ctx context.Context, r *run) error
	expect         map[string][]string
}

// run is the state of a capture while the script plays.
type run struct {
	clients  map[string]*client.Client
	rest     *client.REST
	battleID string

	mu      sync.Mutex
	restLog []restExchange // every REST call so far, recorded by the REST client's check
}

// tapConn records what a dialer writes and reads on a connection until the end of the HTTP
// headers each way: the WebSocket handshake as it was on the wire.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	out, in bytes.Buffer
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.out.Len() < 16<<10 {
		c.out.Write(p)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if c.in.Len() < 16<<10 {
		c.in.Write(p[:n])
	}
	c.mu.Unlock()
	return n, err
}

// heads returns the request and the answer up to their blank lines, with LF line ends.
func (c *tapConn) heads() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	head := func(b []byte) string {
		s, _, _ := strings.Cut(string(b), "\r\n\r\n")
		return strings.ReplaceAll(s, "\r\n", "\n")
	}
	return head(c.out.Bytes()), head(c.in.Bytes())
}

// captureTranscript starts the reference server in-process with its default settings (and a
// webhook receiver), plays the script and returns everything it saw.
func captureTranscript(ctx context.Context) (*transcript, error) {
	if time.Now().Unix() > sigTime+sigExpire {
		return nil, fmt.Errorf("the worked UserSig (TLS.time %d, TLS.expire %d) has expired: move sigTime on and run with -update", sigTime, sigExpire)
	}
	v, err := fixtures.NewValidator()
	if err != nil {
		return nil, err
	}
	hooks, err := harness.StartReceiver("127.0.0.1:0", sigAppID, hookSecret, v.ValidateWebhook)
	if err != nil {
		return nil, err
	}
	defer hooks.Close()
	cfg := server.DefaultConfig()
	cfg.WebhookURL, cfg.WebhookSecret = hooks.URL, hookSecret
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	tr := &transcript{}
	if tr.sig, err = computeSig(); err != nil {
		return nil, err
	}
	r := &run{clients: map[string]*client.Client{}}
	r.rest = client.NewREST(client.RESTConfig{
		BaseURL: srv.RESTURL, SDKAppID: sigAppID, Secret: sigSecret, Identifier: adminUser,
		Check: func(req *http.Request, body []byte, status int, _ http.Header, answer []byte) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.restLog = append(r.restLog, restExchange{
				api:         strings.TrimPrefix(req.URL.Path, client.RESTPrefix),
				requestLine: req.Method + " " + req.URL.RequestURI() + " HTTP/1.1",
				host:        req.URL.Host, body: body, answer: answer, status: status,
			})
			return nil
		},
	})
	defer func() {
		for _, c := range r.clients {
			c.Close()
		}
	}()
	var tap *tapConn
	for _, who := range everyone {
		cfg := client.Config{
			URL: srv.URL, SDKAppID: sigAppID, Secret: sigSecret, UserID: who.user, UserName: who.name,
			Check: v.ValidateFrame, Transcript: 200, NoHeartbeat: true,
		}
		if who == hostA {
			cfg.UserSig = tr.sig.token
			cfg.Dialer = &websocket.Dialer{
				HandshakeTimeout: 10 * time.Second,
				NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					tap = &tapConn{Conn: c}
					return tap, nil
				},
			}
		}
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", who.user, err)
		}
		r.clients[who.tag] = c
	}
	tr.upgrade, tr.switching = tap.heads()

	cursors := map[string]int{}
	taken := 0
	for _, s := range script {
		if err := s.run(ctx, r); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name(), err)
		}
		cs := capturedStep{step: s, frames: map[string][]client.TranscriptFrame{}}
		for _, who := range everyone {
			c := r.clients[who.tag]
			for _, typ := range s.expect[who.tag] {
				if _, err := c.Next(ctx, typ); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", s.name(), who.tag, err)
				}
			}
			frames, dropped := c.Transcript()
			if dropped > 0 {
				return nil, fmt.Errorf("%s: the transcript of %s dropped %d frames", s.name(), who.tag, dropped)
			}
			cs.frames[who.tag] = frames[cursors[who.tag]:]
			cursors[who.tag] = len(frames)
		}
		r.mu.Lock()
		cs.rest = r.restLog[taken:]
		taken = len(r.restLog)
		r.mu.Unlock()
		tr.steps = append(tr.steps, cs)
	}

	// Nothing more may come: after a heartbeat round trip (TRANS-011) each client must have
	// received nothing but its reply.
	for _, who := range everyone {
		c := r.clients[who.tag]
		if err := c.Sync(ctx); err != nil {
			return nil, err
		}
		frames, _ := c.Transcript()
		if extra := len(frames) - cursors[who.tag]; extra != 2 {
			return nil, fmt.Errorf("%s received %d frames after the script: %v", who.tag, extra-2, frames[cursors[who.tag]:])
		}
		if vs := c.Violations(); len(vs) > 0 {
			return nil, fmt.Errorf("%s: protocol violations: %v", who.tag, vs)
		}
	}
	if vs := r.rest.Violations(); len(vs) > 0 {
		return nil, fmt.Errorf("REST: %v", vs)
	}
	if err := hooks.Wait(ctx, func(d []harness.Delivery) bool { return len(d) >= 3 }); err != nil {
		return nil, err
	}
	tr.hooks = hooks.Deliveries()
	if vs := hooks.Violations(); len(vs) > 0 {
		return nil, fmt.Errorf("webhooks: %v", vs)
	}
	return tr, nil
}

func ptr[T any](v T) *T { return &v }

// conn is who's connection.
func (r *run) conn(who cast) *client.Client { return r.clients[who.tag] }

// name names a step in errors.
func (s step) name() string {
	if s.title != "" {
		return s.title
	}
	return s.section
}

// script is the battle, step by step.
var script = []step{
	{
		section:   "B.2 Handshake and welcome",
		handshake: true,
		intro: "B and V connect the same way with their own `userid`, `username` and UserSig. Each connection's " +
			"first frame is `welcome` (WELCOME-001): the limits and timing the server applies (here the reference " +
			"server's defaults) and its features; `seq` starts at 1 on every connection (TRANS-005).",
		run: func(context.Context, *run) error { return nil },
	},
	{
		section: "B.3 Rooms",
		intro: "A and B each create a room (ROOM-001) of one seat, to keep the seat lists short (a free seat " +
			"would be listed with `userID: \"\"`, §6): the host takes seat 0. V joins A's room (ROOM-005): the room is in no connection group and no battle yet " +
			"(`connectedList: []`, `battle: null`). Nobody is told that an audience member joined.",
		run: func(ctx context.Context, r *run) error {
			for _, who := range []cast{hostA, hostB} {
				if _, err := r.conn(who).CreateLive(ctx, client.CreateLiveRequest{
					LiveID: who.room, LiveName: who.name + "'s room", MaxSeatCount: ptr(1),
				}); err != nil {
					return err
				}
			}
			_, err := r.conn(viewer).JoinLive(ctx, hostA.room)
			return err
		},
	},
	{
		section: "B.4 Co-host connection",
		intro: "Battles are fought inside a connection group: `requestBattle` from a room in none gets 100400 " +
			"(BATTLE-001). So A first connects its room with B's.",
		title: "A invites B's room",
		text:  "One code per room (COHOST-002: 0, invited); B's host gets the request.",
		run: func(ctx context.Context, r *run) error {
			_, err := r.conn(hostA).RequestConnection(ctx, client.RequestConnectionRequest{LiveIDs: []string{hostB.room}, Timeout: ptr(10)})
			return err
		},
		expect: map[string][]string{hostB.tag: {client.EvConnectionRequestReceived}},
	},
	{
		title: "B accepts",
		text: "A's host is told (COHOST-011); every member of both rooms, V included, gets the new group (COHOST-020: both " +
			"rooms in `joinedList`) and then its merged seat list (COHOST-021, SEAT-010), whose `liveID` names the " +
			"recipient's own room.",
		run: func(ctx context.Context, r *run) error { return r.conn(hostB).AcceptConnection(ctx, hostA.room) },
		expect: map[string][]string{
			hostA.tag:  {client.EvConnectionRequestAccept, client.EvConnectionUserListChanged, client.EvSeatListChanged},
			hostB.tag:  {client.EvConnectionUserListChanged, client.EvSeatListChanged},
			viewer.tag: {client.EvConnectionUserListChanged, client.EvSeatListChanged},
		},
	},
	{
		section: "B.5 The battle",
		title:   "A requests a battle",
		text: "A invites B's host to a 60-second battle that B must accept (`needResponse: true`, BATTLE-009) " +
			"within 10 s. The reply carries the new battle, not started (`startTime` and `endTime` 0), with the " +
			"defaults applied (`extensionInfo`), and a TUIBattleCode per user (BATTLE-005, BATTLE-006); B's host " +
			"is told (BATTLE-007). Webhook: `Live.CallbackAfterCreateBattle` (B.6).",
		run: func(ctx context.Context, r *run) error {
			reply, err := r.conn(hostA).RequestBattle(ctx, client.RequestBattleRequest{
				Config:  client.BattleConfigRequest{Duration: ptr(60), NeedResponse: ptr(true)},
				UserIDs: []string{hostB.user}, Timeout: ptr(10),
			})
			r.battleID = reply.BattleInfo.BattleID
			return err
		},
		expect: map[string][]string{hostB.tag: {client.EvBattleRequestReceived}},
	},
	{
		title: "B accepts: the battle starts",
		text: "A's host is told (BATTLE-009); every invitee has answered, so the battle starts (BATTLE-012): " +
			"every member of both rooms gets `onBattleStarted` with the real `startTime` and `endTime = startTime " +
			"+ duration`, in Unix seconds (BATTLE-020). Webhook: `Live.CallbackAfterStartBattle`.",
		run: func(ctx context.Context, r *run) error { return r.conn(hostB).AcceptBattle(ctx, r.battleID) },
		expect: map[string][]string{
			hostA.tag:  {client.EvBattleRequestAccept, client.EvBattleStarted},
			hostB.tag:  {client.EvBattleStarted},
			viewer.tag: {client.EvBattleStarted},
		},
	},
	{
		title: "A score over REST",
		text: "Scores change only through the REST API (BATTLE-040). The business backend, as an administrator " +
			"with its own UserSig in the query (REST-001), adds a gift's points to both rooms in one request " +
			"(`OpType` 1, REST-030), keyed so that a retry counts once (`IdempotencyKey`, REST-034). The " +
			"scoreboard goes from version 0 to 1 and every member gets one `onBattleScoreChanged` (BATTLE-042, " +
			"REST-033); `rank` is 1 plus the number of rooms with a higher score (BATTLE-041).",
		run: func(ctx context.Context, r *run) error {
			_, err := r.rest.SetBattleScore(ctx, client.SetBattleScoreRequest{
				BattleID: r.battleID, OpType: client.OpAdd, IdempotencyKey: "gift-0001",
				ScoreList: []client.ScoreItem{{RoomID: hostA.room, Score: 30}, {RoomID: hostB.room, Score: 12}},
			})
			return err
		},
		expect: map[string][]string{
			hostA.tag:  {client.EvBattleScoreChanged},
			hostB.tag:  {client.EvBattleScoreChanged},
			viewer.tag: {client.EvBattleScoreChanged},
		},
	},
	{
		title: "Heartbeat",
		text: "Every client sends `heartbeat` every `heartbeatIntervalMs` (5 s, from the welcome); any frame " +
			"resets the connection's liveness timer (HEART-001, LIVE-020). Shown once, for V; its `payload` is " +
			"omitted, which a server reads as `{}` (TRANS-003).",
		run: func(ctx context.Context, r *run) error { return r.conn(viewer).Heartbeat(ctx) },
	},
	{
		title: "B exits: the battle ends",
		text: "Every member of both rooms gets `onUserExitBattle` (BATTLE-022). Only A's room is left, so the " +
			"battle ends with reason 1 (BATTLE-030): the members of the participant rooms, which no longer " +
			"include B's, get `onBattleEnded` with the last version and scoreboard (BATTLE-044), the exited room " +
			"still listed (BATTLE-041). Had the battle run its 60 s, every member of both rooms would get only " +
			"`onBattleEnded`, with reason 0. The rooms stay connected (BATTLE-026). Webhook: " +
			"`Live.CallbackAfterEndBattle`, `OpType` 1 (0 when time is up).",
		run: func(ctx context.Context, r *run) error { return r.conn(hostB).ExitBattle(ctx, r.battleID) },
		expect: map[string][]string{
			hostA.tag:  {client.EvUserExitBattle, client.EvBattleEnded},
			hostB.tag:  {client.EvUserExitBattle},
			viewer.tag: {client.EvUserExitBattle, client.EvBattleEnded},
		},
	},
	{
		title: "The backend reads the ended battle",
		text: "`Status` 3 (ended), `EndTime` the second it ended, the final scores and `ScoreVersion` (REST-020); " +
			"`Duration` is in milliseconds on REST (§15).",
		run: func(ctx context.Context, r *run) error {
			_, err := r.rest.GetBattleInfo(ctx, r.battleID, "")
			return err
		},
	},
}
