package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/rxtime"
	"github.com/pkarena/pkarena/internal/seqwin"
	"github.com/pkarena/pkarena/internal/wsread"
)

// Config says where and as whom a Client connects.
type Config struct {
	// URL is the server's WebSocket endpoint, e.g. ws://127.0.0.1:7070/v1/ws.
	URL string
	// SDKAppID and Secret sign the UserSig of the handshake (AUTH-001, AUTH-002).
	SDKAppID uint64
	Secret   string
	// UserID is required; UserName and AvatarURL are sent when not empty.
	UserID    string
	UserName  string
	AvatarURL string
	// UserSig, when set, is sent as is instead of a token signed with Secret.
	UserSig string
	// SigExpire is the lifetime of the signed UserSig; 0 means 24 hours.
	SigExpire time.Duration
	// NoHeartbeat turns off the heartbeats the client otherwise sends every
	// heartbeatIntervalMs (HEART-001), so the connection goes silent.
	NoHeartbeat bool
	// Check, when set, is called by the reader for every server frame with its raw text and,
	// for a reply, the type of the request it answers. An error is recorded as a violation.
	Check func(raw []byte, reqType string) error
	// OnEvent, when set, receives every event instead of the client's event log. It runs on
	// the reader (with DirectRead, a poller shared with other connections) and must not block.
	OnEvent func(Event)
	// Dialer dials the connection; nil means a dialer with a 10 s handshake timeout, whose
	// connections keep the kernel's receive times of what they read (Frame.At).
	Dialer *websocket.Dialer
	// TLS configures a wss:// connection when Dialer is nil; nil trusts the system's roots
	// (on Linux also the file SSL_CERT_FILE names).
	TLS *tls.Config
	// Transcript keeps this many of the latest frames sent and received (Transcript); 0 keeps
	// none.
	Transcript int
	// ReadBufferSize and WriteBufferSize size the connection's buffers when Dialer is nil
	// (0: 4096, gorilla's default); the write buffer comes from a pool shared by every client,
	// so an idle connection holds none. Load runs use small ones.
	ReadBufferSize, WriteBufferSize int
	// LocalAddr, when set, is the source IP the connection is dialed from (several loopback
	// addresses get past the ephemeral-port limit of one).
	LocalAddr string
	// ReuseBuffers reads every frame into a buffer lent from a pool shared by every client and
	// given back when the frame is done with: no allocation a frame, and no buffer held by an
	// idle connection. The bytes of a frame given to OnEvent or to a Go callback (Raw,
	// Payload) are then valid only during the call; Call and the event log copy them. The
	// load generator sets it.
	ReuseBuffers bool
	// DirectRead reads the server's frames straight from the TCP socket (internal/wsread)
	// instead of through gorilla's reader: the same frames, answers and errors, for 1–2 µs
	// less CPU a frame, and no read buffer held by an idle connection (ReadBufferSize then
	// sizes nothing). It applies to ws:// URLs dialed without a Dialer of the caller's
	// (gorilla reads the others). On Linux the frames of every DirectRead connection are read,
	// and OnEvent and the callbacks of Go run, on a few goroutines shared by all of them (two
	// per processor): a callback that blocked would hold up the others' frames as well as its
	// own. The connection keeps no goroutine of its own: when it ends, the callbacks of the
	// calls still in flight run on the goroutine that ended it (a poller's, or the caller of
	// Close or Kill, who must hold no lock those callbacks take). The load
	// generator sets it.
	DirectRead bool
	// Resume, when set, resumes an earlier session instead of starting one (SPEC §21,
	// RESUME-002): the welcome is then checked to carry seq 0, and the frames after it to go
	// on from its nextSeq. A refused resume (close 4010) fails Dial with an error wrapping
	// the *websocket.CloseError.
	Resume *Resume
}

// Resume names the session a connection resumes (RESUME-002): the latest token its welcomes
// gave (Client.ResumeToken) and the seq of the last frame of it processed (Client.LastSeq).
//
// The new Client knows nothing of the requests of the one before: a reply the server replays
// for one of them (RESUME-003) is recorded as a violation, "reply (seq N) to id …, which no
// request is waiting for". A program that drops a connection on purpose waits for its
// replies first (the load generator does); the suite's resume specs recognise those of the
// earlier connection by their seq.
type Resume struct {
	Token   string
	LastSeq uint64
}

// writeBufferPool lends write buffers to every client dialed without its own Dialer.
var writeBufferPool = &sync.Pool{}

