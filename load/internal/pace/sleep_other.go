//go:build !linux

package pace

import "time"

// finishSleep sleeps d with a Go timer off Linux: the syscall package has no nanosleep(2) on
// macOS or FreeBSD.
func finishSleep(d time.Duration) { time.Sleep(d) }
