package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/scenarios"
)

// The kinds a group can have (a mix scenario assigns one to each group).
const (
	kindChurn = scenarios.KindChurn
	kindPK    = scenarios.KindPK
)

// group is a connection group of rooms on one target, of one kind. Its leader is the host of
// its first room: it invites the others and requests the battles.
type group struct {
	index  int
	kind   string
	target int
	rooms  []*room
	byLive map[string]int // room index by live ID

	formed     chan struct{} // pk: closed when the leader sees every room connected
	formedOnce sync.Once

	// battle is the battle being requested, running or ending; nil between battles. Every
	// score change a member reads looks it up: an atomic, not g.mu, which all of them would
	// share.
	battle atomic.Pointer[battle]

	mu    sync.Mutex
	ready int    // rooms whose host's createLive is done
	cycle *cycle // the churn cycle in progress; nil between cycles
}

func (g *group) leader() *user { return g.rooms[0].host }

// current returns the group's battle, or nil.
func (g *group) current() *battle { return g.battle.Load() }

func (g *group) setBattle(b *battle) { g.battle.Store(b) }

// members lists every user of the group, hosts and audience.
func (g *group) members() []*user {
	var out []*user
	for _, r := range g.rooms {
		out = append(out, r.host)
		out = append(out, r.audience...)
	}
	return out
}

// formTimeout bounds the wait, after the ramp, for every pk group to have connected its rooms.
const formTimeout = 30 * time.Second

// hostReady counts a room of the group as created (or as failed: it will never be). When the
// last one is in, a pk group's leader invites the others with no timeout and each invited
// host accepts (onEvent): groups form during the ramp, as soon as their hosts are live and
// before their audiences join, as hosts would do it.
func (e *engine) hostReady(g *group) {
	g.mu.Lock()
	g.ready++
	all := g.ready == len(g.rooms)
	g.mu.Unlock()
	if !all || g.kind != kindPK {
		return
	}
	var ids []string
	for _, r := range g.rooms[1:] {
		ids = append(ids, r.liveID)
	}
	never := 0
	req := client.RequestConnectionRequest{LiveIDs: ids, Timeout: &never}
	e.async(g.leader(), time.Now(), client.ReqRequestConnection, req, func(f client.Frame, err error) {
		if err != nil {
			return // counted by async
		}
		var reply client.RequestConnectionReply
		if f.Decode(&reply) != nil {
			e.rec.Add(counterMalformed, 1)
			return
		}
		for _, code := range reply.Results {
			if code != client.ConnSuccess {
				e.rec.Add(counterInviteRefused, 1)
			}
		}
	})
}

// awaitGroups waits, after the ramp, for every pk group to have formed. Groups that do not
// form in time are counted in "groups.unformed" and sit out the run.
func (e *engine) awaitGroups(ctx context.Context) error {
	deadline := time.NewTimer(formTimeout)
	defer deadline.Stop()
	unformed, pk := 0, 0
	for _, g := range e.groups {
		if g.kind != kindPK {
			continue
		}
		pk++
		select {
		case <-g.formed:
		case <-deadline.C:
			deadline.Reset(0) // the others get no more time
			unformed++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if unformed > 0 {
		e.rec.Add(counterUnformed, int64(unformed))
		e.log.Warn("some battle groups did not form", "groups", unformed, "of", pk)
	}
	return nil
}

// runGroups starts what every group does in the measured phase: battles for pk groups,
// invitation cycles for churn groups (a loop per group in the closed model, arrivals at
// cycle_rate in the open one).
func (e *engine) runGroups(ctx context.Context, wg *sync.WaitGroup) {
	var churn []*group
	for _, g := range e.groups {
		switch g.kind {
		case kindPK:
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.battleLoop(ctx, g)
			}()
		case kindChurn:
			churn = append(churn, g)
		}
	}
	if len(churn) == 0 {
		return
	}
	if e.sc.Model == scenarios.ModelClosed {
		for _, g := range churn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.churnLoop(ctx, g)
			}()
		}
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.churnArrivals(ctx, churn, wg)
	}()
}

// sleep waits d or until ctx ends; it reports whether the whole d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
