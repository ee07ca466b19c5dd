package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
)

// small is a run that takes a few seconds: 6 hosts in 2 battle groups, a viewer each, of the
// pk scenario with its latency thresholds relaxed (TestMain sets the scenario's file).
var small = []string{"-scenario", "pk", "-set", "hosts=6", "-set", "audience_per_room=1", "-set", "group_size=3",
	"-set", "battle_duration=1s", "-set", "gift_rate=20", "-set", "ramp_up=200ms", "-set", "duration=2s", "-quiet", "-drain", "2s"}

// smallReconnect is the reconnect scenario at the size of small: 12 connections, half of them
// dropped at once a second into the run, and blips; each reconnects 200 ms later (frames are
// made meanwhile: the replay has something to get wrong).
var smallReconnect = []string{"-scenario", "reconnect", "-set", "hosts=6", "-set", "audience_per_room=1", "-set", "group_size=3",
	"-set", "battle_duration=1s", "-set", "gift_rate=30", "-set", "ramp_up=200ms", "-set", "duration=3s",
	"-set", "reconnect.storm_at=1s", "-set", "reconnect.storm_fraction=0.5", "-set", "reconnect.blip_rate=4",
	"-set", "reconnect.pause=200ms", "-quiet", "-drain", "2s"}

// runCLI runs the command with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunWritesEveryResult(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	tracePath := filepath.Join(t.TempDir(), "run.trace")
	code, out, errOut := runCLI(t, append([]string{"run", "-out", dir, "-trace", tracePath}, small...)...)
	if code != metrics.ExitOK {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, f := range []string{metrics.SummaryFile, metrics.LogFile, "report.html", "score_fanout.corrected.hgrm", "score_fanout.service.hgrm", "connect.corrected.hgrm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
	for _, want := range []string{"embedded reference server", "verdict: PASS", "report: " + filepath.Join(dir, "report.html")} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	sum, err := metrics.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Metric(metrics.ScoreFanout) == nil || sum.Counters[metrics.Connections] != 12 {
		t.Errorf("summary: score_fanout %v, %d connections; want samples and 12", sum.Metric(metrics.ScoreFanout) != nil, sum.Counters[metrics.Connections])
	}
	// -trace: the run (2 s) ended before the trace's window, and stopped it whole.
	tr, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(tr, []byte("go 1.")) || len(tr) < 4<<10 {
		t.Errorf("-trace wrote %d bytes beginning %q; want an execution trace", len(tr), tr[:min(len(tr), 16)])
	}
}

// -trace stops by itself at the end of its window, not before: a run longer than the window
// (any real one) gets a trace of the window, not a trace growing until the run ends.
func TestRunTraceStopsAfterItsWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.trace")
	const window = time.Second
	tr := &runTrace{path: path, window: window, log: slog.New(slog.DiscardHandler)}
	defer tr.stop()
	began := time.Now()
	tr.start()
	if !trace.IsEnabled() {
		t.Fatal("no trace running after start")
	}
	for trace.IsEnabled() {
		if time.Since(began) > window+30*time.Second {
			t.Fatalf("the trace still runs %v after start; want it stopped after its %v window", time.Since(began), window)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(began); took < window {
		t.Errorf("the trace stopped after %v; want not before its %v window", took, window)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(data, []byte("go 1.")) {
		t.Errorf("trace file: %v, %d bytes; want an execution trace", err, len(data))
	}
	tr.stop() // a second stop, at the run's end, is harmless
}

func TestBreachedThresholdExits1(t *testing.T) {
	code, out, errOut := runCLI(t, append([]string{"run", "-out", t.TempDir(), "-threshold", "score_fanout.p50 < 0.001ms"}, small...)...)
	if code != metrics.ExitThresholds {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, metrics.ExitThresholds, out, errOut)
	}
	if !strings.Contains(out, "FAIL") {
		t.Errorf("stdout does not show the failed threshold:\n%s", out)
	}
}

func TestShardsMergeIntoOneRun(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for _, shard := range []string{"0/2", "1/2"} {
		dir := filepath.Join(root, "agent-"+shard[:1])
		dirs = append(dirs, dir)
		// Each agent brings its own embedded server: a shard's groups never span two servers.
		code, out, errOut := runCLI(t, append([]string{"run", "-out", dir, "-shard", shard, "-run-id", "m", "-no-report"}, small...)...)
		if code != metrics.ExitOK {
			t.Fatalf("shard %s: exit %d\nstdout:\n%s\nstderr:\n%s", shard, code, out, errOut)
		}
	}
	merged := filepath.Join(root, "merged")
	code, out, errOut := runCLI(t, append([]string{"merge", "-out", merged}, dirs...)...)
	if code != metrics.ExitOK {
		t.Fatalf("merge: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	sum, err := metrics.ReadSummary(merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Agents) != 2 || sum.Counters[metrics.Connections] != 12 {
		t.Errorf("merged: %d agents, %d connections; want 2 agents and 12 connections (6 each)", len(sum.Agents), sum.Counters[metrics.Connections])
	}
	// The scenario's thresholds were judged again on the merged histograms.
	var exprs []string
	for _, r := range sum.Thresholds {
		exprs = append(exprs, r.Expr)
	}
	if !slices.Contains(exprs, busyPKThreshold) {
		t.Errorf("merged thresholds %q lack the scenario's", exprs)
	}
	if code, out, errOut := runCLI(t, "report", merged); code != metrics.ExitOK || !strings.Contains(out, "report.html") {
		t.Errorf("report: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestBadUsageExits2WithAMessage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"run", "-scenario", "nope"}, "nope"},
		{[]string{"run", "-set", "hosts=many"}, "not an integer"},
		{[]string{"run", "-set", "colour=blue"}, "unknown parameter"},
		{[]string{"run", "-set", "hosts=1"}, "hosts 1"},
		{[]string{"run", "-shard", "3/3"}, "shard"},
		{[]string{"run", "-source-ips", "127.0.0.9-127.0.0.2"}, "range"},
		{[]string{"run", "-target", "http://x/v1/ws"}, "ws://"},
		{[]string{"run", "-target", "ws://a:1/v1/ws,ws://b:1/v1/ws", "-rest", "http://a:1"}, "one per target"},
		{[]string{"run", "-threshold", "score_fanout.p99 <"}, "threshold"},
		{[]string{"run", "stray"}, "unexpected argument"},
		{[]string{"run", "-sdkappid", "x"}, "sdkappid"},
		{[]string{"merge", "-out", "x"}, "usage"},
		{[]string{"report"}, "usage"},
		{[]string{"bench", "-agents", "0"}, "at least 1"},
		{[]string{"bench-journal", "-server-bin", "/nonexistent/pkarena-server"}, "make build makes bin/pkarena-server"},
		{[]string{"bench-journal", "stray"}, "unexpected argument"},
	} {
		code, _, errOut := runCLI(t, tt.args...)
		if code != metrics.ExitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and a message with %q", tt.args, code, errOut, tt.want)
		}
	}
}

// A target nothing listens on fails at once, with the dial error, as the tool's failure (3),
// not after a whole run of failed connections judged as breached thresholds (1).
func TestUnreachableTargetFailsTheToolAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	code, _, errOut := runCLI(t, append([]string{"run", "-target", "ws://" + addr + "/v1/ws", "-out", t.TempDir()}, small...)...)
	if code != metrics.ExitError || !strings.Contains(errOut, "unreachable") || !strings.Contains(errOut, "refused") {
		t.Errorf("exit %d, stderr %q; want exit 3 naming the target unreachable and the refusal", code, errOut)
	}
}

// Help asked for is not an error: every subcommand's -h exits 0, as do -h and -version.
func TestHelpAndVersionExit0(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-version"}, {"version"}, {"run", "-h"}, {"capacity", "-h"}, {"merge", "-h"},
		{"report", "-h"}, {"bench", "-h"}, {"bench-fanout", "-h"}, {"bench-journal", "-h"}, {"bare-server", "-h"}, {"bare-client", "-h"}, {"demo", "-h"}} {
		if code, _, _ := runCLI(t, args...); code != metrics.ExitOK {
			t.Errorf("%q: exit %d; want 0", args, code)
		}
	}
}

// run -h lists every -set key, so nobody has to provoke an error to learn them.
func TestRunHelpListsTheSetKeys(t *testing.T) {
	_, _, errOut := runCLI(t, "run", "-h")
	for _, k := range scenarios.SetKeys {
		if !strings.Contains(errOut, k) {
			t.Errorf("run -h does not mention -set key %q", k)
		}
	}
}

func TestMergeOfMissingFolderIsAnError(t *testing.T) {
	code, _, errOut := runCLI(t, "merge", "-out", t.TempDir()+"/m", t.TempDir()+"/absent")
	if code != metrics.ExitError || errOut == "" {
		t.Errorf("exit %d, stderr %q; want exit 3 and a message", code, errOut)
	}
}

func TestParseSourceIPs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"127.0.0.2", []string{"127.0.0.2"}},
		{"127.0.0.2-127.0.0.4", []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"127.0.0.2, 127.0.0.7-127.0.0.8", []string{"127.0.0.2", "127.0.0.7", "127.0.0.8"}},
		{"::1", []string{"::1"}},
	} {
		got, err := parseSourceIPs(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseSourceIPs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"x", "127.0.0.2-127.0.1.3", "127.0.0.5-127.0.0.4", "127.0.0.2-y"} {
		if _, err := parseSourceIPs(bad); err == nil {
			t.Errorf("parseSourceIPs(%q) accepted", bad)
		}
	}
}

