package main

import (
	"strings"
	"testing"
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
	}{
		{"both at their targets", []int64{10_000_000, 20_000_000}, []int64{4_000_000, 6_000_000}, conns,
			"server 30000 bytes (≤ 30000): met", "load generator 10000 bytes (≤ 10000): met"},
		{"both a byte a connection past", []int64{30_001_000}, []int64{10_001_000}, conns,
			"server 30001 bytes (≤ 30000): **missed**", "load generator 10001 bytes (≤ 10000): **missed**"},
		{"the generator's peak over, the server's under", []int64{29_000_000}, []int64{13_000_000}, conns,
			"server 29000 bytes (≤ 30000): met", "load generator 13000 bytes (≤ 10000): **missed**"},
		{"connections missing", []int64{1_000_000}, []int64{1_000_000}, conns - 1,
			"server 1001 bytes (≤ 30000): not judged: 999 of 1000 connections held", "load generator 1001 bytes (≤ 10000): not judged: 999 of 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := memoryTargets(tt.server, tt.agents, tt.held, conns)
			if !strings.Contains(got, tt.wantServer) || !strings.Contains(got, tt.wantGenerator) || strings.Count(got, "\n") != 1 {
				t.Errorf("memoryTargets = %q; want one line with %q and %q", got, tt.wantServer, tt.wantGenerator)
			}
		})
	}
}
