package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests of this package check what a run writes, merges, judges and exits, not the latency
// of a machine whose cores every other package's tests share: there, the pk scenario's own
// score_fanout p99 < 200 ms breaks now and then. small runs pk with its latency thresholds at
// 60 s instead (busyPKThreshold); its other rules are pk's.
const busyPKThreshold = "score_fanout.p99 < 60s"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pkarena-load-test-")
	if err == nil {
		err = writeBusyPK(filepath.Join(dir, "pk.yaml"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario for the tests:", err)
		os.Exit(2)
	}
	small[1] = filepath.Join(dir, "pk.yaml")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeBusyPK writes fixtures/scenarios/pk.yaml with its latency thresholds at 60 s.
func writeBusyPK(path string) error {
	data, err := os.ReadFile("../../../fixtures/scenarios/pk.yaml")
	if err != nil {
		return err
	}
	s := string(data)
	for old, repl := range map[string]string{"score_fanout.p99 < 200ms": busyPKThreshold, "battle_start.p99 < 500ms": "battle_start.p99 < 60s"} {
		if !strings.Contains(s, old) {
			return fmt.Errorf("pk.yaml has no threshold %q any more: change writeBusyPK", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
