package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/pkarena/pkarena/reference/protocol"
)

// Running is a server serving on a TCP address: what the tools that embed the reference
// server (the conformance suite, the load generator, the demo) start and stop.
type Running struct {
	*Server
	Addr    string // host:port it listens on
	URL     string // its WebSocket endpoint, ws://Addr/v1/ws
	RESTURL string // its REST root, http://Addr
	// PprofAddr is where net/http/pprof is served when Config.PprofListen is set, a listener
	// of its own; "" when profiling is off.
	PprofAddr string
	// MetricsAddr is where /metrics is served when Config.MetricsListen is set, a listener
	// of its own; "" when the metrics are on Addr.
	MetricsAddr string

	hs      *http.Server
	served  chan struct{}
	pprof   *Pprof
	metrics *Side
}

// Start creates a server from cfg and serves it on listen ("127.0.0.1:0" picks a free port),
// pprof on cfg.PprofListen and the metrics on cfg.MetricsListen when those are set.
func Start(cfg Config, listen string) (*Running, error) {
	srv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := srv.Listen(listen)
	if err != nil {
		srv.Close()
		return nil, err
	}
	r := &Running{
		Server: srv, Addr: ln.Addr().String(),
		hs:     srv.NewHTTPServer(),
		served: make(chan struct{}),
	}
	fail := func(err error) (*Running, error) {
		ln.Close()
		srv.Close()
		if r.pprof != nil {
			r.pprof.Close()
		}
		return nil, err
	}
	if cfg.PprofListen != "" {
		if r.pprof, err = ServePprof(cfg.PprofListen, srv.log); err != nil {
			return fail(err)
		}
		r.PprofAddr = r.pprof.Addr
	}
	if cfg.MetricsListen != "" {
		if r.metrics, err = srv.ServeMetrics(cfg.MetricsListen); err != nil {
			return fail(err)
		}
		r.MetricsAddr = r.metrics.Addr
	}
	r.URL = "ws://" + r.Addr + protocol.Path
	r.RESTURL = "http://" + r.Addr
	go func() {
		defer close(r.served)
		if err := r.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.log.Error("serve", "addr", r.Addr, "err", err)
		}
	}()
	return r, nil
}

// Close shuts the server down (Stop) within Config.ShutdownTimeout: every WebSocket closed
// with 1001, the requests in progress ended, the queued webhooks delivered or logged.
func (r *Running) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
	defer cancel()
	_ = r.Stop(ctx, r.hs)
	<-r.served
	if r.pprof != nil {
		r.pprof.Close()
	}
	if r.metrics != nil {
		r.metrics.Close()
	}
}
