// Package demo plays one PK battle with gifts end to end and checks it: two hosts connect
// their rooms, viewers watch, a battle starts, viewers send gifts that the example business
// backend (load/backend) turns into score updates, and when the battle is over every viewer
// must have seen every score change in order and the final scores must equal the gifts sent.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/fixtures/gifts"
	"github.com/pkarena/pkarena/load/backend"
	"github.com/pkarena/pkarena/reference/server"
)

// Options configure a demo run.
type Options struct {
	// Target is the server's WebSocket URL; empty starts the embedded reference server.
	Target string
	// RESTURL is the REST root; empty derives it from Target.
	RESTURL  string
	SDKAppID uint64
	Secret   string
	Admin    string
	// Viewers per room, gifts sent in all, battle duration, random seed.
	Viewers  int
	Gifts    int
	Duration time.Duration
	Seed     uint64
}

// DefaultOptions are the settings of make demo.
func DefaultOptions() Options {
	return Options{SDKAppID: 1400000001, Secret: "pkarena-dev-secret", Admin: "administrator", Viewers: 3, Gifts: 40, Duration: 4 * time.Second, Seed: 1}
}

// ErrMismatch is a demo whose battle did not add up: the server is wrong.
var ErrMismatch = errors.New("the battle did not add up")

// Run plays the demo and writes what happens to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Duration < time.Second || o.Duration%time.Second != 0 || o.Gifts < 1 || o.Viewers < 1 {
		return fmt.Errorf("demo: need whole-second duration >= 1s, gifts >= 1, viewers >= 1")
	}
	rules, err := gifts.Load()
	if err != nil {
		return err
	}
	var hooks http.Handler
	var be *backend.Backend
	hookHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooks.ServeHTTP(w, r) })
	if o.Target == "" {
		stop, err := embedded(&o, hookHandler)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(out, "server:  embedded reference server at %s\n", o.Target)
	} else {
		fmt.Fprintf(out, "server:  %s\n", o.Target)
	}
	if o.RESTURL == "" {
		o.RESTURL = strings.Replace(strings.TrimSuffix(o.Target, client.Path), "ws", "http", 1)
	}
	rest := client.NewREST(client.RESTConfig{BaseURL: o.RESTURL, SDKAppID: o.SDKAppID, Secret: o.Secret, Identifier: o.Admin})
	be = backend.New(backend.Config{REST: rest, Rules: rules, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hooks = be.Webhooks()

	run := runID()
	dial := func(name string) (*client.Client, error) {
		return client.Dial(ctx, client.Config{URL: o.Target, SDKAppID: o.SDKAppID, Secret: o.Secret, UserID: name + "-" + run, UserName: name})
	}
	names := []string{"amber", "blaze"}
	var hostsC []*client.Client
	var viewers [][]*client.Client
	defer func() {
		for _, cs := range viewers {
			for _, c := range cs {
				c.Close()
			}
		}
		for _, c := range hostsC {
			c.Close()
		}
	}()
	rooms := make([]string, len(names))
	for i, n := range names {
		h, err := dial("host-" + n)
		if err != nil {
			return err
		}
		hostsC = append(hostsC, h)
		rooms[i] = "room-" + n + "-" + run
		if _, err := h.CreateLive(ctx, client.CreateLiveRequest{LiveID: rooms[i], LiveName: n + "'s room"}); err != nil {
			return err
		}
		var vs []*client.Client
		for j := 0; j < o.Viewers; j++ {
			v, err := dial(fmt.Sprintf("viewer-%s-%d", n, j+1))
			if err != nil {
				return err
			}
			vs = append(vs, v)
			if _, err := v.JoinLive(ctx, rooms[i]); err != nil {
				return err
			}
		}
		viewers = append(viewers, vs)
		fmt.Fprintf(out, "room:    %s, host %s, %d viewers\n", rooms[i], h.UserID(), o.Viewers)
	}
	a, b := hostsC[0], hostsC[1]
	if _, err := a.RequestConnection(ctx, client.RequestConnectionRequest{LiveIDs: []string{rooms[1]}, ExtensionInfo: `{"withPK":true}`}); err != nil {
		return err
	}
	if _, err := b.Next(ctx, client.EvConnectionRequestReceived); err != nil {
		return err
	}
	if err := b.AcceptConnection(ctx, rooms[0]); err != nil {
		return err
	}
	fmt.Fprintf(out, "co-host: %s and %s are connected\n", rooms[0], rooms[1])
	secs := int(o.Duration / time.Second)
	reply, err := a.RequestBattle(ctx, client.RequestBattleRequest{UserIDs: []string{b.UserID()}, Config: client.BattleConfigRequest{Duration: &secs}})
	if err != nil {
		return err
	}
	id := reply.BattleInfo.BattleID
	fmt.Fprintf(out, "battle:  %s started, %d s\n", id, secs)

	sent, retries, want, err := sendGifts(ctx, o, be, rules, id, rooms, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gifts:   %d sent through the backend (%s); %d of them resent, counted once\n", o.Gifts, sent, retries)

	wctx, cancel := context.WithTimeout(ctx, o.Duration+10*time.Second)
	defer cancel()
	watcher := viewers[1][0]
	ev, err := client.NextAs[client.BattleEnded](wctx, watcher, client.EvBattleEnded)
	if err != nil {
		return fmt.Errorf("waiting for the end of the battle: %w", err)
	}
	fmt.Fprintf(out, "ended:   reason %d (%s), score version %d\n", ev.Reason, map[int]string{0: "time over", 1: "all others exited"}[ev.Reason], ev.Version)
	board := append([]client.BattleUser(nil), ev.BattleUserList...)
	sort.SliceStable(board, func(i, j int) bool { return board[i].Rank < board[j].Rank })
	for _, u := range board {
		fmt.Fprintf(out, "  rank %d  %-28s host %-24s score %d\n", u.Rank, u.LiveID, u.UserID, u.Score)
	}
	return check(ev, want, viewers, id, out)
}

// sendGifts spreads o.Gifts seeded random gifts over the battle, every tenth resent with the
// same event ID as a retry would, and returns a summary, the retries and the expected scores.
func sendGifts(ctx context.Context, o Options, be *backend.Backend, rules *gifts.Rules, id string, rooms []string, out io.Writer) (string, int, map[string]int64, error) {
	rng := mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	catalogue := rules.Gifts()
	weights := []int{40, 25, 15, 10, 6, 4} // cheap gifts are common
	pick := func() gifts.Gift {
		n := rng.IntN(100)
		for i, w := range weights {
			if n < w || i == len(catalogue)-1 {
				return catalogue[min(i, len(catalogue)-1)]
			}
			n -= w
		}
		return catalogue[0]
	}
	want := map[string]int64{}
	counts := map[string]int{}
	retries := 0
	spacing := o.Duration / time.Duration(o.Gifts+2)
	start := time.Now()
	for i := 0; i < o.Gifts; i++ {
		if d := time.Until(start.Add(time.Duration(i+1) * spacing)); d > 0 {
			select {
			case <-ctx.Done():
				return "", 0, nil, ctx.Err()
			case <-time.After(d):
			}
		}
		g := pick()
		room := rooms[rng.IntN(len(rooms))]
		count := 1 + rng.IntN(3)
		gift := backend.Gift{EventID: fmt.Sprintf("%s-gift-%d", id, i), RoomID: room, BattleID: id, GiftID: g.ID, Count: count}
		if _, err := be.Send(ctx, gift); err != nil {
			return "", 0, nil, err
		}
		if i%10 == 9 {
			if _, err := be.Send(ctx, gift); err != nil {
				return "", 0, nil, err
			}
			retries++
		}
		s, _ := rules.Score(g.ID, count)
		want[room] += s
		counts[g.ID] += count
	}
	var parts []string
	for _, g := range catalogue {
		if counts[g.ID] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[g.ID], g.ID))
		}
	}
	return strings.Join(parts, ", "), retries, want, nil
}

