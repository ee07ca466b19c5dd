//go:build unix

// Package fdlimit raises the process's soft limit on open files to its hard limit: a server
// or load agent holding tens of thousands of connections needs one file each, and the soft
// limit is often 1,024.
package fdlimit

import "syscall"

// Raise lifts the soft RLIMIT_NOFILE to the hard limit and returns the limit now in force.
// Raising the hard limit needs privileges this does not try to use.
func Raise() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return uint64(l.Cur), nil // int64 on some systems (FreeBSD)
}
