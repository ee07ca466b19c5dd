package backend

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/gifts"
	"github.com/pkarena/pkarena/reference/server"
)

// world is an embedded reference server whose webhooks go to a backend.
type world struct {
	t       *testing.T
	cfg     server.Config
	ws      string // WebSocket URL
	restURL string
	hooks   chan string // CallbackCommand of each webhook the backend got
	backend *Backend
}

func newWorld(t *testing.T, restURL func(real string) string) *world {
	t.Helper()
	w := &world{t: t, hooks: make(chan string, 16)}
	rules, err := gifts.Load()
	if err != nil {
		t.Fatal(err)
	}
	hookSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.backend.Webhooks().ServeHTTP(rw, r)
		w.hooks <- r.URL.Query().Get("CallbackCommand")
	}))
	t.Cleanup(hookSrv.Close)
	w.cfg = server.DefaultConfig()
	w.cfg.WebhookURL = hookSrv.URL
	w.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	w.ws = "ws" + strings.TrimPrefix(hs.URL, "http") + client.Path
	w.restURL = hs.URL
	if restURL != nil {
		w.restURL = restURL(hs.URL)
	}
	rest := client.NewREST(client.RESTConfig{BaseURL: w.restURL, SDKAppID: w.cfg.SDKAppID, Secret: w.cfg.Secret, Identifier: "administrator"})
	w.backend = New(Config{REST: rest, Rules: rules, Backoff: time.Millisecond, Logger: w.cfg.Logger})
	return w
}

func (w *world) host(name string) *client.Client {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: w.ws, SDKAppID: w.cfg.SDKAppID, Secret: w.cfg.Secret, UserID: name})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(c.Close)
	if _, err := c.CreateLive(ctx, client.CreateLiveRequest{LiveID: "room-" + name}); err != nil {
		w.t.Fatal(err)
	}
	return c
}

// battle connects a and b and starts a 300 s battle; it returns once the backend has
// learned of it from the start webhook.
func (w *world) battle(a, b *client.Client) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.RequestConnection(ctx, client.RequestConnectionRequest{LiveIDs: []string{"room-" + b.UserID()}}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := b.Next(ctx, client.EvConnectionRequestReceived); err != nil {
		w.t.Fatal(err)
	}
	if err := b.AcceptConnection(ctx, "room-"+a.UserID()); err != nil {
		w.t.Fatal(err)
	}
	reply, err := a.RequestBattle(ctx, client.RequestBattleRequest{UserIDs: []string{b.UserID()}})
	if err != nil {
		w.t.Fatal(err)
	}
	for cmd := ""; cmd != "Live.CallbackAfterStartBattle"; {
		select {
		case cmd = <-w.hooks:
		case <-ctx.Done():
			w.t.Fatal("the backend got no start webhook")
		}
	}
	return reply.BattleInfo.BattleID
}

func TestGiftsBecomeScoresOnce(t *testing.T) {
	w := newWorld(t, nil)
	a, b := w.host("a"), w.host("b")
	id := w.battle(a, b)
	if got := w.backend.BattleOf("room-b"); got != id {
		t.Fatalf("BattleOf(room-b) = %q; want %q from the start webhook", got, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, g := range []Gift{
		{EventID: "g1", RoomID: "room-a", GiftID: "rose", Count: 3},     // 3 × 1 × 5 = 15
		{EventID: "g2", RoomID: "room-b", GiftID: "love-520", Count: 1}, // 1314
		{EventID: "g2", RoomID: "room-b", GiftID: "love-520", Count: 1}, // the same gift again: counted once
		{EventID: "g3", RoomID: "room-a", GiftID: "crown", Count: 1},    // 50 × 8 = 400
	} {
		if _, err := w.backend.Send(ctx, g); err != nil {
			t.Fatalf("Send(%+v): %v", g, err)
		}
	}
	info, err := w.backend.cfg.REST.GetBattleInfo(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.FromRoomInfo.Score != 415 || info.ToRoomList[0].Score != 1314 || info.ScoreVersion != 3 {
		t.Errorf("scores a=%d b=%d version %d; want 415, 1314 and 3", info.FromRoomInfo.Score, info.ToRoomList[0].Score, info.ScoreVersion)
	}
	if _, err := w.backend.Send(ctx, Gift{EventID: "g4", RoomID: "room-z", GiftID: "rose", Count: 1}); err == nil {
		t.Error("a gift for a room in no battle was accepted")
	}
	if _, err := w.backend.Send(ctx, Gift{EventID: "g5", RoomID: "room-a", GiftID: "no-such-gift", Count: 1}); err == nil {
		t.Error("an unknown gift was accepted")
	}
}

// The first attempt reaches the server but its answer is lost: the retry carries the same
// idempotency key, so the gift still counts once.
func TestLostAnswerIsRetriedOnce(t *testing.T) {
	var lost atomic.Int32
	w := newWorld(t, func(real string) string {
		u, _ := url.Parse(real)
		proxy := httputil.NewSingleHostReverseProxy(u)
		front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "set_battle_score") && lost.Add(1) == 1 {
				proxy.ServeHTTP(httptest.NewRecorder(), r) // applied, answer dropped
				http.Error(rw, "gateway timeout", http.StatusGatewayTimeout)
				return
			}
			proxy.ServeHTTP(rw, r)
		}))
		t.Cleanup(front.Close)
		return front.URL
	})
	a, b := w.host("a"), w.host("b")
	id := w.battle(a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := w.backend.Send(ctx, Gift{EventID: "g1", RoomID: "room-a", GiftID: "yacht", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if lost.Load() < 2 || resp.ScoreVersion != 1 {
		t.Errorf("%d attempts, version %d; want a retry and version 1", lost.Load(), resp.ScoreVersion)
	}
	info, _ := w.backend.cfg.REST.GetBattleInfo(ctx, id, "")
	if info.FromRoomInfo.Score != 3600 {
		t.Errorf("score %d; want 300 × 12 = 3600, counted once", info.FromRoomInfo.Score)
	}
}
