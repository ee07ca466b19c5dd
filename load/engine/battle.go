package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
)

// battle is one battle of a pk group, from its request to its last onBattleEnded. Its mutable
// fields belong to mu.
//
// Score updates go out one at a time per battle, as a business backend that serialises a
// battle's updates would send them: gifts that arrive while one is in flight wait in queue and
// leave together in the next set_battle_score (one item per room). Since only this battle's
// sender changes its scores, the update in flight makes version acked+1 (BATTLE-042), and each
// recipient finds the update's times by the version it receives.
type battle struct {
	e        *engine
	g        *group
	intended time.Time // when the group meant to request it
	sent     time.Time // when requestBattle went out
	endAt    time.Time // sent + duration: the earliest moment it can end
	members  int       // users connected when it was requested
	done     chan struct{}
	wake     chan struct{} // a gift is queued (capacity 1)

	mu       sync.Mutex
	id       string
	queue    []gift
	versions map[uint64]stamp // each update's times, by the version it makes
	acked    uint64           // the last version set_battle_score confirmed
	next     uint64           // the version the next call will make (pipelined calls)
	started  int              // members that got onBattleStarted
	ended    int              // members that got onBattleEnded
	closed   bool             // no more gifts: the battle is ending or the run is over
	settled  bool             // its losses are counted (settle): later events of it are ignored

	// The scores the calls make (scores.go): each room's by its index in g.rooms.
	sums        []int64            // as the last call sent leaves them
	wantAt      map[uint64][]int64 // by version, until every member has a later one
	lists       map[uint64][]byte  // by version, the first battleUserList found right, as sent
	unknownFrom uint64             // the first version whose scores are not known (a call failed), or 0
	suspects    []uint64           // versions of frames that did not match, judged by settle
}

// fate is what becomes of an event about a battle.
type fate uint8

const (
	fateCount fate = iota // recorded and counted
	fateLate              // the battle's losses were counted already (settle): ignored
	fateStray             // about another battle: counted unexpected
)

// gift is a gift waiting to be scored.
type gift struct {
	intended time.Time // when the viewer sent it (the schedule's time)
	room     int       // the room (index in the group) whose host gets the score
	score    int64
	done     func() // called once it is scored or given up (closed model), or nil
}

// stamp is when the oldest gift of an update was intended and when the update was sent, and
// how far the version it made has reached the members.
type stamp struct {
	intended, sent time.Time
	got            int       // members that have received the version
	first          time.Time // the earliest of their arrivals
	told           bool      // its score_fanout_first is recorded
}

// maxGiftQueue bounds the gifts waiting in one battle; beyond it gifts are dropped (counted).
const maxGiftQueue = 10000

// endGrace is how long after its end a battle's onBattleEnded may take before its members are
// counted as never told.
const endGrace = 10 * time.Second

// ID returns the battle's ID, or "" before the server has told it.
func (b *battle) ID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.id
}

// claim records an onBattleStarted for the battle id: the first reply or event names the
// battle, and a start is counted only for that name, and only until the battle is settled.
func (b *battle) claim(id string) fate {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id == "" {
		b.id = id
	}
	switch {
	case b.id != id:
		return fateStray
	case b.settled:
		return fateLate
	}
	b.started++
	return fateCount
}

// name sets the battle's ID from the requestBattle reply.
func (b *battle) name(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id == "" {
		b.id = id
	}
	return b.id == id
}

// stamp returns the times of the update of battle id that made version, for a member that
// received it at at; ok is false when the battle is another or no update of it made that
// version. first is the earliest arrival of the version once every member has it, else zero:
// the members' frames are handed over in no particular order, so the first handed over need
// not be the first to arrive (a version some member never gets is settled with the battle).
func (b *battle) stamp(id []byte, version uint64, at time.Time) (st stamp, first time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id != string(id) {
		return stamp{}, time.Time{}, false
	}
	if st, ok = b.versions[version]; !ok {
		return stamp{}, time.Time{}, false
	}
	st.got++
	if st.first.IsZero() || at.Before(st.first) {
		st.first = at
	}
	if st.got >= b.members && !st.told {
		st.told, first = true, st.first
		b.forgetScoresBefore(version) // every host has checked them
	}
	b.versions[version] = st
	return st, first, true
}

// untold marks told, and returns, the versions some member received whose first arrival is
// not recorded yet (a member never got them).
func (b *battle) untold() []stamp {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []stamp
	for v, st := range b.versions {
		if st.got > 0 && !st.told {
			st.told = true
			b.versions[v] = st
			out = append(out, st)
		}
	}
	return out
}

