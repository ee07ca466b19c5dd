// Command tracehops splits the start of a score fan-out into its hops, from two execution
// traces taken at once: the load generator's (pkarena-load run -trace) and the reference
// server's (its -pprof listener's /debug/pprof/trace). Both processes stamp their traces
// with the same monotonic clock, so one trace's events can be laid beside the other's.
//
//	go run . GENERATOR.trace SERVER.trace
//
// For each set_battle_score the generator wrote (a write system call from RESTPipe.Go) it
// finds what followed: the server's REST goroutine running, the hub running, the first
// connection writer's write, the generator's first reader woken and running. Goroutines are
// told apart by the functions on their stacks. The chain after the REST goroutine takes the
// next event of each kind, so with calls pipelined its tails are approximate; the pickup
// (write to REST goroutine running, for writes made while it was not running) is exact.
//
// It is a measurement of measurements/fanout.md, kept with it; a module of its own so that
// the pkarena module does not depend on golang.org/x/exp.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// transition is one goroutine's change of state.
type transition struct {
	at trace.Time
	g  trace.GoID
	to trace.GoState
	by trace.GoID // the goroutine running when it happened; NoGoroutine: the scheduler (the network poller)
}

// classes name goroutines by a function on the stacks they block or enter system calls with.
type classes map[string][]string

// load reads a trace: the transitions of the goroutines of each class, and each class's
// system calls.
func load(path string, cl classes) (byClass, syscalls map[string][]transition, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	class := map[trace.GoID]string{}
	var all []transition
	syscalls = map[string][]transition{}
	for {
		e, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if e.Kind() != trace.EventStateTransition {
			continue
		}
		st := e.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		_, to := st.Goroutine()
		t := transition{at: e.Time(), g: st.Resource.Goroutine(), to: to, by: e.Goroutine()}
		if st.Stack != trace.NoStack {
			if name := classOf(st.Stack, cl); name != "" {
				class[t.g] = name
				if to == trace.GoSyscall {
					syscalls[name] = append(syscalls[name], t)
				}
			}
		}
		all = append(all, t)
	}
	byClass = map[string][]transition{}
	for _, t := range all {
		if name, ok := class[t.g]; ok {
			byClass[name] = append(byClass[name], t)
		}
	}
	return byClass, syscalls, nil
}

// classOf is the class of the first function on s that names one.
func classOf(s trace.Stack, cl classes) string {
	for f := range s.Frames() {
		for name, funcs := range cl {
			for _, fn := range funcs {
				if strings.Contains(f.Func, fn) {
					return name
				}
			}
		}
	}
	return ""
}

// next is the first transition to state `to` at or after t (of goroutine g, unless g is 0).
func next(ts []transition, t trace.Time, g trace.GoID, to trace.GoState) (transition, bool) {
	i := sort.Search(len(ts), func(i int) bool { return ts[i].at >= t })
	for ; i < len(ts); i++ {
		if ts[i].to == to && (g == 0 || ts[i].g == g) {
			return ts[i], true
		}
	}
	return transition{}, false
}

// percentiles formats n, p50, p90, p99 and the maximum of d.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Microsecond) }
	return fmt.Sprintf("n %4d  p50 %9v  p90 %9v  p99 %9v  max %9v", len(d), q(.5), q(.9), q(.99), d[len(d)-1].Round(time.Microsecond))
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tracehops GENERATOR.trace SERVER.trace")
		os.Exit(2)
	}
	gen, gsys, err := load(os.Args[1], classes{"pipe": {"RESTPipe).Go"}, "reader": {"wsread", "(*user).read"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracehops:", err)
		os.Exit(1)
	}
	srv, ssys, err := load(os.Args[2], classes{"rest": {"net/http.(*conn).serve", "net/http.(*connReader)"}, "hub": {"(*hub).run"}, "writer": {"server.(*conn).write"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracehops:", err)
		os.Exit(1)
	}
	sends := gsys["pipe"]
	if len(sends) == 0 || len(srv["rest"]) == 0 {
		fmt.Fprintln(os.Stderr, "tracehops: no set_battle_score write in the generator's trace, or no REST goroutine in the server's: were they taken at once, of a fanout run?")
		os.Exit(1)
	}
	// The REST goroutine of the battle's pipe: the one with the most transitions.
	count := map[trace.GoID]int{}
	for _, t := range srv["rest"] {
		count[t.g]++
	}
	var pipe trace.GoID
	for g, n := range count {
		if n > count[pipe] {
			pipe = g
		}
	}
	var mine []transition
	for _, t := range srv["rest"] {
		if t.g == pipe {
			mine = append(mine, t)
		}
	}
	var pickup, toRunnable, queued, rest2hub, hub2write, write2wake, wake2run []time.Duration
	fromPoller, direct := 0, 0
	for _, s := range sends {
		i := sort.Search(len(mine), func(i int) bool { return mine[i].at > s.at })
		if i == 0 || mine[i-1].to == trace.GoRunning {
			continue // running when the call came: it reads it without being woken
		}
		run, ok := next(mine, s.at, pipe, trace.GoRunning)
		if !ok {
			continue
		}
		pickup = append(pickup, run.at.Sub(s.at))
		if wake, ok := next(mine, s.at, pipe, trace.GoRunnable); ok && wake.at <= run.at {
			// Woken (by the network poller, or back from a system call with no processor
			// free), then queued until a processor took it.
			if wake.by == trace.NoGoroutine {
				fromPoller++
			}
			toRunnable = append(toRunnable, wake.at.Sub(s.at))
			queued = append(queued, run.at.Sub(wake.at))
		} else {
			direct++ // back from its system call (an eager read) with a processor at once
		}
		h, ok := next(srv["hub"], run.at, 0, trace.GoRunning)
		if !ok {
			continue
		}
		w, ok := next(ssys["writer"], h.at, 0, trace.GoSyscall)
		if !ok {
			continue
		}
		rw, ok := next(gen["reader"], w.at, 0, trace.GoRunnable)
		if !ok {
			continue
		}
		rr, ok := next(gen["reader"], rw.at, rw.g, trace.GoRunning)
		if !ok {
			continue
		}
		rest2hub = append(rest2hub, h.at.Sub(run.at))
		hub2write = append(hub2write, w.at.Sub(h.at))
		write2wake = append(write2wake, rw.at.Sub(w.at))
		wake2run = append(wake2run, rr.at.Sub(rw.at))
	}
	fmt.Printf("set_battle_score writes %d; made while the server's REST goroutine was not running %d, of them woken by the network poller %d\n", len(sends), len(pickup), fromPoller)
	fmt.Println("write -> REST goroutine runs    ", percentiles(pickup))
	fmt.Printf("  of them %d ran at once, back from their system call with a processor; the others:\n", direct)
	fmt.Println("  write -> REST goroutine runnable", percentiles(toRunnable))
	fmt.Println("  runnable -> running (queued)    ", percentiles(queued))
	fmt.Println("REST goroutine -> hub runs      ", percentiles(rest2hub))
	fmt.Println("hub -> first connection's write ", percentiles(hub2write))
	fmt.Println("write -> generator reader woken ", percentiles(write2wake))
	fmt.Println("reader woken -> reader runs     ", percentiles(wake2run))
}