// Client is one protocol v1 connection. Its methods are safe for concurrent use.
type Client struct {
	// What of the Config is needed after Dial (the rest is not kept: a load run holds
	// thousands of clients).
	userID  string
	checker func(raw []byte, reqType string) error // Config.Check
	onEvent func(Event)
	resume  *Resume
	reuse   bool // Config.ReuseBuffers

	ws        *websocket.Conn
	direct    *wsread.Reader // DirectRead: the reader of ws's socket; nil: gorilla reads
	rx        *rxtime.Conn   // under gorilla's reader (and TLS) when Dial made the dialer; else nil
	welcome   Welcome
	welcomeAt time.Time // the welcome frame's At

	writeMu sync.Mutex // serialises writes: gorilla allows one writer at a time

	transcript *transcript // nil unless Config.Transcript > 0

	mu             sync.Mutex // guards the fields below
	nextID         uint64
	pending        map[string]*call // the calls waiting for their replies, by id; nil when none
	abandoned      map[string]bool  // ids whose caller gave up: a late reply is not a violation; nil when none
	violations     []string
	violationCount int
	seqMissing     uint64 // frames skipped by the sequence numbers and not read since
	seqDisordered  uint64 // frames whose seq did not exceed the highest one read
	closeCode      int
	closeText      string
	log            eventLog
	hbTimer        *time.Timer
	hbStopped      bool
	// ended: finish has taken the pending calls to fail them; a call made after that fails
	// at once. c.done closes only later, after the callbacks: a call that looked at c.done
	// in between was left waiting for ever.
	ended    bool
	hbLast   time.Time     // when the last automatic heartbeat went out
	hbMaxGap time.Duration // the longest time between two of them

	welcomed bool          // reader only: the welcome was read
	lastSeq  atomic.Uint64 // the highest seq read (LastSeq)

	frames atomic.Uint64 // server frames read
	bytes  atomic.Uint64 // their bytes (payloads of the WebSocket messages)

	done chan struct{} // closed when the reader has exited
}

// call is a request waiting for its reply: on reply, or on done (Go) when set.
type call struct {
	typ   string
	reply chan Frame
	done  func(Frame, error)
	ids   []string // every id it waits on, when more than one (SendAny): the first reply takes all
}

// Dial connects, authenticates and waits for the welcome frame (WELCOME-001). A refused
// handshake returns a *HandshakeError.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.UserID == "" {
		return nil, errors.New("client: UserID is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("client: URL %q: %w", cfg.URL, err)
	}
	sig := cfg.UserSig
	if sig == "" {
		expire := cfg.SigExpire
		if expire == 0 {
			expire = 24 * time.Hour
		}
		if sig, err = SignUserSig(cfg.Secret, cfg.SDKAppID, cfg.UserID, expire, time.Now()); err != nil {
			return nil, err
		}
	}
	q := u.Query()
	q.Set("sdkappid", strconv.FormatUint(cfg.SDKAppID, 10))
	q.Set("userid", cfg.UserID)
	q.Set("usersig", sig)
	if cfg.UserName != "" {
		q.Set("username", cfg.UserName)
	}
	if cfg.AvatarURL != "" {
		q.Set("avatarurl", cfg.AvatarURL)
	}
	if cfg.Resume != nil {
		q.Set("resume", cfg.Resume.Token)
		q.Set("lastseq", strconv.FormatUint(cfg.Resume.LastSeq, 10))
	}
	u.RawQuery = q.Encode()

	var (
		ws     *websocket.Conn
		direct *wsread.Reader // nil: gorilla reads (wss://, or no direct reading here)
		rx     *rxtime.Conn   // what gorilla reads, when this dialer made it
		resp   *http.Response
	)
	d := cfg.Dialer
	if d == nil {
		nd := &net.Dialer{}
		if cfg.LocalAddr != "" {
			ip := net.ParseIP(cfg.LocalAddr)
			if ip == nil {
				return nil, fmt.Errorf("client: LocalAddr %q is not an IP address", cfg.LocalAddr)
			}
			nd.LocalAddr = &net.TCPAddr{IP: ip}
		}
		dial := nd.DialContext
		if !cfg.DirectRead || u.Scheme != "ws" { // gorilla reads: the frames' times from under it
			dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := nd.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				rx = rxtime.NewConn(conn)
				return rx, nil
			}
		}
		d = &websocket.Dialer{
			NetDialContext:   dial,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   cfg.ReadBufferSize,
			WriteBufferSize:  cfg.WriteBufferSize,
			WriteBufferPool:  writeBufferPool,
			TLSClientConfig:  cfg.TLS,
		}
	}
	if cfg.DirectRead && cfg.Dialer == nil {
		ws, direct, resp, err = wsread.Dial(ctx, *d, u.String())
	} else {
		ws, resp, err = d.DialContext(ctx, u.String(), nil)
	}
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			return nil, handshakeError(resp)
		}
		return nil, fmt.Errorf("client: dial %s: %w", cfg.URL, err)
	}
	c := &Client{
		userID:  cfg.UserID,
		checker: cfg.Check,
		onEvent: cfg.OnEvent,
		resume:  cfg.Resume,
		reuse:   cfg.ReuseBuffers,
		ws:      ws,
		direct:  direct,
		rx:      rx,
		done:    make(chan struct{}),
	}
	if cfg.Transcript > 0 {
		c.transcript = &transcript{frames: make([]TranscriptFrame, 0, cfg.Transcript)}
	}
	welcomed := make(chan error, 1)
	if direct != nil {
		c.startDirect(welcomed)
	} else {
		go c.readLoop(welcomed)
	}
	select {
	case err = <-welcomed:
	case <-ctx.Done():
		err = fmt.Errorf("client: no welcome frame: %w", ctx.Err())
	}
	if err != nil {
		c.Kill()
		return nil, err
	}
	if !cfg.NoHeartbeat {
		c.armHeartbeat()
	}
	return c, nil
}

