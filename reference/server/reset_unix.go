//go:build !windows

package server

import "syscall"

// peerResets are the errors a write returns when the client reset the connection or shut it
// for the server's sending (resetByPeer).
var peerResets = [...]error{syscall.ECONNRESET, syscall.EPIPE}
