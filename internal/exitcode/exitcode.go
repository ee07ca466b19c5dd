// Package exitcode is the one table of exit codes that every pkarena command keeps, so that a
// CI pipeline gates on them the same way whichever binary it runs: 0 passed, 1 the thing
// under test failed the check, 2 the command was used wrongly, 3 the tool itself failed.
// Codes 4 and 5 are the load generator's finer verdicts. The README's "Exit codes" section
// prints this table.
//
// Go's runtime also exits 2 on an unrecovered panic (the reference server's crash-only policy,
// reference/RELIABILITY.md); the panic's trace on stderr tells it from a usage error.
package exitcode

// The exit codes.
const (
	// OK: conformant, every threshold passed, every mutant caught, a clean shutdown.
	OK = 0
	// Failed: the system under test failed the check: not conformant, a threshold breached,
	// no rate held the SLO, a mutant not caught.
	Failed = 1
	// Usage: bad flags, environment, configuration or scenario; nothing was judged.
	Usage = 2
	// Error: the tool itself failed, so there is no verdict: the target unreachable, results
	// that cannot be written, a harness error; for the server, a listener that cannot be
	// opened or a battle journal that cannot be opened, restored or written.
	Error = 3
	// Lost: a load run lost messages, received them out of order or about a battle their user
	// is not in, or got frames breaking the protocol; wins over Failed.
	Lost = 4
	// Generator: the load generator, not the server, was the bottleneck, so its figures
	// describe itself; wins over every other verdict.
	Generator = 5
)
