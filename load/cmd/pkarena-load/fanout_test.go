package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/load/bare"
	"github.com/pkarena/pkarena/load/metrics"
)

// pairOf is a measured pair at rate whose pkarena p99 is p99Ratio times bare's and whose
// CPU per delivery is cpuRatio times bare's.
func pairOf(rate, p99Ratio, cpuRatio float64) fanoutPair {
	bare := fanoutStep{Stack: stackBare, P50: 4, P99: 8, FirstP50: 0.5, FirstP99: 2, Frames: 1000, GenFrames: 1000, ServerCPU: 0.01, GenCPU: 0.01, GenSys: 0.006}
	pk := bare
	pk.Stack = stackPkarena
	pk.P99, pk.FirstP50, pk.FirstP99 = 8*p99Ratio, 1, 3
	pk.ServerCPU, pk.GenCPU, pk.GenSys = 0.01*cpuRatio, 0.01*cpuRatio, 0.007
	return fanoutPair{Rate: rate, Bare: bare, Pkarena: pk}
}

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		ratios      []float64
		med, lo, hi float64
		text        string
	}{
		{[]float64{1.7}, 1.7, 1.7, 1.7, "1.70"},
		{[]float64{2.5, 1.2, 1.4}, 1.4, 1.2, 2.5, "1.40 (1.20–2.50)"},       // the median, not the mean (1.70)
		{[]float64{1.0, 2.0, 1.5, 3.0}, 1.75, 1.0, 3.0, "1.75 (1.00–3.00)"}, // even: the middle two's mean
	} {
		var pairs []fanoutPair
		for _, r := range tc.ratios {
			pairs = append(pairs, pairOf(10000, r, 1))
		}
		s := spreadOf(pairs, ratioP99)
		if !near(s.med, tc.med) || !near(s.lo, tc.lo) || !near(s.hi, tc.hi) || s.String() != tc.text {
			t.Errorf("spreadOf(p99 ratios %v) = %+v %q; want median %v, range %v–%v, %q", tc.ratios, s, s, tc.med, tc.lo, tc.hi, tc.text)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// With repeated pairs the ratio table and the verdicts are on each rate's median: one pair
// thrown off by the machine neither fails nor passes a target on its own.
func TestFanoutMarkdownUsesMedians(t *testing.T) {
	repeated := fanoutResult{Args: []string{"bench-fanout", "-repeat", "3"}, Rooms: 9, Users: 50, Seconds: 15, Repeat: 3,
		Sweep: []fanoutPair{
			pairOf(10000, 1.2, 1.3), pairOf(10000, 2.5, 1.9), pairOf(10000, 1.4, 1.4),
			pairOf(25000, 1.45, 1.2), pairOf(25000, 1.3, 1.1), pairOf(25000, 1.6, 1.25),
		}}
	md := repeated.markdown()
	for _, want := range []string{
		"3 pairs were measured at each rate",
		"| 10000 | 1.00 (1.00–1.00) | 1.40 (1.20–2.50) | 1.40 (1.30–1.90) |",
		"| 25000 | 1.00 (1.00–1.00) | 1.45 (1.30–1.60) | 1.20 (1.10–1.25) |",
		"| score fan-out p99 ≤ 1.5× bare | 1.45× | met |",                    // the worst median (25000), not 2.50
		"| CPU per delivery, server + generator ≤ 1.5× bare | 1.40× | met |", // not 1.90
		"worst median in this run",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the write-up lacks %q:\n%s", want, md)
		}
	}
	single := fanoutResult{Args: []string{"bench-fanout"}, Rooms: 9, Users: 50, Seconds: 15, Repeat: 1,
		Sweep: []fanoutPair{pairOf(10000, 2.5, 1.9), pairOf(25000, 1.3, 1.1)}}
	md = single.markdown()
	for _, want := range []string{
		"| 10000 | 1.00 | 2.50 | 1.90 |",
		"| score fan-out p99 ≤ 1.5× bare | 2.50× | **missed** |",
		"| CPU per delivery, server + generator ≤ 1.5× bare | 1.90× | **missed** |",
		"worst in this run",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the single-pair write-up lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "pairs were measured") {
		t.Errorf("a single-pair write-up speaks of pairs:\n%s", md)
	}
}

// -repeat takes 1 to 9, -duration and -saturation-duration at least a second: at the bounds
// they pass (and the run stops at the next check, a server binary that does not exist);
// beyond them they are refused by name.
func TestFanoutFlagsAreBounded(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-server")
	const durations = "-duration and -saturation-duration at least 1s"
	for _, tc := range []struct {
		flag, value, want string
	}{
		{"-repeat", "1", "server binary"}, {"-repeat", "9", "server binary"},
		{"-repeat", "0", "-repeat 1..9"}, {"-repeat", "10", "-repeat 1..9"}, {"-repeat", "-1", "-repeat 1..9"},
		{"-duration", "1s", "server binary"}, {"-duration", "999ms", durations},
		{"-saturation-duration", "1s", "server binary"}, {"-saturation-duration", "999ms", durations},
	} {
		code, _, errOut := runCLI(t, "bench-fanout", tc.flag, tc.value, "-server-bin", missing)
		if code != metrics.ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("bench-fanout %s %s: exit %d, %q; want %d and %q", tc.flag, tc.value, code, errOut, metrics.ExitUsage, tc.want)
		}
	}
}