func handshakeError(resp *http.Response) *HandshakeError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	he := &HandshakeError{Status: resp.StatusCode, Body: body}
	var b struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) == nil {
		he.Code, he.Message = b.Code, b.Message
	}
	return he
}

// Welcome returns the payload of the connection's welcome frame.
func (c *Client) Welcome() Welcome { return c.welcome }

// WelcomeAt is when the welcome frame arrived (its Frame.At): on Linux the kernel's receive
// time, before Dial's caller was scheduled to see it.
func (c *Client) WelcomeAt() time.Time { return c.welcomeAt }

// UserID is the user this client authenticated as.
func (c *Client) UserID() string { return c.userID }

// readLoop is the connection's only reader when gorilla reads it. It reports the welcome (or
// why there was none) on welcomed, then checks and routes every frame until the connection
// ends.
//
// The loop itself is small and hands each frame to handle: while the connection waits for a
// frame only the loop's frame is on the goroutine's stack, so the garbage collector shrinks
// the stack of an idle connection to 4 KB (it was 8 KB a connection).
func (c *Client) readLoop(welcomed chan<- error) {
	defer c.finish()
	var seqs seqwin.Window
	var buf *[]byte // ReuseBuffers: the buffer of the frame last read, lent from readBuffers
	defer func() { putReadBuffer(buf) }()
	for {
		putReadBuffer(buf) // the last frame is done with: its callbacks have returned
		buf = nil
		// The wait for the next frame is here, in the loop's own frame, as shallow as
		// gorilla allows.
		mt, r, err := c.ws.NextReader()
		var data []byte
		if err == nil {
			data, err = c.readAll(r, &buf)
		}
		if err != nil {
			c.recordClose(err)
			if !c.welcomed {
				welcomed <- fmt.Errorf("client: connection closed before the welcome: %w", err)
			}
			return
		}
		if !c.handle(mt, data, c.arrived(), &seqs, welcomed) {
			return
		}
	}
}

// arrived is when the frame gorilla just returned arrived: the kernel's receive time of the
// read that brought its last bytes when Dial made the dialer (Linux), else now.
func (c *Client) arrived() time.Time {
	if c.rx != nil {
		return c.rx.Arrived()
	}
	return time.Now()
}

// startDirect is readLoop with DirectRead, on no goroutine of the connection's own: the
// frames come from c.direct (on Linux read by a poller shared with other connections), which
// answers pings and closes as gorilla's reader does and ends with the same errors. A load
// generator's connection then holds no stack while it waits (4 KB a connection before).
func (c *Client) startDirect(welcomed chan<- error) {
	seqs := new(seqwin.Window)
	c.direct.Start(func(mt int, data []byte) bool {
		if !c.reuse { // the frame may be kept: bytes of its own
			data = bytes.Clone(data)
		}
		return c.handle(mt, data, c.direct.Arrived(), seqs, welcomed)
	}, func(err error) {
		if err != nil {
			c.recordClose(err)
			if !c.welcomed {
				welcomed <- fmt.Errorf("client: connection closed before the welcome: %w", err)
			}
		}
		c.finish()
	})
}

// handle checks and routes one frame read at once, which arrived at at; seqs are the seqs
// read before. It reports false when the connection cannot go on (no welcome first).
//
//go:noinline
func (c *Client) handle(mt int, data []byte, at time.Time, seqs *seqwin.Window, welcomed chan<- error) bool {
	c.frames.Add(1)
	c.bytes.Add(uint64(len(data)))
	c.transcript.add(false, data)
	if mt != websocket.TextMessage {
		c.violate("frame %d: a binary frame (TRANS-002)", seqs.High()+1)
		return true
	}
	f, err := decodeFrame(data)
	if err != nil {
		c.violate("frame after seq %d: not a JSON object: %v: %.200s", seqs.High(), err, data)
		return true
	}
	f.Raw, f.At = data, at
	if !c.welcomed && c.resume != nil {
		return c.takeResumedWelcome(f, seqs, welcomed)
	}
	c.checkSeq(f, seqs)
	if !c.welcomed {
		c.welcomed = true
		err := c.takeWelcome(f)
		welcomed <- err
		return err == nil
	}
	if f.Type == TypeReply {
		c.routeReply(f)
		return true
	}
	c.check(f, "")
	if f.ID != nil || f.Code != nil {
		c.violate("%s (seq %d): an event carries id or code (TRANS-010)", f.Type, f.Seq)
	}
	if c.onEvent != nil {
		c.onEvent(f)
	} else {
		c.log.add(owned(f, c.reuse))
	}
	return true
}

