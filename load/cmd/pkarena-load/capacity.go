package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reports"
)

// capacityOptions is what capacity adds to run's flags.
type capacityOptions struct {
	param    string
	from     float64
	factor   float64
	maxSteps int
	refine   int
	step     time.Duration
}

// runCapacity steps a scenario's open-model rate up, a run per step, until the thresholds (the
// SLO: the scenario's, -threshold's, and the built-in rules) break, then narrows the gap
// between the last rate that held and the first that did not. It reports the knee (the
// highest rate that held), which side gave way first (the generator judges itself at every
// step), a table, capacity.json and capacity.html with the chart.
func runCapacity(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var o runOptions
	var c capacityOptions
	fs := runFlags(&o, getenv, stderr)
	fs.Init("pkarena-load capacity", flag.ContinueOnError)
	fs.StringVar(&c.param, "param", "", "the rate to step: gift_rate (pk, mix) or cycle_rate (churn); empty: the scenario kind's")
	fs.Float64Var(&c.from, "from", 0, "the first rate; 0: the scenario's own")
	fs.Float64Var(&c.factor, "factor", 1.5, "each step multiplies the rate by this until one breaks")
	fs.IntVar(&c.maxSteps, "steps", 10, "steps at most before the narrowing")
	fs.IntVar(&c.refine, "refine", 2, "steps that halve the gap between the last rate that held and the first that broke")
	fs.DurationVar(&c.step, "step", 20*time.Second, "the measured length of each step (the scenario's duration)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkarena-load capacity [flags]\n\nSteps the scenario's rate until its thresholds break (every run flag applies to every step).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pkarena-load capacity: "+format+"\n", a...)
		return metrics.ExitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q (flags only)", fs.Arg(0))
	}
	sc, err := loadScenario(o.scenario, o.sets)
	if err != nil {
		return usage("%v", err)
	}
	if sc.Model != scenarios.ModelOpen {
		return usage("scenario %s runs the %s model: a capacity search steps an open model's rate (-set model=open)", sc.Name, sc.Model)
	}
	cp := metrics.Capacity{Command: append([]string{"capacity"}, args...), Scenario: sc.Name, Param: c.param, StepLength: c.step.Seconds()}
	rate := c.from
	switch {
	case cp.Param == "" && sc.Kind == scenarios.KindChurn, cp.Param == "cycle_rate":
		cp.Param, cp.Unit, cp.Metric = "cycle_rate", "cycles/s", metrics.InviteDelivery
		if rate == 0 {
			rate = sc.CycleRate
		}
	case cp.Param == "", cp.Param == "gift_rate":
		cp.Param, cp.Unit, cp.Metric = "gift_rate", "gifts/s", metrics.ScoreFanout
		if rate == 0 {
			rate = sc.GiftRate
		}
	default:
		return usage("-param %q: gift_rate or cycle_rate", c.param)
	}
	switch {
	case !(rate > 0) || math.IsInf(rate, 0):
		return usage("the first rate %v: give a positive -from", rate)
	case !(c.factor > 1) || math.IsInf(c.factor, 0):
		return usage("-factor %v: more than 1", c.factor)
	case c.maxSteps < 1 || c.refine < 0 || c.step < time.Second:
		return usage("-steps at least 1, -refine not negative, -step at least 1s")
	}
	if o.metricsListen != "" {
		if err := checkMetricsAddr(o.metricsListen); err != nil {
			return usage("%v", err)
		}
	}
	cp.SLO = append(scenarioThresholds(sc), o.thresholds...)
	if o.out == "" {
		o.out = filepath.Join("results", fmt.Sprintf("capacity-%s-%s", sc.Name, time.Now().Format("20060102-150405")))
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "pkarena-load capacity:", err)
		return metrics.ExitError
	}
	if o.metricsListen != "" { // one listener for every step, each step's run shown in turn
		live, err := listenMetrics(o.metricsListen, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			fmt.Fprintln(stderr, "pkarena-load capacity:", err)
			return metrics.ExitError
		}
		defer live.Close()
		o.live = live
		fmt.Fprintf(stdout, "live metrics: %s (%s)\n", live.url(), metrics.LiveApproximate)
	}
	fmt.Fprintf(stdout, "capacity of %s: %s from %g %s, ×%g a step, %v measured each, until one of these breaks: %s (and the built-in rules)\n",
		sc.Name, cp.Param, rate, cp.Unit, c.factor, c.step, strings.Join(cp.SLO, "; "))
	step := func(r float64) (metrics.CapacityStep, bool) {
		so := o
		so.sets = append(slices.Clone(o.sets), cp.Param+"="+strconv.FormatFloat(r, 'g', 6, 64), "duration="+c.step.String())
		so.out = filepath.Join(o.out, fmt.Sprintf("step-%02d-%s", len(cp.Steps)+1, strconv.FormatFloat(r, 'g', 6, 64)))
		so.quiet, so.noReport = true, true
		var log strings.Builder
		code := playRun(ctx, so, getenv, &log, &log)
		_ = os.WriteFile(filepath.Join(o.out, filepath.Base(so.out)+".log"), []byte(log.String()), 0o644)
		var st metrics.CapacityStep
		if s, err := metrics.ReadSummary(so.out); err == nil && code != metrics.ExitError && code != metrics.ExitUsage {
			st = metrics.StepFrom(r, so.out, cp.Metric, s)
		} else {
			st = metrics.CapacityStep{Rate: r, Dir: so.out, Exit: code, ErrorText: fmt.Sprintf("the run exited %d; its output is in %s.log", code, so.out)}
		}
		cp.Steps = append(cp.Steps, st)
		fmt.Fprintln(stdout, capacityLine(st, cp.Unit))
		return st, ctx.Err() == nil && st.ErrorText == ""
	}
	lo, hi := 0.0, 0.0
	for i := 0; i < c.maxSteps && hi == 0; i++ {
		st, ok := step(rate)
		if !ok {
			break
		}
		if st.Held {
			lo, rate = rate, rate*c.factor
		} else {
			hi = rate
		}
	}
	for i := 0; i < c.refine && lo > 0 && hi > 0 && ctx.Err() == nil; i++ {
		mid := (lo + hi) / 2
		st, ok := step(mid)
		if !ok {
			break
		}
		if st.Held {
			lo = mid
		} else {
			hi = mid
		}
	}
	cp.End = time.Now().UTC()
	cp.Judge()
	if err := metrics.WriteCapacity(o.out, &cp); err != nil {
		fmt.Fprintln(stderr, "pkarena-load capacity:", err)
		return metrics.ExitError
	}
	page, err := reports.WriteCapacityReportDir(o.out)
	if err != nil {
		fmt.Fprintln(stderr, "pkarena-load capacity:", err)
		return metrics.ExitError
	}
	fmt.Fprintln(stdout)
	if cp.Knee != nil {
		fmt.Fprintf(stdout, "knee: %g %s (%s %.0f a second, p99 %.2f ms)\n", cp.Knee.Rate, cp.Unit, cp.Metric, cp.Knee.Achieved, cp.Knee.P99)
	} else {
		fmt.Fprintf(stdout, "knee: none: the first rate tried did not hold\n")
	}
	fmt.Fprintf(stdout, "%s\nreport: %s\nresults: %s\n", cp.Why, page, o.out)
	switch {
	case ctx.Err() != nil:
		return metrics.ExitError
	case cp.Knee == nil:
		return metrics.ExitThresholds
	}
	return metrics.ExitOK
}

// capacityLine is a step on one line.
func capacityLine(st metrics.CapacityStep, unit string) string {
	if st.ErrorText != "" {
		return fmt.Sprintf("  %10g %s: %s", st.Rate, unit, st.ErrorText)
	}
	verdict := "holds"
	if !st.Held {
		verdict = "BREAKS: " + strings.Join(st.Failed, "; ")
	}
	gen := ""
	if g := st.Generator; g != nil && g.Unknown == "" {
		gen = fmt.Sprintf("; generator CPU %.0f%%, lag p99 %.1f ms", 100*g.CPUShare, g.LagP99)
	}
	return fmt.Sprintf("  %10g %s: %8.0f/s delivered, p50 %7.2f ms, p99 %8.2f ms%s: %s", st.Rate, unit, st.Achieved, st.P50, st.P99, gen, verdict)
}
