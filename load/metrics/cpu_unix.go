//go:build unix

package metrics

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time this process has used so far, user and system; ok is false
// where it cannot be read.
func ProcessCPU() (cpu time.Duration, ok bool) {
	user, system, ok := ProcessCPUTimes()
	return user + system, ok
}

// ProcessCPUTimes is ProcessCPU split: the time spent in the process's own code (user) and
// in the kernel on its behalf (system: for a load generator mostly the receive path of its
// sockets).
func ProcessCPUTimes() (user, system time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0, false
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), true
}
