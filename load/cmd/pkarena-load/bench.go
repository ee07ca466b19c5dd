package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
)

// benchOptions is the bench subcommand's command line.
type benchOptions struct {
	connections int
	audience    int
	servers     int
	agents      int
	serverBin   string
	scenario    string
	sets        repeatFlag
	out         string
	write       string
	ipsPerAgent int
	strict      bool // exit ExitThresholds when a memory target is missed
}

// runBench is the scale benchmark on one machine: servers reference server processes and
// agents load agents (this binary's run subcommand, -shard i/n) share the scale scenario, each
// agent dialing from its own loopback addresses; their results are merged and the figures
// written. Processes, not goroutines: one process may hold fewer open files than the run
// needs, and the agents' memory must not mix with the servers'.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var o benchOptions
	fs := flag.NewFlagSet("pkarena-load bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.connections, "connections", 50000, "WebSocket connections in all: hosts × (1 + audience)")
	fs.IntVar(&o.audience, "audience", 4, "viewers per room")
	fs.IntVar(&o.servers, "servers", 3, "reference server processes")
	fs.IntVar(&o.agents, "agents", 3, "load agent processes")
	fs.StringVar(&o.serverBin, "server-bin", "bin/pkarena-server", "the pkarena-server binary")
	fs.StringVar(&o.scenario, "scenario", "scale", "scenario name or file")
	fs.Var(&o.sets, "set", "override a scenario parameter (repeatable); keys: "+strings.Join(scenarios.SetKeys, ", "))
	fs.StringVar(&o.out, "out", filepath.Join("results", "bench"), "results folder: one sub-folder per agent, and merged/")
	fs.StringVar(&o.write, "write", "", writeUsage)
	fs.IntVar(&o.ipsPerAgent, "ips-per-agent", 4, "loopback source addresses per agent (127.0.0.2 on)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a memory target is missed or cannot be judged (not every connection held), unless the run's own exit is graver (4, 5); without it the memory verdicts are only written")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pkarena-load bench: "+format+"\n", a...)
		return metrics.ExitUsage
	}
	switch {
	case o.servers < 1 || o.agents < 1 || o.ipsPerAgent < 1:
		return usage("-servers, -agents and -ips-per-agent must be at least 1")
	case o.audience < 0 || o.connections < 2*(1+o.audience):
		return usage("-connections %d with -audience %d: at least two rooms are needed", o.connections, o.audience)
	case 2+o.agents*o.ipsPerAgent > 255:
		return usage("%d agents × %d addresses do not fit in 127.0.0.2-127.0.0.254", o.agents, o.ipsPerAgent)
	}
	hosts := o.connections / (1 + o.audience)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench:", err)
		return metrics.ExitError
	}
	if _, err := os.Stat(o.serverBin); err != nil {
		return usage("server binary: %v (make build makes bin/pkarena-server)", err)
	}
	if o.write != "" {
		if err := checkFigures(o.write); err != nil {
			return usage("%v", err)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench:", err)
		return metrics.ExitError
	}

	servers, err := startServers(o.servers, o.serverBin, o.out)
	defer stopAll(servers)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench:", err)
		return metrics.ExitError
	}
	var targets []string
	for _, s := range servers {
		targets = append(targets, s.url)
	}
	fmt.Fprintf(stdout, "bench: %d connections (%d hosts × %d viewers), %d servers, %d agents; logs in %s\n",
		hosts*(1+o.audience), hosts, o.audience, o.servers, o.agents, o.out)

	runID := randomID()
	var dirs []string
	var agents []*exec.Cmd
	for i := 0; i < o.agents; i++ {
		dir := filepath.Join(o.out, fmt.Sprintf("agent-%d", i))
		dirs = append(dirs, dir)
		first := 2 + i*o.ipsPerAgent
		agentArgs := []string{"run", "-scenario", o.scenario,
			"-set", "hosts=" + strconv.Itoa(hosts), "-set", "audience_per_room=" + strconv.Itoa(o.audience),
			"-target", strings.Join(targets, ","), "-shard", fmt.Sprintf("%d/%d", i, o.agents), "-run-id", runID,
			"-source-ips", fmt.Sprintf("127.0.0.%d-127.0.0.%d", first, first+o.ipsPerAgent-1),
			"-agent", fmt.Sprintf("agent-%d", i), "-out", dir, "-no-report", "-log-level", "info"}
		for _, s := range o.sets {
			agentArgs = append(agentArgs, "-set", s)
		}
		cmd, err := startProcess(ctx, self, agentArgs, filepath.Join(o.out, fmt.Sprintf("agent-%d.log", i)))
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench:", err)
			return metrics.ExitError
		}
		agents = append(agents, cmd)
	}
	var procs []*exec.Cmd
	for _, s := range servers {
		procs = append(procs, s.cmd)
	}
	peaks := watchRSS(ctx, append(procs, agents...))
	codes := make([]int, len(agents))
	var agentCPU time.Duration
	for i, a := range agents {
		codes[i] = exitCode(a.Wait())
		if a.ProcessState != nil {
			agentCPU += a.ProcessState.UserTime() + a.ProcessState.SystemTime()
		}
	}
	rss := peaks()
	serverRSS, agentRSS := rss[:len(servers)], rss[len(servers):]
	for i, c := range codes {
		// A generator that fell behind (5) still measured its memory: the bench's point. Its
		// verdict goes into the write-up beside the latencies it qualifies.
		if c != metrics.ExitOK && c != metrics.ExitThresholds && c != metrics.ExitLost && c != metrics.ExitGenerator {
			fmt.Fprintf(stderr, "pkarena-load bench: agent %d failed with exit code %d: see %s\n", i, c, filepath.Join(o.out, fmt.Sprintf("agent-%d.log", i)))
			return metrics.ExitError
		}
	}
	merged := filepath.Join(o.out, "merged")
	exprs, err := agentThresholds(dirs)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench:", err)
		return metrics.ExitError
	}
	thresholds, err := metrics.ParseThresholds(exprs)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench:", err)
		return metrics.ExitError
	}
	sum, err := metrics.Merge(merged, dirs, thresholds)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bench: merge:", err)
		return metrics.ExitError
	}
	figures, memoryMet := benchFigures(sum, o, hosts, serverRSS, agentRSS, agentCPU, args)
	fmt.Fprint(stdout, figures)
	if o.write != "" {
		if err := writeFigures(o.write, figures); err != nil {
			fmt.Fprintln(stderr, "pkarena-load bench:", err)
			return metrics.ExitError
		}
		fmt.Fprintln(stdout, "figures put at the top of", o.write)
	}
	return strictMemory(o.strict, memoryMet, finish(merged, sum, true, nil, stdout, stderr), stderr)
}

