package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `package p

func f(a, b int) bool {
	n := -a
	n++
	return a <= b && n != b+1
}
`

func TestApply(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		line, col int
		typ       string
		want      string // the mutated line
		err       string
	}{
		// a unary minus, as INVERT_NEGATIVES finds it
		{4, 7, "INVERT_NEGATIVES", "n := +a", ""},
		{5, 3, "INCREMENT_DECREMENT", "n--", ""},
		// a two-character operator is replaced whole, not its first byte
		{6, 11, "CONDITIONALS_BOUNDARY", "return a < b && n != b+1", ""},
		{6, 11, "CONDITIONALS_NEGATION", "return a > b && n != b+1", ""},
		{6, 21, "CONDITIONALS_NEGATION", "return a <= b && n == b+1", ""},
		{6, 25, "ARITHMETIC_BASE", "return a <= b && n != b-1", ""},
		// the source moved: no token starts at the column, or it is not one the mutator takes
		{6, 12, "CONDITIONALS_BOUNDARY", "", "no token starts there"},
		{6, 21, "CONDITIONALS_BOUNDARY", "", "does not apply"},
		{6, 11, "NO_SUCH_MUTATOR", "", "unknown"},
	} {
		out, _, after, err := apply([]byte(sample), tt.line, tt.col, tt.typ)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("apply(%d:%d %s) error = %v; want %q", tt.line, tt.col, tt.typ, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("apply(%d:%d %s): %v", tt.line, tt.col, tt.typ, err)
			continue
		}
		if after != tt.want {
			t.Errorf("apply(%d:%d %s) line = %q; want %q", tt.line, tt.col, tt.typ, after, tt.want)
		}
		if strings.Count(string(out), "\n") != strings.Count(sample, "\n") {
			t.Errorf("apply(%d:%d %s) changed more than one line:\n%s", tt.line, tt.col, tt.typ, out)
		}
	}
}

func TestReadGremlinsAndReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	js := `{"go_module":"m","files":[{"file_name":"b.go","mutations":[
		{"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":9,"column":3},
		{"type":"ARITHMETIC_BASE","status":"KILLED","line":2,"column":5}]},
		{"file_name":"a.go","mutations":[
		{"type":"CONDITIONALS_NEGATION","status":"LIVED","line":4,"column":1},
		{"type":"INCREMENT_DECREMENT","status":"LIVED","line":5,"column":1},
		{"type":"INCREMENT_DECREMENT","status":"NOT COVERED","line":6,"column":1}]}]}`
	path := filepath.Join(dir, "g.json")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := readGremlins(path, "reference/core")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 5 || ms[0].Key() != "reference/core/a.go:4:1 CONDITIONALS_NEGATION" {
		t.Fatalf("readGremlins = %+v; want 5 mutants, a.go:4:1 first", ms)
	}
	eq := filepath.Join(dir, "eq.txt")
	if err := os.WriteFile(eq, []byte("# comment\nreference/core/a.go:5:1 INCREMENT_DECREMENT | a counter nobody reads\nreference/core/b.go:9:3 CONDITIONALS_BOUNDARY ! needs a restart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	equiv, err := readEquivalent(eq)
	if err != nil {
		t.Fatal(err)
	}
	ms[0].Stage2 = &Verdict{Result: "killed", Failed: []string{"BATTLE-001 a spec"}}
	ms[1].Stage2 = &Verdict{Result: "survived"}
	ms[4].Stage2 = &Verdict{Result: "survived"} // b.go:9
	r := buildReport(ms, equiv, map[string]bool{"LIVED": true}, Verdict{Result: "survived"}, "make mutation-audit", 1, 2, time.Minute, "abc")
	if r.killed != 2 || r.equivalent != 1 || r.notJudged != 0 || r.notKilled != 1 {
		t.Errorf("buildReport: killed %d equivalent %d notJudged %d notKilled %d; want 2 1 0 1", r.killed, r.equivalent, r.notJudged, r.notKilled)
	}
	md := r.markdown()
	for _, want := range []string{"killed by BATTLE-001 a spec", "equivalent: a counter nobody reads", "**NOT KILLED**: needs a restart", "2 of 3 non-equivalent"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| package |") {
		t.Errorf("one package's report has a table by package:\n%s", md)
	}
	// Two packages: the figures by package as well, each with its own rate.
	other := Mutant{Dir: "reference/server", File: "c.go", Line: 1, Column: 1, Type: "ARITHMETIC_BASE", Stage1: "LIVED", Stage2: &Verdict{Result: "survived"}}
	r = buildReport(append(ms, other), equiv, map[string]bool{"LIVED": true}, Verdict{Result: "survived"}, "make mutation-audit", 1, 2, time.Minute, "abc")
	md = r.markdown()
	for _, want := range []string{"| reference/core | 2 | 1 | 66.7% | 1 | 0 | 0 |", "| reference/server | 0 | 1 | 0.0% | 0 | 0 | 0 |", "2 of 4 non-equivalent"} {
		if !strings.Contains(md, want) {
			t.Errorf("two packages' markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestVerdictOf(t *testing.T) {
	t.Parallel()
	trace := "PASS a spec\n\u2022panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n[signal SIGSEGV]\n\ngoroutine 7 [running]:\n"
	for _, tt := range []struct {
		name     string
		code     int
		out      string
		timedOut bool
		want     string // Result
		failed   string // the first Failed entry, if any
	}{
		{"conformant", 0, "PASS", false, "survived", ""},
		{"not conformant", 1, "FAIL", false, "killed", ""},
		{"the embedded server panicked", 2, trace, false, "killed", "the server under test panicked: runtime error: invalid memory address or nil pointer dereference [recovered]"},
		{"a usage error is no verdict", 2, "flag provided but not defined: -x", false, "error", ""},
		{"the word panic in a spec name is no panic", 2, "FAIL [ROOM-001] no panic: here", false, "error", ""},
		{"a tool failure is no verdict", 4, "cannot write results", false, "error", ""},
		{"out of time, whatever the code", 1, "", true, "timed out", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := verdictOf(tt.code, tt.out, tt.timedOut)
			if v.Result != tt.want {
				t.Fatalf("verdictOf(%d, …) = %q; want %q", tt.code, v.Result, tt.want)
			}
			got := ""
			if len(v.Failed) > 0 {
				got = v.Failed[0]
			}
			if got != tt.failed {
				t.Errorf("Failed = %q; want %q", got, tt.failed)
			}
		})
	}
}

func TestUnitTests(t *testing.T) {
	t.Parallel()
	const test = "package p\n\nimport \"testing\"\n\nfunc TestDouble(t *testing.T) {\n\tif Double(2) != 4 {\n\t\tt.Fatal(\"Double(2) != 4\")\n\t}\n}\n"
	for _, tt := range []struct {
		name, src, stage1 string
		decided           bool
		want              Verdict
	}{
		{"the tests pass: the suite judges", "package p\n\nfunc Double(n int) int { return n * 2 }\n", "NOT COVERED", false, Verdict{}},
		{"a test fails: killed", "package p\n\nfunc Double(n int) int { return n / 2 }\n", "NOT COVERED", true, Verdict{Result: "killed", Failed: []string{"unit test TestDouble (Gremlins called the line NOT COVERED)"}}},
		{"a LIVED mutant meets a later test: killed", "package p\n\nfunc Double(n int) int { return n / 2 }\n", "LIVED", true, Verdict{Result: "killed", Failed: []string{"unit test TestDouble (a test the package's tests did not have at stage 1)"}}},
		{"the package does not build: not viable", "package p\n\nfunc Double(n int) int { return n * \"2\" }\n", "NOT COVERED", true, Verdict{Result: "not viable"}},
		// A goroutine of the package's own that panics ends the test binary naming no test.
		{"the tests crash: killed", "package p\n\nfunc Double(n int) int { done := make(chan int); go func() { var m map[int]int; m[n] = 1; done <- 0 }(); <-done; return n * 2 }\n", "NOT COVERED", true, Verdict{Result: "killed", Failed: []string{"the package's unit tests crashed: assignment to entry in nil map (Gremlins called the line NOT COVERED)"}}},
		// A test that fails in the package's run and passes when run alone: no kill.
		{"a failure that does not repeat: the suite judges", "package p\n\nfunc Double(n int) int { return n * 2 }\n", "LIVED", false, Verdict{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mod := t.TempDir()
			files := map[string]string{"go.mod": "module example.com/m\n\ngo 1.22\n", "p/p.go": tt.src, "p/p_test.go": test}
			if strings.Contains(tt.name, "does not repeat") { // fails once: the first run leaves a mark
				files["p/once_test.go"] = "package p\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestOnce(t *testing.T) {\n\tif _, err := os.Stat(\"ran\"); err != nil {\n\t\t_ = os.WriteFile(\"ran\", nil, 0o644)\n\t\tt.Fatal(\"first run\")\n\t}\n}\n"
			}
			for name, data := range files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(mod, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(mod, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			v, decided := unitTests(context.Background(), mod, "p", time.Minute, tt.stage1)
			if decided != tt.decided || v.Result != tt.want.Result || strings.Join(v.Failed, ";") != strings.Join(tt.want.Failed, ";") {
				t.Errorf("unitTests = %+v, decided %v; want %+v, decided %v", v, decided, tt.want, tt.decided)
			}
		})
	}
}
