package engine

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// selfWatch is the generator watching itself over the measured phase (metrics.GeneratorReport):
// the CPU it uses, the frames it reads, how late its own wake-ups are, and how busy the
// machine it shares was.
type selfWatch struct {
	e         *engine
	start     time.Time
	user0     time.Duration
	system0   time.Duration
	cpuOK     bool
	machine0  metrics.MachineCPU
	machineOK bool
	frames0   uint64
	bytes0    uint64
	stopOnce  sync.Once
}

// watchSelf starts watching, at the start of the measured phase.
func (e *engine) watchSelf() *selfWatch {
	w := &selfWatch{e: e, start: time.Now()}
	w.frames0, w.bytes0 = e.framesRead()
	w.user0, w.system0, w.cpuOK = metrics.ProcessCPUTimes()
	w.machine0, w.machineOK = metrics.ReadMachineCPU()
	return w
}

// lag samples the generator's scheduling lag until ctx ends: a goroutine asks to wake every
// metrics.GeneratorLagTick and records how late it woke, as the generator's own work (a send
// due, a frame to read) would be late.
func (w *selfWatch) lag(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(metrics.GeneratorLagTick)
		defer t.Stop()
		due := time.Now().Add(metrics.GeneratorLagTick)
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				w.e.rec.Record(metrics.GeneratorLag, 0, due, due, now)
				due = now.Add(metrics.GeneratorLagTick)
				t.Reset(metrics.GeneratorLagTick)
			}
		}
	}()
}

// stop ends the watch, at the end of the measured phase, and sets the gauges and the frames
// counter the summary judges the generator by.
func (w *selfWatch) stop() {
	w.stopOnce.Do(func() {
		wall := time.Since(w.start)
		user, system, ok := metrics.ProcessCPUTimes()
		e := w.e
		frames, bytes := e.framesRead()
		e.rec.Add(metrics.FramesReceived, int64(frames-w.frames0))
		e.rec.Add(metrics.BytesReceived, int64(bytes-w.bytes0))
		if m, mok := metrics.ReadMachineCPU(); mok && w.machineOK {
			if busy, ok := w.machine0.BusyShare(m); ok {
				e.rec.Set(metrics.MachineBusyPerCore, busy)
			}
		}
		if !ok || !w.cpuOK || wall <= 0 {
			return
		}
		cores := runtime.GOMAXPROCS(0)
		used := user + system - w.user0 - w.system0
		e.rec.Set(metrics.GeneratorCPUSeconds, used.Seconds())
		e.rec.Set(metrics.GeneratorCPUSystem, (system - w.system0).Seconds())
		e.rec.Set(metrics.GeneratorCores, float64(cores))
		e.rec.Set(metrics.GeneratorCPUPerCore, used.Seconds()/(wall.Seconds()*float64(cores)))
	})
}

// framesRead counts the frames every connection has read so far, and their bytes.
func (e *engine) framesRead() (frames, bytes uint64) {
	for _, u := range e.users {
		frames += u.retiredFrames.Load()
		bytes += u.retiredBytes.Load()
		if c := u.conn(); c != nil {
			frames += c.Frames()
			bytes += c.Bytes()
		}
	}
	return frames, bytes
}