// strictMemory is the bench's exit: the merged run's, or with -strict ExitThresholds when a
// memory target was missed or could not be judged and the run's own verdict is not graver
// (lost messages and a generator that was the bottleneck win, as they do over thresholds).
func strictMemory(strict, met bool, code int, stderr io.Writer) int {
	if !strict || met || (code != metrics.ExitOK && code != metrics.ExitThresholds) {
		return code
	}
	fmt.Fprintln(stderr, "pkarena-load bench: -strict: a memory target was missed or not judged (see the figures)")
	return metrics.ExitThresholds
}

// serverProc is one reference server process of the bench.
type serverProc struct {
	cmd *exec.Cmd
	url string
}

// startServers starts n reference servers on free loopback ports and waits until each
// accepts connections.
func startServers(n int, bin, dir string) ([]*serverProc, error) {
	var out []*serverProc
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return out, err
		}
		addr := ln.Addr().String()
		ln.Close()
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("server-%d.log", i)))
		if err != nil {
			return out, err
		}
		cmd := exec.Command(bin, "-listen", addr, "-log-level", "warn")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return out, fmt.Errorf("start %s: %w", bin, err)
		}
		logf.Close() // the child has its own descriptor
		out = append(out, &serverProc{cmd: cmd, url: "ws://" + addr + "/v1/ws"})
		if err := waitListening(addr, 10*time.Second); err != nil {
			return out, fmt.Errorf("server %d: %w", i, err)
		}
	}
	return out, nil
}

// waitListening waits until addr accepts a TCP connection.
func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections after %v: %w", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll stops the servers with SIGTERM (they close their connections with 1001) and
// waits for them, killing any that lingers.
func stopAll(servers []*serverProc) {
	for _, s := range servers {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range servers {
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
}

// watchRSS samples the processes' resident memory every second until peaks is called, which
// returns each one's peak in bytes.
func watchRSS(ctx context.Context, procs []*exec.Cmd) (peaks func() []int64) {
	var mu sync.Mutex
	peak := make([]int64, len(procs))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			mu.Lock()
			for i, p := range procs {
				peak[i] = max(peak[i], rssOf(p.Process.Pid))
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() []int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), peak...)
	}
}

// rssOf reads a process's resident set from /proc, in bytes (0 when unknown).
func rssOf(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// startProcess starts a command with its output in logPath; an interrupted bench passes the
// interrupt on.
func startProcess(ctx context.Context, bin string, args []string, logPath string) (*exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "$ %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return cmd, nil
}

// exitCode is the exit code of a finished command (ExitError when it did not exit by itself).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	default:
		return metrics.ExitError
	}
}

