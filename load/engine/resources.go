package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/pkarena/pkarena/internal/fdlimit"
)

// filesReserve is the open files kept aside for everything but the connections: REST
// connections, log files, the results.
const filesReserve = 512

// checkFiles raises the open-file limit as far as it goes (Go does so at start-up too) and
// refuses a shard whose connections would not fit under it.
func (e *engine) checkFiles() error {
	limit, err := fdlimit.Raise()
	if err != nil || limit == 0 {
		return nil // unknown: let the dials find out
	}
	need := uint64(len(e.users)*e.cfg.FilesPerConnection + filesReserve)
	e.log.Info("open-file limit", "limit", limit, "need", need)
	if need > limit {
		return fmt.Errorf("%w: %d connections need about %d open files and the limit is %d; split the run with -shard i/n over more processes",
			ErrFileLimit, len(e.users), need, limit)
	}
	return nil
}

// heapInUse is the Go memory in use (heap and goroutine stacks) after a garbage collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// memoryPerConnection divides the Go memory added since baseline, and the process's
// resident set, by the n connections open. It first hands the ramp's garbage back to the
// operating system (the dials' handshakes leave plenty), so that the resident set is what the
// run holds from then on.
func memoryPerConnection(baseline uint64, n int) (heapStacks, rss float64) {
	if n == 0 {
		return 0, 0
	}
	debug.FreeOSMemory()
	now := heapInUse()
	added := float64(0)
	if now > baseline {
		added = float64(now - baseline)
	}
	return added / float64(n), float64(residentBytes()) / float64(n)
}

// residentBytes is the process's resident set size (Linux /proc), or 0 where unknown.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		f := bytes.Fields(line[len("VmRSS:"):])
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
