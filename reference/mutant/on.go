//go:build pkarena_mutants

package mutant

import (
	"fmt"
	"os"
)

// Enabled is true: this build can switch one mutant on with PKARENA_MUTANT.
const Enabled = true

// active is read once, at start-up.
var active = func() string {
	name := os.Getenv(Env)
	if name == "" {
		return ""
	}
	for _, m := range Catalogue {
		if m.Name == name {
			fmt.Fprintf(os.Stderr, "pkarena: MUTANT %q IS ON: %s\n", m.Name, m.Description)
			return name
		}
	}
	fmt.Fprintf(os.Stderr, "pkarena: %s=%q names no mutant\n", Env, name)
	os.Exit(2)
	return ""
}()

// On reports whether the named mutant is switched on.
func On(name string) bool { return name == active }

// Active names the active mutant, or "".
func Active() string { return active }
