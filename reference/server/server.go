// Package server is the reference server's transport: WebSocket signalling on top of the
// deterministic core (reference/core). One hub goroutine owns the core and every connection's
// bookkeeping; each connection has one reader, one writer and a bounded send queue.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
	"github.com/pkarena/pkarena/reference/usersig"
)

// Version is the server's version string, advertised in the welcome.
var Version = "0.1.0"

// Server is a running reference server. Create it with New, serve Handler, stop it with Close.
type Server struct {
	cfg       Config
	log       *slog.Logger
	upgrader  websocket.Upgrader
	instance  string // random per server: battle and request IDs never repeat across restarts
	restLimit *rate.Limiter
	hooks     *webhooks
	stopHooks context.CancelFunc
	now       func() time.Time // clock of the per-connection request limiters

	metrics        *metrics
	metricsHandler http.Handler

	inbox   chan hubMsg
	stopped chan struct{} // closed when the hub has exited
	stop    sync.Once
	closing chan struct{}  // closed by Close, or by the hub when the journal fails
	connWG  sync.WaitGroup // each registered connection's reader and writer; Add only on the hub

	failed  chan struct{} // closed by the hub when the journal fails, after failErr is set
	failErr error

	hub *hub // for tests, which read it only while the hub is known to wait

	admission  *admission    // the public listener's connections not upgraded (NewHTTPServer)
	eager      *eagerPool    // the REST callers' eager reads (Listen); nil: none
	live       liveSockets   // WebSockets not yet ended by their writer, for Stop's deadline
	handshakes handshakes    // WebSocket handshakes their handler serves, for Stop
	stopping   atomic.Bool   // set by the first Stop
	down       chan struct{} // closed when the first Stop has returned
}

// New validates cfg and starts the server's hub goroutine.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	m := newMetrics()
	s := &Server{
		cfg: cfg,
		log: log,
		// Memory per connection (a bar of 30 KB): a read buffer of 1 KB of its own (client
		// requests are small; bigger frames take a few reads), and a write buffer lent from a
		// pool for each frame, so an idle connection holds none.
		upgrader: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			// Clients are native apps, load tools and test suites, not browsers on other
			// origins; authentication is the UserSig, not the Origin header.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		instance:  newInstanceID(),
		restLimit: rate.NewLimiter(rate.Limit(cfg.RESTRateLimit), cfg.RESTRateLimit),
		hooks:     newWebhooks(cfg, log, m),
		now:       now,
		inbox:     make(chan hubMsg, 4096),
		stopped:   make(chan struct{}),
		closing:   make(chan struct{}),
		failed:    make(chan struct{}),
		admission: newAdmission(cfg.MaxHTTPConns, m, log),
		eager:     newEagerPool(cfg.RESTEagerReads),
		down:      make(chan struct{}),

		metrics:        m,
		metricsHandler: newMetricsHandler(m),
	}
	m.watchEager(s.eager)
	c := core.New(core.Config{
		MaxConnectedRooms:          cfg.MaxConnectedRooms,
		MaxUsersPerRoom:            cfg.MaxUsersPerRoom,
		MaxSeatCount:               cfg.MaxSeatCount,
		DefaultInviteTimeout:       cfg.DefaultInviteTimeout,
		DefaultBattleDuration:      cfg.DefaultBattleDuration,
		MaxBattleDuration:          cfg.MaxBattleDuration,
		MaxBattleRequestsPerMinute: cfg.MaxBattleRequestsPerMinute,
		BattleRetention:            cfg.BattleRetention,
		IDPrefix:                   s.instance + "-b",
		Journal:                    cfg.StateDir != "",
	}, realClock{})
	h := newHub(s, c)
	s.hub = h
	if cfg.StateDir != "" {
		j, err := restoreJournal(cfg, log, c)
		if err != nil {
			return nil, err
		}
		h.journal = j
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopHooks = cancel
	go s.hooks.run(ctx)
	go h.run()
	return s, nil
}

// restoreJournal opens the journal of cfg.StateDir, restores its battles into c and rewrites
// it as a snapshot of them.
func restoreJournal(cfg Config, log *slog.Logger, c *core.Core) (*journal, error) {
	sync := cfg.journalSync
	if sync == nil {
		sync = (*os.File).Sync
	}
	j, recs, err := openJournal(cfg.StateDir, log, cfg.journalCompactBytes, sync)
	if err != nil {
		return nil, err
	}
	if err := c.Restore(recs); err != nil {
		j.close()
		return nil, fmt.Errorf("journal %s: %w; move it aside to start empty", filepath.Join(cfg.StateDir, JournalFile), err)
	}
	if cfg.WebhookURL != "" { // the ends of the battles the crash interrupted join the outbox
		if err := j.appendHooks(c.TakeHooks()); err != nil {
			j.close()
			return nil, err
		}
	}
	if err := j.rewrite(c.Snapshot()); err != nil {
		j.close()
		return nil, err
	}
	log.Info("battle journal restored", "dir", cfg.StateDir, "records", len(recs), "battles", c.Stats().Battles)
	return j, nil
}

