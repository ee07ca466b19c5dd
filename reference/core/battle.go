package core

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// battleState is where a battle is in its life (SPEC §12).
type battleState uint8

const (
	battlePending battleState = iota + 1 // waiting for the invitees' answers
	battleRunning                        // started, scores change
	battleEnded                          // over; kept for get_battle_info
)

// String names the state for logs and test failures.
func (s battleState) String() string {
	switch s {
	case battlePending:
		return "pending"
	case battleRunning:
		return "running"
	case battleEnded:
		return "ended"
	}
	return "battleState(" + strconv.Itoa(int(s)) + ")"
}

// answer is where an invitee's request is.
type answer uint8

const (
	answerPending answer = iota + 1
	answerAccepted
	answerRejected
	answerTimedOut
	answerCancelled
)

// entrant is a room of a battle as the battle remembers it: its room while it takes part, and
// a copy of its identity that outlives the room (ended battles stay queryable).
type entrant struct {
	room   *room // nil once the room has left the battle
	liveID string
	host   User
	score  int64
}

// invitee is an invited room and its answer.
type invitee struct {
	entrant
	answer answer
	timer  *timer
}

// battle is one PK battle. Rooms point to it (room.battle) while they are involved: the
// inviter until the battle ends or it leaves, an invitee while its request is pending or
// accepted, a participant until it exits or the battle ends.
type battle struct {
	id       string
	cfg      protocol.BattleConfig
	timeoutS int
	state    battleState
	viaREST  bool
	operator string // REST identifier or the inviting host's user ID

	inviter  *entrant
	invitees []*invitee

	// board is the scoreboard: the inviter's entrant, then each invitee that took part at the
	// start (BATTLE-041). Entrants whose room is nil have exited.
	board   []*entrant
	version uint64

	created, started, ended time.Time
	endTimer                *timer
	idempotent              map[string]protocol.SetBattleScoreResponse
	left                    []SessionID // members who left a participant room (mutant.LeaverKeepsBattle)
}

// info is the battle's BattleInfo (times in Unix seconds, 0 until it starts).
func (b *battle) info() protocol.BattleInfo {
	bi := protocol.BattleInfo{BattleID: b.id, Config: b.cfg}
	if !b.started.IsZero() {
		bi.StartTime = b.started.Unix()
		bi.EndTime = b.started.Unix() + int64(b.cfg.Duration)
	}
	if b.state == battleEnded && !b.started.IsZero() && !mutant.On(mutant.EndTimeScheduled) {
		bi.EndTime = b.ended.Unix()
	}
	return bi
}

// user is e as a BattleUser with score and rank (rank 1 unless scored on a board).
func (e *entrant) user(rank int) protocol.BattleUser {
	return protocol.BattleUser{LiveID: e.liveID, UserID: e.host.ID, UserName: e.host.Name, AvatarURL: e.host.AvatarURL, Score: e.score, Rank: rank}
}

// scoreboard is the board with ranks: 1 + the number of rooms with a higher score.
func (b *battle) scoreboard() []protocol.BattleUser {
	out := make([]protocol.BattleUser, len(b.board))
	for i, e := range b.board {
		rank := 1
		for j, o := range b.board {
			if mutant.On(mutant.RankIgnoresExited) && o.room == nil && e.room != nil {
				continue // a room that exited no longer competes
			}
			if o.score > e.score || (mutant.On(mutant.TiesRankedApart) && o.score == e.score && j < i) {
				rank++
			}
		}
		out[i] = e.user(rank)
	}
	return out
}

// participants are the rooms still taking part, in board order.
func (b *battle) participants() []*room {
	var out []*room
	for _, e := range b.board {
		if e.room != nil {
			out = append(out, e.room)
		}
	}
	return out
}

