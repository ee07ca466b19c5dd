package engine

import (
	"context"
	"sync"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/internal/pace"
	"github.com/pkarena/pkarena/load/metrics"
)

// cycle is one co-host churn cycle of a group: the leader invites k other hosts, each
// accepts or rejects as drawn, the group stays connected, then the rooms that joined leave.
type cycle struct {
	intended, sent time.Time
	accept         []bool // by room index: whether that invitee accepts

	mu       sync.Mutex
	expected int            // answers still awaited
	joined   []int          // rooms that accepted, in order
	answered chan struct{}  // closed when expected reaches 0
	names    map[string]int // invitee room by live ID
	closed   map[int]bool   // invitee rooms answered, timed out or refused outright
}

// answerTimeout is the invitation timeout the churn sends (COHOST-014); waitAnswers allows
// a little more, so every invitation closes by answer or timeout before it gives up.
const (
	answerTimeout = 10
	answerWait    = answerTimeout*time.Second + 5*time.Second
)

// churnLoop is the closed model: the group's leader runs cycles back to back, think_time
// apart, until ctx ends.
func (e *engine) churnLoop(ctx context.Context, g *group) {
	rng := e.rng(uint64(100 + g.index))
	for ctx.Err() == nil {
		e.churnCycle(ctx, g, time.Now(), rng.IntN, rng.Float64)
		if !sleep(ctx, e.sc.ThinkTime.D()) {
			return
		}
	}
}

// churnArrivals is the open model: cycles start at cycle_rate per second (this agent's
// share), each on an idle group; an arrival that finds every group busy is dropped and
// counted.
func (e *engine) churnArrivals(ctx context.Context, groups []*group, wg *sync.WaitGroup) {
	rate := e.sc.CycleRate / float64(e.cfg.Shards)
	if rate <= 0 {
		return
	}
	rng := e.rng(2)
	idle := make(chan *group, len(groups))
	for _, g := range groups {
		idle <- g
	}
	gap := time.Duration(float64(time.Second) / rate)
	for next := time.Now(); ; next = next.Add(gap) {
		if !pace.Until(ctx, next) {
			return
		}
		if time.Since(next) > lateAfter {
			e.rec.Add(metrics.Late, 1)
		}
		var g *group
		select {
		case g = <-idle:
		default:
			e.rec.Add(metrics.Dropped, 1)
			e.rec.Add(counterNoIdleGroup, 1)
			continue
		}
		k, accept := rng.IntN(len(g.rooms)-1), rng.Uint64()
		wg.Add(1)
		go func(intended time.Time) {
			defer wg.Done()
			draws := splitmix(accept)
			e.churnCycle(ctx, g, intended, func(int) int { return k }, draws)
			idle <- g
		}(next)
	}
}

// splitmix returns a float generator seeded by one draw, so that a cycle run on its own
// goroutine draws the same values whatever the scheduling.
func splitmix(seed uint64) func() float64 {
	return func() float64 {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		return float64(z>>11) / (1 << 53)
	}
}