// Failed is closed when the server stopped by itself because its journal could not be
// written (Err says why): it acknowledges nothing more and has closed every connection with
// 1011. The process should exit and be restarted.
func (s *Server) Failed() <-chan struct{} { return s.failed }

// Err is why the server failed, once Failed is closed; nil before.
func (s *Server) Err() error {
	select {
	case <-s.failed:
		return s.failErr
	default:
		return nil
	}
}

// newInstanceID is 8 random hex digits.
func newInstanceID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Handler serves the protocol at /v1/ws, the REST API at /v4/live_engine_http_pk/ and the
// Prometheus metrics at /metrics, unless MetricsListen gives them a listener of their own
// (ServeMetrics). It never serves pprof (see ServePprof). Serve it with NewHTTPServer.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.Path, s.serveWS)
	mux.HandleFunc(protocol.RESTPrefix, s.serveREST)
	if s.cfg.MetricsListen == "" {
		mux.HandleFunc("GET "+MetricsPath, s.serveMetrics)
	}
	return mux
}

// Close shuts the server down as Stop does, within ShutdownTimeout, for a server whose
// http.Server its caller stops.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	_ = s.Stop(ctx, nil)
}

// post hands a message to the hub; false once the server is closed.
func (s *Server) post(m hubMsg) bool {
	select {
	case s.inbox <- m:
		return true
	case <-s.closing:
		return false
	}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// handshakeError is the JSON body of a refused handshake (AUTH-003).
type handshakeError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func refuse(w http.ResponseWriter, status int, err *protocol.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(handshakeError{Code: err.Code, Message: err.Message})
}

// Query parameter limits (AUTH-001).
const (
	maxUserIDBytes    = 32
	maxUserNameBytes  = 64
	maxAvatarURLBytes = 512
)

// handshakeParams are the query parameters a handshake defines (AUTH-001, RESUME-002): each
// may be given once.
var handshakeParams = []string{"sdkappid", "userid", "usersig", "username", "avatarurl", "resume", "lastseq"}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if name := repeatedParam(r.URL.RawQuery, handshakeParams); name != "" && !mutant.On(mutant.RepeatedParamFirstCounts) {
		refuse(w, http.StatusBadRequest, protocol.ErrInvalidParameter.With("%s: given more than once", name))
		return
	}
	appID, err := strconv.ParseUint(q.Get("sdkappid"), 10, 64)
	if err != nil {
		refuse(w, http.StatusBadRequest, protocol.ErrInvalidParameter.With("sdkappid: a decimal integer is required"))
		return
	}
	userID := q.Get("userid")
	if !printable(userID, maxUserIDBytes) {
		refuse(w, http.StatusBadRequest, protocol.ErrInvalidParameter.With("userid: must be 1-%d bytes of printable ASCII", maxUserIDBytes))
		return
	}
	name, avatar := q.Get("username"), q.Get("avatarurl")
	if (len(name) > maxUserNameBytes && !(mutant.On(mutant.NameCountedInCharacters) && utf8.RuneCountInString(name) <= maxUserNameBytes)) || len(avatar) > maxAvatarURLBytes {
		refuse(w, http.StatusBadRequest, protocol.ErrInvalidParameter.With("username at most %d bytes, avatarurl at most %d", maxUserNameBytes, maxAvatarURLBytes))
		return
	}
	resume, perr := resumeQuery(q)
	if perr != nil {
		refuse(w, http.StatusBadRequest, perr)
		return
	}
	if appID != s.cfg.SDKAppID {
		refuse(w, http.StatusUnauthorized, protocol.ErrUserSigAppIDMismatch.With("sdkappid %d is not served here", appID))
		return
	}
	expires, perr := usersig.VerifyUntil(q.Get("usersig"), s.cfg.Secret, appID, userID, time.Now())
	if perr != nil {
		if mutant.On(mutant.RefusedHandshakeReplaces) {
			// AUTH-006 applied as the handshake arrived, before its token was verified
			s.live.mu.Lock()
			for c := range s.live.set {
				if c.user.ID == userID {
					c.shutdown(closeReplaced)
				}
			}
			s.live.mu.Unlock()
		}
		refuse(w, http.StatusUnauthorized, perr)
		return
	}
	s.admission.authenticate(r) // until the upgrade takes it out of the bound
	if !s.handshakes.begin() {  // Stop has begun
		refuse(w, http.StatusServiceUnavailable, protocol.ErrInternal.With("server shutting down"))
		return
	}
	var nc net.Conn // the upgraded socket
	defer func() { s.handshakes.end(nc) }()
	select {
	case <-s.closing: // or the journal failed
		refuse(w, http.StatusServiceUnavailable, protocol.ErrInternal.With("server shutting down"))
		return
	default:
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	nc = ws.NetConn()
	if !s.handshakes.upgraded(nc) { // until the hub has it, or its close below has ended
		ws.Close() // Stop's deadline has passed
		return
	}
	if lc, ok := nc.(*liveConn); ok {
		lc.followFrames() // for the wait for the client's answer to a close frame (linger.go)
	}
	c := &conn{
		srv:    s,
		resume: resume,
		// Copies: the query's values are slices of the request line, which they would keep
		// alive (the UserSig is most of it) for the connection's life.
		user:    core.User{ID: strings.Clone(userID), Name: strings.Clone(name), AvatarURL: strings.Clone(avatar)},
		ws:      ws,
		queue:   newSendQueue(s.cfg.SendQueueFrames, int64(s.cfg.SendQueueBytes)),
		expires: expires,
		readEnd: make(chan struct{}),
	}
	if s.cfg.ConnRequestRate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(s.cfg.ConnRequestRate), s.cfg.ConnRequestBurst)
	}
	registered := make(chan openResult, 1)
	var res openResult
	if s.post(hubMsg{kind: msgOpen, conn: c, done: registered}) {
		// A handshake that raced with Close may sit in the inbox after the hub has gone.
		select {
		case res = <-registered:
		case <-s.stopped:
			// The hub may have registered it before it stopped (the answer is then waiting:
			// the hub sends it before it closes stopped, and select picks either case at
			// random). Registered, it counts in connWG and must be started and ended.
			select {
			case res = <-registered:
			default:
			}
		}
	}
	if !res.registered { // not the hub's: it raced the shutdown, or its resume was refused
		code, reason := closeGoingAway, "server shutting down"
		if res.refused != "" { // RESUME-006: the close frame, no welcome
			code, reason = closeResumeRefused, closeReason(closeResumeRefused)+": "+res.refused
		}
		if ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second)) == nil {
			lingerClose(nc, s.cfg.CloseLinger, s.metrics) // what the client sent meanwhile must not reset the close frame
			return
		}
		ws.Close()
		return
	}
	s.live.add(c)
	// The handshake held the writer's place (newSendQueue): the welcome and whatever the hub
	// queued since are written now; the writer that ends the connection lets it go
	// (conn.finish: s.connWG, s.live).
	go c.write()
	// The reader is a goroutine of its own and the handler returns: net/http's goroutine for
	// the connection, its stack and the request it holds are let go.
	go c.readPump(s) // which calls s.connWG.Done as it ends
}