// splitHosts splits sessions into the battle's hosts and the others (the mutants that treat
// the audience differently use it).
func (b *battle) splitHosts(to []SessionID) (hosts, others []SessionID) {
	own := map[SessionID]bool{}
	for _, r := range b.participants() {
		own[r.owner.sess] = true
	}
	for _, id := range to {
		if own[id] {
			hosts = append(hosts, id)
		} else {
			others = append(others, id)
		}
	}
	return hosts, others
}

// audience is every member of every participant room.
func (b *battle) audience() []SessionID {
	var out []SessionID
	for _, r := range b.participants() {
		out = append(out, r.sessions()...)
	}
	if mutant.On(mutant.LeaverKeepsBattle) {
		out = append(out, b.left...)
	}
	return out
}

// withoutAudienceOf is the audience of the battle but for r's audience (r's host stays): the
// recipients of mutant.ScoreSkipsInviterAudience.
func (b *battle) withoutAudienceOf(r *room) []SessionID {
	var out []SessionID
	for _, p := range b.participants() {
		if p == r {
			out = append(out, p.owner.sess)
			continue
		}
		out = append(out, p.sessions()...)
	}
	return out
}

// startedPayload is onBattleStarted's payload, also the core of a joiner's BattleState.
func (b *battle) startedPayload() protocol.BattleStarted {
	board := b.scoreboard()
	return protocol.BattleStarted{BattleInfo: b.info(), Inviter: board[0], Invitees: board[1:]}
}

// state is the running battle as a joining user finds it (BATTLE-025).
func (b *battle) snapshot() *protocol.BattleState {
	board := b.scoreboard()
	if mutant.On(mutant.JoinerSplitFromStart) { // inviter and invitees as onBattleStarted had them
		start := slices.Clone(board)
		for i := range start {
			start[i].Score, start[i].Rank = 0, 1
		}
		return &protocol.BattleState{BattleInfo: b.info(), Inviter: start[0], Invitees: start[1:], Version: b.version, BattleUserList: board}
	}
	return &protocol.BattleState{BattleInfo: b.info(), Inviter: board[0], Invitees: board[1:], Version: b.version, BattleUserList: board}
}

func newEntrant(r *room) entrant {
	if mutant.On(mutant.ScoreCarriedOver) {
		return entrant{room: r, liveID: r.id, host: r.owner.user, score: r.lastScore}
	}
	return entrant{room: r, liveID: r.id, host: r.owner.user}
}

// battleOf returns the battle named id, or the error for an unknown or ended one.
func (c *Core) battleOf(id string) (*battle, *protocol.Error) {
	b, ok := c.battles[id]
	if !ok {
		return nil, protocol.ErrBattleNotExist.With("battle %q does not exist", id)
	}
	if b.state == battleEnded {
		return nil, protocol.ErrBattleAlreadyEnded.With("battle %q has ended", id)
	}
	return b, nil
}

// busyError is why room r cannot start a battle, or nil.
func busyError(r *room) *protocol.Error {
	b := r.battle
	switch {
	case b == nil || (mutant.On(mutant.AcceptedInviteeFree) && acceptedPending(r)):
		return nil
	case b.state == battleRunning:
		return protocol.ErrLiveInOtherBattle.With("room %q is in battle %q", r.id, b.id)
	default:
		return protocol.ErrPendingBattleRequest.With("room %q has a pending battle request (%q)", r.id, b.id)
	}
}

// acceptedPending reports whether r accepted a battle that has not started
// (mutant.AcceptedInviteeFree).
func acceptedPending(r *room) bool {
	b := r.battle
	if b == nil || b.state != battlePending {
		return false
	}
	iv := b.inviteeOf(r)
	return iv != nil && iv.answer == answerAccepted
}

