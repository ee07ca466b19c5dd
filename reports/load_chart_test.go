package reports

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/load/metrics"
)

func TestLinearTicks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lo, hi float64
		n      int
		want   string
	}{
		{0, 10, 5, "[0 5 10]"},                           // steps of 5 (10/4 = 2.5 rounds up to 5)
		{0, 97, 5, "[0 50 100]"},                         // covers the maximum
		{0, 1.234, 5, "[0 0.5 1 1.5]"},                   // fractional steps
		{0, 0, 5, "[0 0.5 1]"},                           // all zero: widened to 0..1
		{5, 5, 5, "[4 6 8 10]"},                          // all equal: widened, still drawable
		{0, math.NaN(), 5, "[0 0.5 1]"},                  // NaN
		{0, math.Inf(1), 5, "[0 0.5 1]"},                 // infinity
		{-0.4, 12, 8, "[-2 0 2 4 6 8 10 12]"},            // a merged run's start a little before 0
		{0, 3_600_000, 5, "[0 1e+06 2e+06 3e+06 4e+06]"}, // an hour in ms
	} {
		if got := fmt.Sprint(linearTicks(tt.lo, tt.hi, tt.n)); got != tt.want {
			t.Errorf("linearTicks(%v, %v, %d) = %s; want %s", tt.lo, tt.hi, tt.n, got, tt.want)
		}
	}
}

func TestTickLabel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v, step float64
		want    string
	}{
		{5, 5, "5"},          // whole steps: no decimals
		{0.5, 0.5, "0.5"},    // one decimal
		{0.25, 0.05, "0.25"}, // two
		{1e-17, 0.1, "0.0"},  // float noise around zero
		{1500000, 500000, "1500000"},
	} {
		if got := tickLabel(tt.v, tt.step); got != tt.want {
			t.Errorf("tickLabel(%v, %v) = %q; want %q", tt.v, tt.step, got, tt.want)
		}
	}
}

func TestSpectrumX(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ q, want float64 }{
		{0, 0},        // 0%
		{0.9, 1},      // 90%
		{0.99, 2},     // 99%
		{0.999, 3},    // 99.9%
		{0.999999, 5}, // beyond 99.999%: clamped to the right end
		{1, 5},        // 100% (the max): the right end
	} {
		if got := spectrumX(tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("spectrumX(%v) = %v; want %v", tt.q, got, tt.want)
		}
	}
}

func TestPlotSegments(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tt := range []struct {
		name      string
		pts       []dataPoint
		wantLines int
		wantDots  int
		wantEmpty bool
	}{
		{"a line", []dataPoint{{0, 1}, {1, 2}, {2, 3}}, 1, 0, false},                    // one polyline
		{"a gap", []dataPoint{{0, 1}, {1, 2}, {nan, nan}, {3, 1}, {4, 2}}, 2, 0, false}, // broken in two
		{"a lone point", []dataPoint{{0, 1}, {1, 2}, {nan, nan}, {3, 1}}, 1, 1, false},  // the lone point is a dot
		{"one point", []dataPoint{{0.5, 7}}, 0, 1, false},                               // one interval
		{"nothing", nil, 0, 0, true},                                                    // no data: a note
	} {
		c := timeChart("t", "y", 0, 4, []dataSeries{{name: "s", class: "s-p50", pts: tt.pts}})
		s := c.Series[0]
		if len(s.Lines) != tt.wantLines || len(s.Dots) != tt.wantDots || (c.Empty != "") != tt.wantEmpty {
			t.Errorf("%s: %d lines, %d dots, empty %q; want %d, %d, %t", tt.name, len(s.Lines), len(s.Dots), c.Empty, tt.wantLines, tt.wantDots, tt.wantEmpty)
		}
		for _, l := range s.Lines {
			for _, xy := range strings.Fields(l) {
				var x, y float64
				if _, err := fmt.Sscanf(xy, "%g,%g", &x, &y); err != nil || x < c.Left || x > c.Right || y < c.Top || y > c.Bottom {
					t.Errorf("%s: point %q outside the plot area", tt.name, xy)
				}
			}
		}
	}
}

func TestSpectrumChartAxes(t *testing.T) {
	t.Parallel()
	c := spectrumChart("x", []dataPoint{{0, 1}, {0.5, 2}, {0.99, 10}, {1, 12}}, []dataPoint{{0, 1}, {1, 3}})
	var xl, yl []string
	for _, tk := range c.XTicks {
		xl = append(xl, tk.Label)
	}
	for _, tk := range c.YTicks {
		yl = append(yl, tk.Label)
	}
	if got := strings.Join(xl, " "); got != "0% 90% 99% 99.9% 99.99% 99.999%" {
		t.Errorf("x ticks %s", got)
	}
	if got := strings.Join(yl, " "); got != "0 5 10 15" {
		t.Errorf("y ticks %s; want 0 5 10 15", got)
	}
	// the max (q = 1) sits at the right end
	last := strings.Fields(c.Series[0].Lines[0])
	if !strings.HasPrefix(last[len(last)-1], fmt.Sprint(c.Right)+",") {
		t.Errorf("last corrected point %s; want x = %v", last[len(last)-1], c.Right)
	}
	if len(c.Series) != 2 || c.Series[0].Name != "corrected" || c.Series[1].Name != "service" {
		t.Errorf("series %+v; want corrected and service", c.Series)
	}
}

func TestRatesGaps(t *testing.T) {
	t.Parallel()
	ivs := []metrics.IntervalInfo{
		{T: 0, Length: 1, Counters: map[string]int64{"ops": 10}},
		{T: 1, Length: 1, Counters: map[string]int64{"ops": 20}},
		{T: 5, Length: 1, Counters: map[string]int64{"ops": 30}},  // after 3 idle intervals left out
		{T: 6, Length: 0.5, Counters: map[string]int64{"ops": 5}}, // a short last interval
	}
	pts, g := rates(ivs, func(iv metrics.IntervalInfo) int64 { return iv.Counters["ops"] })
	if got, want := fmt.Sprint(pts), "[{0.5 10} {1.5 20} {2 0} {5 0} {5.5 30} {6.25 10}]"; got != want || g != 1 {
		t.Errorf("rates = %s (group %d); want %s (group 1)", got, g, want)
	}
}

// The phases of a run are shaded on time charts only, clamped to the axis.
func TestPhasesMarkTimeChartsOnly(t *testing.T) {
	spans := []phaseSpan{{"ramp", 0, 2}, {"measured", 2, 8}, {"drain", 8, 30}}
	tc := timeChart("t", "ms", 0, 10, nil)
	tc.markPhases(spans)
	if len(tc.Phases) != 3 || tc.Phases[0].Class != "p-ramp" || tc.Phases[2].X+tc.Phases[2].W > tc.Right+0.1 {
		t.Errorf("time chart phases: %+v; want ramp, measured and drain within the plot (right edge %v)", tc.Phases, tc.Right)
	}
	if tc.Phases[0].X != tc.Left || tc.Phases[1].X <= tc.Phases[0].X {
		t.Errorf("phases out of place: %+v", tc.Phases)
	}
	sc := spectrumChart("s", nil, nil)
	sc.markPhases(spans)
	if len(sc.Phases) != 0 {
		t.Errorf("a percentile chart got phases: %+v", sc.Phases)
	}
}
