package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cpuWatch samples a process's CPU time (user and system, from /proc) every cpuSampleEvery,
// so that its CPU over a window another process reports can be read afterwards.
type cpuWatch struct {
	pid     int
	mu      sync.Mutex
	samples []cpuSample
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// cpuSampleEvery is the sampling period; /proc counts in ticks of 10 ms.
const cpuSampleEvery = 50 * time.Millisecond

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// watchCPU starts sampling pid.
func watchCPU(pid int) *cpuWatch {
	w := &cpuWatch{pid: pid, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(cpuSampleEvery)
		defer t.Stop()
		for {
			if cpu, ok := procCPU(pid); ok {
				w.mu.Lock()
				w.samples = append(w.samples, cpuSample{time.Now(), cpu})
				w.mu.Unlock()
			}
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the sampling.
func (w *cpuWatch) stop() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

// between is the CPU the process used from start to end, interpolated between samples
// (0 when the samples do not cover the window). The window often ends less than a sampling
// period before the call (the reader that reports it has just exited): a sample is taken
// now when the last one is older than end, so that the end is covered.
func (w *cpuWatch) between(start, end time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.samples); n == 0 || w.samples[n-1].at.Before(end) {
		if cpu, ok := procCPU(w.pid); ok {
			w.samples = append(w.samples, cpuSample{time.Now(), cpu})
		}
	}
	at := func(t time.Time) (time.Duration, bool) {
		for i := 1; i < len(w.samples); i++ {
			a, b := w.samples[i-1], w.samples[i]
			if !t.After(b.at) && !t.Before(a.at) {
				span := b.at.Sub(a.at)
				if span <= 0 {
					return a.cpu, true
				}
				f := float64(t.Sub(a.at)) / float64(span)
				return a.cpu + time.Duration(f*float64(b.cpu-a.cpu)), true
			}
		}
		return 0, false
	}
	c0, ok0 := at(start)
	c1, ok1 := at(end)
	if !ok0 || !ok1 {
		return 0
	}
	return c1 - c0
}

// procCPU reads a process's user and system CPU time from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: the fields follow the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / userHZ, true
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
