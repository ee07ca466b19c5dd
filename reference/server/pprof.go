package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof" // also registers on http.DefaultServeMux, which no pkarena server serves
	"time"
)

// PprofPath is where a Pprof listener serves net/http/pprof's index.
const PprofPath = "/debug/pprof/"

// Side is a listener of its own beside the public one, for what must not be public or must
// not share its path: the profiles (ServePprof) and the metrics (ServeMetrics).
type Side struct {
	// Addr is the host:port it listens on.
	Addr string

	hs     *http.Server
	served chan struct{}
}

// Pprof serves net/http/pprof on a listener of its own. Profiles reveal the process's
// internals and cost CPU, so they are never served by Handler on the public listener; bind
// Pprof to a private address (loopback, an admin network).
type Pprof = Side

// ServePprof serves the profiles at listen ("127.0.0.1:0" picks a free port) until Close.
func ServePprof(listen string, log *slog.Logger) (*Pprof, error) {
	mux := http.NewServeMux()
	mux.HandleFunc(PprofPath, pprof.Index) // also the named profiles: heap, goroutine, ...
	mux.HandleFunc(PprofPath+"cmdline", pprof.Cmdline)
	mux.HandleFunc(PprofPath+"profile", pprof.Profile)
	mux.HandleFunc(PprofPath+"symbol", pprof.Symbol)
	mux.HandleFunc(PprofPath+"trace", pprof.Trace)
	// No WriteTimeout: a CPU profile or trace streams for as long as its seconds ask.
	return serveSide("pprof", listen, mux, log)
}

// ServeMetrics serves s's Prometheus metrics at MetricsPath on listen, a listener of its
// own (Config.MetricsListen), until Close: scrapers then never share the public listener's
// connections, bound or goroutines with the clients.
func (s *Server) ServeMetrics(listen string) (*Side, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MetricsPath, s.serveMetrics)
	return serveSide("metrics", listen, mux, s.log)
}

func serveSide(what, listen string, h http.Handler, log *slog.Logger) (*Side, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	p := &Side{
		Addr:   ln.Addr().String(),
		hs:     &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: time.Minute},
		served: make(chan struct{}),
	}
	go func() {
		defer close(p.served)
		if err := p.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" serve", "addr", p.Addr, "err", err)
		}
	}()
	return p, nil
}

// Close stops the listener and what it serves.
func (p *Side) Close() {
	_ = p.hs.Close()
	<-p.served
}