// The saturation line says how long each step of the search was measured, which may differ
// from the sweep's time a rate.
func TestFanoutMarkdownGivesBothDurations(t *testing.T) {
	r := fanoutResult{Args: []string{"bench-fanout", "-duration", "60s"}, Rooms: 9, Users: 50, Seconds: 60, SatSeconds: 15, Repeat: 1,
		Sweep:             []fanoutPair{pairOf(10000, 1.2, 1.1)},
		BareSaturation:    fanoutStep{Offered: 100000, Achieved: 98000},
		PkarenaSaturation: fanoutStep{Offered: 80000, Achieved: 78400},
	}
	md := r.markdown()
	for _, want := range []string{
		"60 s measured per rate",
		"nothing lost or dropped; 15 s measured a step): bare 98000 /s, pkarena 78400 /s: **0.80×**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the write-up lacks %q:\n%s", want, md)
		}
	}
}

// The first line says how long the sweep's rates and the saturation search's steps are
// measured, and names no search when there is none.
func TestFanoutBannerGivesBothDurations(t *testing.T) {
	o := fanoutOptions{rooms: 9, users: 50, duration: time.Minute, satDur: 15 * time.Second, saturate: true, out: "r"}
	want := "bench-fanout: one group of 9 rooms × 50 users (450 recipients of every frame); 1m0s at each rate, 15s at each step of the saturation search; results in r"
	if got := o.banner(); got != want {
		t.Errorf("banner:\n%s\nwant\n%s", got, want)
	}
	o.saturate = false
	if got := o.banner(); strings.Contains(got, "saturation") || !strings.Contains(got, "1m0s at each rate; results in r") {
		t.Errorf("banner without a search: %s", got)
	}
}

