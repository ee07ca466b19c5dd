package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkarena/pkarena/load/bare"
	"github.com/pkarena/pkarena/load/metrics"
)

// fanoutOptions is the bench-fanout subcommand's command line.
type fanoutOptions struct {
	rates     []float64 // deliveries a second, the sweep
	rooms     int
	users     int
	warmup    time.Duration
	duration  time.Duration // measured at each rate of the sweep
	satDur    time.Duration // measured at each step of the saturation search
	saturate  bool
	satP99    time.Duration
	serverBin string
	out       string
	write     string
	profile   bool
	bareBytes int
	pipeline  int
	repeat    int
	strict    bool // exit ExitThresholds (1) when a target is missed
}

// Targets of issue 11, checked (never asserted in a test) by bench-fanout.
const (
	targetP99Ratio      = 1.5 // score fan-out p99, pkarena over bare, at a matched rate
	targetCPURatio      = 1.5 // CPU per delivery, server and generator together, over bare
	targetGenUsPerFrame = 8.0 // the generator's CPU per frame received, µs
	targetSatRatio      = 0.6 // saturated deliveries a second, pkarena over bare
)

// runFanoutBench is the side-by-side fan-out benchmark: at each rate of the sweep, the bare
// gorilla/websocket broadcaster (the physical limit) and then pkarena (the reference server
// and this load generator) deliver the same frames a second to one group of rooms × users,
// each side in processes of its own; then, optionally, each side's saturation is searched.
// It prints ratios and writes them (Markdown, JSON): absolute times move from run to run on
// a shared machine, ratios measured in one run much less.
func runFanoutBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o fanoutOptions
	fs := flag.NewFlagSet("pkarena-load bench-fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rates := fs.String("rates", "10000,25000,50000", "deliveries a second to compare at, comma-separated")
	fs.IntVar(&o.rooms, "rooms", 9, "rooms in the group (the protocol's limit is 9)")
	fs.IntVar(&o.users, "users", 50, "users per room, host included (the limit is 50)")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "bare reader: time before recording")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "time measured at each rate of the sweep (a p99 rests on the slowest 1% of fan-outs: 3 of 15 s at 10,000 deliveries a second, 13 of 60 s)")
	fs.DurationVar(&o.satDur, "saturation-duration", 15*time.Second, "time measured at each step of the saturation search")
	fs.BoolVar(&o.saturate, "saturate", true, "search each side's saturation after the sweep")
	fs.DurationVar(&o.satP99, "saturation-p99", 100*time.Millisecond, "a rate holds when at least 95% of it is delivered with p99 under this")
	fs.StringVar(&o.serverBin, "server-bin", "bin/pkarena-server", "the pkarena-server binary")
	fs.StringVar(&o.out, "out", filepath.Join("results", "bench-fanout"), "results folder")
	fs.StringVar(&o.write, "write", "", writeUsage)
	fs.BoolVar(&o.profile, "profile", false, "take CPU profiles of the reference server and the generator at each pkarena rate (in -out)")
	fs.IntVar(&o.pipeline, "score-pipeline", 8, "set_battle_score calls of the battle outstanding at once (score_pipeline): the bare broadcaster publishes on its schedule whatever the last publication did, and so may the generator")
	fs.IntVar(&o.repeat, "repeat", 1, "pairs measured at each rate, the two stacks' order alternating; ratios and verdicts are then the medians of the pairs', with their range (a shared machine moves single pairs by a fifth or more)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when any target of the run is missed (after writing its results); without it the verdicts are only written, and the exit is 0 once the run is measured")
	fs.IntVar(&o.bareBytes, "bare-bytes", 0, "the bare broadcaster's frame size; 0: the average size of the frames pkarena delivered at the same rate (measured just before)")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pkarena-load bench-fanout: "+format+"\n", a...)
		return metrics.ExitUsage
	}
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return usage("-rates %q: positive numbers, comma-separated", *rates)
		}
		o.rates = append(o.rates, v)
	}
	switch {
	case o.rooms < 2 || o.users < 1:
		return usage("-rooms at least 2 and -users at least 1")
	case o.duration < time.Second || o.satDur < time.Second || o.warmup < 0:
		return usage("-duration and -saturation-duration at least 1s, -warmup not negative")
	case o.pipeline < 1 || o.pipeline > 64:
		return usage("-score-pipeline 1..64")
	case o.repeat < 1 || o.repeat > 9:
		return usage("-repeat 1..9")
	}
	if _, err := os.Stat(o.serverBin); err != nil {
		return usage("server binary: %v (make build makes bin/pkarena-server)", err)
	}
	if o.write != "" {
		if err := checkFigures(o.write); err != nil {
			return usage("%v", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
		return metrics.ExitError
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
		return metrics.ExitError
	}
	b := &fanoutBench{o: o, self: self, stdout: stdout}
	fmt.Fprintln(stdout, o.banner())
	res := fanoutResult{Args: append([]string{"bench-fanout"}, args...), Rooms: o.rooms, Users: o.users, Seconds: o.duration.Seconds(), Repeat: o.repeat}
	if o.saturate {
		res.SatSeconds = o.satDur.Seconds()
	}
	for _, r := range o.rates {
		for k := range o.repeat {
			// pkarena first: the bare broadcaster then sends frames of the size pkarena's
			// were, so that both move the same bytes and the ratio is the cost of the stack.
			// Repeated pairs alternate the order, so that a drift of the machine's speed
			// favours neither side.
			order := []string{stackPkarena, stackBare}
			if k%2 == 1 {
				order = []string{stackBare, stackPkarena}
			}
			pair := fanoutPair{Rate: r}
			for _, stack := range order {
				st, err := b.step(ctx, stack, r, o.duration)
				if err != nil {
					fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
					return metrics.ExitError
				}
				if stack == stackBare {
					pair.Bare = st
				} else {
					pair.Pkarena = st
				}
			}
			fmt.Fprintln(stdout, pair.line())
			res.Sweep = append(res.Sweep, pair)
		}
	}
	if o.saturate {
		for _, stack := range []string{stackPkarena, stackBare} {
			sat, steps, err := b.saturation(ctx, stack, res.Sweep)
			if err != nil {
				fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
				return metrics.ExitError
			}
			if stack == stackBare {
				res.BareSaturation, res.BareSearch = sat, steps
			} else {
				res.PkarenaSaturation, res.PkarenaSearch = sat, steps
			}
		}
	}
	res.End = time.Now().UTC()
	res.Targets = res.targets()
	md := res.markdown()
	fmt.Fprint(stdout, "\n"+md)
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(o.out, "fanout.json"), append(data, '\n'), 0o644); err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
		return metrics.ExitError
	}
	if o.write != "" {
		if err := writeFigures(o.write, md); err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench-fanout:", err)
			return metrics.ExitError
		}
		fmt.Fprintln(stdout, "figures put at the top of", o.write)
	}
	return verdictExit(o.strict, res.Targets, stderr)
}