// churnCycle runs one cycle on g. intn(n) draws how many hosts to invite (1 + intn(size-1)),
// float draws each invitee's answer against accept_ratio.
func (e *engine) churnCycle(ctx context.Context, g *group, intended time.Time, intn func(int) int, float func() float64) {
	k := 1 + intn(len(g.rooms)-1)
	c := &cycle{intended: intended, accept: make([]bool, len(g.rooms)), answered: make(chan struct{}), names: map[string]int{}, closed: map[int]bool{}}
	ids := make([]string, 0, k)
	for i := 1; i <= k; i++ {
		c.accept[i] = float() < e.sc.AcceptRatio
		c.names[g.rooms[i].liveID] = i
		ids = append(ids, g.rooms[i].liveID)
	}
	c.expected = k
	timeout := answerTimeout
	c.sent = time.Now() // before the cycle is published: the invitees read it
	g.mu.Lock()
	g.cycle = c
	g.mu.Unlock()
	defer func() {
		if ctx.Err() != nil {
			// The run ended mid-cycle: an invitation the server sends after the reply the
			// cycle stopped waiting for is no surprise. Stored before the cycle is
			// unpublished, so an invitee that finds no cycle sees it.
			e.ended.Store(true)
		}
		g.mu.Lock()
		g.cycle = nil
		g.mu.Unlock()
	}()
	var reply client.RequestConnectionReply
	err := e.call(ctx, g.leader(), client.ReqRequestConnection, client.RequestConnectionRequest{LiveIDs: ids, Timeout: &timeout}, &reply)
	if err != nil {
		return
	}
	refused := 0
	c.mu.Lock()
	for id, code := range reply.Results {
		if code != client.ConnSuccess {
			refused++
			if r, ok := c.names[id]; ok {
				c.closed[r] = true // no outcome event may follow
			}
		}
	}
	c.mu.Unlock()
	if refused > 0 {
		e.rec.Add(counterInviteRefused, int64(refused))
		c.settle(refused)
	}
	t := time.NewTimer(answerWait)
	select {
	case <-c.answered:
	case <-t.C:
		e.lose(metrics.LostOverdue, int64(c.pending())) // neither answer nor timeout event came
	case <-ctx.Done():
	}
	t.Stop()
	joined := c.rooms()
	if len(joined) > 0 && sleep(ctx, e.sc.Stay.D()) {
		// Each joined room leaves; with the last one gone the group dissolves (COHOST-030).
		for _, r := range joined {
			if e.call(ctx, g.rooms[r].host, client.ReqDisconnect, nil, nil) != nil && ctx.Err() != nil {
				break
			}
		}
	}
	if ctx.Err() == nil {
		e.churnDone.Add(1)
	}
}

// answered checks the leader's onConnectionRequestAccept, -Reject or -Timeout against the
// cycle: each invitation the server took (code 0) closes once, as its invitee drew. Every
// invitee answers as soon as it is invited, well within the 10 s timeout, so a timeout means
// the invitation or its answer was lost; an accept reported as a reject (or the reverse)
// breaks the protocol; an outcome for an invitation already closed (answered before, or
// refused outright) is out of order; one for a room not invited is unexpected.
func (g *group) answered(e *engine, ev client.Event) {
	g.mu.Lock()
	c := g.cycle
	g.mu.Unlock()
	if c == nil {
		return
	}
	var p client.ConnectionRequestOutcome
	if ev.Decode(&p) != nil {
		e.rec.Add(counterMalformed, 1)
		return
	}
	accepted := ev.Type == client.EvConnectionRequestAccept
	c.mu.Lock()
	r, invited := c.names[p.Invitee.LiveID]
	again := c.closed[r]
	if invited && !again {
		c.closed[r] = true
		if accepted {
			c.joined = append(c.joined, r)
		}
	}
	c.mu.Unlock()
	switch {
	case !invited:
		e.rec.Add(counterUnexpected, 1)
		return
	case again:
		e.rec.Add(metrics.OutOfOrder, 1)
		return
	case ev.Type == client.EvConnectionRequestTimeout:
		e.lose(metrics.LostOverdue, 1)
	case accepted != c.accept[r]:
		e.rec.Add(metrics.Violations, 1)
	}
	c.settle(1)
}

// settle marks n invitations as closed (answered, timed out or refused outright).
func (c *cycle) settle(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expected <= 0 {
		return
	}
	c.expected -= n
	if c.expected <= 0 {
		close(c.answered)
	}
}

func (c *cycle) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.expected, 0)
}

func (c *cycle) rooms() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.joined...)
}

// invited is an invitee host's onConnectionRequestReceived in a churn group: it records the
// delivery and answers as the cycle drew.
func (u *user) invited(ev client.Event) {
	e, g := u.e, u.room.group
	g.mu.Lock()
	c := g.cycle
	g.mu.Unlock()
	if c == nil {
		if !e.ended.Load() {
			e.rec.Add(counterUnexpected, 1)
		}
		return
	}
	e.rec.Record(metrics.InviteDelivery, u.index, c.intended, c.sent, ev.At)
	typ := client.ReqRejectConnection
	if c.accept[u.room.index] {
		typ = client.ReqAcceptConnection
	}
	e.async(u, ev.At, typ, liveRef{LiveID: g.rooms[0].liveID}, nil)
}
