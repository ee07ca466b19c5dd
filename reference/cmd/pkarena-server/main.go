// Command pkarena-server runs the pkarena reference server: the co-host signalling protocol v1
// (conformance/SPEC.md) over WebSocket at /v1/ws.
//
// Settings come from flags, then PKARENA_* environment variables, then defaults; run with -h
// for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/pkarena/pkarena/internal/exitcode"
	"github.com/pkarena/pkarena/internal/fdlimit"
	"github.com/pkarena/pkarena/reference/server"
)

// Exit codes, from the project's one table (internal/exitcode). A server judges nothing, so it
// never exits 1: every failure at run time is the tool's own, 3.
const (
	exitOK      = exitcode.OK
	exitUsage   = exitcode.Usage // bad flags or environment
	exitError   = exitcode.Error // the server failed at run time: a listener could not be opened, serving failed
	exitJournal = exitcode.Error // the battle journal (-state-dir) cannot be opened, restored or written
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// checkListen refuses a listen address that can never be listened on (a bad form, a port
// outside 0..65535) as bad usage, before anything starts.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w (want host:port, e.g. 127.0.0.1:7070)", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("-listen %q: port %q must be a number from 0 to 65535", addr, port)
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := server.DefaultConfig()
	listen := "127.0.0.1:7070"
	if v := getenv(server.EnvPrefix + "LISTEN"); v != "" {
		listen = v
	}
	fs.StringVar(&listen, "listen", listen, "address to listen on (env PKARENA_LISTEN)")
	logLevel := "info"
	if v := getenv(server.EnvPrefix + "LOG_LEVEL"); v != "" {
		logLevel = v
	}
	fs.StringVar(&logLevel, "log-level", logLevel, "debug, info, warn or error (env PKARENA_LOG_LEVEL)")
	if err := cfg.BindFlags(fs, getenv); err != nil {
		fmt.Fprintln(stderr, "pkarena-server:", err)
		return exitUsage
	}
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pkarena-server [flags]")
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nexit: 0 clean shutdown; 2 bad flags or environment; 3 a failure at run time (a listener, the battle journal).")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK // asked for: the usage went to stderr
		}
		return exitUsage
	}
	if *version {
		fmt.Fprintln(stdout, "pkarena-server", server.Version)
		return exitOK
	}
	if err := checkListen(listen); err != nil {
		fmt.Fprintln(stderr, "pkarena-server:", err)
		return exitUsage
	}
	cfg.Finish()
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "pkarena-server: log level %q: %v\n", logLevel, err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	if limit, err := fdlimit.Raise(); err != nil {
		log.Warn("cannot raise the open-file limit", "err", err)
	} else if limit > 0 {
		log.Info("open-file limit", "limit", limit) // about one file per connection
		// Connections not upgraded get at most half the files, so that the bound keeps the
		// rest for authenticated WebSockets even under a low limit.
		if half := max(int(limit/2), 1); cfg.MaxHTTPConns > half {
			log.Warn("-max-http-conns lowered to half the open-file limit", "was", cfg.MaxHTTPConns, "now", half, "limit", limit)
			cfg.MaxHTTPConns = half
		}
	}
	if cfg.PprofListen != "" && cfg.PprofListen == listen {
		fmt.Fprintln(stderr, "pkarena-server: -pprof must not be the -listen address: profiles are never served on the public listener")
		return exitUsage
	}
	if cfg.MetricsListen != "" && (cfg.MetricsListen == listen || cfg.MetricsListen == cfg.PprofListen) {
		fmt.Fprintln(stderr, "pkarena-server: -metrics-listen must be an address of its own, neither -listen nor -pprof")
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "pkarena-server:", err)
		return exitUsage
	}
	srv, err := server.New(cfg) // with -state-dir, this restores the journal
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-server:", err)
		return exitJournal
	}
	defer srv.Close()
	if cfg.PprofListen != "" {
		p, err := server.ServePprof(cfg.PprofListen, log)
		if err != nil {
			log.Error("pprof listen", "addr", cfg.PprofListen, "err", err)
			return exitError
		}
		defer p.Close()
		fmt.Fprintf(stdout, "pkarena-server pprof on http://%s%s (keep this address private)\n", p.Addr, server.PprofPath)
	}
	metricsAt := ""
	if cfg.MetricsListen != "" {
		m, err := srv.ServeMetrics(cfg.MetricsListen)
		if err != nil {
			log.Error("metrics listen", "addr", cfg.MetricsListen, "err", err)
			return exitError
		}
		defer m.Close()
		metricsAt = m.Addr
	}
	ln, err := srv.Listen(listen)
	if err != nil {
		log.Error("listen", "addr", listen, "err", err)
		return exitError
	}
	hs := srv.NewHTTPServer()
	if metricsAt == "" {
		metricsAt = ln.Addr().String()
	}
	fmt.Fprintf(stdout, "pkarena-server %s listening on ws://%s/v1/ws (sdkappid %d), metrics at http://%s%s\n", server.Version, ln.Addr(), cfg.SDKAppID, metricsAt, server.MetricsPath)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		log.Error("serve", "err", err)
		return exitError
	case <-srv.Failed():
		log.Error("stopped: the battle journal cannot be written", "err", srv.Err())
		_ = hs.Close()
		return exitJournal
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Every WebSocket closed with 1001, the webhooks delivered, the requests ended, within
	// one deadline; what it cut is logged.
	_ = srv.Stop(shutdownCtx, hs)
	return exitOK
}
