//go:build !unix

package wsread

import (
	"errors"
	"net"
)

// rawReadable is false where the socket cannot be read with a system call of our own.
func rawReadable(net.Conn) bool { return false }

func (r *Reader) run(func(int, []byte) bool) error {
	return errors.New("wsread: not supported on this system")
}
