package server

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// An idle connection holds one goroutine, its reader, and a request does not grow that
// reader's stack: the stacks were most of the server's memory a connection
// (measurements/load-bench.md). Its writer is a goroutine only while it has frames to write
// (conn.write); the envelope is read without encoding/json's recursion (parseRequest), which
// took the reader from 4 KB to 8 KB at every request until a collection halved it again.
// No collection runs meanwhile, so what grows stays grown. WebSocket pings are left out:
// under the race detector their handler's path passes 4 KB (without it, it does not).
func TestConnectionsHoldOneGoroutineThatRequestsDoNotGrow(t *testing.T) {
	// No connection may end while the test waits for the writers to end: that would take
	// their readers with them, and the count would hold for the wrong reason.
	_, base := newTestServer(t, func(cfg *Config) { cfg.HeartbeatTimeout = time.Hour })
	const n = 300
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	g0 := runtime.NumGoroutine()
	stackInuse := func() int64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.StackInuse)
	}
	idle := func() error {
		if g := runtime.NumGoroutine() - g0; g > n {
			return fmt.Errorf("%d goroutines more for %d idle connections; want one each, the reader", g, n)
		}
		return nil
	}
	cs := make([]*rawClient, n)
	for i := range cs {
		cs[i] = dial(t, base, fmt.Sprintf("stack-%d", i))
	}
	waitFor(t, idle) // the writers end once the welcomes are written
	before := stackInuse()
	for _, c := range cs {
		if r := c.call(protocol.ReqHeartbeat, nil); *r.Code != 0 {
			t.Fatalf("heartbeat: code %d", *r.Code)
		}
	}
	waitFor(t, idle)
	if grew := (stackInuse() - before) / n; grew > 1024 {
		t.Errorf("a heartbeat grew the stacks by %d bytes a connection; want the reader to stay in its stack", grew)
	}
}
