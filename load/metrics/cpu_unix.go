//go:build unix

package metrics

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time this process has used so far, user and system; ok is false
// where it cannot be read.
func ProcessCPU() (cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
