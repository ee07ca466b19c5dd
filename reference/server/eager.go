package server

import (
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Eager REST reads: a connection that made an authenticated REST call waits for its next
// request in a blocking ppoll(2) of its own, for at most eagerWindow, instead of in the
// runtime's network poller.
//
// Why: the Go scheduler asks the network poller for ready sockets only when a processor has
// no goroutine left to run (and sysmon every 10 ms). In a fan-out the server's processors run
// hundreds of connection writers, so a set_battle_score that arrives meanwhile waits until
// the fan-out before it has drained. Execution traces of the 9 × 50 fan-out at 50,000
// deliveries a second (measurements/fanout.md) put the time from the generator's write to the
// REST goroutine running at p50 1.7–3.4 ms, p99 13–16 ms; the score reached its first viewer
// at p50 4–8 ms where the bare broadcaster's frames took 1–1.7 ms. A thread blocked in ppoll
// is woken by the kernel when the request arrives and its goroutine queued at once: p50
// 0.1–0.6 ms in the same traces, and the first viewer 1.3–4.4 ms sooner in alternating pairs.
// When the cores are all busy the woken thread still waits for one (the kernel's scheduler).
//
// Bounds: at most Config.RESTEagerReads reads wait so at once, each holding an OS thread (a
// read beyond them uses the poller); the window ends a wait, so an idle keep-alive connection
// soon waits in the poller, holding nothing. Only the wait between two requests is eager
// (http.StateIdle): a request's body and net/http's background read (which it aborts with a
// deadline in the past, which a ppoll would not see) use the poller. A read deadline ends the
// wait when it comes before the window's end. Closing a connection that waits so shuts its
// reading side first, which ends the wait at once (Close would otherwise wait for it: the
// descriptor is held while it waits). Off where ppoll is not available (eager_other.go).
type eagerPool struct {
	slots  chan struct{} // one per read waiting in ppoll
	window time.Duration

	served atomic.Int64 // reads whose data came within the window
	lapsed atomic.Int64 // reads whose window ended without data, continued in the poller
	busy   atomic.Int64 // reads that found every slot waiting, in the poller from the start
}

// eagerWindow is how long a read waits in ppoll before it waits in the poller.
const eagerWindow = 20 * time.Millisecond

// maxRESTEagerReads bounds Config.RESTEagerReads: each read waiting eagerly holds an OS
// thread, and the runtime ends the process past 10,000 threads.
const maxRESTEagerReads = 64

// newEagerPool returns a pool of n eager reads, or nil (no eager reads) when n is 0 or the
// platform has no ppoll.
func newEagerPool(n int) *eagerPool {
	if n <= 0 || !eagerSupported {
		return nil
	}
	return &eagerPool{slots: make(chan struct{}, n), window: eagerWindow}
}

// markRESTCaller marks the connection r came on as a REST caller's: from its next request on,
// it waits for requests eagerly.
func markRESTCaller(r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*liveConn); ok {
		c.restCaller.Store(true)
	}
}

// setConnState follows c's http.ConnState: only an idle connection (between two requests)
// waits eagerly.
func setConnState(c net.Conn, state http.ConnState) {
	if lc, ok := c.(*liveConn); ok {
		lc.idle.Store(state == http.StateIdle)
	}
}

// readEagerly reads into p through the pool when c may (see eagerPool); ok is false when it
// did not read, and the caller reads through the poller. Read calls it only while c is idle.
func (c *liveConn) readEagerly(p []byte) (n int, ok bool, err error) {
	e := c.eager
	if len(p) == 0 || !c.restCaller.Load() {
		return 0, false, nil
	}
	wait := e.window
	if d := c.deadline.Load(); d != 0 {
		wait = min(wait, time.Until(time.Unix(0, d)))
	}
	if wait <= 0 {
		return 0, false, nil // the poller reports the deadline
	}
	sc, isSocket := c.Conn.(syscall.Conn)
	if !isSocket {
		return 0, false, nil
	}
	rc, rerr := sc.SyscallConn()
	if rerr != nil {
		return 0, false, nil
	}
	select {
	case e.slots <- struct{}{}:
	default:
		e.busy.Add(1)
		return 0, false, nil // every slot waits: the poller
	}
	defer func() { <-e.slots }()
	c.waiting.Store(true)
	n, ok, err = ppollRead(rc, p, time.Now().Add(wait))
	c.waiting.Store(false)
	if ok {
		e.served.Add(1)
	} else {
		e.lapsed.Add(1)
	}
	return n, ok, err
}

// watchEager adds rest_eager_reads_total to m's registry, read from p's counts at each
// scrape; without a pool (RESTEagerReads 0, or no ppoll) it stays at zero.
func (m *metrics) watchEager(p *eagerPool) {
	if p == nil {
		p = &eagerPool{}
	}
	for outcome, n := range map[string]*atomic.Int64{"served": &p.served, "lapsed": &p.lapsed, "busy": &p.busy} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "pkarena", Name: "rest_eager_reads_total",
			Help:        "Idle REST callers' connections waiting for their next request in a ppoll of their own (-rest-eager-reads), by outcome: served (the request came within the 20 ms window), lapsed (it did not: the wait went on in the network poller), busy (every slot was waiting: the network poller from the start).",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(n.Load()) }))
	}
}

// Close closes the connection, first ending an eager wait on it (interruptEager).
func (c *liveConn) Close() error {
	if c.waiting.Load() {
		interruptEager(c.Conn)
	}
	return c.Conn.Close()
}
