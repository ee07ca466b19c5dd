package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/internal/seqwin"
	"github.com/pkarena/pkarena/load/internal/pace"
	"github.com/pkarena/pkarena/load/metrics"
)

// restHTTP is shared by every REST client: enough idle connections for many senders.
var restHTTP = &http.Client{
	Timeout:   30 * time.Second,
	Transport: client.StampConns(&http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}),
}

// room is a room of a group: its host and viewers.
type room struct {
	group    *group
	index    int
	liveID   string
	host     *user
	audience []*user
	ready    chan struct{} // closed once its host has tried to create it
	live     bool          // whether it was created; written before ready is closed
}

// user is one simulated client. c is set once, before any event; the fields under mu are
// shared by the user's reader, the heartbeat loop and the drain.
type user struct {
	e        *engine
	id       string
	index    int // connection number: the recorder's shard
	room     *room
	host     bool
	intended time.Time // when the ramp schedules its dial

	cmu sync.Mutex
	c   *client.Client

	mu          sync.Mutex
	scoreBattle string        // the battle whose score changes are counted ("" once counted)
	scores      seqwin.Window // the versions seen of it (the highest, and those skipped that have not come)
	scoreGot    uint64        // how many versions of it arrived (in order or not)
	lastStart   string        // the battle of the last onBattleStarted u got (a repeat is out of order)
	lastEnd     string        // the battle of the last onBattleEnded u got
	hbBusy      bool          // a heartbeat is unanswered
	hbDue       []time.Time   // heartbeats due meanwhile, oldest first
	inflight    int           // requests sent and not yet answered (a drop waits for them)
	dropping    bool          // the connection is being dropped and resumed (reconnect.go)

	// events are the seqs of the session's events handled (a reply's seq counts skipped): an
	// event not above the highest is handled if it was skipped (it came late), else it is a
	// duplicate (a resume's replay: reconnect.go). Only the reader of u's connection uses it.
	events seqwin.Window
	// retiredFrames and retiredBytes are what u's dropped connections read.
	retiredFrames, retiredBytes atomic.Uint64
}

func (u *user) conn() *client.Client {
	u.cmu.Lock()
	defer u.cmu.Unlock()
	return u.c
}

// plan lays out this shard's groups, rooms and users. Group sizes differ by at most one so
// that every group can battle (10,000 hosts in groups of 9: 1,112 groups of 8 or 9).
func (e *engine) plan() {
	sc := e.sc
	ngroups := (sc.Hosts + sc.GroupSize - 1) / sc.GroupSize
	kindRNG := e.sharedRNG(1)
	for g := 0; g < ngroups; g++ {
		size := sc.Hosts / ngroups
		if g < sc.Hosts%ngroups {
			size++
		}
		kind := sc.Kind
		if kind == scenarios.KindMix {
			kind = pickKind(sc.Mix, kindRNG.Float64())
		} else {
			kindRNG.Float64() // keep the draws aligned whatever the kind
		}
		if g%e.cfg.Shards != e.cfg.Shard {
			continue
		}
		gr := &group{index: g, kind: kind, target: g % len(e.cfg.Targets), byLive: map[string]int{}, formed: make(chan struct{})}
		for r := 0; r < size; r++ {
			rm := &room{group: gr, index: r, liveID: fmt.Sprintf("%s-g%d-r%d", e.cfg.RunID, g, r), ready: make(chan struct{})}
			rm.host = e.newUser(fmt.Sprintf("%s-g%d-h%d", e.cfg.RunID, g, r), rm, true)
			for a := 0; a < sc.AudiencePerRoom; a++ {
				rm.audience = append(rm.audience, e.newUser(fmt.Sprintf("%s-g%d-r%d-a%d", e.cfg.RunID, g, r, a), rm, false))
			}
			gr.byLive[rm.liveID] = r
			gr.rooms = append(gr.rooms, rm)
		}
		e.groups = append(e.groups, gr)
	}
}

// pickKind maps a draw in [0,1) to a kind by the mix's weights.
func pickKind(mix []scenarios.Part, x float64) string {
	for _, p := range mix {
		if x < p.Weight {
			return p.Kind
		}
		x -= p.Weight
	}
	return mix[len(mix)-1].Kind
}

func (e *engine) newUser(id string, rm *room, host bool) *user {
	u := &user{e: e, id: id, index: len(e.users), room: rm, host: host}
	e.users = append(e.users, u)
	return u
}

