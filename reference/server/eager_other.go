//go:build !linux

package server

import (
	"net"
	"syscall"
	"time"
)

// eagerSupported: eager reads wait in ppoll(2), which only the Linux build uses.
const eagerSupported = false

// ppollRead is never called where eagerSupported is false (newEagerPool gives no pool).
func ppollRead(syscall.RawConn, []byte, time.Time) (int, bool, error) { return 0, false, nil }

// interruptEager has no wait to end where eagerSupported is false.
func interruptEager(net.Conn) {}