func TestParseTargetsDerivesRESTRoots(t *testing.T) {
	got, err := parseTargets([]string{"ws://127.0.0.1:7070/v1/ws", "wss://example.com/v1/ws"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].REST != "http://127.0.0.1:7070" || got[1].REST != "https://example.com" {
		t.Errorf("REST roots %q, %q; want http://127.0.0.1:7070 and https://example.com", got[0].REST, got[1].REST)
	}
}

// capacity steps the rate until a threshold breaks and reports the knee: with a bound on the
// number of score changes, 5 gifts a second for a second holds (about 45 samples) and 20 do
// not (about 180).
func TestCapacityFindsTheKnee(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "capacity", "-scenario", small[1], "-set", "hosts=6", "-set", "audience_per_room=2", "-set", "group_size=3",
		"-set", "ramp_up=200ms", "-set", "battle_duration=30s", "-set", "battle_stagger=0s", "-drain", "1s",
		"-from", "5", "-factor", "4", "-steps", "3", "-refine", "0", "-step", "1s", "-threshold", "score_fanout.count < 100", "-out", dir)
	if code != metrics.ExitOK {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "knee: 5 gifts/s") {
		t.Errorf("stdout does not give the knee at 5 gifts/s:\n%s", out)
	}
	data, err := os.ReadFile(filepath.Join(dir, metrics.CapacityFile))
	if err != nil {
		t.Fatal(err)
	}
	var c metrics.Capacity
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Steps) != 2 || !c.Steps[0].Held || c.Steps[1].Held || c.Break == nil || c.Break.Rate != 20 {
		t.Errorf("steps %+v, break %+v; want 5 held, then 20 broke", c.Steps, c.Break)
	}
	if _, err := os.Stat(filepath.Join(dir, "capacity.html")); err != nil {
		t.Errorf("no capacity.html: %v", err)
	}
}