// memberEnded counts one member's onBattleEnded and closes done when every member has one;
// once the battle is settled it counts nothing (fateLate).
func (b *battle) memberEnded() fate {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.settled {
		return fateLate
	}
	b.ended++
	if b.ended == b.members {
		close(b.done)
	}
	return fateCount
}

// isSettled reports whether the battle's losses are counted.
func (b *battle) isSettled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.settled
}

// enqueue queues a gift; false if the battle takes no more gifts or its queue is full.
func (b *battle) enqueue(gf gift) (ok, full bool) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return false, false
	case len(b.queue) >= maxGiftQueue:
		b.mu.Unlock()
		return false, true
	}
	b.queue = append(b.queue, gf)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true, false
}

// close stops taking gifts and returns those still queued.
func (b *battle) close() []gift {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	q := b.queue
	b.queue = nil
	return q
}

// battleLoop makes the group battle again and again until ctx ends: after a random offset,
// the leader requests a battle with every other host (needResponse false: it starts at once,
// BATTLE-008), gifts are scored while it runs, and the next one is requested once every
// member has seen it end (closed model: after think_time).
func (e *engine) battleLoop(ctx context.Context, g *group) {
	select {
	case <-g.formed:
	case <-ctx.Done():
		return
	}
	leader := g.leader()
	var others []string
	for _, r := range g.rooms[1:] {
		others = append(others, r.host.id)
	}
	seconds := int(e.sc.BattleDuration.D() / time.Second)
	noResponse := false
	req := client.RequestBattleRequest{
		Config:  client.BattleConfigRequest{Duration: &seconds, NeedResponse: &noResponse},
		UserIDs: others,
	}
	// Groups start their first battle spread over the scenario's stagger (by default one
	// battle's length, at most half the run), so that battles do not start and end in waves
	// across the whole population.
	offset := time.Duration(e.sharedRNG(1000 + uint64(g.index)).Int64N(int64(e.sc.Stagger()) + 1))
	if !sleep(ctx, offset) {
		return
	}
	next := time.Now()
	for ctx.Err() == nil {
		b := &battle{
			e: e, g: g, intended: next, members: connectedMembers(g), versions: map[uint64]stamp{},
			done: make(chan struct{}), wake: make(chan struct{}, 1),
		}
		b.sent = time.Now() // before the battle is published: the members read it
		b.endAt = b.sent.Add(e.sc.BattleDuration.D())
		g.setBattle(b)
		var reply client.RequestBattleReply
		// A request in flight when the run ends gets its reply: the battle it starts on the
		// server is this group's, counted and settled by the drain, not a stray.
		callCtx, stop := outliving(ctx, e.cfg.Drain)
		err := e.call(callCtx, leader, client.ReqRequestBattle, req, &reply)
		stop()
		if err != nil {
			g.setBattle(nil)
			if !sleep(ctx, time.Second) { // a refused battle is not retried in a tight loop
				return
			}
			next = time.Now()
			continue
		}
		e.battles.Add(1)
		if !b.name(reply.BattleInfo.BattleID) {
			e.rec.Add(counterUnexpected, 1)
		}
		for _, code := range reply.Results {
			if code != client.BattleSuccess {
				e.rec.Add(counterBattleRefused, 1)
			}
		}
		e.addActive(b)
		sender := make(chan struct{})
		go func() {
			defer close(sender)
			e.sendScores(ctx, b, leader.index)
		}()
		wait := time.NewTimer(time.Until(b.endAt) + endGrace)
		select {
		case <-b.done:
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		e.removeActive(b)
		left := b.close()
		<-sender
		if ctx.Err() != nil {
			// The run is over: gifts still queued were never due to be scored in it, and the
			// drain settles the battle.
			e.release(left)
			return
		}
		e.giveUp(left)
		e.settle(b, time.Now(), false)
		g.setBattle(nil)
		if e.sc.Model == scenarios.ModelClosed && !sleep(ctx, e.sc.ThinkTime.D()) {
			return
		}
		next = time.Now()
	}
}

// connectedMembers counts the group's users whose connection is open or being resumed
// (their session goes on: RESUME-001).
func connectedMembers(g *group) int {
	n := 0
	for _, u := range g.members() {
		if u.open() || u.reconnecting() {
			n++
		}
	}
	return n
}

// settle closes the battle's books and counts as lost what its members should have had and
// did not get: the starts; the ends, when every member got one or the end was due before
// dueBy; and each member's score changes up to the last acknowledged version. From then on its
// events are ignored (fateLate), so nothing is both lost and recorded, whatever arrives while
// the books close. With wait set it leaves open, and reports false for, a battle whose end may
// already be on its way: its earliest end has passed and not every member has it.
func (e *engine) settle(b *battle, dueBy time.Time, wait bool) bool {
	b.mu.Lock()
	if b.settled {
		b.mu.Unlock()
		return true
	}
	done := isClosed(b.done)
	if wait && !done && !time.Now().Before(b.endAt) {
		b.mu.Unlock()
		return false
	}
	b.settled = true
	lost := max(b.members-b.started, 0)
	if done || b.endAt.Before(dueBy) {
		lost += max(b.members-b.ended, 0)
	}
	id, acked := b.id, b.acked
	wrong, unknown := b.judgeSuspects()
	b.mu.Unlock()
	e.judgeScores(wrong, unknown)
	for _, u := range b.g.members() {
		u.mu.Lock()
		if id != "" && u.scoreBattle == id {
			if acked > u.scoreGot {
				lost += int(acked - u.scoreGot)
			}
			u.scoreBattle = "" // counted
		}
		u.mu.Unlock()
	}
	if lost > 0 {
		e.lose(metrics.LostOverdue, int64(lost))
	}
	for _, st := range b.untold() {
		e.rec.Record(metrics.ScoreFanoutFirst, 0, st.intended, st.sent, st.first)
	}
	return true
}

// caughtUp reports whether every member counting the battle's score changes has the last
// acknowledged version.
func (b *battle) caughtUp() bool {
	b.mu.Lock()
	id, acked := b.id, b.acked
	b.mu.Unlock()
	for _, u := range b.g.members() {
		u.mu.Lock()
		behind := u.scoreBattle == id && u.scores.High() < acked
		u.mu.Unlock()
		if behind {
			return false
		}
	}
	return true
}

// sendScores is the battle's sender: it turns queued gifts into set_battle_score calls, one
// in flight at a time, until the battle is closed and its queue empty.
func (e *engine) sendScores(ctx context.Context, b *battle, shard int) {
	if depth := e.sc.Pipeline(); depth > 1 {
		e.pipeScores(ctx, b, shard, depth)
		return
	}
	rest := e.rests[b.g.target]
	for calls := 0; ; calls++ {
		u, ok := e.nextUpdate(ctx, b)
		if !ok {
			return
		}
		req := u.request(b.g, calls)
		e.rec.Add(metrics.Ops, 1)
		// The call in flight completes even if the run ends meanwhile: its version is counted.
		var at time.Time // when the answer arrived (client.WithArrival)
		resp, err := rest.SetBattleScore(client.WithArrival(context.WithoutCancel(ctx), &at), req)
		e.scored(b, shard, u, resp, at, err)
	}
}

// update is one set_battle_score call's worth of gifts: the gifts, their times (recorded
// under the version the call will make), that version and the battle's ID.
type update struct {
	batch   []gift
	st      stamp
	version uint64
	id      string
}

// request is the set_battle_score call that scores u, the battle's calls-th.
func (u update) request(g *group, calls int) client.SetBattleScoreRequest {
	return client.SetBattleScoreRequest{
		BattleID: u.id, OpType: client.OpAdd, ScoreList: scoreList(g, u.batch),
		IdempotencyKey: fmt.Sprintf("%s-%d", u.id, calls),
	}
}

// nextUpdate waits for gifts to score and takes them all. ok is false once the battle is
// over or the run ends.
func (e *engine) nextUpdate(ctx context.Context, b *battle) (u update, ok bool) {
	for {
		select {
		case <-b.wake:
		case <-ctx.Done():
			return update{}, false
		case <-b.done:
			return update{}, false
		}
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		if len(batch) == 0 {
			b.mu.Unlock()
			continue
		}
		// Only this sender changes the battle's scores, and the server applies its calls in
		// the order sent, so the version each makes follows from the last one sent.
		if b.next <= b.acked {
			b.next = b.acked + 1
		}
		u = update{batch: batch, st: stamp{intended: batch[0].intended, sent: time.Now()}, version: b.next, id: b.id}
		b.next++
		b.versions[u.version] = u.st
		b.expect(u.version, batch)
		b.mu.Unlock()
		return u, true
	}
}

// scored settles update u, answered at (when its answer arrived): its version acknowledged
// (or its times moved to the version the server names), its latency recorded, its gifts
// released.
func (e *engine) scored(b *battle, shard int, u update, resp client.SetBattleScoreResponse, at time.Time, err error) {
	b.mu.Lock()
	if err != nil {
		delete(b.versions, u.version)
		if b.next > b.acked+1 {
			b.next-- // the version was not made: the next call makes one fewer
		}
		b.loseScores(u.version)
	} else {
		if resp.ScoreVersion != u.version {
			b.loseScores(min(u.version, resp.ScoreVersion))
			// Someone else changed the scores, or an earlier call timed out but was applied:
			// the times belong to the version the server names.
			delete(b.versions, u.version)
			b.versions[resp.ScoreVersion] = u.st
			e.rec.Add(counterVersionMismatch, 1)
		}
		b.acked = max(b.acked, resp.ScoreVersion)
	}
	b.mu.Unlock()
	if err != nil {
		e.countError(err)
		e.rec.Add(counterGiftsFailed, int64(len(u.batch)))
	} else {
		e.rec.Record(metrics.RESTScore, shard, u.st.intended, u.st.sent, at)
		e.giftsSent.Add(int64(len(u.batch)))
	}
	e.release(u.batch)
}

// pipeScores is sendScores with up to depth calls outstanding on a REST pipe of the battle's
// own (client.RESTPipe): the server applies them in the order sent, so each one's version is
// known when it is sent, and updates are not held back by the round trip of the one before.
func (e *engine) pipeScores(ctx context.Context, b *battle, shard, depth int) {
	rest := e.rests[b.g.target]
	var pipe *client.RESTPipe
	var outstanding sync.WaitGroup
	defer func() {
		// The calls outstanding complete even if the run ends meanwhile (their versions
		// count), for a while.
		waited := make(chan struct{})
		go func() { outstanding.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(e.cfg.Drain):
		}
		if pipe != nil {
			pipe.Close()
		}
		outstanding.Wait()
	}()
	for calls := 0; ; calls++ {
		u, ok := e.nextUpdate(ctx, b)
		if !ok {
			return
		}
		if pipe == nil {
			var err error
			if pipe, err = rest.Pipe(ctx, depth); err != nil {
				e.rec.Add(metrics.Ops, 1)
				e.scored(b, shard, u, client.SetBattleScoreResponse{}, time.Time{}, err)
				pipe = nil
				continue
			}
		}
		req := u.request(b.g, calls)
		e.rec.Add(metrics.Ops, 1)
		outstanding.Add(1)
		p := pipe
		p.Go(client.APISetBattleScore, req, func(status int, env client.Envelope, at time.Time, err error) {
			defer outstanding.Done()
			var resp client.SetBattleScoreResponse
			switch {
			case err != nil:
			case env.ErrorCode != 0:
				err = &client.RESTError{API: client.APISetBattleScore, Status: status, Code: env.ErrorCode, Info: env.ErrorInfo, RequestID: env.RequestID}
			default:
				if jerr := json.Unmarshal(env.Response, &resp); jerr != nil {
					err = fmt.Errorf("%s: Response: %w", client.APISetBattleScore, jerr)
				}
			}
			e.scored(b, shard, u, resp, at, err)
		})
		if p.Err() != nil {
			pipe = nil // broken: the next update opens another
			p.Close()
		}
	}
}

// scoreList sums a batch of gifts per room, in room order.
func scoreList(g *group, batch []gift) []client.ScoreItem {
	sums := map[int]int64{}
	for _, gf := range batch {
		sums[gf.room] += gf.score
	}
	rooms := make([]int, 0, len(sums))
	for r := range sums {
		rooms = append(rooms, r)
	}
	sort.Ints(rooms)
	items := make([]client.ScoreItem, len(rooms))
	for i, r := range rooms {
		items[i] = client.ScoreItem{RoomID: g.rooms[r].liveID, Score: sums[r]}
	}
	return items
}

// giveUp releases gifts that will never be scored because their battle ended first:
// counted as dropped.
func (e *engine) giveUp(gifts []gift) {
	if len(gifts) > 0 {
		e.rec.Add(metrics.Dropped, int64(len(gifts)))
	}
	e.release(gifts)
}

// release frees the viewers waiting on gifts (closed model).
func (e *engine) release(gifts []gift) {
	for _, gf := range gifts {
		if gf.done != nil {
			gf.done()
		}
	}
}

func (e *engine) addActive(b *battle) {
	e.activeMu.Lock()
	e.active = append(e.active, b)
	e.activeMu.Unlock()
}

func (e *engine) removeActive(b *battle) {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	for i, a := range e.active {
		if a == b {
			last := len(e.active) - 1
			e.active[i] = e.active[last]
			e.active[last] = nil
			e.active = e.active[:last]
			return
		}
	}
}
