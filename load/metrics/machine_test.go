package metrics

import (
	"runtime"
	"testing"
)

// The machine's CPU times from /proc/stat's first line: busy is user, nice, system, the two
// interrupt times and steal; idle and I/O wait are the rest of the total; the guest times
// (already in user and nice) are not counted twice. Each field is given a value of its own
// (powers of two), so a field added to the wrong side, or twice, shows.
func TestParseProcStat(t *testing.T) {
	for _, tt := range []struct {
		name        string
		in          string
		busy, total uint64
		ok          bool
	}{
		{"every field", "cpu  1 2 4 8 16 32 64 128 256 512\ncpu0 1 2 4 8 16 32 64 128 256 512\n", 1 + 2 + 4 + 32 + 64 + 128, 255, true},
		{"this machine's line", "cpu  115334 0 47547 61908 568 0 19254 1638 0 0\n", 115334 + 47547 + 19254 + 1638, 115334 + 47547 + 19254 + 1638 + 61908 + 568, true},
		{"an old kernel's four times", "cpu 1 2 4 8\n", 7, 15, true},
		{"no newline", "cpu  1 2 4 8 16 32 64 128", 231, 255, true},
		{"three times", "cpu 1 2 4\n", 0, 0, false},
		{"a core's line first", "cpu0 1 2 4 8 16 32 64 128\n", 0, 0, false},
		{"not a number", "cpu  1 2 x 8 16 32 64 128\n", 0, 0, false},
		{"negative", "cpu  1 2 -4 8 16 32 64 128\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := parseProcStat([]byte(tt.in))
			if ok != tt.ok || m.Busy != tt.busy || m.Total != tt.total {
				t.Errorf("parseProcStat(%q) = %+v, %v; want busy %d, total %d, %v", tt.in, m, ok, tt.busy, tt.total, tt.ok)
			}
		})
	}
}

// BusyShare is the busy ticks over all ticks between two readings, and refuses readings
// with no time between them or in the wrong order.
func TestMachineBusyShare(t *testing.T) {
	a := MachineCPU{Busy: 100, Total: 400}
	for _, tt := range []struct {
		name  string
		later MachineCPU
		share float64
		ok    bool
	}{
		{"a quarter busy", MachineCPU{Busy: 125, Total: 500}, 0.25, true},
		{"all busy", MachineCPU{Busy: 200, Total: 500}, 1, true},
		{"idle", MachineCPU{Busy: 100, Total: 401}, 0, true},
		{"no time passed", a, 0, false},
		{"total went back", MachineCPU{Busy: 150, Total: 399}, 0, false},
		{"busy went back", MachineCPU{Busy: 99, Total: 500}, 0, false},
	} {
		if share, ok := a.BusyShare(tt.later); share != tt.share || ok != tt.ok {
			t.Errorf("%s: BusyShare = %v, %v; want %v, %v", tt.name, share, ok, tt.share, tt.ok)
		}
	}
}

// On Linux the machine's times are read, and they only grow.
func TestReadMachineCPU(t *testing.T) {
	m0, ok := ReadMachineCPU()
	if runtime.GOOS != "linux" {
		if ok {
			t.Errorf("ReadMachineCPU on %s = %+v, true; want false (no /proc/stat)", runtime.GOOS, m0)
		}
		return
	}
	if !ok || m0.Total == 0 || m0.Busy > m0.Total {
		t.Fatalf("ReadMachineCPU = %+v, %v; want times with busy within the total", m0, ok)
	}
	m1, ok := ReadMachineCPU()
	if !ok || m1.Total < m0.Total || m1.Busy < m0.Busy {
		t.Errorf("a second reading %+v went back from %+v", m1, m0)
	}
}
