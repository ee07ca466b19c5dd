//go:build pkarena_mutants

// The load tool's own mutation check (make mutants): against reference servers broken on
// purpose, a load run must count the lost or disordered messages and exit 4. A mutant is
// chosen at start-up (PKARENA_MUTANT), so each one runs in a process of its own: this test
// binary, started again.

package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/mutant"
)

// loadMutants are the mutants a load run must catch: those that lose, reorder, repeat or
// misdeliver messages.
var loadMutants = []string{mutant.SeqGap, mutant.SeqSwapped, mutant.ScoreSkipsRoom, mutant.VersionsOutOfOrder,
	mutant.EndTwiceToOne, mutant.ScoreToOtherBattle, mutant.ReplyTwice, mutant.StaleScoreList, mutant.EndVersionZero,
	mutant.AudienceStaleScoreList}

// resumeMutants replay a resumed session's missed frames wrongly (SPEC §21): the reconnect
// scenario (smallReconnect) must catch them.
var resumeMutants = []string{mutant.ResumeReplaysLastAgain, mutant.ResumeRenumbers}

// smallChurn is the churn scenario small enough for a test: four groups of five rooms, each
// invitee accepting, cycles 300 ms apart for 3 s (groups of three and more form).
var smallChurn = []string{"-scenario", "churn", "-set", "hosts=20", "-set", "audience_per_room=1", "-set", "group_size=5",
	"-set", "accept_ratio=1", "-set", "stay=200ms", "-set", "think_time=100ms", "-set", "ramp_up=200ms", "-set", "duration=3s",
	"-quiet", "-drain", "2s"}

// churnMutants misreport a co-host invitation's outcome: the churn scenario (smallChurn)
// must catch them.
var churnMutants = []string{mutant.GrownGroupAcceptAsReject}

func TestLoadCatchesMutants(t *testing.T) {
	if mutant.Active() != "" {
		t.Skip("a mutant's own process")
	}
	for _, m := range slices.Concat(loadMutants, resumeMutants, churnMutants) {
		t.Run(m, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoadAgainstActiveMutant$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), mutant.Env+"="+m)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestLoadAgainstActiveMutant") {
				t.Errorf("mutant %s was not caught (%v):\n%s", m, err, out)
				return
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "caught:") {
					t.Log(strings.TrimSpace(line))
				}
			}
		})
	}
}

func TestLoadAgainstActiveMutant(t *testing.T) {
	if mutant.Active() == "" {
		t.Skip("run by TestLoadCatchesMutants with a mutant switched on")
	}
	dir := t.TempDir()
	args := small
	switch {
	case slices.Contains(resumeMutants, mutant.Active()):
		args = smallReconnect
	case slices.Contains(churnMutants, mutant.Active()):
		args = smallChurn
	}
	code, out, errOut := runCLI(t, append([]string{"run", "-out", dir, "-no-report"}, args...)...)
	if code != metrics.ExitLost {
		t.Fatalf("exit %d; want %d (messages lost, out of order, misdelivered or breaking the protocol)\nstdout:\n%s\nstderr:\n%s", code, metrics.ExitLost, out, errOut)
	}
	sum, err := metrics.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	lost, gap, overdue := sum.Counters[metrics.Lost], sum.Counters[metrics.LostGap], sum.Counters[metrics.LostOverdue]
	if lost != gap+overdue {
		t.Errorf("lost %d, of it %d behind a gap and %d overdue: the kinds do not add up", lost, gap, overdue)
	}
	if dup := sum.Counters["resume.duplicates"]; mutant.Active() == mutant.SeqSwapped && (lost != 0 || dup != 0 || sum.Counters[metrics.OutOfOrder] == 0) {
		// Every frame comes, two of each connection in each other's place: out of order, and
		// the late one handled (neither lost nor taken for a duplicate).
		t.Errorf("lost %d, duplicates %d, out of order %d; want none lost or duplicated, some out of order", lost, dup, sum.Counters[metrics.OutOfOrder])
	}
	// Each of these shows in the counter its built-in rule judges, and nothing goes missing.
	for m, counter := range map[string]string{mutant.ScoreToOtherBattle: metrics.Unexpected, mutant.ReplyTwice: metrics.Violations, mutant.StaleScoreList: "score.wrong", mutant.EndVersionZero: metrics.OutOfOrder, mutant.GrownGroupAcceptAsReject: metrics.Violations,
		mutant.AudienceStaleScoreList: "score.wrong"} {
		if mutant.Active() == m && (sum.Counters[counter] == 0 || lost != 0) {
			t.Errorf("%s %d, lost %d; want some %s and nothing lost", counter, sum.Counters[counter], lost, counter)
		}
	}
	if mutant.Active() == mutant.EndTwiceToOne && (sum.Counters[metrics.OutOfOrder] == 0 || overdue == 0) {
		// The second end counts out of order, not for the member that never got one.
		t.Errorf("out of order %d, overdue %d; want both above 0", sum.Counters[metrics.OutOfOrder], overdue)
	}
	t.Logf("caught: %s: lost %d (gap %d, overdue %d), out of order %d, duplicates %d, unexpected %d, violations %d", mutant.Active(), lost, gap, overdue,
		sum.Counters[metrics.OutOfOrder], sum.Counters["resume.duplicates"], sum.Counters[metrics.Unexpected], sum.Counters[metrics.Violations])
}
