package metrics

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrBadThreshold is wrapped by every error of ParseThreshold.
var ErrBadThreshold = errors.New("bad threshold")

// thresholdExample is shown with every parse error.
const thresholdExample = `examples: "score_fanout.p99 < 50ms", "score_fanout.service.p99.9 <= 20ms", "errors.rate < 0.1%", "lost.count == 0"`

// Threshold is a pass/fail rule on a run's results, parsed by ParseThreshold from
// "<name>[.<kind>].<stat> <op> <value>[<unit>]":
//
//   - latency statistics of a metric: p<N> (any percentile, e.g. p99, p99.9, p(95)), min,
//     mean, max; kind corrected (the default) or service; value in ms, s, µs or us (a plain
//     number is milliseconds). Fails when the metric has no samples.
//   - <name>.count: a metric's sample count if the run has samples of that metric, else the
//     counter of that name (a counter never added is 0).
//   - <counter>.rate: the counter divided by the "ops" counter; value in % or as a fraction
//     (0.001 = 0.1%). Fails when no ops were counted.
//
// Operators are <, <=, >, >= and ==.
type Threshold struct {
	Expr  string  // the expression, spaces normalized: "score_fanout.p99 < 50ms"
	Name  string  // metric or counter name: "score_fanout", "errors"
	Kind  Kind    // for latency statistics and metric counts: Corrected or Service
	Stat  string  // "p99.9", "min", "mean", "max", "count" or "rate"
	Op    string  // "<", "<=", ">", ">=" or "=="
	Value float64 // the bound: milliseconds for latencies, a fraction for rates, a number for counts

	builtin bool
}

// Built-in rules, always evaluated: a message lost, out of order, about a battle its user is
// not in, or breaking the protocol fails the run with ExitLost. A server that sends one
// member a frame twice and another none, or an event to the wrong room, shows in the last two
// even when nothing is missing.
var builtinThresholds = []Threshold{
	{Expr: "lost.count == 0", Name: Lost, Kind: Corrected, Stat: "count", Op: "==", builtin: true},
	{Expr: "out_of_order.count == 0", Name: OutOfOrder, Kind: Corrected, Stat: "count", Op: "==", builtin: true},
	{Expr: "events.unexpected.count == 0", Name: Unexpected, Kind: Corrected, Stat: "count", Op: "==", builtin: true},
	{Expr: "protocol.violations.count == 0", Name: Violations, Kind: Corrected, Stat: "count", Op: "==", builtin: true},
}

