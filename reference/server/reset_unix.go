//go:build !windows

package server

import "syscall"

// peerResets are the errors a read or a write returns when the client reset the connection,
// or a write when it is shut for the server's sending (resetByPeer).
var peerResets = [...]error{syscall.ECONNRESET, syscall.EPIPE}
