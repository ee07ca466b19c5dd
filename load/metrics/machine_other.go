//go:build !linux

package metrics

// ReadMachineCPU reads the whole machine's CPU times; ok is false here (no /proc/stat).
func ReadMachineCPU() (MachineCPU, bool) { return MachineCPU{}, false }
