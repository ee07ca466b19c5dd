package server

import (
	"context"
	"errors"
	"net/http"
	"time"

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

	hs     *http.Server
	served chan struct{}
	pprof  *Pprof
}

// Start creates a server from cfg and serves it on listen ("127.0.0.1:0" picks a free port),
// and pprof on cfg.PprofListen when that is set.
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
		hs:     &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan struct{}),
	}
	if cfg.PprofListen != "" {
		if r.pprof, err = ServePprof(cfg.PprofListen, srv.log); err != nil {
			ln.Close()
			srv.Close()
			return nil, err
		}
		r.PprofAddr = r.pprof.Addr
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

// Close closes every WebSocket with 1001 and stops serving, waiting up to 5 s for requests in
// progress.
func (r *Running) Close() {
	r.Server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.hs.Shutdown(ctx)
	<-r.served
	if r.pprof != nil {
		r.pprof.Close()
	}
}
