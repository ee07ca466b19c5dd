// Package resultstest holds a realistic conformance run for the tests of results and of its
// renderers.
package resultstest

import (
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/results"
)

// HostileScript is what a hostile server puts into frames and messages: it must never reach a
// report as markup.
const HostileScript = `<script>alert(1)</script>`

// T0 is when the fixture run started.
var T0 = time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)

// Fixture returns a realistic conformance run as the runner fills it in, before Finish:
// requirements in two sections and three tiers (one without a spec), specs with every verdict,
// and a failure whose transcript holds markup, a control character, invalid UTF-8 and a frame
// longer than every report keeps.
func Fixture() *results.Run {
	longFrame := `{"type":"onBattleScoreChanged","seq":9,"payload":{"scores":[` +
		strings.Repeat(`{"liveID":"room-x","score":1},`, 200) + `{"liveID":"end","score":0}]}}`
	return &results.Run{
		Suite: results.SuiteInfo{
			Name:         "pkarena-conformance",
			Version:      "v0.4.0",
			Commit:       "ff70659e196126",
			Protocol:     "v1",
			BinarySHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		},
		Target:        "ws://127.0.0.1:8080/v1/ws",
		Config:        map[string]string{"PKARENA_TARGET": "ws://127.0.0.1:8080/v1/ws", "PKARENA_TIERS": "core,strict", "PKARENA_REST_SECRET": "[redacted]"},
		Certification: true,
		Started:       T0,
		Finished:      T0.Add(83*time.Second + 250*time.Millisecond),
		Requirements: []results.Requirement{
			{ID: "COHOST-001", Section: "9. Co-host connections", Level: "MUST", Tier: results.TierCore, Text: "Only a room's host may call the operations of this section; anyone else MUST get 100006."},
			{ID: "COHOST-002", Section: "9. Co-host connections", Level: "MUST", Tier: results.TierCore, Text: "requestConnection MUST return one code per listed room."},
			{ID: "COHOST-040", Section: "9. Co-host connections", Level: "SHOULD", Tier: results.TierStrict, Text: "A server SHOULD deliver <connection> events & replies in one write."},
			{ID: "BATTLE-001", Section: "12. Battles (PK)", Level: "MUST", Tier: results.TierCore, Text: "With needResponse=false a battle MUST start at once."},
			{ID: "BATTLE-020", Section: "12. Battles (PK)", Level: "MAY", Tier: results.TierOptional, Text: "A server MAY echo extensionInfo in onBattleStarted."},
			{ID: "BATTLE-099", Section: "12. Battles (PK)", Level: "MUST", Tier: results.TierCore, Text: "A requirement that no spec names yet."},
		},
		Specs: []results.Spec{
			{Name: "co-host: only hosts may request a connection", IDs: []string{"COHOST-001"}, Labels: []string{"cohost"}, Tier: results.TierCore,
				Verdict: results.Pass, Location: "conformance/specs/cohost_test.go:41", Seconds: 0.042},
			{Name: "co-host: requestConnection returns one code per room", IDs: []string{"COHOST-002", "COHOST-001"}, Labels: []string{"cohost", "limits"}, Tier: results.TierCore,
				Verdict: results.Fail, Reason: "reply code mismatch", Location: "conformance/specs/cohost_test.go:77", Seconds: 1.5,
				Failure: &results.Failure{
					Message:  "Expected\n    <int>: 3\nto equal\n    <int>: 0\nserver said: " + HostileScript + " \x01 \xff",
					Location: "conformance/specs/cohost_test.go:93",
					Transcripts: []results.Transcript{
						{Client: "host-a", Dropped: 2, Frames: []results.Frame{
							{At: T0.Add(10 * time.Second), Dir: "sent", Text: `{"type":"requestConnection","id":"7","payload":{"liveIDs":["room-b"]}}`},
							{At: T0.Add(10*time.Second + 12500*time.Microsecond), Dir: "received", Text: `{"type":"reply","id":"7","code":3,"message":"` + HostileScript + "\x01\xff" + `"}`},
							{At: T0.Add(10*time.Second + 20*time.Millisecond), Dir: "received", Text: longFrame},
						}},
						{Client: "host-b " + HostileScript, Frames: []results.Frame{
							{At: T0.Add(10*time.Second + 5*time.Millisecond), Dir: "received", Text: `{"type":"onConnectionRequestReceived","seq":4}`},
						}},
					},
				}},
			{Name: "co-host: events & replies share a write <b>", IDs: []string{"COHOST-040"}, Tier: results.TierStrict,
				Verdict: results.Error, Reason: "harness: cannot listen for webhooks", Location: "conformance/specs/cohost_test.go:120", Seconds: 0.001,
				Failure: &results.Failure{Message: "listen tcp :0: bind: address already in use", Location: "conformance/harness/webhooks.go:30"}},
			{Name: "battle: needResponse=false starts at once", IDs: []string{"BATTLE-001"}, Labels: []string{"battle"}, Tier: results.TierCore,
				Verdict: results.Skip, Reason: "unsupported feature battle: the server advertises features.battle: false", Location: "conformance/specs/battle_test.go:15"},
			{Name: "battle: extensionInfo is echoed", IDs: []string{"BATTLE-020"}, Labels: []string{"battle"}, Tier: results.TierOptional,
				Verdict: results.Disabled, Reason: "tier optional not selected (PKARENA_TIERS=core,strict)", Location: "conformance/specs/battle_test.go:60"},
			{Name: "co-host: heartbeat round trip", IDs: []string{"COHOST-001"}, Tier: results.TierCore,
				Verdict: results.Pass, Location: "conformance/specs/cohost_test.go:140", Seconds: 0.3},
		},
	}
}

// Finished returns Fixture after Finish.
func Finished() *results.Run {
	run := Fixture()
	results.Finish(run)
	return run
}

// Spec returns a spec for the tables of the tests.
func Spec(name string, tier results.Tier, v results.Verdict, reason string, ids ...string) results.Spec {
	return results.Spec{Name: name, Tier: tier, Verdict: v, Reason: reason, IDs: ids, Location: name + "_test.go:1", Seconds: 0.01}
}