// The two stacks compared.
const (
	stackBare    = "bare"
	stackPkarena = "pkarena"
)

// fanoutBench runs the steps of one benchmark.
type fanoutBench struct {
	o         fanoutOptions
	self      string
	stdout    io.Writer
	n         int // steps run, for folder names
	lastBytes int // the average size of the frames pkarena delivered in its last step
}

// frameBytes is the bare broadcaster's frame size: -bare-bytes, else the size of pkarena's
// frames in its last step, else bare.FrameBytes.
func (b *fanoutBench) frameBytes() int {
	switch {
	case b.o.bareBytes > 0:
		return b.o.bareBytes
	case b.lastBytes > 0:
		return b.lastBytes
	}
	return bare.FrameBytes
}

func (b *fanoutBench) recipients() int { return b.o.rooms * b.o.users }

// banner is bench-fanout's first line: the group, how long each rate of the sweep and each
// step of the saturation search is measured, and where the results go.
func (o fanoutOptions) banner() string {
	measured := fmt.Sprintf("%v at each rate", o.duration)
	if o.saturate {
		measured += fmt.Sprintf(", %v at each step of the saturation search", o.satDur)
	}
	return fmt.Sprintf("bench-fanout: one group of %d rooms × %d users (%d recipients of every frame); %s; results in %s",
		o.rooms, o.users, o.rooms*o.users, measured, o.out)
}

