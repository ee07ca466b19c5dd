package results

import "testing"

// TestWorse: Error > Fail > Pass > Skip > Disabled, and no verdict is worse than itself.
func TestWorse(t *testing.T) {
	order := []Verdict{Disabled, Skip, Pass, Fail, Error}
	for i, a := range order {
		for j, b := range order {
			if got, want := Worse(a, b), i > j; got != want {
				t.Errorf("Worse(%s, %s) = %v; want %v", a, b, got, want)
			}
		}
	}
}