var (
	thresholdRe = regexp.MustCompile(`^\s*([^\s<>=!]+)\s*(<=|>=|==|<|>)\s*(\S.*?)\s*$`)
	lhsRe       = regexp.MustCompile(`^([A-Za-z0-9_\-.]+?)(?:\.(corrected|service))?\.(p[0-9]+(?:\.[0-9]+)?|p\([0-9]+(?:\.[0-9]+)?\)|min|mean|max|count|rate)$`)
	valueRe     = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|µs|μs|us|%)?$`)
)

// ParseThreshold parses an expression such as "score_fanout.p99 < 50ms" (see Threshold). Its
// errors wrap ErrBadThreshold, say what is wrong and show examples.
func ParseThreshold(expr string) (Threshold, error) {
	bad := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%w %q: %s; %s", ErrBadThreshold, expr, fmt.Sprintf(format, args...), thresholdExample)
	}
	m := thresholdRe.FindStringSubmatch(expr)
	if m == nil {
		if strings.TrimSpace(expr) == "" {
			return bad("empty")
		}
		if strings.Contains(expr, "=") && !strings.Contains(expr, "==") && !strings.ContainsAny(expr, "<>!") {
			return bad("use == to compare for equality")
		}
		return bad("want <name>.<stat> <op> <value> with op one of <, <=, >, >=, ==")
	}
	lhs, op, rhs := m[1], m[2], m[3]
	l := lhsRe.FindStringSubmatch(lhs)
	if l == nil {
		if !strings.Contains(lhs, ".") {
			return bad("%q has no statistic: add .p99, .max, .count, .rate, ...", lhs)
		}
		return bad("%q: want <metric>[.corrected|.service].<stat> with stat p<N>, min, mean, max, count or rate", lhs)
	}
	t := Threshold{Name: l[1], Kind: Corrected, Op: op}
	if l[2] != "" {
		t.Kind = Kind(l[2])
	}
	stat := l[3]
	if strings.HasPrefix(stat, "p") {
		p, err := strconv.ParseFloat(strings.Trim(stat[1:], "()"), 64)
		if err != nil || p < 0 || p > 100 {
			return bad("percentile %s is not between p0 and p100", stat)
		}
		stat = percentileStat(p)
	}
	t.Stat = stat
	if l[2] != "" && stat == "rate" {
		return bad("a rate is a counter's, it has no kind: write %s.rate", t.Name)
	}
	v := valueRe.FindStringSubmatch(rhs)
	if v == nil {
		return bad("value %q is not a number with an optional unit (ms, s, µs, us, %%)", rhs)
	}
	num, err := strconv.ParseFloat(v[1], 64)
	if err != nil {
		return bad("value %q is not a number", v[1])
	}
	unit := v[2]
	switch {
	case isLatencyStat(stat):
		switch unit {
		case "", "ms":
		case "s":
			num *= 1000
		case "µs", "μs", "us":
			num /= 1000
		default:
			return bad("%s is a latency: give it in ms, s or µs, not %s", stat, unit)
		}
	case stat == "rate":
		switch unit {
		case "%":
			if num > 100 {
				return bad("a rate is at most 100%%, not %s%%", v[1])
			}
			num /= 100
		case "":
			if num > 1 {
				return bad("a rate without %% is a fraction between 0 and 1: did you mean %s%%?", v[1])
			}
		default:
			return bad("a rate is a fraction of ops: give it in %% (0.1%%) or as a fraction (0.001), not %s", unit)
		}
	default: // count
		if unit != "" {
			return bad("a count is a plain number, without %s", unit)
		}
	}
	t.Value = num
	t.Expr = lhs + " " + op + " " + v[1] + unit
	return t, nil
}

// ParseThresholds parses several expressions, stopping at the first error.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	ts := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// String is the threshold's expression.
func (t Threshold) String() string { return t.Expr }

// percentile returns the percentile of a "p<N>" statistic; ok is false for other statistics.
func (t Threshold) percentile() (p float64, ok bool) {
	if !strings.HasPrefix(t.Stat, "p") {
		return 0, false
	}
	p, err := strconv.ParseFloat(t.Stat[1:], 64)
	return p, err == nil
}

// percentileStat is the statistic name of a percentile: "p99", "p99.9".
func percentileStat(p float64) string { return "p" + strconv.FormatFloat(p, 'f', -1, 64) }

// isLatencyStat reports whether a statistic is a latency (in milliseconds).
func isLatencyStat(stat string) bool {
	return strings.HasPrefix(stat, "p") || stat == "min" || stat == "mean" || stat == "max"
}

// ThresholdResult is the verdict of one threshold on a summary.
type ThresholdResult struct {
	Expr     string  `json:"expr"`              // the threshold's expression
	Observed float64 `json:"observed"`          // the value found: ms, a fraction or a count (0 when none)
	Text     string  `json:"observed_text"`     // Observed with its unit: "12.3ms", "0.05%", "12"; "-" when none
	Pass     bool    `json:"pass"`              // whether the threshold holds
	Reason   string  `json:"reason,omitempty"`  // why it could not be evaluated, when it could not
	Builtin  bool    `json:"builtin,omitempty"` // a built-in rule (lost or out-of-order messages)
}

// Evaluate judges a summary against thresholds, then against the built-in rules
// "lost.count == 0" and "out_of_order.count == 0" (unless ts already holds them), and, when
// the summary has the generator's figures, "generator.bottleneck == 0" (GeneratorReport). Each result
// has the observed value and pass or fail; a threshold on a metric with no samples, a rate
// without ops, or a percentile the summary lacks fails with a reason.
func Evaluate(s *Summary, ts []Threshold) []ThresholdResult {
	all := slices.Clone(ts)
	for _, b := range builtinThresholds {
		dup := false
		for i, t := range all {
			if t.Name == b.Name && t.Stat == b.Stat && t.Op == b.Op && t.Value == b.Value {
				all[i].builtin = true
				dup = true
			}
		}
		if !dup {
			all = append(all, b)
		}
	}
	results := make([]ThresholdResult, 0, len(all)+1)
	for _, t := range all {
		results = append(results, t.evaluate(s))
	}
	if s != nil {
		if r, ok := generatorRule(s); ok {
			results = append(results, r)
		}
	}
	return results
}

// evaluate judges one threshold.
func (t Threshold) evaluate(s *Summary) ThresholdResult {
	r := ThresholdResult{Expr: t.Expr, Builtin: t.builtin, Text: "-"}
	fail := func(reason string) ThresholdResult {
		r.Reason = reason
		return r
	}
	if s == nil {
		return fail("no summary")
	}
	ms := s.Metric(t.Name)
	switch {
	case t.Stat == "rate":
		ops := s.Counters[Ops]
		if ops <= 0 {
			return fail("no ops counted: the rate of " + t.Name + " is undefined")
		}
		r.Observed = float64(s.Counters[t.Name]) / float64(ops)
		r.Text = formatPercent(r.Observed)
	case t.Stat == "count":
		if ms != nil {
			r.Observed = float64(ms.Stats(t.Kind).Count)
		} else {
			r.Observed = float64(s.Counters[t.Name])
		}
		r.Text = strconv.FormatFloat(r.Observed, 'f', -1, 64)
	default:
		if ms == nil || ms.Stats(t.Kind).Count == 0 {
			return fail("no samples of " + t.Name)
		}
		v, ok := ms.Stats(t.Kind).value(t.Stat)
		if !ok {
			return fail(t.Stat + " of " + t.Name + " is not in the summary: give the threshold to WriteResults or Merge")
		}
		r.Observed = v
		r.Text = formatMs(v)
	}
	r.Pass = compare(r.Observed, t.Op, t.Value)
	return r
}

// compare applies a threshold's operator.
func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==":
		return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
	}
	return false
}

// formatPercent shows a fraction as a percentage: "0.05%".
func formatPercent(f float64) string {
	return strconv.FormatFloat(f*100, 'g', 4, 64) + "%"
}

// formatMs shows milliseconds with about four significant digits: "0.123ms", "12.35ms", "1234ms".
func formatMs(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}
