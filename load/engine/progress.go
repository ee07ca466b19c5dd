package engine

import (
	"time"

	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
)

// progress closes the recorder's intervals every second and, when Config.Progress is set,
// hands it a snapshot: connections open, ops/s, errors, and the p99 so far of the metric
// that matters in the current phase. The returned function stops it.
func (e *engine) progress() (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			e.rec.Set(metrics.ConnectionsOpen, float64(e.connected()))
			p := e.rec.Progress(e.headline())
			if e.cfg.Progress != nil {
				e.cfg.Progress(p)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// headline is the metric of the progress line: connect during the ramp, then the one the
// scenario is about.
func (e *engine) headline() string {
	switch {
	case !e.measuring.Load():
		return metrics.Connect
	case e.sc.Kind == scenarios.KindChurn:
		return metrics.InviteDelivery
	default:
		return metrics.ScoreFanout
	}
}
