package metrics

import (
	"errors"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		expr string
		want Threshold // Expr is checked too
	}{
		// the example: corrected p99 by default, ms
		{"score_fanout.p99 < 50ms", Threshold{Expr: "score_fanout.p99 < 50ms", Name: "score_fanout", Kind: Corrected, Stat: "p99", Op: "<", Value: 50}},
		// service kind, a percentile with a dot, <=
		{"score_fanout.service.p99.9 <= 20ms", Threshold{Expr: "score_fanout.service.p99.9 <= 20ms", Name: "score_fanout", Kind: Service, Stat: "p99.9", Op: "<=", Value: 20}},
		// a metric name with a dot; seconds become ms
		{"reply.requestBattle.max < 1s", Threshold{Expr: "reply.requestBattle.max < 1s", Name: "reply.requestBattle", Kind: Corrected, Stat: "max", Op: "<", Value: 1000}},
		// a rate in percent becomes a fraction
		{"errors.rate < 0.1%", Threshold{Expr: "errors.rate < 0.1%", Name: "errors", Kind: Corrected, Stat: "rate", Op: "<", Value: 0.001}},
		// counts
		{"lost.count == 0", Threshold{Expr: "lost.count == 0", Name: "lost", Kind: Corrected, Stat: "count", Op: "==", Value: 0}},
		{"out_of_order.count == 0", Threshold{Expr: "out_of_order.count == 0", Name: "out_of_order", Kind: Corrected, Stat: "count", Op: "==", Value: 0}},
		{"connect.count >= 50000", Threshold{Expr: "connect.count >= 50000", Name: "connect", Kind: Corrected, Stat: "count", Op: ">=", Value: 50000}},
		// dropped rate: 1%
		{"dropped.rate < 1%", Threshold{Expr: "dropped.rate < 1%", Name: "dropped", Kind: Corrected, Stat: "rate", Op: "<", Value: 0.01}},
		// no spaces, microseconds (both spellings), k6's p(95)
		{"connect.p(95)<=500us", Threshold{Expr: "connect.p(95) <= 500us", Name: "connect", Kind: Corrected, Stat: "p95", Op: "<=", Value: 0.5}},
		{"connect.p95 > 250µs", Threshold{Expr: "connect.p95 > 250µs", Name: "connect", Kind: Corrected, Stat: "p95", Op: ">", Value: 0.25}},
		// a plain number for a latency is milliseconds; space before the unit; extra spaces
		{"  battle_end.mean   <  12.5  ", Threshold{Expr: "battle_end.mean < 12.5", Name: "battle_end", Kind: Corrected, Stat: "mean", Op: "<", Value: 12.5}},
		{"battle_end.min >= 1 ms", Threshold{Expr: "battle_end.min >= 1ms", Name: "battle_end", Kind: Corrected, Stat: "min", Op: ">=", Value: 1}},
		// a rate as a fraction; the error counter of one code
		{"errors.100004.rate <= 0.0005", Threshold{Expr: "errors.100004.rate <= 0.0005", Name: "errors.100004", Kind: Corrected, Stat: "rate", Op: "<=", Value: 0.0005}},
		// p100 and p0
		{"connect.service.p100 < 2s", Threshold{Expr: "connect.service.p100 < 2s", Name: "connect", Kind: Service, Stat: "p100", Op: "<", Value: 2000}},
		{"connect.p0 >= 1ms", Threshold{Expr: "connect.p0 >= 1ms", Name: "connect", Kind: Corrected, Stat: "p0", Op: ">=", Value: 1}},
		// a rate at its bounds: 100%, and 1 as a fraction
		{"errors.rate <= 100%", Threshold{Expr: "errors.rate <= 100%", Name: "errors", Kind: Corrected, Stat: "rate", Op: "<=", Value: 1}},
		{"errors.rate <= 1", Threshold{Expr: "errors.rate <= 1", Name: "errors", Kind: Corrected, Stat: "rate", Op: "<=", Value: 1}},
	} {
		got, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", tt.expr, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseThreshold(%q) = %+v; want %+v", tt.expr, got, tt.want)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		expr    string
		wantErr string
	}{
		{"", "empty"}, // nothing
		{"score_fanout < 50ms", "has no statistic"},           // no statistic
		{"score_fanout.p99 50ms", "want <name>.<stat> <op>"},  // no operator
		{"lost.count = 0", "use =="},                          // a single =
		{"lost.count != 0", "want <name>.<stat> <op>"},        // unsupported operator
		{"score_fanout.p99 <", "want <name>.<stat> <op>"},     // no value
		{"score_fanout.p99 < fast", "not a number"},           // not a number
		{"score_fanout.p99 < -5ms", "not a number"},           // negative
		{"score_fanout.p99 < 50 min", "not a number"},         // unknown unit
		{"score_fanout.p99 < 5%", "latency"},                  // a latency in percent
		{"errors.rate < 5ms", "fraction of ops"},              // a rate in ms
		{"errors.rate < 5", "did you mean 5%"},                // a rate over 1 without %
		{"errors.rate < 110%", "at most 100%"},                // always true: a typo, not a bound
		{"errors.rate < 100.5%", "at most 100%"},              // just past the bound
		{"errors.rate < 1.01", "did you mean 1.01%"},          // just past 1 without %
		{"score_fanout.p100.1 < 5ms", "between p0 and p100"},  // just past p100
		{"errors.service.rate < 1%", "has no kind"},           // a rate with a kind
		{"connect.count >= 5ms", "plain number"},              // a count with a unit
		{"score_fanout.p101 < 5ms", "between p0 and p100"},    // no such percentile
		{"score_fanout.avg < 5ms", "want <metric>"},           // unknown statistic
		{"score fanout.p99 < 5ms", "want <name>.<stat> <op>"}, // a space in the name
	} {
		_, err := ParseThreshold(tt.expr)
		if err == nil {
			t.Errorf("ParseThreshold(%q) succeeded; want an error about %q", tt.expr, tt.wantErr)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.wantErr) || !errors.Is(err, ErrBadThreshold) || !strings.Contains(msg, "score_fanout.p99 < 50ms") {
			t.Errorf("ParseThreshold(%q) error = %q; want ErrBadThreshold about %q with an example", tt.expr, msg, tt.wantErr)
		}
	}
	if _, err := ParseThresholds([]string{"lost.count == 0", "bad"}); err == nil {
		t.Errorf("ParseThresholds with a bad one succeeded")
	}
}

