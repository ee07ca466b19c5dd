package main

import (
	"context"
	"sync"
	"time"
)

// A suite run spends most of its 70-odd seconds waiting on the protocol's timers (its CPU is
// about a tenth of its wall time), so stage 2 judges several mutants at once, each worker in
// a copy of the module of its own: three workers fit this machine's 2 cores.

// job is a mutant to judge: its index in the audit's list and a copy of it for the worker.
type job struct {
	i int
	m Mutant
}

// judged is a worker's answer for a job: the mutant as the worker left it (Original and
// Mutated filled in) and its verdict. ok is false when the job was not run (the deadline had
// passed or the audit was interrupted): no verdict.
type judged struct {
	job
	v  Verdict
	ok bool
}

// judgeFunc judges one mutant in worker w's copy.
type judgeFunc func(ctx context.Context, w int, m *Mutant) Verdict

// judgeAll runs the jobs on n workers, starting none after deadline or once ctx ends, and
// hands each answer to got on the calling goroutine, which alone touches the audit's list.
func judgeAll(ctx context.Context, jobs []job, n int, deadline time.Time, judge judgeFunc, got func(judged)) {
	queue := make(chan job)
	answers := make(chan judged)
	var wg sync.WaitGroup
	for w := range max(n, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if time.Now().After(deadline) || ctx.Err() != nil {
					answers <- judged{job: j}
					continue
				}
				v := judge(ctx, w, &j.m)
				answers <- judged{job: j, v: v, ok: ctx.Err() == nil} // interrupted mid-run: no verdict
			}
		}()
	}
	go func() {
		for _, j := range jobs {
			queue <- j
		}
		close(queue)
		wg.Wait()
		close(answers)
	}()
	for a := range answers {
		got(a)
	}
}