// fanoutStep is one stack at one offered rate.
type fanoutStep struct {
	Stack    string  `json:"stack"`
	Offered  float64 `json:"offered_per_s"`
	Achieved float64 `json:"achieved_per_s"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	// FirstP50 and FirstP99 are the latencies of each frame's first delivery (its earliest
	// arrival at any of its connections): the start of a fan-out, before its spread.
	FirstP50  float64 `json:"first_p50_ms"`
	FirstP99  float64 `json:"first_p99_ms"`
	Frames    int64   `json:"deliveries"`
	Window    float64 `json:"window_s"`
	ServerCPU float64 `json:"server_cpu_s"`
	GenCPU    float64 `json:"generator_cpu_s"`
	GenSys    float64 `json:"generator_system_s"` // of GenCPU, the kernel's (system time)
	GenFrames int64   `json:"generator_frames"`   // every frame the generator read (replies too)
	Bytes     int     `json:"frame_bytes"`        // the frames' average size
	Lost      int64   `json:"lost"`
	Dropped   int64   `json:"dropped"`
	Late      int64   `json:"late"`
	Bottle    string  `json:"generator_verdict,omitempty"`
	Holds     bool    `json:"holds"`
	Dir       string  `json:"dir"`
}

// ServerUs, GenUs and TotalUs are CPU microseconds per delivery.
func (s fanoutStep) ServerUs() float64 { return perDelivery(s.ServerCPU, s.Frames) }
func (s fanoutStep) GenUs() float64    { return perDelivery(s.GenCPU, s.Frames) }
func (s fanoutStep) TotalUs() float64  { return perDelivery(s.ServerCPU+s.GenCPU, s.Frames) }

// GenUsPerFrame is the generator's CPU per frame it read, µs; GenSysPerFrame the kernel's
// part of it (system time).
func (s fanoutStep) GenUsPerFrame() float64  { return perDelivery(s.GenCPU, s.GenFrames) }
func (s fanoutStep) GenSysPerFrame() float64 { return perDelivery(s.GenSys, s.GenFrames) }

func perDelivery(cpu float64, n int64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return cpu * 1e6 / float64(n)
}

// step runs one stack at one rate, measuring for d.
func (b *fanoutBench) step(ctx context.Context, stack string, rate float64, d time.Duration) (fanoutStep, error) {
	b.n++
	dir := filepath.Join(b.o.out, fmt.Sprintf("%02d-%s-%.0f", b.n, stack, rate))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fanoutStep{}, err
	}
	var st fanoutStep
	var err error
	if stack == stackBare {
		st, err = b.bareStep(ctx, rate, d, dir)
	} else {
		st, err = b.pkarenaStep(ctx, rate, d, dir)
	}
	if err != nil {
		return st, fmt.Errorf("%s at %.0f deliveries/s: %w (logs in %s)", stack, rate, err, dir)
	}
	st.Stack, st.Offered, st.Dir = stack, rate, dir
	if st.Window > 0 {
		st.Achieved = float64(st.Frames) / st.Window
	}
	st.Holds = st.Achieved >= 0.95*rate && st.P99 <= ms(b.o.satP99) && st.Lost == 0 && st.Dropped == 0 && st.Bottle == ""
	return st, nil
}

// bareStep: the broadcaster and the reader.
func (b *fanoutBench) bareStep(ctx context.Context, rate float64, d time.Duration, dir string) (fanoutStep, error) {
	n := b.recipients()
	size := b.frameBytes()
	srv, addr, err := startListening(ctx, b.self, []string{"bare-server", "-rate", ftoa(rate / float64(n)), "-connections", strconv.Itoa(n), "-frame-bytes", strconv.Itoa(size)}, filepath.Join(dir, "bare-server.log"))
	if err != nil {
		return fanoutStep{}, err
	}
	defer srv.stop()
	cpu := watchCPU(srv.cmd.Process.Pid)
	defer cpu.stop()
	out := filepath.Join(dir, "reader")
	cl, err := startProcess(ctx, b.self, []string{"bare-client", "-target", "ws://" + addr + bare.Path, "-connections", strconv.Itoa(n),
		"-warmup", b.o.warmup.String(), "-duration", d.String(), "-out", out}, filepath.Join(dir, "bare-client.log"))
	if err != nil {
		return fanoutStep{}, err
	}
	if err := cl.Wait(); err != nil {
		return fanoutStep{}, fmt.Errorf("bare-client: %w", err)
	}
	s, err := metrics.ReadSummary(out)
	if err != nil {
		return fanoutStep{}, err
	}
	st, err := stepFrom(s, bare.Metric, bare.MetricFirst, cpu)
	if err != nil {
		return st, err
	}
	srv.stop()
	st.Dropped, st.Bytes = srv.dropped(), size
	return st, nil
}

// pkarenaStep: the reference server and a load agent playing the fanout scenario with one
// group, its battle started at once and lasting past the run, gifts at rate / recipients.
func (b *fanoutBench) pkarenaStep(ctx context.Context, rate float64, d time.Duration, dir string) (fanoutStep, error) {
	n := b.recipients()
	args := []string{"-rest-rate-limit", "1000000", "-log-level", "warn"}
	if b.o.profile {
		args = append(args, "-pprof", "127.0.0.1:0")
	}
	srv, err := startServer(ctx, b.o.serverBin, args, filepath.Join(dir, "server.log"))
	if err != nil {
		return fanoutStep{}, err
	}
	defer srv.stop()
	cpu := watchCPU(srv.cmd.Process.Pid)
	defer cpu.stop()
	out := filepath.Join(dir, "agent")
	agentArgs := []string{"run", "-scenario", "fanout", "-target", srv.url, "-out", out, "-no-report", "-quiet",
		"-set", "hosts=" + strconv.Itoa(b.o.rooms), "-set", "group_size=" + strconv.Itoa(b.o.rooms),
		"-set", "audience_per_room=" + strconv.Itoa(b.o.users-1), "-set", "gift_rate=" + ftoa(rate/float64(n)),
		"-set", "ramp_up=1s", "-set", "duration=" + d.String(), "-set", "battle_stagger=0s",
		"-set", "score_pipeline=" + strconv.Itoa(b.o.pipeline),
		"-set", "battle_duration=" + strconv.Itoa(int(d.Seconds())+120) + "s"}
	if b.o.profile {
		agentArgs = append(agentArgs, "-cpuprofile", filepath.Join(dir, "generator.pprof"))
	}
	ag, err := startProcess(ctx, b.self, agentArgs, filepath.Join(dir, "agent.log"))
	if err != nil {
		return fanoutStep{}, err
	}
	var prof sync.WaitGroup
	if b.o.profile && srv.pprof != "" {
		prof.Add(1)
		go func() { // the server's profile over most of the measured phase
			defer prof.Done()
			if sleep(ctx, 3*time.Second) {
				_ = fetchProfile(srv.pprof, d-3*time.Second, filepath.Join(dir, "server.pprof"))
			}
		}()
	}
	werr := ag.Wait()
	prof.Wait()
	if code := exitCode(werr); code == metrics.ExitError || code == metrics.ExitUsage {
		return fanoutStep{}, fmt.Errorf("the load agent exited %d", code)
	}
	s, err := metrics.ReadSummary(out)
	if err != nil {
		return fanoutStep{}, err
	}
	st, err := stepFrom(s, metrics.ScoreFanout, metrics.ScoreFanoutFirst, cpu)
	if err != nil {
		return st, err
	}
	st.Lost, st.Late = s.Counters[metrics.Lost], s.Counters[metrics.Late]
	if st.GenFrames > 0 {
		st.Bytes = int(s.Counters[metrics.BytesReceived] / st.GenFrames)
		b.lastBytes = st.Bytes
	}
	if s.Generator != nil && s.Generator.Bottleneck {
		st.Bottle = s.Generator.Verdict()
	}
	return st, nil
}

// stepFrom reads a step's figures from the generator's summary (metric for every delivery,
// first for each frame's first) and the server's CPU over its measured phase.
func stepFrom(s *metrics.Summary, metric, first string, cpu *cpuWatch) (fanoutStep, error) {
	var st fanoutStep
	var window metrics.Phase
	for _, p := range s.Phases {
		if p.Name == metrics.PhaseMeasured {
			window = p
		}
	}
	if window.End.IsZero() {
		return st, errors.New("the generator's summary has no measured phase")
	}
	m := s.Metric(metric)
	if m == nil {
		return st, fmt.Errorf("the generator recorded no %s", metric)
	}
	c := m.Stats(metrics.Corrected)
	st.P50, st.P99, st.Frames = c.P50, c.P99, c.Count
	f := s.Metric(first)
	if f == nil {
		return st, fmt.Errorf("the generator recorded no %s", first)
	}
	fc := f.Stats(metrics.Corrected)
	st.FirstP50, st.FirstP99 = fc.P50, fc.P99
	st.Window = window.End.Sub(window.Start).Seconds()
	st.GenCPU = s.Gauges[metrics.GeneratorCPUSeconds]
	st.GenSys = s.Gauges[metrics.GeneratorCPUSystem]
	st.GenFrames = s.Counters[metrics.FramesReceived]
	st.ServerCPU = cpu.between(window.Start, window.End).Seconds()
	return st, nil
}

// saturation searches the highest rate a stack holds (fanoutStep.Holds): up from the sweep's
// highest holding rate by a quarter at a time until one fails, then halving the gap twice.
func (b *fanoutBench) saturation(ctx context.Context, stack string, sweep []fanoutPair) (fanoutStep, []fanoutStep, error) {
	var best fanoutStep
	for _, p := range sweep {
		if st := p.of(stack); st.Holds && st.Offered > best.Offered {
			best = st
		}
	}
	if best.Offered == 0 {
		best.Offered = sweep[0].Rate / 2 // nothing held: search below the sweep
	}
	var steps []fanoutStep
	lo, hi := best.Offered, 0.0
	for i := 0; i < 12 && hi == 0; i++ {
		st, err := b.step(ctx, stack, lo*1.25, b.o.satDur)
		if err != nil {
			return best, steps, err
		}
		steps = append(steps, st)
		fmt.Fprintln(b.stdout, "saturation search:", st.short())
		if st.Holds {
			best, lo = st, st.Offered
		} else {
			hi = st.Offered
		}
	}
	for i := 0; i < 2 && hi > 0; i++ {
		st, err := b.step(ctx, stack, (lo+hi)/2, b.o.satDur)
		if err != nil {
			return best, steps, err
		}
		steps = append(steps, st)
		fmt.Fprintln(b.stdout, "saturation search:", st.short())
		if st.Holds {
			best, lo = st, st.Offered
		} else {
			hi = st.Offered
		}
	}
	return best, steps, nil
}

// fanoutPair is both stacks at one rate.
type fanoutPair struct {
	Rate    float64    `json:"rate_per_s"`
	Bare    fanoutStep `json:"bare"`
	Pkarena fanoutStep `json:"pkarena"`
}

func (p fanoutPair) of(stack string) fanoutStep {
	if stack == stackBare {
		return p.Bare
	}
	return p.Pkarena
}

// line is the pair on one line, for the console.
func (p fanoutPair) line() string {
	return fmt.Sprintf("%.0f deliveries/s:\n  %s\n  %s\n  ratios pkarena/bare: p50 %.2f, p99 %.2f, CPU per delivery %.2f",
		p.Rate, p.Bare.short(), p.Pkarena.short(), p.Pkarena.P50/p.Bare.P50, p.Pkarena.P99/p.Bare.P99, p.Pkarena.TotalUs()/p.Bare.TotalUs())
}

// short is a step on one line.
func (s fanoutStep) short() string {
	holds := "holds"
	if !s.Holds {
		holds = "does not hold"
	}
	extra := ""
	if s.Lost+s.Dropped > 0 {
		extra = fmt.Sprintf(", %d lost, %d dropped", s.Lost, s.Dropped)
	}
	if s.Bottle != "" {
		extra += "; " + s.Bottle
	}
	return fmt.Sprintf("%-7s offered %6.0f/s achieved %6.0f/s  %4d B  p50 %6.2f ms  p99 %7.2f ms  first p50 %5.2f p99 %5.2f ms  CPU %5.1f µs a delivery (server %5.1f + generator %5.1f; generator %.1f µs a frame read, %.1f of it in the kernel)  %s%s",
		s.Stack, s.Offered, s.Achieved, s.Bytes, s.P50, s.P99, s.FirstP50, s.FirstP99, s.TotalUs(), s.ServerUs(), s.GenUs(), s.GenUsPerFrame(), s.GenSysPerFrame(), holds, extra)
}

// fanoutResult is the whole benchmark, written as fanout.json and Markdown.
type fanoutResult struct {
	Args              []string     `json:"args"`
	End               time.Time    `json:"end"`
	Rooms             int          `json:"rooms"`
	Users             int          `json:"users"`
	Seconds           float64      `json:"seconds_per_step"`
	SatSeconds        float64      `json:"seconds_per_saturation_step,omitempty"`
	Repeat            int          `json:"pairs_per_rate"`
	Sweep             []fanoutPair `json:"sweep"`
	BareSaturation    fanoutStep   `json:"bare_saturation"`
	PkarenaSaturation fanoutStep   `json:"pkarena_saturation"`
	BareSearch        []fanoutStep `json:"bare_search,omitempty"`
	PkarenaSearch     []fanoutStep `json:"pkarena_search,omitempty"`
	// Targets are issue 11's targets judged on the run, as the write-up gives them.
	Targets []fanoutTarget `json:"targets"`
}

// The ratios of a pair, pkarena over bare, and the generator's cost per frame.
var (
	ratioP50    = func(p fanoutPair) float64 { return p.Pkarena.P50 / p.Bare.P50 }
	ratioP99    = func(p fanoutPair) float64 { return p.Pkarena.P99 / p.Bare.P99 }
	ratioCPU    = func(p fanoutPair) float64 { return p.Pkarena.TotalUs() / p.Bare.TotalUs() }
	ratioServer = func(p fanoutPair) float64 { return p.Pkarena.ServerUs() / p.Bare.ServerUs() }
	ratioGen    = func(p fanoutPair) float64 { return p.Pkarena.GenUs() / p.Bare.GenUs() }
	genPerFrame = func(p fanoutPair) float64 { return p.Pkarena.GenUsPerFrame() }
	genSys      = func(p fanoutPair) float64 { return p.Pkarena.GenSysPerFrame() }
	bareFrame   = func(p fanoutPair) float64 { return p.Bare.GenUsPerFrame() }
	bareSys     = func(p fanoutPair) float64 { return p.Bare.GenSysPerFrame() }
	genUser     = func(p fanoutPair) float64 { return p.Pkarena.GenUsPerFrame() - p.Pkarena.GenSysPerFrame() }
	bareUser    = func(p fanoutPair) float64 { return p.Bare.GenUsPerFrame() - p.Bare.GenSysPerFrame() }
)

// spread is a figure over the pairs measured at one rate: its median, least and greatest.
type spread struct {
	med, lo, hi float64
	n           int
}

// spreadOf is f over pairs (at least one).
func spreadOf(pairs []fanoutPair, f func(fanoutPair) float64) spread {
	v := make([]float64, len(pairs))
	for i, p := range pairs {
		v[i] = f(p)
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return spread{med: med, lo: v[0], hi: v[n-1], n: n}
}

// String is the median, with the range when there was more than one pair.
func (s spread) String() string {
	if s.n <= 1 {
		return fmt.Sprintf("%.2f", s.med)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", s.med, s.lo, s.hi)
}

// byRate is the sweep's pairs grouped by rate, in the order the rates were run.
func (r fanoutResult) byRate() [][]fanoutPair {
	var groups [][]fanoutPair
	for _, p := range r.Sweep {
		if n := len(groups); n > 0 && groups[n-1][0].Rate == p.Rate {
			groups[n-1] = append(groups[n-1], p)
			continue
		}
		groups = append(groups, []fanoutPair{p})
	}
	return groups
}

// worst is the greatest median of f over the rates.
func (r fanoutResult) worst(f func(fanoutPair) float64) float64 {
	v, _ := r.worstRate(f)
	return v
}

// worstRate is worst and the pairs of the rate it was found at.
func (r fanoutResult) worstRate(f func(fanoutPair) float64) (float64, []fanoutPair) {
	v := math.Inf(-1)
	var at []fanoutPair
	for _, g := range r.byRate() {
		if m := spreadOf(g, f).med; m > v {
			v, at = m, g
		}
	}
	return v, at
}

// markdown is the benchmark's write-up: the command, a table per rate, the saturation and
// the targets with their verdicts.
func (r fanoutResult) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "## Fan-out: pkarena beside a bare gorilla/websocket broadcaster, %s\n\n", r.End.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&w, "Command: `pkarena-load %s` (make bench-fanout). One group of %d rooms × %d users: every frame reaches %d connections. Each side runs in processes of its own on this machine, one after the other (pkarena first; the bare broadcaster then sends frames of the size pkarena's were, so both move the same bytes), %.0f s measured per rate. CPU is per delivery (one frame to one connection), user and system, over the measured window; latencies are from the moment the frame (bare) or the gift (pkarena: REST `set_battle_score`, then the fan-out) was due to the kernel's receive time of the frame at the reader (Linux), before the reader was scheduled to read it; \"first\" is each frame's earliest arrival at any of its connections, the start of the fan-out before its spread. Only the ratios carry from machine to machine.",
		strings.Join(r.Args, " "), r.Rooms, r.Users, r.Rooms*r.Users, r.Seconds)
	if r.Repeat > 1 {
		fmt.Fprintf(&w, " %d pairs were measured at each rate, the order of the two stacks alternating (bare first in the second pair); each ratio below is the median of the pairs' ratios, with their range in brackets, and the verdicts are on the medians.", r.Repeat)
	}
	w.WriteString("\n\n")
	w.WriteString("| rate /s | stack | achieved /s | frame bytes | p50 ms | p99 ms | first p50 ms | first p99 ms | CPU µs/delivery | server | generator | generator µs/frame | of it kernel |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.Sweep {
		for _, s := range []fanoutStep{p.Bare, p.Pkarena} {
			fmt.Fprintf(&w, "| %.0f | %s | %.0f | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", p.Rate, s.Stack, s.Achieved, s.Bytes, s.P50, s.P99, s.FirstP50, s.FirstP99, s.TotalUs(), s.ServerUs(), s.GenUs(), s.GenUsPerFrame(), s.GenSysPerFrame())
		}
	}
	w.WriteString("\nRatios, pkarena over bare (lower is better, 1 is the limit):\n\n| rate /s | p50 | p99 | CPU per delivery | server | generator |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range r.byRate() {
		fmt.Fprintf(&w, "| %.0f | %s | %s | %s | %s | %s |\n", g[0].Rate, spreadOf(g, ratioP50), spreadOf(g, ratioP99),
			spreadOf(g, ratioCPU), spreadOf(g, ratioServer), spreadOf(g, ratioGen))
	}
	if r.BareSaturation.Offered > 0 {
		fmt.Fprintf(&w, "\nSaturation (the highest rate delivered at 95%% or more with p99 under the bound, nothing lost or dropped; %.0f s measured a step): bare %.0f /s, pkarena %.0f /s: **%.2f×**.\n",
			r.SatSeconds, r.BareSaturation.Achieved, r.PkarenaSaturation.Achieved, r.PkarenaSaturation.Achieved/r.BareSaturation.Achieved)
	}
	worstOf := "worst in this run"
	if r.Repeat > 1 {
		worstOf = "worst median in this run"
	}
	fmt.Fprintf(&w, "\nTargets (issue 11), at each matched rate:\n\n| target | %s | verdict |\n|---|---:|---|\n", worstOf)
	for _, t := range r.targets() {
		verdict := "**missed**"
		if t.Met {
			verdict = "met"
		}
		fmt.Fprintf(&w, "| %s | %s | %s |\n", t.Target, t.Observed, verdict)
	}
	gen, genAt := r.worstRate(genPerFrame)
	if len(genAt) > 0 && spreadOf(genAt, bareSys).med > 0 {
		fmt.Fprintf(&w, "\nThe generator's CPU a frame where it was highest (%.0f deliveries/s; medians): %.1f µs, of it %.1f in the kernel (system time) and %.1f in its own code (user time); the bare reader's %.1f µs, of it %.1f in the kernel and %.1f in its code. The kernel's part is mostly the receive path of each frame's TCP segment (the read, its acknowledgement, the firewall's connection tracking) and the wake-ups of the reading threads.\n",
			genAt[0].Rate, gen, spreadOf(genAt, genSys).med, spreadOf(genAt, genUser).med,
			spreadOf(genAt, bareFrame).med, spreadOf(genAt, bareSys).med, spreadOf(genAt, bareUser).med)
	}
	return w.String()
}

// fanoutTarget is one target of issue 11 judged on a run: the worst median over the rates
// (or the saturation ratio) against its bound.
type fanoutTarget struct {
	Target   string  `json:"target"`   // the target, its bound included
	Value    float64 `json:"value"`    // the run's figure: a ratio, or µs a frame
	Observed string  `json:"observed"` // Value for people, with its unit
	Met      bool    `json:"met"`
}

// targets judges the run against issue 11's targets, in the order the write-up gives them;
// the saturation target only when the saturation was searched.
func (r fanoutResult) targets() []fanoutTarget {
	p99, cpu := r.worst(ratioP99), r.worst(ratioCPU)
	gen, genAt := r.worstRate(genPerFrame)
	// Beside the generator's figure, the bare reader's at the same rate: a reader that only
	// timestamps frames shows what reading one costs here, the floor under the target.
	floor := ""
	if b := spreadOf(genAt, bareFrame).med; len(genAt) > 0 && b > 0 {
		floor = fmt.Sprintf(" (bare reader %.1f)", b)
	}
	ts := []fanoutTarget{
		{Target: fmt.Sprintf("score fan-out p99 ≤ %.1f× bare", targetP99Ratio), Value: p99, Met: p99 <= targetP99Ratio},
		{Target: fmt.Sprintf("CPU per delivery, server + generator ≤ %.1f× bare", targetCPURatio), Value: cpu, Met: cpu <= targetCPURatio},
		{Target: fmt.Sprintf("generator ≤ %.0f µs CPU per frame received", targetGenUsPerFrame), Value: gen, Met: gen <= targetGenUsPerFrame},
	}
	ts[0].Observed = shown(p99, 2, ts[0].Met, targetP99Ratio) + "×"
	ts[1].Observed = shown(cpu, 2, ts[1].Met, targetCPURatio) + "×"
	ts[2].Observed = shown(gen, 1, ts[2].Met, targetGenUsPerFrame) + " µs" + floor
	if r.BareSaturation.Offered > 0 {
		sat := r.PkarenaSaturation.Achieved / r.BareSaturation.Achieved
		met := sat >= targetSatRatio
		ts = append(ts, fanoutTarget{Target: fmt.Sprintf("saturated deliveries/s ≥ %.1f× bare", targetSatRatio), Value: sat, Observed: shown(sat, 2, met, targetSatRatio) + "×", Met: met})
	}
	return ts
}

// shown is v with the given decimals, or as many more as it takes (up to six) for a missed
// figure not to round onto its bound: 0.59999 of a 0.6 target reads 0.59999, not 0.60,
// beside "missed".
func shown(v float64, decimals int, met bool, bound float64) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	for d := decimals + 1; !met && d <= 6; d++ {
		if r, err := strconv.ParseFloat(s, 64); err != nil || r != bound {
			break
		}
		s = strconv.FormatFloat(v, 'f', d, 64)
	}
	return s
}

// verdictExit is bench-fanout's exit once its results are written: ExitOK, or with -strict
// ExitThresholds when a target was missed, each one named on stderr.
func verdictExit(strict bool, ts []fanoutTarget, stderr io.Writer) int {
	var missed []string
	for _, t := range ts {
		if !t.Met {
			missed = append(missed, t.Target+" ("+t.Observed+")")
		}
	}
	if !strict || len(missed) == 0 {
		return metrics.ExitOK
	}
	fmt.Fprintf(stderr, "pkarena-load bench-fanout: -strict: %d of %d targets missed: %s\n", len(missed), len(ts), strings.Join(missed, "; "))
	return metrics.ExitThresholds
}

// child is a process started for a step: it prints "listening ADDR" first (bare-server).
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	log   *os.File
	once  sync.Once
	tail  string // what it printed after its address
}

// startListening starts bin args, copies its output to logPath and returns the address it
// says it listens on.
func startListening(ctx context.Context, bin string, args []string, logPath string) (*child, string, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), log: logf}
	line, err := c.out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		c.stop()
		return nil, "", fmt.Errorf("%s did not say where it listens (%q, %v)", bin, line, err)
	}
	return c, addr, nil
}

// stop closes the child's stdin, which ends it, and waits for it.
func (c *child) stop() {
	c.once.Do(func() {
		c.stdin.Close()
		rest, _ := io.ReadAll(c.out)
		c.tail = string(rest)
		_, _ = c.log.WriteString(c.tail)
		_ = c.cmd.Wait()
		c.log.Close()
	})
}

// dropped is the frames the bare broadcaster's queues refused, from what it printed at the end.
func (c *child) dropped() int64 {
	var sent, dropped int64
	fmt.Sscanf(c.tail, "sent %d frames, %d dropped", &sent, &dropped)
	return dropped
}

// serverChild is a reference server started for a step.
type serverChild struct {
	cmd   *exec.Cmd
	url   string
	pprof string // host:port of its pprof listener, when asked for
}

// startServer starts the reference server on a free port and waits until it serves.
func startServer(ctx context.Context, bin string, args []string, logPath string) (*serverChild, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-listen", addr}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &serverChild{cmd: cmd, url: "ws://" + addr + "/v1/ws"}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() { // the banner lines, until the one that says it listens
		line := lines.Text()
		fmt.Fprintln(logf, line)
		if i := strings.Index(line, "pprof on http://"); i >= 0 {
			s.pprof = strings.Fields(line[i+len("pprof on http://"):])[0]
			s.pprof = strings.TrimSuffix(s.pprof, "/debug/pprof/")
		}
		if strings.Contains(line, "listening on") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := waitListening(addr, 10*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *serverChild) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// fetchProfile saves a CPU profile of d from a pprof listener.
func fetchProfile(addr string, d time.Duration, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