// benchFigures is the benchmark's result in Markdown, and whether both memory targets were met.
func benchFigures(s *metrics.Summary, o benchOptions, hosts int, serverRSS, agentRSS []int64, agentCPU time.Duration, args []string) (string, bool) {
	var b strings.Builder
	held := s.Gauges[metrics.ConnectionsOpen]
	fmt.Fprintf(&b, "\n## Load benchmark, %s\n\n", s.End.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `pkarena-load bench %s` (make bench-load)\n\n", strings.Join(args, " "))
	fmt.Fprintf(&b, "- Population: %d hosts × (1 + %d viewers) = %d connections, %d agent processes against %d reference server processes on one machine (127.0.0.0/8)\n",
		hosts, o.audience, hosts*(1+o.audience), o.agents, o.servers)
	fmt.Fprintf(&b, "- Connections held to the end: %.0f; opened in all: %d\n", held, s.Counters[metrics.Connections])
	fmt.Fprintf(&b, "- Load generator memory per connection, after the ramp: %.0f bytes of Go heap and stacks, %.0f bytes resident (each averaged over the agents); at the run's peak (sampled each second) %.0f bytes resident\n",
		s.Gauges[metrics.MemoryPerConnection], s.Gauges["memory.rss_per_connection"], perConn(agentRSS, held))
	fmt.Fprintf(&b, "- Load generator CPU: %.1f s user and system over all agents (GOGC %s)\n", agentCPU.Seconds(), agentGOGC())
	fmt.Fprintf(&b, "- Reference server memory at peak: %.0f MiB resident in all, %.0f bytes per connection\n", mib(serverRSS), perConn(serverRSS, held))
	line, memoryMet := memoryTargets(serverRSS, agentRSS, held, hosts*(1+o.audience))
	b.WriteString(line)
	fmt.Fprintf(&b, "- Generator: %s\n", s.Generator.Verdict())
	fmt.Fprintf(&b, "- Operations: %d; errors: %d (%.4f%%); dropped: %d; late: %d; lost: %d (%d behind a later message, %d overdue); out of order: %d\n",
		s.Counters[metrics.Ops], s.Counters[metrics.Errors], 100*ratio(s.Counters[metrics.Errors], s.Counters[metrics.Ops]),
		s.Counters[metrics.Dropped], s.Counters[metrics.Late], s.Counters[metrics.Lost],
		s.Counters[metrics.LostGap], s.Counters[metrics.LostOverdue], s.Counters[metrics.OutOfOrder])
	fmt.Fprintf(&b, "\n| metric | samples | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n")
	for _, name := range []string{metrics.Connect, metrics.BattleStart, metrics.ScoreFanout, metrics.BattleEnd, metrics.RESTScore} {
		m := s.Metric(name)
		if m == nil {
			continue
		}
		for _, k := range metrics.Kinds {
			st := m.Stats(k)
			fmt.Fprintf(&b, "| %s (%s) | %d | %.2f | %.2f | %.2f | %.2f |\n", name, k, st.Count, st.P50, st.P99, st.P999, st.Max)
		}
	}
	b.WriteString("\n")
	return b.String(), memoryMet
}

// Issue 11's memory targets at 50,000 connections, in bytes resident a connection at the
// run's peak (each process's peak, summed), kilobytes of 1,000 bytes.
const (
	serverBytesTarget    = 30_000
	generatorBytesTarget = 10_000
)

// memoryTargets is the verdict on the memory targets, server and generator on the same
// yardstick: the peak resident set of their processes over the connections held. With fewer
// held than planned there is no verdict: the figure a connection would be of another load.
func memoryTargets(serverRSS, agentRSS []int64, held float64, planned int) (line string, met bool) {
	met = true
	verdict := func(got float64, target int) string {
		switch {
		case held < float64(planned):
			met = false
			return fmt.Sprintf("not judged: %.0f of %d connections held", held, planned)
		case got <= float64(target):
			return "met"
		default:
			met = false
			return "**missed**"
		}
	}
	srv, gen := perConn(serverRSS, held), perConn(agentRSS, held)
	line = fmt.Sprintf("- Memory targets (issue 11), resident at peak a connection: server %.0f bytes (≤ %d): %s; load generator %.0f bytes (≤ %d): %s\n",
		srv, serverBytesTarget, verdict(srv, serverBytesTarget), gen, generatorBytesTarget, verdict(gen, generatorBytesTarget))
	return line, met
}

// perConn divides the processes' memory by the connections.
func perConn(rss []int64, conns float64) float64 {
	if conns == 0 {
		return 0
	}
	var sum int64
	for _, r := range rss {
		sum += r
	}
	return float64(sum) / conns
}

func mib(rss []int64) float64 {
	var sum int64
	for _, r := range rss {
		sum += r
	}
	return float64(sum) / (1 << 20)
}

// ratio is a ÷ b, 0 when b is 0.
func ratio[T int64 | float64](a, b T) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// agentGOGC names the agents' garbage-collector setting: the environment's GOGC, which they
// inherit, or their own default.
func agentGOGC() string {
	if v := os.Getenv("GOGC"); v != "" {
		return v
	}
	return strconv.Itoa(agentGCPercent)
}
