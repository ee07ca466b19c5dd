//go:build !pkarena_mutants

package mutant

// Enabled is false: this build carries no mutants.
const Enabled = false

// On reports whether the named mutant is switched on: never, in this build.
func On(string) bool { return false }

// Active names the active mutant: none in this build.
func Active() string { return "" }
