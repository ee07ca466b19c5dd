package metrics

// Exit codes of a load run (and of a merge), for CI to gate on. Codes 1 and 2 are the
// command's own: a tool error and a usage error.
const (
	ExitOK         = 0 // every threshold passed, no message lost
	ExitError      = 1 // the tool failed (cannot connect, cannot write results, ...)
	ExitUsage      = 2 // bad command line or scenario
	ExitThresholds = 3 // a threshold failed (and no message was lost or out of order)
	ExitLost       = 4 // messages were lost or out of order; this wins over ExitThresholds
)

// ExitCode is the run's exit code: ExitLost when a built-in rule failed (a message lost or out
// of order), ExitThresholds when another threshold failed, ExitOK (0) when all thresholds pass.
// A summary without threshold results is judged on the built-in rules.
func (s *Summary) ExitCode() int {
	results := s.Thresholds
	if len(results) == 0 {
		results = Evaluate(s, nil)
	}
	code := ExitOK
	for _, r := range results {
		switch {
		case r.Pass:
		case r.Builtin:
			return ExitLost
		default:
			code = ExitThresholds
		}
	}
	return code
}