// The write-up splits the generator's CPU a frame into the kernel's and its own at the rate
// where it was highest (a median over that rate's pairs), beside the bare reader's; a result
// without the split (an older run) says nothing of it.
func TestFanoutMarkdownSplitsTheGeneratorsCPU(t *testing.T) {
	r := fanoutResult{Args: []string{"bench-fanout"}, Rooms: 9, Users: 50, Seconds: 15, Repeat: 3,
		Sweep: []fanoutPair{
			// 10000: generator 12, 19, 14 µs a frame (median 14), 7 in the kernel; 25000: 11, 11, 11.
			pairOf(10000, 1, 1.2), pairOf(10000, 1, 1.9), pairOf(10000, 1, 1.4),
			pairOf(25000, 1, 1.1), pairOf(25000, 1, 1.1), pairOf(25000, 1, 1.1),
		}}
	md := r.markdown()
	for _, want := range []string{
		"| generator ≤ 8 µs CPU per frame received | 14.0 µs (bare reader 10.0) | **missed** |",
		"where it was highest (10000 deliveries/s; medians): 14.0 µs, of it 7.0 in the kernel (system time) and 7.0 in its own code (user time); the bare reader's 10.0 µs, of it 6.0 in the kernel and 4.0 in its code",
		"| 10000 | bare | 0 | 0 | 4.00 | 8.00 | 0.50 | 2.00 | 20.0 | 10.0 | 10.0 | 10.0 | 6.0 |",
		"| 10000 | pkarena | 0 | 0 | 4.00 | 8.00 | 1.00 | 3.00 | 24.0 | 12.0 | 12.0 | 12.0 | 7.0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the write-up lacks %q:\n%s", want, md)
		}
	}
	for i := range r.Sweep {
		r.Sweep[i].Bare.GenSys, r.Sweep[i].Pkarena.GenSys = 0, 0
	}
	if md := r.markdown(); strings.Contains(md, "where it was highest") {
		t.Errorf("a result without system times speaks of them:\n%s", md)
	}
}

