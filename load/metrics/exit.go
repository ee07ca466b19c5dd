package metrics

import "github.com/pkarena/pkarena/internal/exitcode"

// Exit codes of a load run (and of a merge), for CI to gate on: the project's one table
// (internal/exitcode), named for the load tool.
const (
	ExitOK         = exitcode.OK        // every threshold passed, no message lost
	ExitThresholds = exitcode.Failed    // a threshold failed (and no built-in rule did)
	ExitUsage      = exitcode.Usage     // bad command line or scenario
	ExitError      = exitcode.Error     // the tool failed (cannot connect, cannot write results, ...)
	ExitLost       = exitcode.Lost      // messages were lost, out of order, misdelivered or broke the protocol; this wins over ExitThresholds
	ExitGenerator  = exitcode.Generator // the load generator was the bottleneck: the figures describe it, not the server; this wins over the others
)

// ExitCode is the run's exit code: ExitGenerator when the generator was the bottleneck (every
// other figure is then suspect, a loss included: a generator that cannot read fast enough
// gets itself cut off), else ExitLost when a built-in rule failed (a message lost, out of order,
// about a battle its user is not in, or breaking the protocol), else
// ExitThresholds when another threshold failed, else ExitOK. A summary without threshold
// results is judged on the built-in rules.
func (s *Summary) ExitCode() int {
	results := s.Thresholds
	if len(results) == 0 {
		results = Evaluate(s, nil)
	}
	code := ExitOK
	for _, r := range results {
		switch {
		case r.Pass:
		case r.Expr == GeneratorRuleExpr && r.Builtin:
			return ExitGenerator
		case r.Builtin:
			code = ExitLost
		case code == ExitOK:
			code = ExitThresholds
		}
	}
	return code
}
