package metrics

import (
	"bytes"
	"strconv"
)

// MachineBusyPerCore is the gauge of how busy the whole machine was over the measured phase:
// the share of its CPU time that any process used or that its hypervisor took (steal), from
// /proc/stat (Linux only). Averaged over agents, as every "per_" gauge is. A generator that
// fell behind its schedule while using little of its own CPU, on a machine this busy, was
// kept waiting by the processes beside it (GeneratorReport.Crowded).
const MachineBusyPerCore = "machine.busy_per_core"

// MachineMaxBusy is the share of the machine's CPU at or over which a generator behind its
// schedule is judged crowded out rather than short of CPU of its own.
const MachineMaxBusy = 0.9

// MachineCPU is the CPU time of the whole machine so far, in the kernel's ticks: busy (user,
// nice, system, interrupts, steal) and in all (busy, idle and waiting for I/O). ReadMachineCPU
// reads it, and reports false where it cannot (not Linux, no /proc).
type MachineCPU struct {
	Busy, Total uint64
}

// BusyShare is the share of the machine's CPU that was busy between m and a later reading;
// ok is false when no time passed between them or they are not in order.
func (m MachineCPU) BusyShare(later MachineCPU) (share float64, ok bool) {
	if later.Total <= m.Total || later.Busy < m.Busy {
		return 0, false
	}
	return float64(later.Busy-m.Busy) / float64(later.Total-m.Total), true
}

// parseProcStat reads the machine's CPU times from the first line of /proc/stat ("cpu  user
// nice system idle iowait irq softirq steal guest guest_nice"; the guest times are already in
// user and nice, so they are not added again). ok is false for anything else.
func parseProcStat(data []byte) (m MachineCPU, ok bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return MachineCPU{}, false
	}
	var t [8]uint64 // user nice system idle iowait irq softirq steal; older kernels give fewer
	for i := range t {
		if i+1 >= len(fields) {
			break
		}
		v, err := strconv.ParseUint(string(fields[i+1]), 10, 64)
		if err != nil {
			return MachineCPU{}, false
		}
		t[i] = v
	}
	busy := t[0] + t[1] + t[2] + t[5] + t[6] + t[7]
	return MachineCPU{Busy: busy, Total: busy + t[3] + t[4]}, true
}
