package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// readHeaderTimeout bounds reading a request's headers, on every listener.
const readHeaderTimeout = 10 * time.Second

// NewHTTPServer returns the http.Server that serves Handler on the public listener, with
// the timeouts and the admission bound that keep unauthenticated sockets from starving the
// others (issue 13, point 2):
//
//   - a request's headers must arrive within 10 s, a whole request (REST body included)
//     within HTTPReadTimeout, and a keep-alive connection silent for HTTPIdleTimeout between
//     two requests is closed;
//   - at most MaxHTTPConns connections that are not WebSocket connections are kept: a new
//     one over the bound closes the oldest idle one, else the oldest that has not finished
//     its first request, else the oldest in a request that has not authenticated (a body
//     trickled to a 404, or behind a bad signature, keeps its connection in a request until
//     HTTPReadTimeout), else itself; counted in pkarena_http_connections_evicted_total.
//
// An upgraded WebSocket leaves the bound at once (its deadlines are then its own: heartbeat
// and write timeouts). Stop shuts the server down with it.
func (s *Server) NewHTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPReadTimeout,
		IdleTimeout:       s.cfg.HTTPIdleTimeout,
		ConnState:         s.connState,
		ConnContext:       withConn,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// connState follows the public listener's connections: their admission bound, and which of
// them may wait for a request eagerly.
func (s *Server) connState(c net.Conn, state http.ConnState) {
	s.admission.track(c, state)
	setConnState(c, state)
}

// admission keeps the public listener's connections that are not WebSocket connections
// within a bound, evicting the least useful when a new one would go over it. Its mutex owns
// every field; net/http calls track from each connection's goroutine.
type admission struct {
	max     int
	metrics *metrics
	log     *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*admitted
	tick  uint64 // orders the entries: a higher tick is more recent
}

// admitted is one connection's last state.
type admitted struct {
	state  http.ConnState
	tick   uint64
	authed bool // a request on it authenticated (authenticate): not evicted in a request
}

// connKey is the request context key of the connection a request came on (withConn).
type connKey struct{}

// withConn is the http.Server's ConnContext: requests carry their connection, so that a
// handler can tell the admission bound that it authenticated.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// authenticate marks the connection of r as authenticated: while in a request it is never
// evicted (an idle one still may be).
func (a *admission) authenticate(r *http.Request) {
	c, ok := r.Context().Value(connKey{}).(net.Conn)
	if !ok {
		return // not served by NewHTTPServer
	}
	a.mu.Lock()
	if e, ok := a.conns[c]; ok {
		e.authed = true
	}
	a.mu.Unlock()
}

func newAdmission(max int, m *metrics, log *slog.Logger) *admission {
	return &admission{max: max, metrics: m, log: log, conns: make(map[net.Conn]*admitted)}
}

// track is the http.Server's ConnState hook.
func (a *admission) track(c net.Conn, state http.ConnState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch state {
	case http.StateHijacked, http.StateClosed:
		delete(a.conns, c)
	case http.StateNew:
		a.tick++
		a.conns[c] = &admitted{state: state, tick: a.tick}
		if len(a.conns) > a.max {
			a.evict(c)
		}
	default: // active, idle
		if e, ok := a.conns[c]; ok {
			a.tick++
			e.state, e.tick = state, a.tick
			if state == http.StateActive {
				e.authed = false // each request authenticates for itself
			}
		}
	}
	a.metrics.httpConns.Set(float64(len(a.conns)))
}

// count is how many connections are in state.
func (a *admission) count(state http.ConnState) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.conns {
		if e.state == state {
			n++
		}
	}
	return n
}