// allowBattle applies the per-room battle rate (BATTLE-004) and records a creation.
func (c *Core) allowBattle(r *room) *protocol.Error {
	limit := c.cfg.MaxBattleRequestsPerMinute
	if limit <= 0 {
		return nil
	}
	now := c.clock.Now()
	recent := r.battleTimes[:0]
	for _, t := range r.battleTimes {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	r.battleTimes = recent
	if len(recent) >= limit {
		return protocol.ErrBattleTooFrequent.With("room %q created %d battles in the last minute (limit %d)", r.id, len(recent), limit)
	}
	r.battleTimes = append(r.battleTimes, now)
	return nil
}

func (c *Core) requestBattle(m *member, req protocol.RequestBattle) (any, *protocol.Error) {
	a, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	if a.group == nil {
		return nil, protocol.ErrConnectionNotExist.With("room %q is in no connection group: only connected hosts battle", a.id)
	}
	if err := busyError(a); err != nil && !(mutant.On(mutant.RESTBattleInvisible) && a.battle.viaREST) {
		return nil, err
	}
	if mutant.On(mutant.ExitedBusyUntilEnd) {
		if o := c.boardOf(a); o != nil {
			return nil, protocol.ErrLiveInOtherBattle.With("room %q is in battle %q", a.id, o.id)
		}
	}
	results := make(map[string]int, len(req.UserIDs))
	var targets []*room
	for _, uid := range req.UserIDs {
		t := a.group.hostedBy(uid)
		switch {
		case mutant.On(mutant.BusyBeforeGroup) && c.hostedBusy(uid, a):
			results[uid] = protocol.BattleBattlingOtherRoom
		case t == nil:
			results[uid] = protocol.BattleRoomNotExist
		case t == a:
			results[uid] = protocol.BattleBattling
		case (t.battle != nil && !(mutant.On(mutant.AcceptedInviteeFree) && acceptedPending(t)) && !(mutant.On(mutant.RESTBattleInvisible) && t.battle.viaREST)) ||
			(mutant.On(mutant.RejecterBusy) && c.invitedToRunning(t)) || (mutant.On(mutant.ExitedBusyUntilEnd) && c.boardOf(t) != nil):
			results[uid] = protocol.BattleBattlingOtherRoom
		default:
			results[uid] = protocol.BattleSuccess
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		if mutant.On(mutant.RefusedRequestsCounted) {
			_ = c.allowBattle(a) // the refusal recorded as a creation
		}
		return nil, protocol.ErrNoValidBattleLive.With("no listed user can battle: %s", codesText(req.UserIDs, results))
	}
	if err := c.allowBattle(a); err != nil {
		return nil, err
	}
	cfg := protocol.BattleConfig{Duration: int(c.cfg.DefaultBattleDuration / time.Second), ExtensionInfo: req.Config.ExtensionInfo}
	if req.Config.Duration != nil && *req.Config.Duration > 0 {
		cfg.Duration = *req.Config.Duration
	}
	if req.Config.NeedResponse != nil {
		cfg.NeedResponse = *req.Config.NeedResponse
	}
	timeout := 0
	if cfg.NeedResponse {
		timeout = int(c.cfg.DefaultInviteTimeout / time.Second)
		if req.Timeout != nil {
			timeout = *req.Timeout
		}
	}
	b := c.createBattle(a, targets, cfg, timeout, false, m.user.ID)
	return protocol.RequestBattleReply{BattleInfo: b.info(), Results: results}, nil
}

// hostedBusy reports whether uid hosts a room other than a that is in a battle
// (mutant.BusyBeforeGroup).
func (c *Core) hostedBusy(uid string, a *room) bool {
	for _, r := range c.rooms {
		if r != a && r.owner.user.ID == uid && r.battle != nil {
			return true
		}
	}
	return false
}

// boardOf is the running battle whose scoreboard lists r, exited or not, or nil
// (mutant.ExitedBusyUntilEnd).
func (c *Core) boardOf(r *room) *battle {
	for _, b := range c.battles {
		if b.state != battleRunning {
			continue
		}
		for _, e := range b.board {
			if e.liveID == r.id {
				return b
			}
		}
	}
	return nil
}

// codesText lists codes in request order, for error messages.
func codesText(ids []string, codes map[string]int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s=%d", id, codes[id])
	}
	return strings.Join(parts, ", ")
}

// hostedBy returns the room of g hosted by userID, or nil.
func (g *group) hostedBy(userID string) *room {
	for _, r := range g.rooms {
		if r.owner.user.ID == userID {
			return r
		}
		if mutant.On(mutant.AudienceIDInvitesRoom) && slices.ContainsFunc(r.members, func(m *member) bool { return m.user.ID == userID }) {
			return r
		}
	}
	return nil
}

// createBattle creates a battle of inviter room a against targets (all free), sends the
// requests, and starts it at once when no response is needed (BATTLE-006..008, REST-010).
func (c *Core) createBattle(a *room, targets []*room, cfg protocol.BattleConfig, timeoutS int, viaREST bool, operator string) *battle {
	c.battleSeq++
	for c.battles[c.cfg.IDPrefix+strconv.FormatUint(c.battleSeq, 10)] != nil { // a restored battle's
		c.battleSeq++
	}
	inv := newEntrant(a)
	b := &battle{
		id: c.cfg.IDPrefix + strconv.FormatUint(c.battleSeq, 10), cfg: cfg, timeoutS: timeoutS,
		state: battlePending, viaREST: viaREST, operator: operator, inviter: &inv,
		created: c.clock.Now(), idempotent: make(map[string]protocol.SetBattleScoreResponse),
	}
	if mutant.On(mutant.EndedDroppedAtNext) {
		c.forgetEndedOf(append([]*room{a}, targets...))
	}
	c.battles[b.id] = b
	a.battle = b
	for _, t := range targets {
		t.battle = b
		b.invitees = append(b.invitees, &invitee{entrant: newEntrant(t), answer: answerPending})
	}
	c.hookCreate(b)
	for _, iv := range b.invitees {
		to := []SessionID{iv.room.owner.sess}
		if viaREST && mutant.On(mutant.RESTRequestToAudience) {
			to = iv.room.sessions()
		}
		c.emit(to, protocol.EvBattleRequestReceived, b.requestEvent(iv))
	}
	if !cfg.NeedResponse {
		for _, iv := range b.invitees {
			iv.answer = answerAccepted
		}
		c.startBattle(b)
		return b
	}
	if timeoutS > 0 {
		d := time.Duration(timeoutS) * time.Second
		if mutant.On(mutant.BattleTimeoutDoubled) {
			d *= 2
		}
		for _, iv := range b.invitees {
			iv := iv
			iv.timer = c.after(d, func() { c.timeoutBattleRequest(b, iv) })
		}
	}
	return b
}

// rearm restarts the answer timers of the invitees yet to answer (mutant.RequestTimeoutRearmed).
func (c *Core) rearm(b *battle) {
	if b.timeoutS <= 0 {
		return
	}
	for _, iv := range b.invitees {
		if iv.answer == answerPending {
			iv := iv
			iv.timer.cancel()
			iv.timer = c.after(time.Duration(b.timeoutS)*time.Second, func() { c.timeoutBattleRequest(b, iv) })
		}
	}
}

func (b *battle) requestEvent(iv *invitee) protocol.BattleRequestEvent {
	return protocol.BattleRequestEvent{BattleInfo: b.info(), Inviter: b.inviter.user(1), Invitee: iv.user(1)}
}

// inviteeOf returns r's invitee record in b, or nil.
func (b *battle) inviteeOf(r *room) *invitee {
	for _, iv := range b.invitees {
		if iv.room == r {
			return iv
		}
	}
	return nil
}

// pendingInvitee finds the pending request of the caller's room in the battle named id.
func (c *Core) pendingInvitee(m *member, id string) (*battle, *invitee, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.battleOf(id)
	if err != nil {
		return nil, nil, err
	}
	iv := b.inviteeOf(r)
	if iv == nil || iv.answer != answerPending {
		return nil, nil, protocol.ErrLiveNotInBattle.With("room %q has no pending request in battle %q", r.id, id)
	}
	return b, iv, nil
}

func (c *Core) acceptBattle(m *member, req protocol.BattleRef) (any, *protocol.Error) {
	if mutant.On(mutant.BattleAcceptedTwice) {
		if r, _ := c.hostRoom(m); r != nil {
			if b, _ := c.battleOf(req.BattleID); b != nil {
				if iv := b.inviteeOf(r); iv != nil && iv.answer == answerAccepted {
					c.emit(c.inviterHost(b), protocol.EvBattleRequestAccept, b.requestEvent(iv))
					return protocol.Empty{}, nil
				}
			}
		}
	}
	b, iv, err := c.pendingInvitee(m, req.BattleID)
	if err != nil {
		return nil, err
	}
	iv.answer = answerAccepted
	iv.timer.cancel()
	if mutant.On(mutant.StartBeforeLastAccept) {
		ev, to := b.requestEvent(iv), c.inviterHost(b)
		c.settle(b)
		c.emit(to, protocol.EvBattleRequestAccept, ev)
		return protocol.Empty{}, nil
	}
	c.emit(c.inviterHost(b), protocol.EvBattleRequestAccept, b.requestEvent(iv))
	if mutant.On(mutant.RequestTimeoutRearmed) {
		c.rearm(b)
	}
	c.settle(b)
	return protocol.Empty{}, nil
}

func (c *Core) rejectBattle(m *member, req protocol.BattleRef) (any, *protocol.Error) {
	b, iv, err := c.pendingInvitee(m, req.BattleID)
	if err != nil {
		return nil, err
	}
	c.closeInvitee(b, iv, answerRejected)
	to := c.inviterHost(b)
	if mutant.On(mutant.RejectToRejecter) {
		to = append(to, m.sess)
	}
	c.emit(to, protocol.EvBattleRequestReject, b.requestEvent(iv))
	if mutant.On(mutant.RequestTimeoutRearmed) {
		c.rearm(b)
	}
	c.settle(b)
	return protocol.Empty{}, nil
}

func (c *Core) timeoutBattleRequest(b *battle, iv *invitee) {
	if b.state != battlePending || iv.answer != answerPending {
		return
	}
	to := append(c.inviterHost(b), iv.room.owner.sess)
	if mutant.On(mutant.BattleAnswersToAudience) {
		to = append(c.inviterHost(b), iv.room.sessions()...)
	}
	if mutant.On(mutant.BattleTimeoutOneEnd) {
		to = c.inviterHost(b)
	}
	ev := b.requestEvent(iv)
	r := iv.room
	c.closeInvitee(b, iv, answerTimedOut)
	if mutant.On(mutant.TimedOutInviteeBusy) {
		r.battle = b // released only when the battle ends
	}
	c.emit(to, protocol.EvBattleRequestTimeout, ev)
	c.settle(b)
}

// inviterHost is the inviter host's session, if the inviter's room still takes part.
func (c *Core) inviterHost(b *battle) []SessionID {
	if b.inviter.room == nil {
		return nil
	}
	if mutant.On(mutant.BattleAnswersToAudience) {
		return b.inviter.room.sessions()
	}
	return []SessionID{b.inviter.room.owner.sess}
}

// closeInvitee ends an invitee's involvement without it taking part.
func (c *Core) closeInvitee(b *battle, iv *invitee, a answer) {
	iv.answer = a
	iv.timer.cancel()
	if iv.room != nil && iv.room.battle == b {
		iv.room.battle = nil
	}
	iv.room = nil
}

func (c *Core) cancelBattleRequest(m *member, req protocol.CancelBattleRequest) (any, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	b, err := c.battleOf(req.BattleID)
	if err != nil {
		return nil, err
	}
	if b.inviter.room != r {
		return nil, protocol.ErrPermissionDenied.With("only the inviter of battle %q may cancel its requests", b.id)
	}
	var cancel []*invitee
	for _, uid := range req.UserIDs {
		var found *invitee
		for _, iv := range b.invitees {
			if iv.host.ID == uid {
				found = iv
			}
		}
		switch {
		case found != nil && found.answer == answerAccepted:
			return nil, protocol.ErrLiveInBattle.With("%q has accepted battle %q", uid, b.id)
		case found == nil || found.answer != answerPending:
			if mutant.On(mutant.CancelPartlyApplied) { // the users listed before it are cancelled
				for _, iv := range cancel {
					c.cancelInvitee(b, iv)
				}
				c.settle(b)
			}
			return nil, protocol.ErrLiveNotInBattle.With("%q has no pending request in battle %q", uid, b.id)
		}
		cancel = append(cancel, found)
	}
	for _, iv := range cancel {
		ev := b.requestEvent(iv)
		c.cancelInvitee(b, iv)
		if mutant.On(mutant.CancelToInviter) {
			c.emit([]SessionID{m.sess}, protocol.EvBattleRequestCancelled, ev)
		}
	}
	c.settle(b)
	return protocol.Empty{}, nil
}

func (c *Core) cancelInvitee(b *battle, iv *invitee) {
	to := []SessionID{iv.room.owner.sess}
	ev := b.requestEvent(iv)
	c.closeInvitee(b, iv, answerCancelled)
	c.emit(to, protocol.EvBattleRequestCancelled, ev)
}

// settle starts or abandons a pending battle once every invitee has answered (BATTLE-012).
func (c *Core) settle(b *battle) {
	if b.state != battlePending {
		return
	}
	accepted := false
	for _, iv := range b.invitees {
		switch iv.answer {
		case answerPending:
			return
		case answerAccepted:
			accepted = true
		}
	}
	if accepted {
		c.startBattle(b)
		return
	}
	c.endBattle(b, protocol.HookEndNotStarted)
}

// startBattle makes a pending battle run (BATTLE-020).
func (c *Core) startBattle(b *battle) {
	b.state = battleRunning
	b.started = c.clock.Now()
	if mutant.On(mutant.StartTimeAtRequest) {
		b.started = b.created
	}
	b.board = []*entrant{b.inviter}
	for _, iv := range b.invitees {
		if iv.answer == answerAccepted {
			b.board = append(b.board, &iv.entrant)
		}
	}
	if g := b.inviter.room.group; mutant.On(mutant.BoardInGroupOrder) && g != nil {
		sort.SliceStable(b.board[1:], func(i, j int) bool {
			return slices.Index(g.rooms, b.board[1+i].room) < slices.Index(g.rooms, b.board[1+j].room)
		})
	}
	d := time.Duration(b.cfg.Duration) * time.Second
	if mutant.On(mutant.BattleOvertime) {
		d *= 2
	}
	if mutant.On(mutant.EndTimerFromRequest) {
		d -= c.clock.Now().Sub(b.created)
	}
	if mutant.On(mutant.ExitedRoomShowsBattle) {
		for _, e := range b.board {
			e.room.shown = b
		}
	}
	b.endTimer = c.after(d, func() { c.endBattle(b, protocol.HookEndTimeUp) })
	c.emit(b.audience(), protocol.EvBattleStarted, b.startedPayload())
	c.hookStart(b)
	c.recordStart(b)
}

func (c *Core) exitBattle(m *member, req protocol.BattleRef) (any, *protocol.Error) {
	r, err := c.hostRoom(m)
	if err != nil {
		return nil, err
	}
	b, err := c.battleOf(req.BattleID)
	if err != nil {
		return nil, err
	}
	if b.state == battlePending {
		return nil, protocol.ErrBattleNotStarted.With("battle %q has not started", b.id)
	}
	if r.battle != b {
		return nil, protocol.ErrLiveNotInBattle.With("room %q does not take part in battle %q", r.id, b.id)
	}
	c.exitRoom(b, r)
	return protocol.Empty{}, nil
}

// exitRoom takes r out of running battle b (BATTLE-022): everyone still in it, r included,
// learns, and a battle left with one room ends with reason 1.
func (c *Core) exitRoom(b *battle, r *room) {
	var e *entrant
	for _, x := range b.board {
		if x.room == r {
			e = x
		}
	}
	if e == nil { // r is not on the board: nothing to announce, only the link to undo
		r.battle = nil
		return
	}
	c.emit(b.audience(), protocol.EvUserExitBattle, protocol.UserExitBattle{BattleID: b.id, BattleUser: e.user(b.rankOf(e))})
	e.room = nil
	r.battle = nil
	if len(b.participants()) <= 1 {
		c.endBattle(b, protocol.HookEndAllExited)
	}
}

func (b *battle) rankOf(e *entrant) int {
	rank := 1
	for _, o := range b.board {
		if o.score > e.score {
			rank++
		}
	}
	return rank
}

// endBattle ends b: time up, all others exited, or never started (hook OpType 0, 1, 2).
func (c *Core) endBattle(b *battle, op int) {
	stale := mutant.On(mutant.StaleEndTimerFires)
	if b.state == battleEnded && !(stale && op == protocol.HookEndTimeUp) {
		return
	}
	wasRunning := b.state == battleRunning || (stale && b.state == battleEnded)
	b.state = battleEnded
	b.ended = c.clock.Now()
	if !stale {
		b.endTimer.cancel()
	}
	if wasRunning {
		reason := protocol.BattleEndTimeOver
		if op == protocol.HookEndAllExited {
			reason = protocol.BattleEndOtherExit
		}
		if mutant.On(mutant.WrongEndReason) {
			reason = 1 - reason
		}
		to := b.audience()
		if op == protocol.HookEndTimeUp && mutant.On(mutant.TimeUpEndToExited) { // every scoreboard room
			to = nil
			for _, e := range b.board {
				if r, ok := c.rooms[e.liveID]; ok {
					to = append(to, r.sessions()...)
				}
			}
		}
		if mutant.On(mutant.EndTwiceToOne) && len(to) > 1 {
			to[len(to)-1] = to[0] // the first member told twice, the last never
		}
		ended := protocol.BattleEnded{BattleInfo: b.info(), Reason: reason, Version: b.version, BattleUserList: b.scoreboard()}
		if mutant.On(mutant.EndVersionZero) { // the hosts' end is right, the audience's says version 0
			var viewers []SessionID
			to, viewers = b.splitHosts(to)
			stale := ended
			stale.Version = 0
			c.emit(viewers, protocol.EvBattleEnded, stale)
		}
		c.emit(to, protocol.EvBattleEnded, ended)
	}
	for _, e := range append([]*entrant{b.inviter}, b.boardAndInvitees()...) {
		if mutant.On(mutant.ScoreCarriedOver) && e.room != nil && wasRunning {
			e.room.lastScore = e.score
		}
		if e.room != nil && e.room.battle == b {
			e.room.battle = nil
		}
	}
	if mutant.On(mutant.TimedOutInviteeBusy) {
		for _, r := range c.rooms {
			if r.battle == b {
				r.battle = nil
			}
		}
	}
	c.hookEnd(b, op)
	if wasRunning {
		c.recordEnd(b)
	}
	c.retire(b)
}

// boardAndInvitees lists every invitee entrant (board members are invitees or the inviter).
func (b *battle) boardAndInvitees() []*entrant {
	out := make([]*entrant, len(b.invitees))
	for i, iv := range b.invitees {
		out[i] = &iv.entrant
	}
	return out
}

// retire keeps an ended battle queryable for BattleRetention, dropping older ended ones.
func (c *Core) retire(b *battle) {
	c.ended = append(c.ended, b)
	cutoff := c.clock.Now().Add(-c.cfg.BattleRetention)
	for len(c.ended) > 0 && (c.ended[0].ended.Before(cutoff) || len(c.ended) > maxEndedBattles) {
		delete(c.battles, c.ended[0].id)
		c.ended = c.ended[1:]
	}
}

// maxEndedBattles bounds the ended battles kept, whatever the retention.
const maxEndedBattles = 100000

// leaveBattle takes room r out of its battle because it leaves its group or ends
// (BATTLE-023).
func (c *Core) leaveBattle(r *room) {
	b := r.battle
	if b == nil {
		return
	}
	switch {
	case b.state == battleRunning:
		c.exitRoom(b, r)
	case b.inviter.room == r:
		for _, iv := range b.invitees {
			if iv.answer == answerPending || (iv.answer == answerAccepted && !mutant.On(mutant.AcceptedNotCancelled)) {
				c.cancelInvitee(b, iv)
			} else if t, ok := c.rooms[iv.liveID]; ok && mutant.On(mutant.ClosedInviteesCancelled) {
				c.emit([]SessionID{t.owner.sess}, protocol.EvBattleRequestCancelled, b.requestEvent(iv))
			}
		}
		b.inviter.room = nil
		r.battle = nil
		c.endBattle(b, protocol.HookEndNotStarted)
	default:
		iv := b.inviteeOf(r)
		ev := b.requestEvent(iv)
		accepted := iv.answer == answerAccepted
		c.closeInvitee(b, iv, answerRejected)
		if !mutant.On(mutant.InviteeLeaveNoReject) && !(mutant.On(mutant.AcceptedLeaveSilent) && accepted) {
			c.emit(c.inviterHost(b), protocol.EvBattleRequestReject, ev)
		}
		if !mutant.On(mutant.InviteeLeaveNoStart) {
			c.settle(b)
		}
	}
}

// battleFor is the running battle a user joining r finds (BATTLE-025), or nil.
func (r *room) battleFor() *protocol.BattleState {
	if b := r.shown; b != nil && b.state == battleRunning && mutant.On(mutant.ExitedRoomShowsBattle) {
		return b.snapshot()
	}
	if b := r.battle; b != nil && b.state == battleRunning {
		return b.snapshot()
	}
	if b := r.battle; b != nil && mutant.On(mutant.PendingBattleJoined) {
		inviter := b.inviter.user(1)
		return &protocol.BattleState{BattleInfo: b.info(), Inviter: inviter, BattleUserList: []protocol.BattleUser{inviter}}
	}
	return nil
}

// forgetEndedOf drops the ended battles any of rooms took part in (mutant.EndedDroppedAtNext).
func (c *Core) forgetEndedOf(rooms []*room) {
	ids := map[string]bool{}
	for _, r := range rooms {
		ids[r.id] = true
	}
	for _, id := range c.sortedBattleIDs() {
		o := c.battles[id]
		if o.state != battleEnded {
			continue
		}
		if ids[o.inviter.liveID] || slices.ContainsFunc(o.boardAndInvitees(), func(e *entrant) bool { return ids[e.liveID] }) {
			delete(c.battles, id)
		}
	}
}

// invitedToRunning reports whether r was invited to a battle that runs now, whatever its
// answer (mutant.RejecterBusy).
func (c *Core) invitedToRunning(r *room) bool {
	for _, b := range c.battles {
		if b.state != battleRunning {
			continue
		}
		for _, iv := range b.invitees {
			if iv.liveID == r.id {
				return true
			}
		}
	}
	return false
}

// sortedBattleIDs lists the IDs of the battles kept, for tests and invariants.
func (c *Core) sortedBattleIDs() []string {
	ids := make([]string, 0, len(c.battles))
	for id := range c.battles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
