package main

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func jobsOf(n int) []job {
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{i: i, m: Mutant{File: "f" + strconv.Itoa(i) + ".go"}}
	}
	return jobs
}

// n workers judge n mutants at once, never more; every job is answered once, with the mutant
// as its judge left it, on the caller's goroutine (the race detector would see got called
// from the workers: answers is written without a lock).
func TestJudgeAllRunsNAtOnce(t *testing.T) {
	const workers, total = 3, 10
	var inflight, most atomic.Int32
	started := make(chan struct{}, total)
	release := make(chan struct{})
	go func() { // the first `workers` runs wait until all of them have started
		timeout := time.After(10 * time.Second)
		for range workers {
			select {
			case <-started:
			case <-timeout:
				close(release) // let the test fail on most rather than hang
				return
			}
		}
		close(release)
	}()
	judge := func(_ context.Context, w int, m *Mutant) Verdict {
		now := inflight.Add(1)
		for old := most.Load(); now > old && !most.CompareAndSwap(old, now); old = most.Load() {
		}
		started <- struct{}{}
		<-release
		m.Original = "seen by worker " + strconv.Itoa(w)
		inflight.Add(-1)
		return Verdict{Result: "killed", Detail: m.File}
	}
	answers := map[int]judged{}
	judgeAll(context.Background(), jobsOf(total), workers, time.Now().Add(time.Hour), judge, func(a judged) {
		if _, twice := answers[a.i]; twice {
			t.Errorf("job %d answered twice", a.i)
		}
		answers[a.i] = a
	})
	if got := most.Load(); got != workers {
		t.Errorf("at most %d runs at once; want %d", got, workers)
	}
	if len(answers) != total {
		t.Fatalf("%d answers; want %d", len(answers), total)
	}
	for i, a := range answers {
		want := "f" + strconv.Itoa(i) + ".go"
		if !a.ok || a.v.Detail != want || a.m.File != want || a.m.Original == "" {
			t.Errorf("job %d: %+v; want ok, the verdict of %s and the mutant as its judge left it", i, a, want)
		}
	}
}

// No run starts after the deadline or once the audit is interrupted: those jobs are
// answered without a verdict, and a run the interruption cut short gives none either.
func TestJudgeAllStops(t *testing.T) {
	calls := 0
	count := func(context.Context, int, *Mutant) Verdict { calls++; return Verdict{Result: "killed"} }
	var answers []judged
	collect := func(a judged) { answers = append(answers, a) }

	judgeAll(context.Background(), jobsOf(4), 1, time.Now().Add(-time.Second), count, collect)
	if calls != 0 || len(answers) != 4 || answers[0].ok {
		t.Errorf("past the deadline: %d runs, answers %+v; want none run, 4 answered without a verdict", calls, answers)
	}

	ctx, cancel := context.WithCancel(context.Background())
	answers = nil
	judgeAll(ctx, jobsOf(3), 1, time.Now().Add(time.Hour), func(ctx context.Context, _ int, m *Mutant) Verdict {
		if m.File == "f1.go" {
			cancel() // interrupted during the second run
		}
		return Verdict{Result: "survived"}
	}, collect)
	if len(answers) != 3 || !answers[0].ok || answers[1].ok || answers[2].ok {
		t.Errorf("interrupted at the second: %+v; want the first judged, the second and third not", answers)
	}
}
