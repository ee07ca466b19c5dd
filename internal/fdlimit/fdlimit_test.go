//go:build unix

package fdlimit

import (
	"syscall"
	"testing"
)

// TestRaiseReachesTheHardLimit: from a soft limit below the hard one (lowered here first, as
// a shell's default would be), Raise lifts it to the hard one.
func TestRaiseReachesTheHardLimit(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	if before.Max > 256 {
		lowered := syscall.Rlimit{Cur: 256, Max: before.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
			t.Fatal(err)
		}
	}
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
