package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/pkarena/pkarena/load/bare"
	"github.com/pkarena/pkarena/load/metrics"
)

// runBareServer is the bare broadcaster in a process of its own (bench-fanout starts it): it
// prints its address, waits for -connections readers, publishes -rate frames a second to
// every one of them until stdin closes or it is interrupted.
func runBareServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-load bare-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	rate := fs.Float64("rate", 10, "publications a second, each to every connection")
	conns := fs.Int("connections", 1, "connections to wait for before publishing")
	queue := fs.Int("queue", bare.DefaultQueue, "frames a connection's queue holds")
	size := fs.Int("frame-bytes", bare.FrameBytes, "the size of every frame")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if *rate <= 0 || *conns < 1 || *queue < 1 || *size < bare.MinFrameBytes || *size > 1<<20 {
		fmt.Fprintf(stderr, "pkarena-load bare-server: -rate, -connections and -queue must be positive, -frame-bytes %d..%d\n", bare.MinFrameBytes, 1<<20)
		return metrics.ExitUsage
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the parent closes stdin to stop us
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	s := bare.NewServer(*queue)
	s.FrameBytes = *size
	errc := make(chan error, 1)
	go func() {
		errc <- s.Listen(ctx, *listen, func(a net.Addr) { fmt.Fprintf(stdout, "listening %s\n", a) })
	}()
	for s.Conns() < *conns {
		select {
		case err := <-errc:
			fmt.Fprintln(stderr, "pkarena-load bare-server:", err)
			return metrics.ExitError
		case <-ctx.Done():
			return metrics.ExitOK
		case <-time.After(10 * time.Millisecond):
		}
	}
	go s.Publish(ctx, *rate)
	<-ctx.Done()
	fmt.Fprintf(stdout, "sent %d frames, %d dropped (queue full)\n", s.Sent(), s.Dropped())
	return metrics.ExitOK
}

// runBareClient is the bare reader in a process of its own: it holds -connections to the
// broadcaster, lets -warmup pass, records every frame for -duration and writes a results
// folder whose summary has its CPU over that window and the window as the measured phase.
func runBareClient(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkarena-load bare-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "the broadcaster, ws://host:port/bare")
	conns := fs.Int("connections", 1, "connections")
	warmup := fs.Duration("warmup", 3*time.Second, "time before recording")
	duration := fs.Duration("duration", 10*time.Second, "time recorded")
	sourceIPs := fs.String("source-ips", "", "local addresses to dial from")
	out := fs.String("out", "", "results folder")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the recording window to this file")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	ips, err := parseSourceIPs(*sourceIPs)
	if err != nil || *target == "" || *out == "" || *conns < 1 || *duration <= 0 {
		fmt.Fprintln(stderr, "pkarena-load bare-client: -target, -out, a positive -connections and -duration are required; -source-ips:", err)
		return metrics.ExitUsage
	}
	rec := metrics.NewRecorder(metrics.Options{})
	r, err := bare.Dial(ctx, bare.ReadConfig{URL: *target, Connections: *conns, SourceIPs: ips, Recorder: rec})
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load bare-client:", err)
		return metrics.ExitError
	}
	defer r.Close()
	if !sleep(ctx, *warmup) {
		return metrics.ExitError
	}
	if *cpuProfile != "" {
		if f, err := os.Create(*cpuProfile); err == nil {
			defer f.Close()
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	start := time.Now()
	user0, system0, _ := metrics.ProcessCPUTimes()
	r.Record(true)
	sleep(ctx, *duration)
	r.Record(false)
	user1, system1, ok := metrics.ProcessCPUTimes()
	cpu0, cpu1 := user0+system0, user1+system1
	end := time.Now()
	rec.SetPhase(metrics.PhaseMeasured, start, end)
	rec.Add(metrics.FramesReceived, r.Frames())
	rec.Add("frames.invalid", r.Invalid())
	if ok {
		cores := runtime.GOMAXPROCS(0)
		rec.Set(metrics.GeneratorCPUSeconds, (cpu1 - cpu0).Seconds())
		rec.Set(metrics.GeneratorCPUSystem, (system1 - system0).Seconds())
		rec.Set(metrics.GeneratorCores, float64(cores))
		rec.Set(metrics.GeneratorCPUPerCore, (cpu1-cpu0).Seconds()/(end.Sub(start).Seconds()*float64(cores)))
	}
	if _, err := metrics.WriteResults(*out, metrics.RunInfo{Scenario: "bare", Agent: "bare-client", Targets: []string{*target}}, rec.Finish(end), nil); err != nil {
		fmt.Fprintln(stderr, "pkarena-load bare-client:", err)
		return metrics.ExitError
	}
	fmt.Fprintf(stdout, "%d frames in %v; results in %s\n", r.Frames(), end.Sub(start).Round(time.Millisecond), *out)
	return metrics.ExitOK
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