// connect dials every user on the ramp: hosts first (each creates its room), then viewers
// (each joins once its room exists), spread evenly over RampUp from the run's start. A dial
// that cannot start on time still happens, late, and counts in "late".
func (e *engine) connect(ctx context.Context) error {
	order := make([]*user, 0, len(e.users))
	for _, g := range e.groups {
		for _, r := range g.rooms {
			order = append(order, r.host)
		}
	}
	for _, g := range e.groups {
		for _, r := range g.rooms {
			order = append(order, r.audience...)
		}
	}
	step := time.Duration(0)
	if len(order) > 1 {
		step = e.sc.RampUp.D() / time.Duration(len(order))
	}
	for i, u := range order {
		u.intended = e.start.Add(time.Duration(i) * step)
	}
	work := make(chan *user)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < e.cfg.DialWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := e.dial(ctx, u); err != nil {
					failed.Add(1)
					e.countError(err)
					e.log.Debug("connect", "user", u.id, "err", err)
				}
			}
		}()
	}
	for _, u := range order {
		if d := time.Until(u.intended); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		work <- u
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		e.log.Warn("some users could not connect", "failed", n, "of", len(order))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return e.awaitGroups(ctx)
}

// dial connects u and puts it in its room: a host creates it, a viewer joins it once it
// exists. The viewers of a room whose host failed are not dialed (counted in
// "users.skipped"): the failure is counted once, as the host's.
func (e *engine) dial(ctx context.Context, u *user) error {
	if u.host {
		err := e.dialHost(ctx, u)
		u.room.live = err == nil
		close(u.room.ready)
		if err == nil {
			e.hostReady(u.room.group)
		}
		return err
	}
	select {
	case <-u.room.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !u.room.live {
		e.rec.Add(counterSkipped, 1)
		return nil
	}
	if err := e.open(ctx, u); err != nil {
		return err
	}
	return e.call(ctx, u, client.ReqJoinLive, liveRef{LiveID: u.room.liveID}, nil)
}

// dialHost connects a host and creates its room.
func (e *engine) dialHost(ctx context.Context, u *user) error {
	if err := e.open(ctx, u); err != nil {
		return err
	}
	return e.call(ctx, u, client.ReqCreateLive, client.CreateLiveRequest{LiveID: u.room.liveID, LiveName: "load " + u.room.liveID}, nil)
}

// clientConfig is the configuration of u's connection.
func (e *engine) clientConfig(u *user) client.Config {
	t := e.cfg.Targets[u.room.group.target]
	cfg := client.Config{
		URL: t.WS, SDKAppID: e.cfg.SDKAppID, Secret: e.cfg.Secret, UserID: u.id,
		// Frames are read straight from the socket (DirectRead), into buffers of 2 KB lent
		// only while bytes are read: a 9-room score change (about 1.2 KB) in one system call.
		// gorilla reads wss:// targets, through a buffer of the same size.
		NoHeartbeat: true, DirectRead: true, ReadBufferSize: 2048, WriteBufferSize: 1024,
		OnEvent: u.onEvent, ReuseBuffers: true, // the engine keeps no frame's bytes past its callback
	}
	if n := len(e.cfg.SourceIPs); n > 0 {
		cfg.LocalAddr = e.cfg.SourceIPs[u.index%n]
	}
	return cfg
}

// open dials u's WebSocket connection.
func (e *engine) open(ctx context.Context, u *user) error {
	cfg := e.clientConfig(u)
	sent := time.Now()
	if sent.Sub(u.intended) > lateAfter {
		e.rec.Add(metrics.Late, 1)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, cfg)
	e.rec.Add(metrics.Ops, 1)
	if err != nil {
		return fmt.Errorf("dial %s: %w", u.id, err)
	}
	e.rec.Record(metrics.Connect, u.index, u.intended, sent, c.WelcomeAt())
	if ms := c.Welcome().Timing.HeartbeatIntervalMs; ms > 0 {
		e.heartbeatMs.CompareAndSwap(0, int64(ms))
	}
	u.cmu.Lock()
	u.c = c
	u.cmu.Unlock()
	e.rec.Add(metrics.Connections, 1)
	return nil
}

// lateAfter is how far behind its intended time a send may start before it counts as late.
const lateAfter = 10 * time.Millisecond

// call makes one request synchronously and records its reply latency and errors (a call cut
// short because the run is over is no error).
func (e *engine) call(ctx context.Context, u *user, typ string, payload, out any) error {
	if !u.beginWait(ctx) { // a drop under way: the request waits for the resumed connection
		return fmt.Errorf("%s: %s: %w", u.id, typ, ctx.Err())
	}
	defer u.end()
	c := u.conn()
	if c == nil {
		return fmt.Errorf("%s: %s: not connected", u.id, typ)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sent := time.Now()
	e.rec.Add(metrics.Ops, 1)
	err := c.Call(cctx, typ, payload, out)
	switch {
	case err == nil:
		e.rec.Record(metrics.ReplyMetric(typ), u.index, sent, sent, time.Now())
	case !over(ctx):
		e.countError(err)
	}
	return err
}

// over reports whether ctx has ended or reached its deadline: a write deadline taken from
// it fails just before ctx.Err says so.
func over(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// async sends a request without waiting, records its reply latency from intended, and calls
// done (on the connection's reader) if not nil. While u's connection is being dropped the
// request is not sent: done gets errDropped, which is not counted.
func (e *engine) async(u *user, intended time.Time, typ string, payload any, done func(client.Frame, error)) {
	if !u.begin() {
		if done != nil {
			done(client.Frame{}, errDropped)
		}
		return
	}
	c := u.conn()
	if c == nil {
		u.end()
		if done != nil {
			done(client.Frame{}, fmt.Errorf("%s: %s: not connected", u.id, typ))
		}
		return
	}
	sent := time.Now()
	if sent.Sub(intended) > lateAfter {
		e.rec.Add(metrics.Late, 1)
	}
	e.rec.Add(metrics.Ops, 1)
	c.Go(typ, payload, func(f client.Frame, err error) {
		u.end()
		if err == nil {
			e.rec.Record(metrics.ReplyMetric(typ), u.index, intended, sent, f.At) // f.At: when it arrived
		}
		e.countError(err)
		if done != nil {
			done(f, err)
		}
	})
}

// startHeartbeats sends every connection a heartbeat each interval the server advertised
// (HEART-001; 5 s until a welcome has said), from one goroutine: no timer per connection. The
// interval is cut in slots (heartbeatStep) and each slot's users are sent their heartbeat at
// the slot's scheduled time; when the loop falls behind it catches up, each heartbeat still
// measured from its scheduled time. Users not connected yet are passed over.
func (e *engine) startHeartbeats(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := time.Now()
		for n := 0; ; n++ {
			interval := 5 * time.Second
			if ms := e.heartbeatMs.Load(); ms > 0 {
				interval = time.Duration(ms) * time.Millisecond
			}
			tick, slots := heartbeatStep(interval, len(e.users))
			next = next.Add(tick)
			if !pace.Until(ctx, next) {
				return
			}
			for i := n % slots; i < len(e.users); i += slots {
				if e.users[i].conn() != nil {
					e.heartbeat(e.users[i], next)
				}
			}
		}
	}()
}

// The heartbeat loop's steps: no shorter than heartbeatTick, at least ten an interval where
// that allows, and as many more as keep a step's sends to heartbeatsPerStep, so that none is
// made late by the ones before it.
const (
	heartbeatTick     = 10 * time.Millisecond
	heartbeatsPerStep = 100
)

// heartbeatStep cuts an interval shared by users into slots, one step of the heartbeat loop a
// slot, each user in one slot, and returns the step and the slots. 50,000 users at 5 s get
// steps of 10 ms, 100 sends each; 450 users get steps of 500 ms, 45 sends each, not one send
// every 10 ms: each wake-up of a process whose threads are idle costs it far more than a send
// (in the 450-user fan-out benchmark at 10,000 frames a second the generator spent 15.5-15.8
// µs a frame with the longer steps, 18.8-21.7 with 10 ms ones: measurements/fanout.md). An
// interval shorter than heartbeatTick is one slot of its length.
func heartbeatStep(interval time.Duration, users int) (tick time.Duration, slots int) {
	most := max(int(interval/heartbeatTick), 1)
	slots = min((users+heartbeatsPerStep-1)/heartbeatsPerStep, most)
	slots = max(slots, min(10, most))
	return interval / time.Duration(slots), slots
}

// maxHeartbeatBacklog bounds the heartbeats a user keeps due while one is unanswered;
// beyond it they are dropped (counted).
const maxHeartbeatBacklog = 64

// heartbeat sends u's heartbeat due at intended, unless one is unanswered: then it waits its
// turn, as wrk2 does it: a user has one request in flight, so a stalled server delays the
// sends and the stall shows in the latency measured from the intended time (corrected) while
// the server's own time (service) stays what it is.
func (e *engine) heartbeat(u *user, intended time.Time) {
	u.mu.Lock()
	if u.hbBusy {
		if len(u.hbDue) < maxHeartbeatBacklog {
			u.hbDue = append(u.hbDue, intended)
		} else {
			e.rec.Add(metrics.Dropped, 1)
		}
		u.mu.Unlock()
		return
	}
	u.hbBusy = true
	u.mu.Unlock()
	e.sendHeartbeat(u, intended)
}

// sendHeartbeat sends one heartbeat and, on its reply, the next one due if any.
func (e *engine) sendHeartbeat(u *user, intended time.Time) {
	e.async(u, intended, client.ReqHeartbeat, nil, func(client.Frame, error) {
		u.mu.Lock()
		if len(u.hbDue) == 0 {
			u.hbBusy = false
			u.hbDue = nil
			u.mu.Unlock()
			return
		}
		next := u.hbDue[0]
		u.hbDue = u.hbDue[1:]
		u.mu.Unlock()
		go e.sendHeartbeat(u, next) // not on the reader: a write may wait
	})
}
