// Package backend is an example business backend of PK battles, the kind of service that
// calls a co-host server's REST API (SPEC §15): it learns from the webhooks (§16) which battle
// each room is in, turns confirmed gifts into scores with the gift rules (fixtures/gifts), and
// sends them with set_battle_score. Each gift's event ID is its idempotency key (REST-034), so a
// gift retried after a timeout is counted once.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/gifts"
)

// Config configures a Backend.
type Config struct {
	// REST calls the co-host server as an app administrator.
	REST *client.REST
	// Rules turn gifts into scores.
	Rules *gifts.Rules
	// Attempts is how often a score update is tried before giving up (default 5).
	Attempts int
	// Backoff is the wait before the first retry; it doubles each time (default 200 ms).
	Backoff time.Duration
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// Gift is a gift the billing system confirmed.
type Gift struct {
	// EventID identifies the gift; it is the idempotency key of its score update.
	EventID string
	// RoomID is the room whose host receives the gift.
	RoomID string
	// BattleID is the battle to score in; empty means the battle the webhooks say the room is in.
	BattleID string
	// GiftID names a gift of the rules' catalogue; Count is how many were sent at once.
	GiftID string
	Count  int
}

// Backend turns gifts into score updates. It is safe for concurrent use.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	battles map[string]string // room ID -> battle ID, from the start and end webhooks
}

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Backend{cfg: cfg, log: log, battles: map[string]string{}}
}

// ErrNoBattle is a gift for a room that is in no battle the backend knows of.
var ErrNoBattle = errors.New("the room is in no known battle")

// Send scores a gift: OpType 1 (add) in its battle, retried on transient failures with the
// same idempotency key. It returns the server's answer.
func (b *Backend) Send(ctx context.Context, g Gift) (client.SetBattleScoreResponse, error) {
	score, err := b.cfg.Rules.Score(g.GiftID, g.Count)
	if err != nil {
		return client.SetBattleScoreResponse{}, fmt.Errorf("gift %s: %w", g.EventID, err)
	}
	battle := g.BattleID
	if battle == "" {
		if battle = b.BattleOf(g.RoomID); battle == "" {
			return client.SetBattleScoreResponse{}, fmt.Errorf("gift %s for %s: %w", g.EventID, g.RoomID, ErrNoBattle)
		}
	}
	req := client.SetBattleScoreRequest{
		BattleID: battle, OpType: client.OpAdd, IdempotencyKey: g.EventID,
		ScoreList: []client.ScoreItem{{RoomID: g.RoomID, Score: score}},
	}
	wait := b.cfg.Backoff
	for attempt := 1; ; attempt++ {
		resp, err := b.cfg.REST.SetBattleScore(ctx, req)
		if err == nil || !transient(err) || attempt == b.cfg.Attempts {
			if err != nil {
				return resp, fmt.Errorf("gift %s: %w", g.EventID, err)
			}
			return resp, nil
		}
		b.log.Warn("score update failed; retrying", "gift", g.EventID, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return resp, fmt.Errorf("gift %s: %w", g.EventID, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// transient reports whether a failed call may succeed if retried: no answer at all, a server
// fault (100001) or the rate limit (60007).
func transient(err error) bool {
	switch client.CodeOf(err) {
	case -1, 100001, client.CodeRESTRateLimited:
		return true
	}
	return false
}

// BattleOf returns the battle room is in, as the webhooks told, or "".
func (b *Backend) BattleOf(room string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.battles[room]
}

// Webhooks is the handler for the server's webhooks: it records which rooms battle.
func (b *Backend) Webhooks() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var h client.Webhook
		if err != nil || json.Unmarshal(body, &h) != nil {
			http.Error(w, `{"ActionStatus":"FAIL","ErrorInfo":"bad body","ErrorCode":1}`, http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		for _, room := range h.Rooms() {
			switch h.CallbackCommand {
			case client.HookStartBattle:
				b.battles[room] = h.BattleID
			case client.HookEndBattle:
				if b.battles[room] == h.BattleID {
					delete(b.battles, room)
				}
			}
		}
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`)
	})
}
