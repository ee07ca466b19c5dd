package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/engine"
	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
	"github.com/pkarena/pkarena/reports"
)

// listFlag is a flag that may be given many times, each value added; commas split a value.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds the comma-separated values of one occurrence.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// repeatFlag is a flag that may be given many times, each value kept whole (thresholds and
// -set values may hold commas).
type repeatFlag []string

func (r *repeatFlag) String() string { return strings.Join(*r, "; ") }

// Set adds one occurrence.
func (r *repeatFlag) Set(v string) error { *r = append(*r, v); return nil }

// runOptions is the run subcommand's command line.
type runOptions struct {
	scenario   string
	sets       repeatFlag
	targets    listFlag
	rests      listFlag
	appID      string
	sdkAppID   uint64
	secret     string
	admin      string
	shard      string
	runID      string
	sourceIPs  string
	thresholds repeatFlag
	out        string
	agent      string
	interval   time.Duration
	drain      time.Duration
	quiet      bool
	noReport   bool
	logLevel   string
	memProfile string
	cpuProfile string
	trace      string
	judge      bool
	// metricsListen is where to serve the live metrics (-metrics-listen); live, when set,
	// is a listener capacity opened for all its steps, and wins over metricsListen.
	metricsListen string
	live          *liveMetrics
}

// runFlags declares the run subcommand's flags, with their PKARENA_* defaults, into o.
func runFlags(o *runOptions, getenv func(string) string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pkarena-load run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envLookup(getenv)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkarena-load run [flags]\n\nScenarios: %s (or a YAML file).\n\nFlags:\n", strings.Join(scenarios.Names(), ", "))
		fs.PrintDefaults()
	}
	fs.StringVar(&o.scenario, "scenario", env("SCENARIO", "pk"), "scenario name or YAML file (env PKARENA_SCENARIO)")
	fs.Var(&o.sets, "set", "override a scenario parameter, e.g. -set hosts=2000 (repeatable); keys: "+strings.Join(scenarios.SetKeys, ", "))
	fs.Var(&o.targets, "target", "server WebSocket URL(s), comma-separated or repeated; none starts the embedded reference server (env PKARENA_TARGET_URL)")
	fs.Var(&o.rests, "rest", "REST root(s), one per target; none derives them from the targets (env PKARENA_REST_URL)")
	fs.StringVar(&o.appID, "sdkappid", env("SDKAPPID", strconv.FormatUint(server.DefaultConfig().SDKAppID, 10)), "application ID (env PKARENA_SDKAPPID)")
	fs.StringVar(&o.secret, "secret", env("SECRET", server.DefaultConfig().Secret), "application secret (env PKARENA_SECRET)")
	fs.StringVar(&o.admin, "admin", env("ADMIN", server.DefaultConfig().AdminIdentifiers[0]), "REST administrator identifier (env PKARENA_ADMIN)")
	fs.StringVar(&o.shard, "shard", env("SHARD", "0/1"), "this agent's share i/n of the population (env PKARENA_SHARD)")
	fs.StringVar(&o.runID, "run-id", env("RUN_ID", ""), "ID shared by the agents of one run, 1-8 letters or digits; empty: random (env PKARENA_RUN_ID)")
	fs.StringVar(&o.sourceIPs, "source-ips", env("SOURCE_IPS", ""), "local addresses to dial from, e.g. 127.0.0.2-127.0.0.9 or a comma list (env PKARENA_SOURCE_IPS)")
	fs.Var(&o.thresholds, "threshold", `pass/fail rule, e.g. "score_fanout.p99 < 50ms" (repeatable; added to the scenario's)`)
	fs.StringVar(&o.out, "out", env("OUT", ""), "results folder; empty: results/load-<scenario>-<time> (env PKARENA_OUT)")
	fs.StringVar(&o.agent, "agent", env("AGENT", hostname()), "this agent's name in merged results (env PKARENA_AGENT)")
	fs.DurationVar(&o.interval, "interval", time.Second, "interval of the .hlog log and the charts")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "wait after the run for messages still on their way")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.BoolVar(&o.noReport, "no-report", false, "do not render report.html (pkarena-load report can, later)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile (go tool pprof) to this file once the population is connected")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the run after the ramp to this file")
	fs.StringVar(&o.trace, "trace", "", fmt.Sprintf("write a runtime execution trace (go tool trace) of the first %v after the ramp to this file: the scheduling of every goroutine, e.g. how long a reader waited to run", traceWindow))
	fs.BoolVar(&o.judge, "check-generator", env("CHECK_GENERATOR", "true") != "false", "fail the run (exit 5) when the load generator, not the server, was the bottleneck (env PKARENA_CHECK_GENERATOR)")
	fs.StringVar(&o.metricsListen, "metrics-listen", env("METRICS_LISTEN", ""), "serve live Prometheus metrics of the run at /metrics on this address, e.g. :9470, from before the ramp until the run ends: rates, errors, lost, latency histograms (approximate; exact percentiles in summary.json), the generator's CPU and lag; empty: off (env PKARENA_METRICS_LISTEN)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "warn"), "debug, info, warn or error (env PKARENA_LOG_LEVEL)")
	return fs
}

func runLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var o runOptions
	fs := runFlags(&o, getenv, stderr)
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pkarena-load run: unexpected argument %q (flags only)\n", fs.Arg(0))
		return metrics.ExitUsage
	}
	return playRun(ctx, o, getenv, stdout, stderr)
}

// playRun runs the scenario the options describe and writes its results; it returns the
// run's exit code. run and capacity (a run per step) call it.
func playRun(ctx context.Context, o runOptions, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(o.targets) == 0 {
		_ = o.targets.Set(getenv("PKARENA_TARGET_URL"))
	}
	if len(o.rests) == 0 {
		_ = o.rests.Set(getenv("PKARENA_REST_URL"))
	}
	usage := func(err error) int {
		fmt.Fprintln(stderr, "pkarena-load run:", err)
		return metrics.ExitUsage
	}
	n, err := strconv.ParseUint(o.appID, 10, 64)
	if err != nil {
		return usage(fmt.Errorf("sdkappid %q: not an unsigned integer", o.appID))
	}
	o.sdkAppID = n
	sc, err := loadScenario(o.scenario, o.sets)
	if err != nil {
		return usage(err)
	}
	thresholds, err := metrics.ParseThresholds(append(scenarioThresholds(sc), o.thresholds...))
	if err != nil {
		return usage(err)
	}
	shard, shards, err := parseShard(o.shard)
	if err != nil {
		return usage(err)
	}
	ips, err := parseSourceIPs(o.sourceIPs)
	if err != nil {
		return usage(err)
	}
	if o.runID == "" {
		o.runID = randomID()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usage(fmt.Errorf("log level %q: %v", o.logLevel, err))
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	live := o.live
	if live == nil && o.metricsListen != "" {
		if err := checkMetricsAddr(o.metricsListen); err != nil {
			return usage(err)
		}
		if live, err = listenMetrics(o.metricsListen, log); err != nil {
			fmt.Fprintln(stderr, "pkarena-load run:", err)
			return metrics.ExitError
		}
		defer live.Close() // when the run is over: the process may go on (tests, capacity's steps)
		fmt.Fprintf(stdout, "live metrics: %s (%s)\n", live.url(), metrics.LiveApproximate)
	}

	targets, files := []engine.Target(nil), 1
	if len(o.targets) == 0 {
		srv, err := startEmbedded(o.sdkAppID, o.secret, o.admin, sc.Reconnects(), log)
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load run: embedded server:", err)
			return metrics.ExitError
		}
		defer srv.Close()
		targets, files = []engine.Target{{WS: srv.URL, REST: srv.RESTURL}}, 2
		fmt.Fprintf(stdout, "embedded reference server %s at %s\n", server.Version, srv.URL)
	} else if targets, err = parseTargets(o.targets, o.rests); err != nil {
		return usage(err)
	} else if err := reachable(ctx, targets, reachWait); err != nil {
		fmt.Fprintln(stderr, "pkarena-load run:", err)
		return metrics.ExitError
	}
	if o.out == "" {
		o.out = filepath.Join("results", fmt.Sprintf("load-%s-%s", sc.Name, time.Now().Format("20060102-150405")))
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "pkarena-load run:", err)
		return metrics.ExitError
	}

	fmt.Fprintf(stdout, "scenario %s (%s, %s model): %d hosts, %d connections in all; shard %d/%d; ramp %v, run %v\n",
		sc.Name, sc.Kind, sc.Model, sc.Hosts, sc.Connections(), shard, shards, sc.RampUp.D(), sc.Duration.D())
	if getenv("GOGC") == "" {
		// Collect at half the live heap rather than all of it: the ramp's handshakes and the
		// battles' messages leave garbage worth a good part of the population, and the
		// agent's peak memory is what limits how many connections it holds. The price is
		// some CPU, measured in measurements/load-bench.md.
		debug.SetGCPercent(agentGCPercent)
	}
	info := metrics.RunInfo{
		Scenario: sc.Name, Model: sc.Model, Seed: int64(sc.Seed), Targets: targetNames(targets),
		Parameters: sc.Params(), Agent: o.agent, Version: server.Version,
	}
	if shards > 1 {
		info.Shard = fmt.Sprintf("%d/%d", shard, shards)
	}
	switch {
	case files == 2:
		info.NotJudged = "the embedded reference server shares its process and its CPU; give it a -target"
	case !o.judge:
		info.NotJudged = "-check-generator=false"
	}
	info.Parameters["run_id"] = o.runID
	rec := metrics.NewRecorder(metrics.Options{Interval: o.interval})
	// Each interval goes to metrics.hlog as it closes: a soak's memory does not grow with its
	// histograms, and its log can be read (and survives) while it runs.
	if err := rec.StreamResults(o.out, info); err != nil {
		fmt.Fprintln(stderr, "pkarena-load run: results:", err)
		return metrics.ExitError
	}
	if live != nil {
		live.showRun(rec, metrics.LiveLabels{Scenario: sc.Name, Shard: fmt.Sprintf("%d/%d", shard, shards), RunID: o.runID, Agent: o.agent})
	}
	progress := newProgressLine(stderr, o.quiet)
	tracer := &runTrace{path: o.trace, window: traceWindow, log: log}
	defer tracer.stop()
	res, runErr := engine.Run(ctx, engine.Config{
		Scenario: sc, Targets: targets, SDKAppID: o.sdkAppID, Secret: o.secret, Admin: o.admin,
		Shard: shard, Shards: shards, RunID: o.runID, SourceIPs: ips, Recorder: rec,
		Progress: progress.update, Logger: log, Drain: o.drain, FilesPerConnection: files,
		OnConnected: func() {
			writeHeapProfile(o.memProfile, log)
			startCPUProfile(o.cpuProfile, log)
			tracer.start()
		},
	})
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	progress.done()
	switch {
	case errors.Is(runErr, engine.ErrFileLimit), errors.Is(runErr, engine.ErrNoResume):
		fmt.Fprintln(stderr, "pkarena-load run:", runErr)
		return metrics.ExitUsage
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		fmt.Fprintln(stderr, "pkarena-load run:", runErr)
		return metrics.ExitError
	}
	sum, err := metrics.WriteResults(o.out, info, rec.Finish(time.Now()), thresholds)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load run: writing results:", err)
		return metrics.ExitError
	}
	whose := ""
	if files == 2 {
		whose = " (the embedded server's included)"
	}
	fmt.Fprintf(stdout, "\n%d of %d connections held; %d battles, %d gifts scored, %d churn cycles; %.0f bytes of Go memory per connection%s\n\n",
		res.Connected, res.Users, res.Battles, res.Gifts, res.ChurnCycles, res.BytesPerConnection, whose)
	return finish(o.out, sum, !o.noReport, runErr, stdout, stderr)
}

