package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pkarena/pkarena/load/metrics"
)

// liveMetricsPath is where -metrics-listen serves the live view.
const liveMetricsPath = "/metrics"

// liveMetrics serves the live view of the run in progress (metrics.Live) at liveMetricsPath
// on a listener of its own (-metrics-listen). run opens it before the ramp and closes it when
// the run is over; capacity opens it once and shows each step's run in turn, so a scraper
// sees every step on one address (each step's counters start again from 0: rate() takes the
// reset in its stride). Before the first run shows itself it serves an empty page.
type liveMetrics struct {
	addr    string
	hs      *http.Server
	served  chan struct{}
	handler atomic.Pointer[http.Handler]
}

// checkMetricsAddr refuses an address -metrics-listen cannot listen on whatever the machine's
// state: one without a port, a port out of range, a host that does not resolve.
func checkMetricsAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		} else {
			_, err = net.ResolveTCPAddr("tcp", addr)
		}
	}
	if err != nil {
		return fmt.Errorf("-metrics-listen %q: want host:port such as 127.0.0.1:9470 or :9470: %v", addr, err)
	}
	return nil
}

// listenMetrics starts serving at addr (":0" picks a free port): an empty page until show.
func listenMetrics(addr string, log *slog.Logger) (*liveMetrics, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-listen: %w", err)
	}
	m := &liveMetrics{
		addr:   ln.Addr().String(),
		served: make(chan struct{}),
	}
	m.show(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+liveMetricsPath, func(w http.ResponseWriter, r *http.Request) { (*m.handler.Load()).ServeHTTP(w, r) })
	m.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() {
		defer close(m.served)
		if err := m.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics serve", "addr", m.addr, "err", err)
		}
	}()
	return m, nil
}

// url is where a scraper finds the live view.
func (m *liveMetrics) url() string { return "http://" + m.addr + liveMetricsPath }

// show serves reg from now on: the live view of the run that has just begun.
func (m *liveMetrics) show(reg *prometheus.Registry) {
	var h http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	m.handler.Store(&h)
}

// showRun attaches a live view to the run's recorder and serves it.
func (m *liveMetrics) showRun(rec *metrics.Recorder, labels metrics.LiveLabels) {
	m.show(metrics.NewLive(rec, labels).Registry())
}

// Close stops the listener and the scrapes in progress.
func (m *liveMetrics) Close() {
	_ = m.hs.Close()
	<-m.served
}
