package core

import (
	"fmt"
	"sort"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

// Kinds of Record.
const (
	// RecordStart is a battle that started: its identity, configuration and board.
	RecordStart = "start"
	// RecordScore is an accepted set_battle_score: the board's scores after it, the version,
	// and the IdempotencyKey with the response it got.
	RecordScore = "score"
	// RecordEnd is a battle that ended.
	RecordEnd = "end"
)

// Record is one durable change of a battle: what a journal keeps so that a restarted server
// still has every acknowledged score (FAULT-002). When Config.Journal is set the core produces
// records as battles start, take scores and end (TakeRecords); the transport writes them to
// stable storage before it sends anything the same operations caused, and gives them back to
// Restore after a restart. Battles that never started are not recorded: they have no scores.
type Record struct {
	Kind     string `json:"kind"`
	BattleID string `json:"battle"`
	// At is when it happened, in Unix milliseconds: the start, the update, the end.
	At int64 `json:"at"`

	// Start only.
	Config   *protocol.BattleConfig `json:"config,omitempty"`
	ViaREST  bool                   `json:"viaRest,omitempty"`
	Operator string                 `json:"operator,omitempty"`
	Created  int64                  `json:"created,omitempty"` // Unix milliseconds
	Board    []RecordEntrant        `json:"board,omitempty"`   // the inviter first

	// Start and score: the scoreboard's version. Score: the board's scores after the update,
	// in board order (nil when it changed nothing), and the key with its response.
	Version  uint64                           `json:"version,omitempty"`
	Scores   []int64                          `json:"scores,omitempty"`
	Key      string                           `json:"key,omitempty"`
	Response *protocol.SetBattleScoreResponse `json:"response,omitempty"`
}

// RecordEntrant is a room on a recorded scoreboard and its host.
type RecordEntrant struct {
	LiveID    string `json:"liveID"`
	UserID    string `json:"userID"`
	UserName  string `json:"userName,omitempty"`
	AvatarURL string `json:"avatarURL,omitempty"`
	Score     int64  `json:"score"`
}

// TakeRecords returns the records produced since the last call and forgets them.
func (c *Core) TakeRecords() []Record {
	r := c.records
	c.records = nil
	return r
}

func (c *Core) record(r Record) {
	if c.cfg.Journal {
		c.records = append(c.records, r)
	}
}

// startRecord is b's start record, with its board's current scores and version.
func startRecord(b *battle) Record {
	cfg := b.cfg
	board := make([]RecordEntrant, len(b.board))
	for i, e := range b.board {
		board[i] = RecordEntrant{LiveID: e.liveID, UserID: e.host.ID, UserName: e.host.Name, AvatarURL: e.host.AvatarURL, Score: e.score}
	}
	return Record{
		Kind: RecordStart, BattleID: b.id, At: b.started.UnixMilli(), Config: &cfg, ViaREST: b.viaREST,
		Operator: b.operator, Created: b.created.UnixMilli(), Board: board, Version: b.version,
	}
}

// endRecord is b's end record.
func endRecord(b *battle) Record {
	return Record{Kind: RecordEnd, BattleID: b.id, At: b.ended.UnixMilli()}
}

func (c *Core) recordStart(b *battle) { c.record(startRecord(b)) }

// recordScore records an accepted update: changed tells whether the scores moved.
func (c *Core) recordScore(b *battle, changed bool, key string, resp protocol.SetBattleScoreResponse) {
	r := Record{Kind: RecordScore, BattleID: b.id, At: c.nowMs(), Version: b.version, Key: key}
	if changed {
		r.Scores = make([]int64, len(b.board))
		for i, e := range b.board {
			r.Scores[i] = e.score
		}
	}
	if key != "" {
		r.Response = &resp
	}
	c.record(r)
}

func (c *Core) recordEnd(b *battle) { c.record(endRecord(b)) }

// Snapshot returns the fewest records that Restore turns into the battles kept now: for each
// battle that started, its start with the current scores and version, one score record per
// IdempotencyKey, and its end if it ended. A journal replaces its records with these to stay
// small (compaction).
func (c *Core) Snapshot() []Record {
	var bs []*battle
	for _, b := range c.battles {
		if !b.started.IsZero() {
			bs = append(bs, b)
		}
	}
	sort.Slice(bs, func(i, j int) bool {
		if !bs[i].started.Equal(bs[j].started) {
			return bs[i].started.Before(bs[j].started)
		}
		return bs[i].id < bs[j].id
	})
	var out []Record
	for _, b := range bs {
		out = append(out, startRecord(b))
		keys := make([]string, 0, len(b.idempotent))
		for k := range b.idempotent {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			resp := b.idempotent[k]
			out = append(out, Record{Kind: RecordScore, BattleID: b.id, At: b.started.UnixMilli(), Version: b.version, Key: k, Response: &resp})
		}
		if b.state == battleEnded {
			out = append(out, endRecord(b))
		}
	}
	return out
}

// Restore rebuilds the battles of records (a journal's, oldest first) in an empty core, after
// a restart. The rooms of a restored battle are gone, so every battle is ended: one without
// an end record ends now, as if its hosts had left (the end webhook's OpType 1), or at its
// scheduled end if that has passed; its end webhook is queued (TakeHooks), with the EventId it
// would have had. Restored battles keep their scores, versions and IdempotencyKeys:
// get_battle_info describes them and a retried set_battle_score gets its first response.
// Battles ended longer ago than BattleRetention are dropped. A record that contradicts the
// ones before it is an error and restores nothing.
func (c *Core) Restore(records []Record) error {
	if len(c.battles) > 0 || len(c.rooms) > 0 {
		return fmt.Errorf("restore: the core is not empty")
	}
	got := make(map[string]*battle)
	var order []*battle
	for i, r := range records {
		b, err := restoreRecord(got, r)
		if err != nil {
			return fmt.Errorf("restore: record %d (%s of battle %q): %w", i+1, r.Kind, r.BattleID, err)
		}
		if b != nil {
			got[b.id] = b
			order = append(order, b)
		}
	}
	now := c.clock.Now()
	for _, b := range order {
		if b.state != battleEnded {
			b.state = battleEnded
			b.ended = now
			if due := b.started.Add(time.Duration(b.cfg.Duration) * time.Second); due.Before(now) {
				b.ended = due
			}
			c.hookEnd(b, protocol.HookEndAllExited)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].ended.Before(order[j].ended) })
	for _, b := range order {
		c.battles[b.id] = b
		c.retire(b)
	}
	return nil
}