// evict closes one connection to make room for newcomer: the oldest idle one, else the
// oldest that has not finished its first request, else the newcomer itself (every other is
// in the middle of a request, each bounded by HTTPReadTimeout).
func (a *admission) evict(newcomer net.Conn) {
	// Idle ones go first, then new ones, then unauthenticated ones in a request; within a
	// kind, the oldest. An authenticated connection in a request is never cut.
	rank := func(e *admitted) int {
		switch e.state {
		case http.StateIdle:
			return 0
		case http.StateNew:
			return 1
		}
		return 2
	}
	var victim net.Conn
	var best *admitted
	for c, e := range a.conns {
		if c == newcomer || e.state == http.StateActive && e.authed {
			continue
		}
		if best == nil || rank(e) < rank(best) || rank(e) == rank(best) && e.tick < best.tick {
			victim, best = c, e
		}
	}
	reason := "idle"
	switch {
	case victim == nil:
		victim, reason = newcomer, "refused"
	case best.state == http.StateNew:
		reason = "no request yet"
	case best.state == http.StateActive:
		reason = "unauthenticated request"
	}
	delete(a.conns, victim)
	_ = victim.Close()
	a.metrics.httpEvicted.WithLabelValues(reason).Inc()
	a.log.Debug("http connection evicted", "reason", reason, "remote", victim.RemoteAddr(), "bound", a.max)
}

// Stop shuts the server and hs (the http.Server serving its Handler) down within ctx's
// deadline, whatever its peers do (FAULT-004; issue 13, point 3):
//
//  1. new handshakes get 503 and REST calls 100001; every connection is ended as lost, so
//     that everyone connected learns how their rooms and battles ended (the hub; immediate);
//  2. then, side by side and each within the deadline: the queued webhooks are delivered for
//     at most ShutdownWebhookWait; each WebSocket writes what was queued for it and its 1001,
//     and waits up to CloseLinger for the client's answer (awaitClient); a handshake begun
//     before Stop that the hub did not take (it came too late, or its resume was refused)
//     gets its close frame (1001, 4010) and the same wait (lingerClose); hs stops listening
//     and waits for the HTTP requests in progress;
//  3. at the deadline whatever is left is cut: webhooks still queued are logged and counted
//     as dropped, WebSockets still writing or waiting are closed (and a handshake upgraded
//     after that at once), requests still running (a caller trickling its body) are closed.
//
// hs may be nil (a Server served some other way). Stop returns ctx's error when it had to
// cut something, else nil.
func (s *Server) Stop(ctx context.Context, hs *http.Server) error {
	if !s.stopping.CompareAndSwap(false, true) { // stopped, or stopping: wait for that one
		select {
		case <-s.down:
		case <-ctx.Done():
			return ctx.Err()
		}
		if hs != nil { // an http.Server the first Stop did not know: its requests may finish
			if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = hs.Close()
				return err
			}
		}
		return nil
	}
	defer close(s.down)
	start := time.Now()
	s.stop.Do(func() { close(s.closing) })
	handshakesEnded := s.handshakes.shutdown()
	<-s.stopped
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // webhooks
		defer wg.Done()
		wait := s.cfg.ShutdownWebhookWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		s.hooks.finish(max(wait, 0), s.stopHooks)
	}()
	go func() { // WebSockets
		defer wg.Done()
		done := make(chan struct{})
		go func() { s.connWG.Wait(); <-handshakesEnded; close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			n := s.live.closeAll()
			h := s.handshakes.closeAll()
			s.log.Warn("shutdown deadline: connections still writing were closed", "connections", n, "handshakes", h)
			select { // a writer registered after closeAll ends at its own write deadline
			case <-done:
			case <-time.After(time.Second):
				s.log.Warn("shutdown deadline: a connection was still writing a second later")
			}
		}
	}()
	var err error
	if hs != nil {
		if err = hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("shutdown deadline: HTTP requests in progress were cut", "err", err)
			_ = hs.Close()
		} else {
			err = nil
		}
	}
	wg.Wait()
	s.log.Info("shut down", "took", time.Since(start).Round(time.Millisecond))
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// liveSockets are the WebSockets their writer has not ended yet (conn.finish), idle ones
// included, for Stop to close at its deadline.
// Its mutex owns the set.
type liveSockets struct {
	mu  sync.Mutex
	set map[*conn]struct{}
}

func (l *liveSockets) add(c *conn) {
	l.mu.Lock()
	if l.set == nil {
		l.set = make(map[*conn]struct{})
	}
	l.set[c] = struct{}{}
	l.mu.Unlock()
}

func (l *liveSockets) remove(c *conn) {
	l.mu.Lock()
	delete(l.set, c)
	l.mu.Unlock()
}

// closeAll closes every socket left (a blocked write or read then fails at once) and
// returns how many there were.
func (l *liveSockets) closeAll() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.set {
		_ = c.ws.NetConn().Close()
	}
	return len(l.set)
}
