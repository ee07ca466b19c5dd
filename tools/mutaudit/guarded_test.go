package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const guardedSample = `package p

import "example/mutant"

func f(a, b int) int {
	if mutant.On(mutant.X) {
		return a + onlyMutant(b) + both(b)
	}
	if a > 0 && (mutant.On(mutant.Y) && b > 0) {
		if b < a {
			return a - b
		}
	} else {
		return b - 1
	}
	if mutant.On(mutant.Z) || a < b {
		return a * 2
	}
	if !mutant.On(mutant.W) {
		return b + 2
	}
	if other.On(mutant.V) {
		return a + 3
	}
	switch {
	case mutant.On(mutant.T) && a > 1:
		return a - 7
	case a > 2:
		return a - 8
	}
	if a < 0 || (mutant.On(mutant.U) && b < 0) {
		return a + both(b)
	}
	return 0
}

func onlyMutant(a int) int {
	return a * 5
}

func both(a int) int {
	return a - 5
}
`

func TestGuarded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pkg", "f.go"), []byte(guardedSample), 0o644); err != nil {
		t.Fatal(err)
	}
	m := func(line, col int) Mutant {
		return Mutant{Dir: "pkg", File: "f.go", Line: line, Column: col, Type: "ARITHMETIC_BASE"}
	}
	for _, tt := range []struct {
		m     Mutant
		guard string // "" when the mutant can run without the tag
	}{
		{m(7, 12), "mutant.On(X)"},  // the body of if mutant.On(X)
		{m(10, 8), "mutant.On(Y)"},  // a nested if inside a body that needs mutant.On(Y) (inside parentheses)
		{m(11, 13), "mutant.On(Y)"}, // deeper still
		{m(9, 7), ""},               // the condition itself runs: a > 0 is evaluated
		{m(14, 12), ""},             // the else branch runs when the guard is false
		{m(17, 12), ""},             // mutant.On(Z) || a < b: the body runs when a < b
		{m(20, 12), ""},             // !mutant.On(W): the body always runs
		{m(23, 12), ""},             // not the mutant package's On
		{m(27, 12), "mutant.On(T)"}, // a case that needs mutant.On(T)
		{m(26, 32), "mutant.On(T)"}, // and its && operand
		{m(29, 12), ""},             // the next case runs
		{m(31, 40), "mutant.On(U)"}, // after mutant.On(U) &&: never evaluated
		{m(31, 7), ""},              // a < 0 before it is
		{m(32, 12), ""},             // the body runs when a < 0
		{m(38, 11), "mutant.On(X)"}, // in a function called only inside if mutant.On(X)
		{m(42, 11), ""},             // in a function called there and outside too
		{Mutant{Dir: "pkg", File: "missing.go", Line: 7, Column: 12, Type: "ARITHMETIC_BASE"}, ""}, // a file not in the folder
		{Mutant{Dir: "nopkg", File: "f.go", Line: 7, Column: 12, Type: "ARITHMETIC_BASE"}, ""},     // a folder that is not there
	} {
		got := guarded(root, []Mutant{tt.m})[tt.m.Key()]
		switch {
		case tt.guard == "" && got.Equivalent:
			t.Errorf("%s judged equivalent (%s); it runs without the tag", tt.m.Key(), got.Reason)
		case tt.guard != "" && !got.Equivalent:
			t.Errorf("%s not judged; it is inside if %s", tt.m.Key(), tt.guard)
		case tt.guard != "" && !strings.Contains(got.Reason, tt.guard):
			t.Errorf("%s: reason %q does not name %s", tt.m.Key(), got.Reason, tt.guard)
		}
	}
}