// readAll reads the rest of a message: into a buffer lent from readBuffers (*buf is set to
// it; put it back once the frame is done with) with ReuseBuffers, else into a new slice. The
// buffer is taken only once a message has begun: an idle connection holds none.
//
//go:noinline
func (c *Client) readAll(r io.Reader, buf **[]byte) ([]byte, error) {
	if !c.reuse {
		return io.ReadAll(r)
	}
	*buf = readBuffers.Get().(*[]byte)
	b := (**buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			**buf = b
			return b, nil
		}
		if err != nil {
			**buf = b
			return b, err
		}
	}
}

// readBuffers lends the buffers frames are read into with ReuseBuffers.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// putReadBuffer returns a buffer to readBuffers, unless one large frame grew it.
func putReadBuffer(buf *[]byte) {
	if buf == nil || cap(*buf) > maxKeptBuffer {
		return
	}
	*buf = (*buf)[:0]
	readBuffers.Put(buf)
}

// maxKeptBuffer is the largest read buffer given back to readBuffers.
const maxKeptBuffer = 16 << 10

// owned returns f with bytes of its own when they are in a reused buffer.
func owned(f Frame, reused bool) Frame {
	if !reused {
		return f
	}
	raw := append([]byte(nil), f.Raw...)
	if f.payOff > 0 { // the payload is a slice of Raw: the same slice of the copy
		off := f.payOff - 1
		f.Payload = raw[off : off+len(f.Payload) : off+len(f.Payload)]
	}
	f.Raw = raw
	return f
}

func (c *Client) takeWelcome(f Frame) error {
	if f.Type != TypeWelcome {
		c.violate("first frame is %q; want welcome (WELCOME-001)", f.Type)
		return fmt.Errorf("client: first frame is %q, not welcome", f.Type)
	}
	c.check(f, "")
	c.welcomeAt = f.At
	if err := json.Unmarshal(f.Payload, &c.welcome); err != nil {
		c.violate("welcome: %v", err)
		return fmt.Errorf("client: welcome: %w", err)
	}
	return nil
}

// checkSeq checks f's seq against the highest one read (TRANS-005) and takes it into seqs. A
// seq past the next counts the ones between as missing; one at or below the highest counts out
// of order, and is missing no more if it was one of those (seqwin follows the 63 below the
// highest): a frame sent out of order counts once, out of order, and missing counts only what
// has not come.
func (c *Client) checkSeq(f Frame, seqs *seqwin.Window) {
	high := seqs.High()
	skipped, late, filled := seqs.See(f.Seq)
	c.lastSeq.Store(seqs.High())
	if f.Seq == high+1 {
		return
	}
	c.violate("%s: seq %d after %d; want %d (TRANS-005)", f.Type, f.Seq, high, high+1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqMissing += skipped
	if late {
		c.seqDisordered++
	}
	if filled {
		c.seqMissing--
	}
}

// takeResumedWelcome checks the welcome of a resumed connection (RESUME-003): seq 0, and a
// nextSeq that the next frame must carry, lastseq + 1 when recovered, above it when not.
func (c *Client) takeResumedWelcome(f Frame, seqs *seqwin.Window, welcomed chan<- error) bool {
	c.welcomed = true
	err := c.takeWelcome(f)
	if err == nil {
		w := c.welcome
		switch {
		case f.Seq != 0:
			c.violate("welcome of a resumed connection: seq %d; want 0 (RESUME-003)", f.Seq)
		case !w.Resumed:
			c.violate("welcome of a resumed connection: resumed false (RESUME-002)")
		case w.Recovered && w.NextSeq != c.resume.LastSeq+1:
			c.violate("welcome of a recovered resume from lastseq %d: nextSeq %d; want %d (RESUME-003)", c.resume.LastSeq, w.NextSeq, c.resume.LastSeq+1)
		case !w.Recovered && w.State == nil:
			c.violate("welcome of a resume with recovered false: no state (RESUME-004)")
		case !w.Recovered && w.NextSeq <= c.resume.LastSeq+1:
			// Recovered false says frames after lastseq were let go: the numbering goes on
			// past them, it does not start again.
			c.violate("welcome of a resume from lastseq %d with recovered false: nextSeq %d; want above %d, past the frames let go (RESUME-004)", c.resume.LastSeq, w.NextSeq, c.resume.LastSeq+1)
		case w.NextSeq == 0:
			c.violate("welcome of a resumed connection: nextSeq 0 (RESUME-003)")
		}
		if w.NextSeq > 0 {
			*seqs = seqwin.At(w.NextSeq - 1)
			c.lastSeq.Store(seqs.High())
		}
	}
	welcomed <- err
	return err == nil
}

// LastSeq is the highest seq read (the last frame's, from a server that numbers in order):
// what a resume gives as lastseq (RESUME-002).
func (c *Client) LastSeq() uint64 { return c.lastSeq.Load() }

// ResumeToken is the token of the welcome, which resumes the session after a drop
// (RESUME-001); "" when the server does not resume sessions.
func (c *Client) ResumeToken() string { return c.welcome.ResumeToken }

func (c *Client) routeReply(f Frame) {
	if f.ID == nil || f.Code == nil || f.Message == nil {
		c.violate("reply (seq %d) lacks id, code or message (TRANS-006): %.200s", f.Seq, f.Raw)
		return
	}
	c.mu.Lock()
	p := c.takePendingLocked(*f.ID)
	if p != nil {
		for _, id := range p.ids { // a reply to another of them would be a second reply
			if c.pending[id] == p {
				c.takePendingLocked(id)
			}
		}
	}
	late := c.abandoned[*f.ID]
	if late {
		delete(c.abandoned, *f.ID)
		if len(c.abandoned) == 0 {
			c.abandoned = nil
		}
	}
	c.mu.Unlock()
	if late {
		return
	}
	if p == nil {
		c.violate("reply (seq %d) to id %q, which no request is waiting for (TRANS-006)", f.Seq, *f.ID)
		return
	}
	c.check(f, p.typ)
	if p.done != nil {
		p.done(f, replyError(p.typ, f))
		return
	}
	p.reply <- owned(f, c.reuse)
}

// replyError is the *Error of a reply with a non-zero code, or nil.
func replyError(typ string, f Frame) error {
	if *f.Code != 0 {
		return &Error{Type: typ, Code: *f.Code, Message: *f.Message}
	}
	return nil
}

func (c *Client) check(f Frame, reqType string) {
	if c.checker == nil {
		return
	}
	if err := c.checker(f.Raw, reqType); err != nil {
		c.violate("schema: %v", err)
	}
}

// violate records a protocol violation.
func (c *Client) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.violationCount++
	if len(c.violations) < maxViolations {
		c.violations = append(c.violations, msg)
	}
	c.mu.Unlock()
}

