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

// Pprof serves net/http/pprof on a listener of its own. Profiles reveal the process's
// internals and cost CPU, so they are never served by Handler on the public listener; bind
// Pprof to a private address (loopback, an admin network).
type Pprof struct {
	// Addr is the host:port it listens on.
	Addr string

	hs     *http.Server
	served chan struct{}
}

// ServePprof serves the profiles at listen ("127.0.0.1:0" picks a free port) until Close.
func ServePprof(listen string, log *slog.Logger) (*Pprof, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PprofPath, pprof.Index) // also the named profiles: heap, goroutine, ...
	mux.HandleFunc(PprofPath+"cmdline", pprof.Cmdline)
	mux.HandleFunc(PprofPath+"profile", pprof.Profile)
	mux.HandleFunc(PprofPath+"symbol", pprof.Symbol)
	mux.HandleFunc(PprofPath+"trace", pprof.Trace)
	p := &Pprof{
		Addr: ln.Addr().String(),
		// No WriteTimeout: a CPU profile or trace streams for as long as its seconds ask.
		hs:     &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		served: make(chan struct{}),
	}
	go func() {
		defer close(p.served)
		if err := p.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof serve", "addr", p.Addr, "err", err)
		}
	}()
	return p, nil
}

// Close stops the listener and the profiles in progress.
func (p *Pprof) Close() {
	_ = p.hs.Close()
	<-p.served
}
