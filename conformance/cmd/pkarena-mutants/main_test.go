package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkarena/pkarena/internal/exitcode"
	"github.com/pkarena/pkarena/reference/mutant"
)

func catalogue(n int) []mutant.Mutant {
	var ms []mutant.Mutant
	for i := range n {
		ms = append(ms, mutant.Mutant{Name: fmt.Sprintf("m%d", i)})
	}
	return ms
}

func names(outs []Outcome) []string {
	var s []string
	for _, o := range outs {
		s = append(s, o.Mutant)
	}
	return s
}

// runAll returns and reports the outcomes in the catalogue's order however the runs finish:
// here every even run ends only after the odd one after it has.
func TestRunAllKeepsTheCataloguesOrder(t *testing.T) {
	ms := catalogue(7)
	ended := make([]chan struct{}, len(ms))
	for i := range ended {
		ended[i] = make(chan struct{})
	}
	run := func(m mutant.Mutant) Outcome {
		i := slices.IndexFunc(ms, func(x mutant.Mutant) bool { return x.Name == m.Name })
		if i%2 == 0 && i+1 < len(ms) {
			<-ended[i+1]
		}
		close(ended[i])
		return Outcome{Mutant: m.Name}
	}
	var reported []string
	outs := runAll(ms, 2, run, func(o Outcome) { reported = append(reported, o.Mutant) })
	var want []string
	for _, m := range ms {
		want = append(want, m.Name)
	}
	if got := names(outs); !slices.Equal(got, want) || !slices.Equal(reported, want) {
		t.Errorf("outcomes %v, reported %v; want both %v", got, reported, want)
	}
}

// runAll runs workers mutants at once, no more, and one at a time with 1.
func TestRunAllKeepsItsBound(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			ms := catalogue(6)
			want := min(workers, len(ms)) // runs that must be under way at once
			var mu sync.Mutex
			running, most, started := 0, 0, 0
			full := make(chan struct{})
			run := func(m mutant.Mutant) Outcome {
				mu.Lock()
				running++
				started++
				most = max(most, running)
				if running == want || started == len(ms) {
					select {
					case <-full:
					default:
						close(full)
					}
				}
				mu.Unlock()
				select { // the first ones wait until the bound is reached
				case <-full:
				case <-time.After(10 * time.Second): // a runAll that runs fewer at once: most tells
				}
				mu.Lock()
				running--
				mu.Unlock()
				return Outcome{Mutant: m.Name}
			}
			runAll(ms, workers, run, func(Outcome) {})
			if most != want {
				t.Errorf("%d runs at once at most; want %d", most, want)
			}
		})
	}
}

// -workers is bounded both ways before anything runs: 1 and maxWorkers are taken (the
// missing binary is what stops those runs), one beyond either end is refused by name.
func TestWorkersIsBounded(t *testing.T) {
	bin := t.TempDir() + "/conformance" // does not exist
	for _, tc := range []struct {
		workers string
		refused bool
	}{
		{"1", false}, {fmt.Sprint(maxWorkers), false},
		{"0", true}, {"-1", true}, {fmt.Sprint(maxWorkers + 1), true},
	} {
		var out, errOut strings.Builder
		code := run([]string{"-binary", bin, "-workers", tc.workers}, &out, &errOut)
		if code != exitcode.Usage || strings.Contains(errOut.String(), "-workers") != tc.refused {
			t.Errorf("-workers %s: exit %d, %q; want %d, refused for -workers: %v", tc.workers, code, errOut.String(), exitcode.Usage, tc.refused)
		}
	}
}
