package main

import (
	"os"
	"testing"
	"time"
)

// A window that ends after the last sample (the reader reporting it exited within a sampling
// period) is still measured: between samples the process at the call. Without it the bare
// broadcaster's CPU read 0 in bench-fanout whenever the reader's end beat the next sample.
func TestCPUWatchCoversAWindowEndingNow(t *testing.T) {
	pid := os.Getpid()
	cpu0, ok := procCPU(pid)
	if !ok {
		t.Skip("no /proc/<pid>/stat here")
	}
	start := time.Now()
	w := &cpuWatch{pid: pid, samples: []cpuSample{{start, cpu0}}}
	// Burn at least two ticks of CPU, so the window holds some whatever the clock's phase.
	for {
		if cpu, _ := procCPU(pid); cpu >= cpu0+2*time.Second/userHZ {
			break
		}
	}
	end := time.Now()
	if got := w.between(start, end); got <= 0 {
		t.Fatalf("between(start, end) = %v after burning CPU; want more than 0", got)
	}
}