// finish prints the summary table and verdicts, renders the report, and returns the exit code.
func finish(dir string, sum *metrics.Summary, report bool, runErr error, stdout, stderr io.Writer) int {
	if err := metrics.WriteTable(stdout, sum); err != nil {
		fmt.Fprintln(stderr, "pkarena-load:", err)
		return metrics.ExitError
	}
	if report {
		path, err := reports.WriteLoadReportDir(dir)
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load: report:", err)
			return metrics.ExitError
		}
		fmt.Fprintf(stdout, "\nreport: %s\n", path)
	}
	fmt.Fprintf(stdout, "results: %s\n", dir)
	if runErr != nil {
		fmt.Fprintln(stderr, "pkarena-load: interrupted:", runErr)
		return metrics.ExitError
	}
	return sum.ExitCode()
}

// startCPUProfile starts a CPU profile into path, if path is set; pprof.StopCPUProfile ends it.
func startCPUProfile(path string, log *slog.Logger) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		log.Error("cpuprofile", "err", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Error("cpuprofile", "err", err)
		f.Close()
	}
}

// traceWindow is how long -trace traces: an execution trace grows by about a megabyte a second
// at 50,000 deliveries a second, and a few seconds hold hundreds of fan-outs.
const traceWindow = 5 * time.Second