// maxViolations bounds the violations a client keeps: a broken server under load must not
// grow them without end.
const maxViolations = 1000

// ViolationCount is how many protocol violations were seen, including those beyond the
// first 1,000 that Violations keeps.
func (c *Client) ViolationCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.violationCount
}

// SeqStats counts the server frames the sequence numbers show as missing (skipped seqs)
// and as out of order (a seq not above the last one) (TRANS-005).
func (c *Client) SeqStats() (missing, disordered uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seqMissing, c.seqDisordered
}

// Violations returns the protocol violations seen so far (the first 1,000): schema failures,
// sequence gaps, replies nobody asked for, malformed frames.
func (c *Client) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

func (c *Client) recordClose(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		c.closeCode, c.closeText = ce.Code, ce.Text
	} else {
		c.closeCode, c.closeText = CloseAbnormal, err.Error()
	}
}

// DroppedForOwnSlowness reports whether the server closed the connection for silence (4000)
// after this client, on a machine too busy to run it on time, let more than the advertised
// heartbeatTimeoutMs pass between two of its automatic heartbeats: the client's fault, not the
// server's. The gap is given either way.
func (c *Client) DroppedForOwnSlowness() (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := time.Duration(c.welcome.Timing.HeartbeatTimeoutMs) * time.Millisecond
	return c.closeCode == CloseHeartbeatTimeout && timeout > 0 && c.hbMaxGap >= timeout, c.hbMaxGap
}

// closedErr is the error of an operation (what) that found the connection closed: ErrClosed,
// with how it closed and, when the client sent heartbeats, the longest gap between two of
// them, which tells a server's drop for silence from the client's own slowness.
func (c *Client) closedErr(what string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	how := ""
	if c.closeCode != 0 { // recorded by the reader as it stops
		how = fmt.Sprintf(": close %d %q", c.closeCode, c.closeText)
	}
	timeout := time.Duration(c.welcome.Timing.HeartbeatTimeoutMs) * time.Millisecond
	switch {
	case c.closeCode == CloseHeartbeatTimeout && timeout > 0 && c.hbMaxGap >= timeout:
		how += fmt.Sprintf("; this client let %v pass between two heartbeats, more than the server's heartbeatTimeoutMs (%v): the machine running it was too busy", c.hbMaxGap.Round(time.Millisecond), timeout)
	case c.hbMaxGap > 0:
		how += fmt.Sprintf("; its heartbeats went out at most %v apart", c.hbMaxGap.Round(time.Millisecond))
	}
	return fmt.Errorf("client %s: %s: %w%s", c.userID, what, ErrClosed, how)
}

