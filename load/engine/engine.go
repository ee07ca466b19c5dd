// Package engine runs a load scenario (fixtures/scenarios) against one or more servers: it
// connects this agent's share of the population on a ramp, forms connection groups, drives
// co-host churn, battles and gift streams (open or closed model), and records every latency in
// a metrics.Recorder, measured from the intended send time as well as from the actual one.
//
// The population is split into groups of rooms; group g belongs to the agent with
// g % Shards == Shard and lives on target g % len(Targets), so n agents and n servers share a
// run without any group spanning two of them.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/gifts"
	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
)

// Target is one server: its WebSocket endpoint and REST root.
type Target struct {
	WS   string
	REST string
}

// Config is one agent's run.
type Config struct {
	Scenario scenarios.Scenario
	Targets  []Target
	SDKAppID uint64
	Secret   string
	Admin    string
	// Shard and Shards split the population between agents (0 of 1: everything).
	Shard, Shards int
	// RunID keeps users and rooms apart from other runs on the same server; agents of one
	// distributed run share it.
	RunID string
	// SourceIPs are the local addresses connections are dialed from, in turn (empty: the
	// system's choice).
	SourceIPs []string
	// Recorder receives every measurement.
	Recorder *metrics.Recorder
	// Progress, when set, gets a snapshot every second for the live progress line.
	Progress func(metrics.Progress)
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// DialWorkers bounds concurrent dials (default 64).
	DialWorkers int
	// Drain bounds the wait, after the measured phase, for score changes still on their way
	// (default 5 s); what has not arrived then is lost.
	Drain time.Duration
	// OnConnected, when set, is called once the population is connected, before the measured
	// phase (pkarena-load run -memprofile writes a heap profile then).
	OnConnected func()
	// FilesPerConnection is how many open files one connection costs this process: 1, or 2
	// when the server runs in the same process (default 1). With the planned connections it
	// must fit under the open-file limit, or Run refuses to start (ErrFileLimit).
	FilesPerConnection int
}

// ErrFileLimit is a shard too large for the process's open-file limit: run more agents.
var ErrFileLimit = errors.New("engine: the open-file limit is too low for this shard")

// Result describes what the agent did.
type Result struct {
	Groups      int
	Users       int
	Connected   int
	Battles     int64
	Gifts       int64
	ChurnCycles int64
	// BytesPerConnection is the Go heap and stacks the connected population added, per open
	// connection; RSSPerConnection the process's whole resident memory per connection.
	BytesPerConnection float64
	RSSPerConnection   float64
}

// engine is one run's state. Its mutable parts each have one owner: per-user fields belong to
// that user's reader (one frame at a time; on Linux the reader is a goroutine shared by many
// connections, internal/wsread's pollers), per-battle fields to the battle's mutex, counters
// are atomic.
type engine struct {
	cfg     Config
	sc      scenarios.Scenario
	rec     *metrics.Recorder
	log     *slog.Logger
	rules   *gifts.Rules
	start   time.Time // the run's start
	measure time.Time // the measured phase's start (after the ramp)

	groups []*group
	users  []*user
	rests  []*client.REST // one per target

	heartbeatMs atomic.Int64 // the interval the first welcome advertised
	closing     atomic.Bool  // the run is closing its connections
	measuring   atomic.Bool  // the measured phase has begun (measure is set)
	ended       atomic.Bool  // the measured phase is over: late events of cut-short work are expected
	battles     atomic.Int64 // battles started
	giftsSent   atomic.Int64 // gifts scored
	churnDone   atomic.Int64 // churn cycles completed

	activeMu sync.Mutex
	active   []*battle // battles running now, for the gift pacers

	storm storm // the reconnect scenario's storm, for the time charts
}

// Run runs the scenario until its ramp and duration are over or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	rules, err := gifts.Load()
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, sc: cfg.Scenario, rec: cfg.Recorder, log: cfg.Logger, rules: rules, start: time.Now()}
	for _, t := range cfg.Targets {
		e.rests = append(e.rests, client.NewREST(client.RESTConfig{
			BaseURL: t.REST, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret, Identifier: cfg.Admin, HTTPClient: restHTTP,
		}))
	}
	e.plan()
	res := &Result{Groups: len(e.groups), Users: len(e.users)}
	if err := e.checkFiles(); err != nil {
		return res, err
	}
	if e.sc.Reconnects() {
		if err := e.checkResume(ctx); err != nil {
			return res, err
		}
	}
	baseline := heapInUse()
	defer e.closeAll()
	stopProgress := e.progress()
	defer stopProgress() // before closeAll: the gauges keep the run's last figures

	hbCtx, stopHeartbeats := context.WithCancel(ctx)
	var hbWG sync.WaitGroup
	e.startHeartbeats(hbCtx, &hbWG) // from the first connection on: the ramp may outlast the server's patience
	defer func() { stopHeartbeats(); hbWG.Wait() }()

	if err := e.connect(ctx); err != nil {
		return res, err
	}
	res.Connected = e.connected()
	res.BytesPerConnection, res.RSSPerConnection = memoryPerConnection(baseline, res.Connected)
	e.rec.Set(metrics.ConnectionsOpen, float64(res.Connected))
	e.rec.Set(metrics.MemoryPerConnection, res.BytesPerConnection)
	e.rec.Set(gaugeRSSPerConnection, res.RSSPerConnection)
	if cfg.OnConnected != nil {
		cfg.OnConnected()
	}
	e.log.Info("population connected", "users", res.Connected, "groups", len(e.groups), "bytes_per_conn", int(res.BytesPerConnection), "rss_per_conn", int(res.RSSPerConnection))

	e.measure = time.Now()
	e.rec.SetPhase(metrics.PhaseRamp, e.start, e.measure)
	e.measuring.Store(true)
	self := e.watchSelf()
	runCtx, cancel := context.WithTimeout(ctx, e.sc.Duration.D())
	defer cancel()
	var wg sync.WaitGroup
	e.runGroups(runCtx, &wg)
	e.startGifts(runCtx, &wg)
	e.startReconnects(runCtx, &wg)
	self.lag(runCtx, &wg)
	<-runCtx.Done()
	e.ended.Store(true)
	self.stop()
	e.rec.SetPhase(metrics.PhaseMeasured, e.measure, time.Now())
	wg.Wait()
	drainStart := time.Now()
	e.drain(context.WithoutCancel(ctx)) // an interrupted run too: what is on its way is not lost
	e.rec.SetPhase(metrics.PhaseDrain, drainStart, time.Now())
	if !e.storm.start.IsZero() { // set last: drawn over the others
		e.rec.SetPhase(PhaseStorm, e.storm.start, e.storm.end)
	}
	e.rec.Set(metrics.ConnectionsOpen, float64(e.connected())) // held to the end

	res.Battles, res.Gifts, res.ChurnCycles = e.battles.Load(), e.giftsSent.Load(), e.churnDone.Load()
	if errors.Is(ctx.Err(), context.Canceled) {
		return res, ctx.Err()
	}
	return res, nil
}