// runTrace is -trace: an execution trace into path for window from start, or until stop.
// Its mutex owns f; start runs on the engine's goroutine, stop on the run's and a timer's.
type runTrace struct {
	path   string
	window time.Duration
	log    *slog.Logger

	mu sync.Mutex
	f  *os.File // the trace being written; nil: none
}

// start starts the trace, if a path is set.
func (t *runTrace) start() {
	if t.path == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.Create(t.path)
	if err != nil {
		t.log.Error("trace", "err", err)
		return
	}
	if err := trace.Start(f); err != nil {
		t.log.Error("trace", "err", err)
		f.Close()
		return
	}
	t.f = f
	time.AfterFunc(t.window, t.stop)
}

// stop ends the trace, if one is being written; it may be called more than once.
func (t *runTrace) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return
	}
	trace.Stop()
	if err := t.f.Close(); err != nil {
		t.log.Error("trace", "err", err)
	}
	t.f = nil
}

// writeHeapProfile writes a heap profile to path, if path is set.
func writeHeapProfile(path string, log *slog.Logger) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		log.Error("memprofile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		log.Error("memprofile", "err", err)
	}
}

// loadScenario reads a scenario by name or file and applies the -set overrides.
func loadScenario(name string, sets []string) (scenarios.Scenario, error) {
	var sc scenarios.Scenario
	var err error
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		data, rerr := os.ReadFile(name)
		if rerr != nil {
			return sc, fmt.Errorf("scenario file: %w", rerr)
		}
		sc, err = scenarios.Parse(data)
	} else {
		sc, err = scenarios.Load(name)
	}
	if err != nil {
		return sc, err
	}
	for _, kv := range sets {
		if err := sc.Set(kv); err != nil {
			return sc, err
		}
	}
	return sc, sc.Check()
}

// parseShard reads "i/n".
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/3", s)
	}
	return i, n, nil
}

// parseSourceIPs reads "a,b,c" or a range "127.0.0.2-127.0.0.9" (last byte only).
func parseSourceIPs(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a := net.ParseIP(from).To4()
		if a == nil && !isRange && net.ParseIP(part) != nil {
			out = append(out, part) // an IPv6 address
			continue
		}
		if a == nil {
			return nil, fmt.Errorf("source IPs %q: %q is not an IP address", s, from)
		}
		if !isRange {
			out = append(out, a.String())
			continue
		}
		b := net.ParseIP(to).To4()
		if b == nil || !a[:3].Equal(b[:3]) || b[3] < a[3] {
			return nil, fmt.Errorf("source IPs %q: a range is a.b.c.x-a.b.c.y with x <= y", s)
		}
		for x := int(a[3]); x <= int(b[3]); x++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(x)).String())
		}
	}
	return out, nil
}

