//go:build linux

package pace

import (
	"syscall"
	"time"
)

// finishSleep sleeps d (under a millisecond) in nanosleep(2): the goroutine's thread blocks
// in the kernel, and the Go scheduler runs others meanwhile.
func finishSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
