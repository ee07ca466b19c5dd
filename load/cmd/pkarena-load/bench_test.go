package main

import (
	"strings"
	"testing"

	"github.com/pkarena/pkarena/load/metrics"
)

// TestMemoryTargets: the server and the generator are judged on the same yardstick, peak
// resident bytes over the connections held, each at its target and one byte past it, and not
// judged when fewer connections were held than planned.
func TestMemoryTargets(t *testing.T) {
	const conns = 1000
	for _, tt := range []struct {
		name           string
		server, agents []int64
		held           float64
		wantServer     string
		wantGenerator  string
		met            bool
	}{
		{"both at their targets", []int64{10_000_000, 20_000_000}, []int64{4_000_000, 6_000_000}, conns,
			"server 30000 bytes (≤ 30000): met", "load generator 10000 bytes (≤ 10000): met", true},
		{"both a byte a connection past", []int64{30_001_000}, []int64{10_001_000}, conns,
			"server 30001 bytes (≤ 30000): **missed**", "load generator 10001 bytes (≤ 10000): **missed**", false},
		{"the generator's peak over, the server's under", []int64{29_000_000}, []int64{13_000_000}, conns,
			"server 29000 bytes (≤ 30000): met", "load generator 13000 bytes (≤ 10000): **missed**", false},
		{"the server's peak over, the generator's under", []int64{30_001_000}, []int64{9_000_000}, conns,
			"server 30001 bytes (≤ 30000): **missed**", "load generator 9000 bytes (≤ 10000): met", false},
		{"connections missing", []int64{1_000_000}, []int64{1_000_000}, conns - 1,
			"server 1001 bytes (≤ 30000): not judged: 999 of 1000 connections held", "load generator 1001 bytes (≤ 10000): not judged: 999 of 1000", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, met := memoryTargets(tt.server, tt.agents, tt.held, conns)
			if !strings.Contains(got, tt.wantServer) || !strings.Contains(got, tt.wantGenerator) || strings.Count(got, "\n") != 1 || met != tt.met {
				t.Errorf("memoryTargets = %q, met %v; want one line with %q and %q, met %v", got, met, tt.wantServer, tt.wantGenerator, tt.met)
			}
		})
	}
}

// -strict turns a missed (or unjudged) memory target into exit 1, but never hides a graver
// verdict of the run (lost messages 4, the generator the bottleneck 5, the tool's error 3);
// without -strict the run's exit stands whatever the memory.
func TestStrictMemoryExit(t *testing.T) {
	for _, tt := range []struct {
		strict, met bool
		code, want  int
	}{
		{false, false, metrics.ExitOK, metrics.ExitOK},
		{true, true, metrics.ExitOK, metrics.ExitOK},
		{true, false, metrics.ExitOK, metrics.ExitThresholds},
		{true, false, metrics.ExitThresholds, metrics.ExitThresholds},
		{true, false, metrics.ExitLost, metrics.ExitLost},
		{true, false, metrics.ExitGenerator, metrics.ExitGenerator},
		{true, false, metrics.ExitError, metrics.ExitError},
		{false, true, metrics.ExitGenerator, metrics.ExitGenerator},
	} {
		var stderr strings.Builder
		got := strictMemory(tt.strict, tt.met, tt.code, &stderr)
		if got != tt.want || (stderr.Len() > 0) != (tt.strict && !tt.met && got == metrics.ExitThresholds) {
			t.Errorf("strictMemory(strict %v, met %v, exit %d) = %d, stderr %q; want %d, a word on stderr only when -strict decided",
				tt.strict, tt.met, tt.code, got, stderr.String(), tt.want)
		}
	}
}