// parseTargets pairs each WebSocket URL with its REST root (given, or its host over http).
func parseTargets(ws, rests []string) ([]engine.Target, error) {
	if len(rests) > 0 && len(rests) != len(ws) {
		return nil, fmt.Errorf("%d REST roots for %d targets: give one per target or none", len(rests), len(ws))
	}
	out := make([]engine.Target, len(ws))
	for i, w := range ws {
		u, err := url.Parse(w)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("target %q: want a ws:// or wss:// URL such as ws://127.0.0.1:7070%s", w, client.Path)
		}
		out[i].WS = w
		if len(rests) > 0 {
			r, err := url.Parse(rests[i])
			if err != nil || (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
				return nil, fmt.Errorf("REST root %q: want an http:// or https:// URL", rests[i])
			}
			out[i].REST = rests[i]
			continue
		}
		scheme := "http"
		if u.Scheme == "wss" {
			scheme = "https"
		}
		out[i].REST = scheme + "://" + u.Host
	}
	return out, nil
}

// reachWait is how long run waits for its targets to accept a TCP connection (a server
// started just before may still be binding its port).
const reachWait = 3 * time.Second

// reachable checks that every target accepts TCP connections within wait, so that a wrong
// address fails at once with the dial error rather than after a whole run of failed
// connections judged as breached thresholds.
func reachable(ctx context.Context, ts []engine.Target, wait time.Duration) error {
	for _, t := range ts {
		u, err := url.Parse(t.WS)
		if err != nil {
			return err
		}
		dctx, cancel := context.WithTimeout(ctx, wait)
		c, err := dialUntil(dctx, client.HostPort(u))
		cancel()
		if err != nil {
			return fmt.Errorf("target %s is unreachable: %w", t.WS, err)
		}
		c.Close()
	}
	return nil
}

// dialUntil dials host over TCP until it answers or ctx ends; the error is the last dial's.
func dialUntil(ctx context.Context, host string) (net.Conn, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", host)
		if err == nil {
			return c, nil
		}
		select { // refused: try again shortly
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func targetNames(ts []engine.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.WS
	}
	return out
}

// startEmbedded starts the reference server in this process, with the REST rate limit out
// of the way: a load run measures the server, not a limit meant for production callers.
func startEmbedded(appID uint64, secret, admin string, resume bool, log *slog.Logger) (*server.Running, error) {
	cfg := server.DefaultConfig()
	if resume { // the scenario drops connections and resumes them (SPEC §21)
		cfg.ResumeWindow = embeddedResumeWindow
	}
	cfg.SDKAppID, cfg.Secret, cfg.AdminIdentifiers = appID, secret, []string{admin}
	cfg.RESTRateLimit = embeddedRESTRate
	cfg.Logger = log
	return server.Start(cfg, "127.0.0.1:0")
}

// embeddedResumeWindow is the embedded server's resume window when the scenario reconnects.
const embeddedResumeWindow = 5 * time.Second

// refusedThreshold fails a reconnect run with a refused resume, unless the scenario allows
// them (reconnect.allow_refused).
const refusedThreshold = "resume.refused.count == 0"

// scenarioThresholds are the scenario's thresholds, with refusedThreshold for a scenario
// that reconnects and does not allow refusals.
func scenarioThresholds(sc scenarios.Scenario) []string {
	out := append([]string(nil), sc.Thresholds...)
	if sc.Reconnects() && !sc.Reconnect.AllowRefused && !slices.Contains(out, refusedThreshold) {
		out = append(out, refusedThreshold)
	}
	return out
}

// agentGCPercent is the load agent's GOGC unless the environment sets one.
const agentGCPercent = 50

// embeddedRESTRate is the embedded server's REST limit per second.
const embeddedRESTRate = 1_000_000

// randomID is a run ID: 6 hex digits.
func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "agent"
	}
	return h
}

// envLookup returns a function reading PKARENA_<name> with a default.
func envLookup(getenv func(string) string) func(name, def string) string {
	return func(name, def string) string {
		if v := getenv("PKARENA_" + name); v != "" {
			return v
		}
		return def
	}
}
