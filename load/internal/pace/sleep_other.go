//go:build !unix

package pace

import "time"

// finishSleep sleeps d with a Go timer where there is no nanosleep(2).
func finishSleep(d time.Duration) { time.Sleep(d) }