// evalSummary is a summary to judge: score_fanout with known statistics, 10000 ops, 5 errors.
func evalSummary() *Summary {
	s := &Summary{
		Metrics: []MetricSummary{{
			Name:      ScoreFanout,
			Corrected: Stats{Count: 900, Min: 1, Mean: 8, P50: 5, P90: 20, P99: 40, P999: 60, P9999: 70, Max: 75, Extra: map[string]float64{"p95": 30}},
			Service:   Stats{Count: 900, Min: 1, Mean: 4, P50: 3, P90: 8, P99: 15, P999: 25, P9999: 28, Max: 30},
		}},
		Counters: map[string]int64{Ops: 10_000, Errors: 5, Connections: 100},
	}
	s.fillNil()
	return s
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		expr       string
		wantPass   bool
		wantObs    float64
		wantText   string
		wantReason string
	}{
		{"score_fanout.p99 < 50ms", true, 40, "40.00ms", ""},                 // corrected p99 40 ms
		{"score_fanout.p99 < 40ms", false, 40, "40.00ms", ""},                // strict
		{"score_fanout.p99 <= 40ms", true, 40, "40.00ms", ""},                // not strict
		{"score_fanout.service.p99.9 <= 20ms", false, 25, "25.00ms", ""},     // service p99.9 25 ms
		{"score_fanout.max < 1s", true, 75, "75.00ms", ""},                   // seconds
		{"score_fanout.p95 < 31ms", true, 30, "30.00ms", ""},                 // an extra percentile
		{"score_fanout.p75 < 31ms", false, 0, "-", "not in the summary"},     // one nobody computed
		{"score_fanout.count >= 900", true, 900, "900", ""},                  // a metric's sample count
		{"errors.rate < 0.1%", true, 0.0005, "0.05%", ""},                    // 5 / 10000
		{"errors.rate < 0.01%", false, 0.0005, "0.05%", ""},                  // breached
		{"dropped.rate < 1%", true, 0, "0%", ""},                             // a counter never added is 0
		{"connections.count == 100", true, 100, "100", ""},                   // a counter
		{"connect.count >= 50000", false, 0, "0", ""},                        // no connect samples: 0
		{"battle_end.p99 < 10ms", false, 0, "-", "no samples of battle_end"}, // latency of a metric without samples
	} {
		ts := mustParse(t, tt.expr)
		rs := Evaluate(evalSummary(), ts)
		if len(rs) != 1+len(builtinThresholds) { // the threshold and the built-ins
			t.Fatalf("Evaluate(%q) = %d results; want %d", tt.expr, len(rs), 1+len(builtinThresholds))
		}
		r := rs[0]
		if r.Pass != tt.wantPass || r.Observed != tt.wantObs || r.Text != tt.wantText || !strings.Contains(r.Reason, tt.wantReason) || r.Expr != ts[0].Expr {
			t.Errorf("Evaluate(%q) = %+v; want pass %t observed %v %q reason %q", tt.expr, r, tt.wantPass, tt.wantObs, tt.wantText, tt.wantReason)
		}
	}
}

