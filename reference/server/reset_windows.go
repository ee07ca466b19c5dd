package server

import "syscall"

// peerResets are the errors a read or a write returns when the client reset the connection,
// or a write when it is shut for the server's sending (resetByPeer). Winsock's own codes:
// Go's syscall.ECONNRESET on Windows is a number of its own that no socket call returns.
var peerResets = [...]error{syscall.WSAECONNRESET, syscall.WSAECONNABORTED}