// stepFrom takes each frame's first delivery from its own metric, beside every delivery's,
// and refuses a summary without it (a generator that could not split the fan-out).
func TestStepFromReadsTheFirstDeliveries(t *testing.T) {
	rec := metrics.NewRecorder(metrics.Options{})
	start := rec.Start()
	rec.SetPhase(metrics.PhaseMeasured, start, start.Add(time.Second))
	for frame := range 100 {
		due := start.Add(time.Duration(frame) * 10 * time.Millisecond)
		for conn := range 10 { // the first connection reads the frame after 1 ms, the others 1 ms apart
			at := due.Add(time.Duration(1+conn) * time.Millisecond)
			rec.Record(bare.Metric, conn, due, due, at)
			if conn == 0 {
				rec.Record(bare.MetricFirst, conn, due, due, at)
			}
		}
	}
	s, err := metrics.WriteResults(t.TempDir(), metrics.RunInfo{}, rec.Finish(start.Add(time.Second)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cpu := &cpuWatch{samples: []cpuSample{{start, 0}, {start.Add(2 * time.Second), 2 * time.Second}}}
	st, err := stepFrom(s, bare.Metric, bare.MetricFirst, cpu)
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 1000 || !near(st.FirstP50, 1) || !near(st.FirstP99, 1) || st.P50 < 5 || st.P50 > 6 || st.P99 < 10 {
		t.Errorf("step %+v; want 1000 deliveries, first p50 and p99 1 ms, p50 5-6 ms, p99 10 ms", st)
	}
	if _, err := stepFrom(s, bare.Metric, metrics.ScoreFanoutFirst, cpu); err == nil || !strings.Contains(err.Error(), metrics.ScoreFanoutFirst) {
		t.Errorf("stepFrom without the first deliveries: %v; want an error naming %s", err, metrics.ScoreFanoutFirst)
	}
}

// The targets are judged at their bounds (a ratio of exactly 1.5, 8 µs a frame, 0.6 of the
// bare saturation meet them) and missed just past them; the saturation target exists only
// when the saturation was searched. fanout.json carries them, and -strict exits 1 on a miss,
// naming each missed target, and 0 otherwise.
func TestFanoutTargetsAndStrictExit(t *testing.T) {
	// A pair of a million deliveries and frames a side, so that the figures are exact: the
	// bare side 8 s of server and 8 s of generator CPU (16 µs a delivery), pkarena's generator
	// genUs µs a frame and its server the rest of cpuRatio × 16 µs. sat is pkarena's
	// saturation in deliveries a second beside the bare 100,000 (0: not searched).
	at := func(p99Ratio, cpuRatio, genUs, sat float64) fanoutResult {
		p := pairOf(10000, p99Ratio, 1)
		p.Bare.Frames, p.Bare.GenFrames, p.Bare.ServerCPU, p.Bare.GenCPU = 1e6, 1e6, 8, 8
		p.Pkarena.Frames, p.Pkarena.GenFrames, p.Pkarena.GenCPU = 1e6, 1e6, genUs
		p.Pkarena.ServerCPU = cpuRatio*16 - genUs
		r := fanoutResult{Args: []string{"bench-fanout"}, Rooms: 9, Users: 50, Seconds: 15, Repeat: 1, Sweep: []fanoutPair{p}}
		if sat > 0 {
			r.BareSaturation = fanoutStep{Offered: 100000, Achieved: 100000}
			r.PkarenaSaturation = fanoutStep{Offered: 100000, Achieved: sat}
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		r      fanoutResult
		met    []bool
		missed string // a part of -strict's message; "" when all are met
	}{
		{"every one at its bound", at(1.5, 1.5, 8, 60000), []bool{true, true, true, true}, ""},
		{"p99 just past", at(1.51, 1.5, 8, 60000), []bool{false, true, true, true}, "score fan-out p99 ≤ 1.5× bare (1.51×)"},
		{"CPU just past", at(1.5, 1.51, 8, 60000), []bool{true, false, true, true}, "CPU per delivery, server + generator ≤ 1.5× bare (1.51×)"},
		{"generator just past", at(1.5, 1.5, 8.05, 60000), []bool{true, true, false, true}, "generator ≤ 8 µs CPU per frame received (8.1 µs"},
		{"saturation just short", at(1.5, 1.5, 8, 59999), []bool{true, true, true, false}, "saturated deliveries/s ≥ 0.6× bare (0.59999×)"},
		{"no saturation searched", at(1, 1, 5, 0), []bool{true, true, true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.r.targets()
			if len(ts) != len(tc.met) {
				t.Fatalf("%d targets; want %d: %+v", len(ts), len(tc.met), ts)
			}
			for i, tg := range ts {
				if tg.Met != tc.met[i] {
					t.Errorf("%s: met %v (value %v); want %v", tg.Target, tg.Met, tg.Value, tc.met[i])
				}
			}
			data, err := json.Marshal(fanoutResult{Targets: ts})
			if err != nil || !strings.Contains(string(data), `"targets":[{"target":"score fan-out p99`) {
				t.Errorf("fanout.json's targets: %s, %v", data, err)
			}
			for _, strict := range []bool{false, true} {
				var stderr strings.Builder
				code := verdictExit(strict, ts, &stderr)
				wantCode := metrics.ExitOK
				if strict && tc.missed != "" {
					wantCode = metrics.ExitThresholds
				}
				said := stderr.String()
				if code != wantCode || (wantCode == metrics.ExitOK && said != "") || (wantCode != metrics.ExitOK && !strings.Contains(said, tc.missed)) {
					t.Errorf("strict %v: exit %d, stderr %q; want %d naming %q", strict, code, stderr.String(), wantCode, tc.missed)
				}
			}
		})
	}
}

// A missed figure is never shown rounded onto its bound; a met one keeps its decimals.
func TestShownNeverRoundsAMissOntoItsBound(t *testing.T) {
	for _, tc := range []struct {
		v        float64
		decimals int
		met      bool
		bound    float64
		want     string
	}{
		{8.04, 1, false, 8, "8.04"},
		{8.0, 1, true, 8, "8.0"},
		{7.96, 1, true, 8, "8.0"}, // met: rounding up to the bound misleads no one
		{1.51, 2, false, 1.5, "1.51"},
		{0.5999, 2, false, 0.6, "0.5999"},
		{1.5000000001, 2, false, 1.5, "1.500000"}, // six decimals at most
	} {
		if got := shown(tc.v, tc.decimals, tc.met, tc.bound); got != tc.want {
			t.Errorf("shown(%v, %d, %v, %v) = %q; want %q", tc.v, tc.decimals, tc.met, tc.bound, got, tc.want)
		}
	}
}
