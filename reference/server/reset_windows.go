package server

import "syscall"

// peerResets are the errors a write returns when the client reset the connection or shut it
// for the server's sending (resetByPeer). Winsock's own codes: Go's syscall.ECONNRESET on
// Windows is a number of its own that no socket call returns.
var peerResets = [...]error{syscall.WSAECONNRESET, syscall.WSAECONNABORTED}
