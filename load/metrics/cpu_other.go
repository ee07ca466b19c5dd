//go:build !unix

package metrics

import "time"

// ProcessCPU is the CPU time this process has used so far; ok is false where it cannot be
// read, as here.
func ProcessCPU() (cpu time.Duration, ok bool) { return 0, false }

// ProcessCPUTimes is ProcessCPU split into user and system time; ok is false here.
func ProcessCPUTimes() (user, system time.Duration, ok bool) { return 0, 0, false }
