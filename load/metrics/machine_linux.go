package metrics

import "os"

// ReadMachineCPU reads the whole machine's CPU times from /proc/stat.
func ReadMachineCPU() (MachineCPU, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, false
	}
	return parseProcStat(data)
}
