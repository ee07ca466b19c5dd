package client

import (
	"bufio"
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
	"strings"
	"sync"
	"time"

	"github.com/pkarena/pkarena/internal/rxtime"
)

// RESTPipe is a connection of its own to the REST API on which calls are pipelined
// (HTTP/1.1): sent one after the other without waiting for the answers, answered in the
// order sent, at most Depth outstanding. A server handles the requests of one connection in
// order, so calls on a pipe reach it in the order they were made: what each one changes
// (a battle's score version) follows from the ones before. Its methods are safe for
// concurrent use; the callbacks run on the pipe's reader goroutine, one at a time, in the
// order of the calls.
type RESTPipe struct {
	rest   *REST
	conn   net.Conn
	rx     *rxtime.Conn // under conn (and TLS): when each answer arrived
	host   string
	slots  chan struct{} // one per outstanding call
	wmu    sync.Mutex    // serialises writes; owns bw
	bw     *bufio.Writer
	mu     sync.Mutex // owns queue and err
	queue  []pipeCall
	err    error
	ready  chan struct{} // a call was queued (capacity 1)
	closed chan struct{}
	done   chan struct{} // the reader has exited
}

type pipeCall struct {
	api  string
	req  *http.Request
	body []byte
	done func(status int, env Envelope, at time.Time, err error)
}

// ErrPipeClosed ends the calls of a pipe that closed or failed.
var ErrPipeClosed = errors.New("client: REST pipe closed")

// Pipe opens a pipe to the REST API with at most depth calls outstanding.
func (r *REST) Pipe(ctx context.Context, depth int) (*RESTPipe, error) {
	if depth < 1 {
		depth = 1
	}
	u, err := url.Parse(r.cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("client: REST pipe: %w", err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", HostPort(u))
	if err != nil {
		return nil, fmt.Errorf("client: REST pipe: %w", err)
	}
	rx := rxtime.NewConn(raw)
	var conn net.Conn = rx
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("client: REST pipe: %w", err)
		}
		conn = tc
	}
	p := &RESTPipe{
		rest: r, conn: conn, rx: rx, host: u.Host, slots: make(chan struct{}, depth),
		bw: bufio.NewWriter(conn), ready: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{}),
	}
	go p.read(bufio.NewReader(conn))
	return p, nil
}

// Go sends a call of api with body and a valid query, waiting first while Depth calls are
// outstanding; done gets the answer as REST.Do returns it (err for no answer or not an
// envelope), or ErrPipeClosed, and when the answer arrived: the kernel's receive time of its
// last bytes (on Linux; elsewhere when they were read), the zero Time when none came.
func (p *RESTPipe) Go(api string, body any, done func(status int, env Envelope, at time.Time, err error)) {
	data, err := json.Marshal(body)
	if err != nil {
		done(0, Envelope{}, time.Time{}, fmt.Errorf("%s: %w", api, err))
		return
	}
	select {
	case p.slots <- struct{}{}:
	case <-p.closed:
		done(0, Envelope{}, time.Time{}, fmt.Errorf("%s: %w", api, p.failure()))
		return
	}
	u := "http://" + p.host + RESTPrefix + api + "?" + p.rest.Query().Encode()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		<-p.slots
		done(0, Envelope{}, time.Time{}, fmt.Errorf("%s: %w", api, err))
		return
	}
	req.Header.Set("Content-Type", "application/json")
	// Queued before it is written: the reader matches answers to calls in that order.
	p.wmu.Lock()
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		p.wmu.Unlock()
		<-p.slots
		done(0, Envelope{}, time.Time{}, fmt.Errorf("%s: %w", api, p.failure()))
		return
	}
	p.queue = append(p.queue, pipeCall{api: api, req: req, body: data, done: done})
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
	err = req.Write(p.bw)
	if err == nil {
		err = p.bw.Flush()
	}
	p.wmu.Unlock()
	if err != nil {
		p.fail(err)
	}
}

// read reads the answers in order and hands each to its call.
func (p *RESTPipe) read(br *bufio.Reader) {
	defer close(p.done)
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && p.err == nil {
			p.mu.Unlock()
			select {
			case <-p.ready:
			case <-p.closed:
			}
			p.mu.Lock()
		}
		if p.err != nil && len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		c := p.queue[0]
		p.mu.Unlock()
		resp, err := http.ReadResponse(br, c.req)
		if err != nil {
			p.fail(err)
			p.drain()
			return
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			p.fail(err)
			p.drain()
			return
		}
		// The answer's last bytes came with the last read made (bufio and TLS read only
		// when they need more); that read may have brought the next answer's first bytes
		// too, and its time is then theirs: never earlier than the answer's own.
		at := p.rx.Arrived()
		p.mu.Lock()
		p.queue = p.queue[1:]
		p.mu.Unlock()
		<-p.slots
		if p.rest.cfg.Check != nil {
			c.req.Body = io.NopCloser(bytes.NewReader(c.body))
			if err := p.rest.cfg.Check(c.req, c.body, resp.StatusCode, resp.Header, raw); err != nil {
				p.rest.violate("%s: %v", c.api, err)
			}
		}
		var env Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			p.rest.violate("%s: the answer is not a JSON envelope (REST-002): %.200s", c.api, raw)
			c.done(resp.StatusCode, env, at, fmt.Errorf("%s: the answer is not a JSON envelope: %w", c.api, err))
			continue
		}
		c.done(resp.StatusCode, env, at, nil)
		if resp.Close {
			p.fail(errors.New("the server closed the connection"))
			p.drain()
			return
		}
	}
}

// fail records the pipe's first failure and closes it.
func (p *RESTPipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
		close(p.closed)
	}
	p.mu.Unlock()
	p.conn.Close()
}

// drain ends every call still outstanding with the pipe's failure.
func (p *RESTPipe) drain() {
	p.mu.Lock()
	q := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, c := range q {
		<-p.slots
		c.done(0, Envelope{}, time.Time{}, fmt.Errorf("%s: %w", c.api, p.failure()))
	}
}

func (p *RESTPipe) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failure2()
}

// failure2 is failure with mu held.
func (p *RESTPipe) failure2() error {
	if p.err == nil || errors.Is(p.err, ErrPipeClosed) {
		return ErrPipeClosed
	}
	return fmt.Errorf("%w: %v", ErrPipeClosed, p.err)
}

// Close closes the pipe; calls still outstanding get ErrPipeClosed. It waits for the reader.
func (p *RESTPipe) Close() {
	p.fail(ErrPipeClosed)
	<-p.done
	p.drain()
}

// Err is why the pipe closed, or nil while it is open.
func (p *RESTPipe) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return nil
	}
	return p.failure2()
}

// Outstanding counts the calls sent and not yet answered.
func (p *RESTPipe) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// String names the pipe's server.
func (p *RESTPipe) String() string { return "REST pipe to " + strings.TrimSpace(p.host) }

// HostPort is the host:port a ws://, wss://, http:// or https:// URL dials: its own port, else
// the scheme's (80, or 443 for wss and https).
func HostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "wss" || u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