// The reconnect scenario against the embedded server (resume on): every drop resumes, the
// report marks the storm. Latency thresholds may fail on a busy machine; a loss may not.
func TestReconnectRunResumesAndMarksTheStorm(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, append([]string{"run", "-out", dir, "-check-generator=false"}, smallReconnect...)...)
	if code != metrics.ExitOK && code != metrics.ExitThresholds {
		t.Fatalf("exit %d; want 0 (or 1 for a latency bound on a busy machine)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	sum, err := metrics.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := sum.Counters
	if c["resume.storm"] != 6 || c["resume.recovered"] != c["resume.drops"] || c["resume.refused"] != 0 || c[metrics.Lost] != 0 {
		t.Errorf("counters %v; want 6 drops in the storm, every drop recovered, none refused or lost", c)
	}
	if m := sum.Metric(metrics.ResumeCatchup); m == nil || m.Stats(metrics.Corrected).Count != c["resume.drops"] {
		t.Errorf("resume_catchup: %+v; want one sample per drop (%d)", m, c["resume.drops"])
	}
	var exprs []string
	for _, r := range sum.Thresholds {
		exprs = append(exprs, r.Expr)
	}
	if !slices.Contains(exprs, "resume.refused.count == 0") {
		t.Errorf("thresholds %q lack the refused resumes", exprs)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `class="phase p-storm"`) {
		t.Error("report.html does not mark the storm on its time charts")
	}
}

// Against a server with resume off the reconnect scenario stops before its ramp, with a
// usage exit code and a message saying what to do.
func TestReconnectNeedsAServerThatResumes(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	code, out, errOut := runCLI(t, append([]string{"run", "-out", t.TempDir(), "-target", srv.URL}, smallReconnect...)...)
	if code != metrics.ExitUsage || !strings.Contains(errOut, "resumeWindowMs 0") || !strings.Contains(errOut, "-resume-window") {
		t.Fatalf("exit %d; want %d with a message about resumeWindowMs 0 and -resume-window\nstdout:\n%s\nstderr:\n%s", code, metrics.ExitUsage, out, errOut)
	}
}