// restoreRecord applies r to the battles restored so far; it returns a battle r starts.
func restoreRecord(got map[string]*battle, r Record) (*battle, error) {
	b := got[r.BattleID]
	if r.Kind != RecordStart && b == nil {
		return nil, fmt.Errorf("no start record before it")
	}
	switch r.Kind {
	case RecordStart:
		switch {
		case b != nil:
			return nil, fmt.Errorf("the battle started twice")
		case r.BattleID == "":
			return nil, fmt.Errorf("no battle ID")
		case r.Config == nil || r.Config.Duration < 1:
			return nil, fmt.Errorf("no configuration with a duration")
		case len(r.Board) < 2:
			return nil, fmt.Errorf("a board of %d rooms: at least 2", len(r.Board))
		}
		nb := &battle{
			id: r.BattleID, cfg: *r.Config, state: battleRunning, viaREST: r.ViaREST, operator: r.Operator,
			version: r.Version, created: time.UnixMilli(r.Created), started: time.UnixMilli(r.At),
			idempotent: make(map[string]protocol.SetBattleScoreResponse),
		}
		for i, e := range r.Board {
			if e.Score < 0 || e.Score > protocol.MaxScore {
				return nil, fmt.Errorf("room %q has score %d: out of 0..%d", e.LiveID, e.Score, int64(protocol.MaxScore))
			}
			en := entrant{liveID: e.LiveID, host: User{ID: e.UserID, Name: e.UserName, AvatarURL: e.AvatarURL}, score: e.Score}
			if i == 0 {
				nb.inviter = &en
				nb.board = append(nb.board, nb.inviter)
				continue
			}
			iv := &invitee{entrant: en, answer: answerAccepted}
			nb.invitees = append(nb.invitees, iv)
			nb.board = append(nb.board, &iv.entrant)
		}
		return nb, nil
	case RecordScore:
		switch {
		case b.state == battleEnded:
			return nil, fmt.Errorf("a score after the end")
		case r.Version < b.version:
			return nil, fmt.Errorf("version %d after version %d", r.Version, b.version)
		case r.Scores != nil && len(r.Scores) != len(b.board):
			return nil, fmt.Errorf("%d scores for a board of %d rooms", len(r.Scores), len(b.board))
		case r.Key != "" && r.Response == nil:
			return nil, fmt.Errorf("key %q without its response", r.Key)
		}
		for i, s := range r.Scores {
			if s < 0 || s > protocol.MaxScore {
				return nil, fmt.Errorf("score %d: out of 0..%d", s, int64(protocol.MaxScore))
			}
			b.board[i].score = s
		}
		b.version = r.Version
		if r.Key != "" {
			b.idempotent[r.Key] = *r.Response
		}
	case RecordEnd:
		if b.state == battleEnded {
			return nil, fmt.Errorf("the battle ended twice")
		}
		b.state = battleEnded
		b.ended = time.UnixMilli(r.At)
	default:
		return nil, fmt.Errorf("unknown kind")
	}
	return nil, nil
}
