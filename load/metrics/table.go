package metrics

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteTable writes the end-of-run summary table: per metric, the count, p50, p90, p99, p99.9
// and max in milliseconds of the corrected and service latencies; then the counters (with
// their rate of ops for errors, dropped, late, lost and out-of-order) and gauges; then every
// threshold with PASS or FAIL; then the verdict and exit code. Columns are aligned with
// spaces; names are shown as they are, on one line.
func WriteTable(w io.Writer, s *Summary) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s  %s  %.1fs  %s\n", oneLine(s.Info.Scenario), oneLine(s.Info.Agent), s.Seconds, s.Start.UTC().Format("2006-01-02 15:04:05Z"))
	for _, w := range s.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", oneLine(w))
	}
	fmt.Fprintln(bw)

	if len(s.Metrics) == 0 {
		fmt.Fprintln(bw, "no latency samples")
	} else {
		rows := [][]string{{"latency (ms)", "kind", "count", "p50", "p90", "p99", "p99.9", "max"}}
		for _, m := range s.Metrics {
			for _, k := range Kinds {
				st := m.Stats(k)
				name := ""
				if k == Corrected {
					name = oneLine(m.Name)
				}
				rows = append(rows, []string{name, string(k), strconv.FormatInt(st.Count, 10),
					tableMs(st.P50), tableMs(st.P90), tableMs(st.P99), tableMs(st.P999), tableMs(st.Max)})
			}
		}
		writeColumns(bw, rows, "lrrrrrrr")
	}

	fmt.Fprintln(bw)
	rows := [][]string{{"counter", "value", "of ops"}}
	ops := s.Counters[Ops]
	for _, name := range slices.Sorted(maps.Keys(s.Counters)) {
		v := s.Counters[name]
		rate := ""
		if ops > 0 && name != Ops && name != Connections {
			rate = formatPercent(float64(v) / float64(ops))
		}
		rows = append(rows, []string{oneLine(name), strconv.FormatInt(v, 10), rate})
	}
	for _, name := range slices.Sorted(maps.Keys(s.Gauges)) {
		rows = append(rows, []string{oneLine(name), strconv.FormatFloat(s.Gauges[name], 'f', -1, 64), ""})
	}
	writeColumns(bw, rows, "lrr")

	fmt.Fprintln(bw)
	results := s.Thresholds
	if len(results) == 0 { // never judged: judge on the built-in rules, as ExitCode does
		results = Evaluate(s, nil)
	}
	rows = [][]string{{"threshold", "observed", "verdict"}}
	for _, r := range results {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		expr := oneLine(r.Expr)
		if r.Builtin {
			expr += " (built-in)"
		}
		if r.Reason != "" {
			verdict += ": " + oneLine(r.Reason)
		}
		rows = append(rows, []string{expr, r.Text, verdict})
	}
	writeColumns(bw, rows, "lrl")

	if s.Generator != nil {
		g := s.Generator
		fmt.Fprintf(bw, "\n%s\n", g.Verdict())
		if g.Samples > 0 {
			perFrame := "-"
			if g.Frames > 0 {
				perFrame = strconv.FormatFloat(g.PerFrame, 'f', 1, 64) + " µs"
			}
			kernel := ""
			if g.System > 0 && g.Frames > 0 {
				kernel = "; of it " + strconv.FormatFloat(g.SystemPerFrame, 'f', 1, 64) + " µs in the kernel"
			}
			machine := ""
			if g.MachineBusy > 0 {
				machine = "; the machine's CPU " + strconv.FormatFloat(100*g.MachineBusy, 'f', 0, 64) + "% busy"
			}
			fmt.Fprintf(bw, "  CPU %.2f s in the measured phase (%.0f%% of %g cores%s), %s a frame received (%d frames%s); wake-up lag p99 %.2f ms, max %.2f ms; %d late sends\n",
				g.CPUSeconds, 100*g.CPUShare, g.Cores, machine, perFrame, g.Frames, kernel, g.LagP99, g.LagMax, g.Late)
		}
	}

	code := s.ExitCode()
	verdict := "PASS"
	switch code {
	case ExitGenerator:
		verdict = "NOT TRUSTWORTHY: " + s.Generator.Why()
	case ExitLost:
		verdict = "FAIL: messages lost, out of order, misdelivered or breaking the protocol"
	case ExitThresholds:
		verdict = "FAIL: thresholds breached"
	}
	fmt.Fprintf(bw, "\nverdict: %s (exit %d)\n", verdict, code)
	return bw.Flush()
}

// writeColumns writes rows as columns two spaces apart, each aligned as align says ('l' left,
// 'r' right, one letter per column), without trailing spaces.
func writeColumns(w io.Writer, rows [][]string, align string) {
	widths := make([]int, len(align))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if align[i] == 'r' {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// tableMs formats milliseconds for the table: three decimals.
func tableMs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// oneLine replaces control characters (line breaks, tabs, escapes) by spaces, so that a name
// cannot break the table's layout or a terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
