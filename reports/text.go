package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pkarena/pkarena/conformance/results"
)

// The helpers below make untrusted text (spec names, messages and frames that come from the
// server under test) safe to put into XML, HTML and a log: every writer goes through them.

// cleanText returns s with invalid UTF-8 replaced by U+FFFD and control characters other than
// tab, newline and carriage return replaced by their Unicode control pictures (U+2400–U+2421),
// so that XML 1.0 accepts the text, a terminal does not interpret it and a reader still sees
// that something was there. The noncharacters U+FFFE and U+FFFF, which XML also forbids, become
// U+FFFD.
func cleanText(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune(0x2421)
		case r == 0xfffe || r == 0xffff:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isClean reports whether cleanText would return s unchanged.
func isClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xfffe || r == 0xffff {
			return false
		}
		i += size
	}
	return true
}

// oneLine returns the cleaned first non-empty line of s, cut to at most max bytes with "…"
// appended when something was left out, for attributes and one-line summaries.
func oneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	more := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, more = strings.TrimSpace(s[:i]), true
	}
	if len(s) > max {
		s, more = s[:runeStart(s, max)], true
	}
	s = cleanText(s)
	if more {
		s += " …"
	}
	return s
}

// compact returns s cleaned, with every run of white space (line breaks included) collapsed
// into one space, cut to at most max bytes with "…" appended when something was left out.
func compact(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return cleanText(s[:runeStart(s, max)]) + " …"
	}
	return cleanText(s)
}

// singleLine returns s cleaned with line breaks and tabs replaced by spaces, for names that must
// stay on one line of a log.
func singleLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, cleanText(s))
}

// truncate cuts s to at most max bytes on a rune boundary and cleans it. It returns the text,
// how many bytes of s it shows, and whether it was cut.
func truncate(s string, max int) (text string, kept int, cut bool) {
	if max < 0 {
		max = 0
	}
	if len(s) <= max {
		return cleanText(s), len(s), false
	}
	kept = runeStart(s, max)
	return cleanText(s[:kept]), kept, true
}

// runeStart returns the largest index i <= n at which a rune of s starts (a UTF-8 continuation
// byte is never the start); s[:i] then does not split a valid rune. n must be <= len(s).
func runeStart(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for i := n; i > 0 && n-i < utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}

// seconds returns v, or 0 when v is negative, NaN or infinite.
func seconds(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// humanSeconds formats a duration in seconds for people: "0.4 ms", "12 ms", "1.23 s", "2m05s".
func humanSeconds(v float64) string {
	v = seconds(v)
	switch {
	case v == 0:
		return "0 s"
	case v < 0.001:
		return fmt.Sprintf("%.2f ms", v*1000)
	case v < 1:
		return fmt.Sprintf("%.0f ms", v*1000)
	case v < 60:
		return fmt.Sprintf("%.2f s", v)
	case v < 1e9:
		return time.Duration(v * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%.0f s", v)
}

// runDuration returns the run's wall time, or 0 and false when the times are unknown or
// inconsistent.
func runDuration(run *results.Run) (time.Duration, bool) {
	if run.Started.IsZero() || run.Finished.IsZero() || run.Finished.Before(run.Started) {
		return 0, false
	}
	return run.Finished.Sub(run.Started), true
}

// tierOrder returns the tiers to report, in order: core, strict and optional, then any other
// tier named by a spec or by run.Tiers, sorted. Tiers without specs are kept; callers omit them.
func tierOrder(run *results.Run) []results.Tier {
	tiers := slices.Clone(results.Tiers)
	seen := map[results.Tier]bool{results.TierCore: true, results.TierStrict: true, results.TierOptional: true}
	var extra []results.Tier
	add := func(t results.Tier) {
		if !seen[t] {
			seen[t] = true
			extra = append(extra, t)
		}
	}
	for _, s := range run.Specs {
		add(s.Tier)
	}
	for t := range run.Tiers {
		add(t)
	}
	slices.Sort(extra)
	return append(tiers, extra...)
}

// tierLabel names a tier for people; a spec without a tier is in tier "(none)".
func tierLabel(t results.Tier) string {
	if t == "" {
		return "(none)"
	}
	return string(t)
}