// maxResumeTokenBytes bounds the resume query parameter (RESUME-002).
const maxResumeTokenBytes = 64

// resumeQuery reads the resume a handshake asks for (RESUME-002): none without a resume
// parameter; with one, lastseq is required. A malformed pair is refused as any malformed
// query (AUTH-001).
func resumeQuery(q url.Values) (*resumeRequest, *protocol.Error) {
	if !q.Has("resume") {
		if q.Has("lastseq") {
			return nil, protocol.ErrInvalidParameter.With("lastseq: only with resume")
		}
		return nil, nil
	}
	token := q.Get("resume")
	if !printable(token, maxResumeTokenBytes) {
		return nil, protocol.ErrInvalidParameter.With("resume: must be 1-%d bytes of printable ASCII", maxResumeTokenBytes)
	}
	last, err := strconv.ParseUint(q.Get("lastseq"), 10, 64)
	if err != nil {
		return nil, protocol.ErrInvalidParameter.With("lastseq: a decimal integer of at least 0 is required with resume")
	}
	return &resumeRequest{token: strings.Clone(token), lastSeq: last}, nil
}

// repeatedParam returns the first of names that the raw query gives more than once, or "".
// A name counts percent-decoded, and whatever its values: url.Values would keep the first
// value and drop a pair it cannot decode, while other stacks keep the last, or all; a query
// that two readers would read two ways is refused (AUTH-001, REST-003).
func repeatedParam(rawQuery string, names []string) string {
	var seen []string
	for pair := range strings.SplitSeq(rawQuery, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		switch {
		case !slices.Contains(names, name):
		case slices.Contains(seen, name):
			return name
		default:
			seen = append(seen, name)
		}
	}
	return ""
}

func printable(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e && !(mutant.On(mutant.DELPrintable) && s[i] == 0x7f) {
			return false
		}
	}
	return true
}
