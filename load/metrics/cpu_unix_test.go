//go:build unix

package metrics

import (
	"os"
	"testing"
	"time"
)

// TestProcessCPUIsUserAndSystem: ProcessCPU is the user and system times together, taken
// between two readings of ProcessCPUTimes (the process's CPU only grows). System calls are
// made first until some system time shows, so that a sum is told from a difference.
func TestProcessCPUIsUserAndSystem(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	u0, s0, ok := ProcessCPUTimes()
	for end := time.Now().Add(5 * time.Second); ok && s0 == 0 && time.Now().Before(end); {
		for range 1000 {
			_, _ = null.Write([]byte{0})
		}
		u0, s0, ok = ProcessCPUTimes()
	}
	if !ok {
		t.Skip("getrusage refused")
	}
	if s0 == 0 {
		t.Fatal("no system time after 5 s of system calls")
	}
	cpu, ok := ProcessCPU()
	u1, s1, _ := ProcessCPUTimes()
	if !ok || cpu < u0+s0 || cpu > u1+s1 {
		t.Errorf("ProcessCPU = %v, %v; want between %v and %v (user and system before and after)", cpu, ok, u0+s0, u1+s1)
	}
}
