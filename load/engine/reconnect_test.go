package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pkarena/pkarena/fixtures/scenarios"
	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
)

// reconnectScenario is a small pk run with a storm of half the connections and blips.
func reconnectScenario() scenarios.Scenario {
	return scenarios.Scenario{
		Name: "reconnect-test", Kind: scenarios.KindPK, Model: scenarios.ModelOpen, Seed: 7,
		Hosts: 6, AudiencePerRoom: 2, GroupSize: 3,
		BattleDuration: scenarios.Duration(2 * time.Second), GiftRate: 60,
		RampUp: scenarios.Duration(300 * time.Millisecond), Duration: scenarios.Duration(5 * time.Second),
		Reconnect: &scenarios.Reconnect{
			StormAt: scenarios.Duration(time.Second), StormFraction: 0.5, BlipRate: 4,
			Pause: scenarios.Duration(50 * time.Millisecond),
		},
	}
}

// runResume runs sc against a fresh reference server with the given resume window.
func runResume(t *testing.T, sc scenarios.Scenario, window time.Duration) (*metrics.Totals, error) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.RESTRateLimit = 10000
	cfg.ResumeWindow = window
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	rec := metrics.NewRecorder(metrics.Options{Interval: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = Run(ctx, Config{
		Scenario: sc, Targets: []Target{{WS: srv.URL, REST: srv.RESTURL}}, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret,
		Admin: cfg.AdminIdentifiers[0], Shards: 1, RunID: "t", Recorder: rec, FilesPerConnection: 2,
	})
	return rec.Finish(time.Now()), err
}

// With resume on, every dropped connection resumes its session and misses nothing: no frame
// lost, out of order or twice, every score version in order, and a drop→caught-up time per
// resume.
func TestReconnectResumesWithoutLoss(t *testing.T) {
	tot, err := runResume(t, reconnectScenario(), 5*time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	healthy(t, tot)
	c := tot.Counters
	for _, k := range []string{counterRefused, counterFailed, counterDuplicates, counterState, counterRejoined, metrics.Lost, metrics.OutOfOrder} {
		if c[k] != 0 {
			t.Errorf("%s = %d; want 0 (counters %v)", k, c[k], c)
		}
	}
	// The storm drops half of the 18 connections; the blips some more.
	if c[counterStormDrops] != 9 || c[counterDrops] <= 9 {
		t.Errorf("drops %d, of them in the storm %d; want 9 in the storm and some blips (counters %v)", c[counterDrops], c[counterStormDrops], c)
	}
	if c[counterRecovered] != c[counterDrops] {
		t.Errorf("%d resumes recovered of %d drops; want all", c[counterRecovered], c[counterDrops])
	}
	if n := count(tot, metrics.ResumeCatchup); n != c[counterDrops] {
		t.Errorf("resume_catchup samples = %d; want one per drop (%d)", n, c[counterDrops])
	}
	t.Logf("counters: %v", c)
	if count(tot, metrics.ScoreFanout) == 0 {
		t.Error("no score_fanout samples: the battles did not run")
	}
	var stormSeen bool
	for _, p := range tot.Phases {
		if p.Name == PhaseStorm && !p.End.Before(p.Start) {
			stormSeen = true
		}
	}
	if !stormSeen {
		t.Errorf("phases %v lack the storm", tot.Phases)
	}
}

// Against a server that does not resume sessions, the run stops before connecting anyone.
func TestReconnectNeedsResume(t *testing.T) {
	tot, err := runResume(t, reconnectScenario(), 0)
	if !errors.Is(err, ErrNoResume) {
		t.Fatalf("Run = %v; want ErrNoResume", err)
	}
	if tot.Counters[metrics.Connections] != 0 {
		t.Errorf("%d connections opened; want none", tot.Counters[metrics.Connections])
	}
	// A pause as long as the server's window could never resume either.
	sc := reconnectScenario()
	sc.Reconnect.Pause = scenarios.Duration(2 * time.Second)
	if _, err := runResume(t, sc, 2*time.Second); !errors.Is(err, ErrNoResume) {
		t.Fatalf("Run with pause = window: %v; want ErrNoResume", err)
	}
}