// check compares the end with the gifts and every viewer's score changes.
func check(ev client.BattleEnded, want map[string]int64, viewers [][]*client.Client, id string, out io.Writer) error {
	var problems []string
	for _, u := range ev.BattleUserList {
		if u.Score != want[u.LiveID] {
			problems = append(problems, fmt.Sprintf("%s ended with %d, the gifts add up to %d", u.LiveID, u.Score, want[u.LiveID]))
		}
	}
	n := 0
	for _, vs := range viewers {
		for _, v := range vs {
			n++
			var version uint64
			for _, e := range v.EventsOf(client.EvBattleScoreChanged) {
				var sc client.BattleScoreChanged
				if err := e.Decode(&sc); err != nil || sc.BattleID != id || sc.Version != version+1 {
					problems = append(problems, fmt.Sprintf("%s: score change after version %d is %+v", v.UserID(), version, sc.Version))
					break
				}
				version = sc.Version
			}
			if version != ev.Version {
				problems = append(problems, fmt.Sprintf("%s saw versions up to %d; the end says %d", v.UserID(), version, ev.Version))
			}
			if vio := v.Violations(); len(vio) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %s", v.UserID(), vio[0]))
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "MISMATCH: "+p)
		}
		return ErrMismatch
	}
	fmt.Fprintf(out, "check:   %d viewers saw all %d score versions in order; final scores equal the gifts sent: OK\n", n, ev.Version)
	return nil
}

// embedded starts the reference server with its webhooks going to hooks, and sets o.Target.
func embedded(o *Options, hooks http.Handler) (func(), error) {
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hookSrv := &http.Server{Handler: hooks, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hookSrv.Serve(hookLn) }()
	cfg := server.DefaultConfig()
	cfg.SDKAppID, cfg.Secret, cfg.AdminIdentifiers = o.SDKAppID, o.Secret, []string{o.Admin}
	cfg.WebhookURL = "http://" + hookLn.Addr().String() + "/hooks"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		hookSrv.Close()
		return nil, err
	}
	o.Target = srv.URL
	return func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hookSrv.Shutdown(ctx)
	}, nil
}

// runID keeps the demo's users and rooms apart from anything else on a shared server.
func runID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