func TestEvaluateBuiltins(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		counters   map[string]int64
		thresholds []string
		wantN      int
		wantExit   int
	}{
		{"clean run", nil, nil, 0, ExitOK},                                                        // built-ins only, all pass
		{"lost message", map[string]int64{Lost: 1}, nil, 0, ExitLost},                             // lost fails the run
		{"out of order", map[string]int64{OutOfOrder: 3}, nil, 0, ExitLost},                       // so does out of order
		{"unexpected", map[string]int64{Unexpected: 2}, nil, 0, ExitLost},                         // an event about another battle
		{"violations", map[string]int64{Violations: 1}, nil, 0, ExitLost},                         // a frame breaking the protocol
		{"threshold breached", nil, []string{"score_fanout.p99 < 1ms"}, 1, ExitThresholds},        // a user threshold
		{"both", map[string]int64{Lost: 1}, []string{"score_fanout.p99 < 1ms"}, 1, ExitLost},      // lost wins
		{"given explicitly", map[string]int64{Lost: 1}, []string{"lost.count == 0"}, 0, ExitLost}, // not evaluated twice, still built-in
		{"no ops", map[string]int64{Ops: 0}, []string{"errors.rate < 1%"}, 1, ExitThresholds},     // a rate without ops fails
	} {
		tt.wantN += len(builtinThresholds) // the user's thresholds (beyond the built-ins), then the built-ins
		s := evalSummary()
		for k, v := range tt.counters {
			s.Counters[k] = v
		}
		rs := Evaluate(s, mustParse(t, tt.thresholds...))
		s.Thresholds = rs
		if len(rs) != tt.wantN || s.ExitCode() != tt.wantExit {
			t.Errorf("%s: %d results, exit %d; want %d, %d (%+v)", tt.name, len(rs), s.ExitCode(), tt.wantN, tt.wantExit, rs)
		}
	}
	// A summary never judged is judged on the built-ins.
	s := evalSummary()
	s.Counters[Lost] = 2
	if got := s.ExitCode(); got != ExitLost {
		t.Errorf("ExitCode of an unjudged summary with lost messages = %d; want %d", got, ExitLost)
	}
}

// A rate is undefined without ops: the threshold fails saying so, rather than dividing by none.
func TestEvaluateRateWithoutOps(t *testing.T) {
	t.Parallel()
	s := evalSummary()
	s.Counters[Ops] = 0
	r := Evaluate(s, mustParse(t, "errors.rate < 1%"))[0]
	if r.Pass || !strings.Contains(r.Reason, "no ops counted") {
		t.Errorf("errors.rate with no ops = %+v; want a failure saying no ops were counted", r)
	}
}

// TestCompare: == allows the error of floating point (a billionth of the larger), no more;
// the other operators are exact.
func TestCompare(t *testing.T) {
	t.Parallel()
	a, b := 0.1, 0.2
	for _, tt := range []struct {
		a    float64
		op   string
		b    float64
		want bool
	}{
		{a + b, "==", 0.3, true},
		{1e9 + 0.5, "==", 1e9, true},
		{1e9 + 2, "==", 1e9, false},
		{1, "==", 1.001, false},
		{0, "==", 0, true},
		{-1, "==", 1, false},
		{1, "<", 1, false}, {1, "<=", 1, true}, {1, ">", 1, false}, {1, ">=", 1, true},
		{1, "!=", 2, false},
	} {
		if got := compare(tt.a, tt.op, tt.b); got != tt.want {
			t.Errorf("compare(%v %s %v) = %v; want %v", tt.a, tt.op, tt.b, got, tt.want)
		}
	}
}
