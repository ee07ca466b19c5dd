//go:build unix

package fdlimit

import (
	"syscall"
	"testing"
)

func TestRaiseReachesTheHardLimit(t *testing.T) {
	got, err := Raise()
	if err != nil {
		t.Fatalf("Raise: %v", err)
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if got != uint64(l.Cur) || l.Cur != l.Max {
		t.Errorf("Raise = %d; limit now %d of hard %d: want the soft limit at the hard one", got, l.Cur, l.Max)
	}
}