func checkConfig(cfg *Config) error {
	if err := cfg.Scenario.Check(); err != nil {
		return err
	}
	switch {
	case len(cfg.Targets) == 0:
		return errors.New("engine: no target")
	case cfg.Shards < 1 || cfg.Shard < 0 || cfg.Shard >= cfg.Shards:
		return fmt.Errorf("engine: shard %d of %d: want 0 <= shard < shards", cfg.Shard, cfg.Shards)
	case cfg.Recorder == nil:
		return errors.New("engine: no recorder")
	case cfg.RunID == "" || len(cfg.RunID) > 8 || strings.ContainsAny(cfg.RunID, " -"):
		return fmt.Errorf("engine: run ID %q: 1 to 8 characters without spaces or dashes", cfg.RunID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DialWorkers <= 0 {
		cfg.DialWorkers = 64
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 5 * time.Second
	}
	if cfg.FilesPerConnection <= 0 {
		cfg.FilesPerConnection = 1
	}
	return nil
}

// rng returns a deterministic generator for one purpose of this agent's share of the run:
// the same seed, shard and purpose draw the same values.
func (e *engine) rng(purpose uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(e.sc.Seed, purpose*0x9e3779b97f4a7c15+uint64(e.cfg.Shard)+1))
}

// sharedRNG returns a generator that draws the same values in every agent of a run: for what
// all of them must agree on, such as the kind of each group.
func (e *engine) sharedRNG(purpose uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(e.sc.Seed, purpose*0x9e3779b97f4a7c15))
}

// connected counts users whose connection is open.
func (e *engine) connected() int {
	n := 0
	for _, u := range e.users {
		if u.open() {
			n++
		}
	}
	return n
}

// closeAll ends every connection with a close handshake, so that the server ends each session
// at once (RESUME-001, LIVE-021) rather than keeping it for a resume, and a next run against it
// starts clean. Calls still in flight fail then, and those failures are not the server's:
// countError ignores them from here on. Every connection first says 1000 (many at a time),
// then the server's answers are awaited together, and a connection the server has not ended
// by then is dropped. Two things make the close frame arrive on a busy machine: its write
// waits until the shared deadline (closeAllWait from the start), not 100 ms from the call, so
// a stall of this process does not cancel it; and no socket is closed before the server has
// answered, since closing one with frames still unread resets it, and a server whose next
// write fails on the reset may end the connection before it has read the close frame.
func (e *engine) closeAll() {
	e.closing.Store(true)
	deadline := time.Now().Add(closeAllWait)
	var conns []*client.Client
	for _, u := range e.users {
		if c := u.conn(); c != nil {
			conns = append(conns, c)
		}
	}
	var wg sync.WaitGroup
	work := make(chan *client.Client)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				// After the shared deadline (a server that stopped reading) each frame still
				// gets closeFrameWait, as before: ending is bounded, not cut short.
				_ = c.SendClose(later(deadline, time.Now().Add(closeFrameWait)))
			}
		}()
	}
	for _, c := range conns {
		work <- c
	}
	close(work)
	wg.Wait()
	expired := make(chan struct{})
	t := time.AfterFunc(time.Until(later(deadline, time.Now().Add(closeAnswerWait))), func() { close(expired) })
	defer t.Stop()
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-expired:
			c.Kill() // no callback of it runs once Run has returned: Kill waits for its end
		}
	}
}

// How long closeAll waits: closeAllWait from its start for the close frames and the server's
// answers together; past it, closeFrameWait for each close frame and closeAnswerWait for the
// answers once every frame is sent.
const (
	closeAllWait    = 3 * time.Second
	closeFrameWait  = 100 * time.Millisecond
	closeAnswerWait = time.Second
)

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// countError records a failed operation: "errors" and "errors.<code>", or "errors.closed",
// "errors.timeout", "errors.transport" for failures without a code.
func (e *engine) countError(err error) {
	if err == nil || e.closing.Load() || errors.Is(err, errDropped) {
		return
	}
	e.rec.Add(metrics.Errors, 1)
	code := client.CodeOf(err)
	switch {
	case code > 0:
		e.rec.Add(metrics.ErrorCounter(code), 1)
	case errors.Is(err, client.ErrClosed):
		e.rec.Add("errors.closed", 1)
	case errors.Is(err, context.DeadlineExceeded):
		e.rec.Add("errors.timeout", 1)
	default:
		e.rec.Add("errors.transport", 1)
	}
}