// finish runs when the reader exits: calls in flight fail, heartbeats stop.
func (c *Client) finish() {
	c.mu.Lock()
	if c.hbTimer != nil {
		c.hbTimer.Stop()
	}
	c.hbStopped = true
	c.ended = true
	orphans := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range orphans {
		if p.done != nil {
			p.done(Frame{}, c.closedErr(p.typ))
		}
	}
	close(c.done)
	c.log.wake()
	c.ws.Close()
}

// Frames counts the frames read from the server so far, the welcome included; Bytes counts
// their bytes (the messages' text).
func (c *Client) Frames() uint64 { return c.frames.Load() }
func (c *Client) Bytes() uint64  { return c.bytes.Load() }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseCode returns the close code the server sent (CloseAbnormal when the connection ended
// without a close frame) and its reason text. ok is false while the connection is open.
func (c *Client) CloseCode() (code int, text string, ok bool) {
	select {
	case <-c.done:
	default:
		return 0, "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText, true
}

// WaitClosed waits for the connection to end and returns its close code (see CloseCode).
func (c *Client) WaitClosed(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		code, _, _ := c.CloseCode()
		return code, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("client %s: connection still open: %w", c.userID, ctx.Err())
	}
}

// Close closes the connection cleanly with close code 1000 and waits (at most a second) for the
// server to end it.
func (c *Client) Close() {
	c.sayClose(time.Second)
	c.awaitEnd()
}

// CloseWithoutStatus closes the connection with a close frame that carries no status code (the
// server reads 1005, as from a browser's close()) and waits, as Close does, for the server to
// end it.
func (c *Client) CloseWithoutStatus() {
	c.StopHeartbeat()
	c.writeMu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, nil, time.Now().Add(time.Second))
	c.writeMu.Unlock()
	c.awaitEnd()
}

// awaitEnd waits at most a second for the server to end the connection after a close frame,
// then drops it.
func (c *Client) awaitEnd() {
	select {
	case <-c.done:
	case <-time.After(time.Second):
		c.ws.Close()
		<-c.done
	}
}

// SendClose starts the close handshake and returns without its end: it stops the heartbeats
// and sends a normal close frame (1000), waiting at most until deadline for the socket to take
// it. The connection stays open until the server answers and it ends by itself (Done), or
// until Kill: a load generator ending thousands of connections sends every close frame first
// and then waits for all the answers at once. Leaving the socket open until then matters: a
// socket closed with frames still unread is reset, and a server whose next write fails on
// that reset may end the connection before it has read the close frame (1006, a session kept
// for a resume). The error is the write's (nil: the frame was taken).
func (c *Client) SendClose(deadline time.Time) error {
	c.StopHeartbeat()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormal, ""), deadline)
}

// sayClose is SendClose with a deadline within from now.
func (c *Client) sayClose(within time.Duration) {
	_ = c.SendClose(time.Now().Add(within))
}

// Kill drops the TCP connection without a close frame, as a crashed client or a lost network
// would (LIVE-021).
func (c *Client) Kill() {
	c.StopHeartbeat()
	_ = c.ws.NetConn().Close()
	<-c.done
}

// StopHeartbeat stops the automatic heartbeats: the connection stays open but silent.
func (c *Client) StopHeartbeat() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hbStopped = true
	if c.hbTimer != nil {
		c.hbTimer.Stop()
	}
}

// armHeartbeat starts the automatic heartbeats: one every heartbeatIntervalMs on a fixed
// schedule (HEART-001), each sent without waiting for the reply to the one before. A server
// slow to answer must not make the client fall silent: the liveness timer (LIVE-020) counts
// frames arriving, and a schedule that waited for each reply would stretch the gap between
// them by the reply's delay. A heartbeat the timer fires late (a busy machine) goes out at
// once and the schedule goes on from its original times, skipping the beats already missed.
func (c *Client) armHeartbeat() {
	every := time.Duration(c.welcome.Timing.HeartbeatIntervalMs) * time.Millisecond
	if every <= 0 {
		c.violate("welcome: heartbeatIntervalMs %d is not positive; sending no heartbeats", c.welcome.Timing.HeartbeatIntervalMs)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hbStopped {
		return
	}
	next := time.Now().Add(every)
	var beat func()
	beat = func() {
		// The reply is checked by the reader like any other; an error means the connection is
		// going away, which the reader and the specs see for themselves.
		c.Go(ReqHeartbeat, nil, func(Frame, error) {})
		now := time.Now() // written by now
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.hbLast.IsZero() {
			c.hbMaxGap = max(c.hbMaxGap, now.Sub(c.hbLast))
		}
		c.hbLast = now
		if c.hbStopped {
			return
		}
		for next = next.Add(every); !next.After(now); next = next.Add(every) {
		}
		c.hbTimer = time.AfterFunc(next.Sub(now), beat)
	}
	c.hbTimer = time.AfterFunc(every, beat)
}

// request is the envelope of a client frame (TRANS-003).
type request struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Payload any    `json:"payload,omitempty"`
}

