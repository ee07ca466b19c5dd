//go:build !unix

package wsread

import (
	"errors"
	"net"
	"time"
)

// pollState is empty where no Reader is made.
type pollState struct{}

func (r *Reader) attach() bool     { return false }
func (r *Reader) closeConn() error { return r.conn.Close() }

// rawReadable is false where the socket cannot be read with a system call of our own.
func rawReadable(net.Conn) bool { return false }

func (r *Reader) start(_ func(int, []byte) bool, end func(error)) {
	end(errors.New("wsread: not supported on this system"))
}

func (r *Reader) arrived() time.Time { return time.Now() }