// Call sends a request and waits for its reply. A reply with a non-zero code is returned as
// *Error; on success the payload is decoded into out unless out is nil.
func (c *Client) Call(ctx context.Context, typ string, payload any, out any) error {
	c.mu.Lock()
	c.nextID++
	id := "c" + strconv.FormatUint(c.nextID, 10)
	c.mu.Unlock()
	data, err := json.Marshal(request{Type: typ, ID: id, Payload: payload})
	if err != nil {
		return fmt.Errorf("client: %s: %w", typ, err)
	}
	f, err := c.Send(ctx, id, typ, data)
	if err != nil {
		return err
	}
	if *f.Code != 0 {
		return &Error{Type: typ, Code: *f.Code, Message: *f.Message}
	}
	if out != nil {
		if err := json.Unmarshal(f.Payload, out); err != nil {
			c.violate("reply to %s: payload: %v", typ, err)
			return fmt.Errorf("client: %s: reply payload: %w", typ, err)
		}
	}
	return nil
}

// Send writes data as one text frame and waits for the reply whose id is id; reqType names
// the request for schema checks of the reply. It is for frames Call cannot produce: malformed
// JSON, wrong field types, odd ids. The reply is returned whatever its code.
func (c *Client) Send(ctx context.Context, id, reqType string, data []byte) (Frame, error) {
	return c.exchange(ctx, id, reqType, func() error { return c.WriteFrame(ctx, websocket.TextMessage, data) })
}

// SendWire writes raw bytes, one or more whole WebSocket frames built by the caller (see
// WriteWire), and waits for the reply whose id is id, as Send does.
func (c *Client) SendWire(ctx context.Context, id, reqType string, raw []byte) (Frame, error) {
	return c.exchange(ctx, id, reqType, func() error { return c.WriteWire(ctx, raw) })
}

// SendAny writes data as one text frame, as Send does, and waits for the reply to any one of
// ids: for a frame the specification lets a server answer in more than one way, each way
// with its own id (INPUT-001: a frame nested deeper than the server reads gets 100901 and
// id "", one it reads its own reply). A reply to another of ids after the first is recorded
// as unrequested: a request has one reply (TRANS-006).
func (c *Client) SendAny(ctx context.Context, ids []string, reqType string, data []byte) (Frame, error) {
	return c.exchangeAny(ctx, ids, reqType, func() error { return c.WriteFrame(ctx, websocket.TextMessage, data) })
}

// exchange registers a wait for the reply id, sends with send and waits.
func (c *Client) exchange(ctx context.Context, id, reqType string, send func() error) (Frame, error) {
	return c.exchangeAny(ctx, []string{id}, reqType, send)
}

// exchangeAny registers a wait for the reply to any of ids, sends with send and waits for the
// first, which ends the wait on all of them (routeReply).
func (c *Client) exchangeAny(ctx context.Context, ids []string, reqType string, send func() error) (Frame, error) {
	p := &call{typ: reqType, reply: make(chan Frame, 1)}
	if ids = slices.Compact(slices.Sorted(slices.Values(ids))); len(ids) > 1 {
		p.ids = ids
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return Frame{}, c.closedErr(reqType)
	}
	for _, id := range ids {
		if c.pending[id] != nil {
			c.mu.Unlock()
			return Frame{}, fmt.Errorf("client: a request with id %q is already waiting", id)
		}
	}
	for _, id := range ids {
		c.putPendingLocked(id, p)
	}
	c.mu.Unlock()
	forget := func(sent bool) {
		for _, id := range ids {
			c.forget(id, sent)
		}
	}
	if err := send(); err != nil {
		forget(false)
		return Frame{}, err
	}
	select {
	case f := <-p.reply:
		return f, nil
	case <-c.done:
		return Frame{}, c.closedErr(reqType)
	case <-ctx.Done():
		forget(true)
		return Frame{}, fmt.Errorf("client %s: no reply to %s: %w", c.userID, reqType, ctx.Err())
	}
}

// forget stops waiting for the reply to id. When the request was sent (sent is true) its reply
// may still come; it is then dropped quietly rather than recorded as unrequested.
func (c *Client) forget(id string, sent bool) {
	c.mu.Lock()
	if c.takePendingLocked(id) != nil && sent {
		if c.abandoned == nil {
			c.abandoned = make(map[string]bool, 1)
		}
		c.abandoned[id] = true
	}
	c.mu.Unlock()
}

// putPendingLocked registers p as the call waiting for the reply id. The map exists only
// while calls are in flight: an idle connection of a load generator's thousands holds none.
func (c *Client) putPendingLocked(id string, p *call) {
	if c.pending == nil {
		c.pending = make(map[string]*call, 1)
	}
	c.pending[id] = p
}

// takePendingLocked removes and returns the call waiting for the reply id (nil: none), and
// lets the map go with the last call in flight.
func (c *Client) takePendingLocked(id string) *call {
	p, ok := c.pending[id]
	if !ok {
		return nil
	}
	delete(c.pending, id)
	if len(c.pending) == 0 {
		c.pending = nil
	}
	return p
}

// WriteFrame writes one raw WebSocket message of type messageType (websocket.TextMessage or
// websocket.BinaryMessage) without waiting for anything.
func (c *Client) WriteFrame(ctx context.Context, messageType int, data []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("client %s: write: %w", c.userID, err)
	}
	// Recorded before the write: the reply may be read (and recorded) before WriteMessage
	// returns, and the transcript must show the request first.
	c.transcript.add(true, data)
	if err := c.ws.WriteMessage(messageType, data); err != nil {
		return fmt.Errorf("client %s: write: %w", c.userID, err)
	}
	return nil
}

// WriteWire writes raw bytes to the connection's socket, below the WebSocket layer: frames
// the WebSocket library would refuse to build (reserved bits, unmasked, fragmented pings) or
// one message in several fragments. The bytes must be whole frames; the transcript shows them
// as one client frame.
func (c *Client) WriteWire(ctx context.Context, raw []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	conn := c.ws.NetConn()
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("client %s: write: %w", c.userID, err)
	}
	c.transcript.add(true, raw)
	if _, err := conn.Write(raw); err != nil {
		return fmt.Errorf("client %s: write: %w", c.userID, err)
	}
	return nil
}

// GoBatch sends n requests of type typ with one payload, written back to back in one write
// (a client faster than any per-frame write allows, for specs of rate limits), each answered
// to done as by Go.
func (c *Client) GoBatch(typ string, payload any, n int, done func(f Frame, err error)) {
	c.GoBatchFrames(typ, n, func(id string) ([]byte, error) {
		return json.Marshal(request{Type: typ, ID: id, Payload: payload})
	}, done)
}

// GoBatchFrames is GoBatch for frames of the caller's making: frame makes each from the id
// its reply will carry, and it is sent as it is, malformed or not (RATE-001 counts every
// text frame). typ names the requests in errors and the transcript.
func (c *Client) GoBatchFrames(typ string, n int, frame func(id string) ([]byte, error), done func(f Frame, err error)) {
	var raw []byte
	ids := make([]string, 0, n)
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		for i := 0; i < n; i++ {
			done(Frame{}, c.closedErr(typ))
		}
		return
	}
	for i := 0; i < n; i++ {
		c.nextID++
		id := "b" + strconv.FormatUint(c.nextID, 10)
		data, err := frame(id)
		if err != nil {
			c.mu.Unlock()
			for j := 0; j < n; j++ {
				done(Frame{}, fmt.Errorf("client: %s: %w", typ, err))
			}
			return
		}
		c.putPendingLocked(id, &call{typ: typ, done: done})
		ids = append(ids, id)
		raw = appendMaskedText(raw, data)
	}
	c.mu.Unlock()
	if err := c.WriteWire(context.Background(), raw); err != nil {
		for _, id := range ids {
			c.mu.Lock()
			p := c.takePendingLocked(id)
			c.mu.Unlock()
			if p != nil {
				done(Frame{}, err)
			}
		}
	}
}

// appendMaskedText appends data as one client text frame (RFC 6455 §5.2: FIN, opcode 1,
// masked with a fixed key, which a server must accept like any other).
func appendMaskedText(buf, data []byte) []byte {
	buf = append(buf, 0x81)
	switch n := len(data); {
	case n < 126:
		buf = append(buf, 0x80|byte(n))
	case n <= 0xFFFF:
		buf = append(buf, 0x80|126, byte(n>>8), byte(n))
	default:
		buf = append(buf, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	key := [4]byte{0x5a, 0x17, 0xc3, 0x08}
	buf = append(buf, key[:]...)
	for i, b := range data {
		buf = append(buf, b^key[i%4])
	}
	return buf
}

// Go sends a request without waiting: done is called with the reply (err is an *Error for a
// non-zero code) or with the error that ends the call (a failed write, a closed connection).
// done runs on the client's reader (or, for a call the connection's end fails, on the goroutine
// that ended it: Config.DirectRead) and must not block. It is the load generator's
// way of keeping many requests in flight without a goroutine each.
func (c *Client) Go(typ string, payload any, done func(f Frame, err error)) {
	c.mu.Lock()
	c.nextID++
	id := "g" + strconv.FormatUint(c.nextID, 10)
	if c.ended {
		c.mu.Unlock()
		done(Frame{}, c.closedErr(typ))
		return
	}
	c.putPendingLocked(id, &call{typ: typ, done: done})
	c.mu.Unlock()
	data, err := json.Marshal(request{Type: typ, ID: id, Payload: payload})
	if err == nil {
		err = c.WriteFrame(context.Background(), websocket.TextMessage, data)
	}
	if err != nil {
		c.mu.Lock()
		p := c.takePendingLocked(id)
		c.mu.Unlock()
		if p != nil {
			done(Frame{}, err)
		}
	}
}
