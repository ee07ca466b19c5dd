package reports

import (
	"math"
	"strconv"
	"strings"

	"github.com/pkarena/pkarena/load/metrics"
)

// Chart geometry, in SVG user units (pixels at 100% zoom).
const (
	chartWidth  = 720
	chartHeight = 260
	chartLeft   = 70  // room for the y tick labels and the y axis title
	chartRight  = 684 // chartWidth minus room for the last x tick label
	chartTop    = 40  // room for the title and the legend
	chartBottom = 218 // chartHeight minus room for the x tick labels and the x axis title
	chartMaxPts = 600 // a time series with more intervals is drawn in groups of intervals
)

// svgChart is a line chart: its geometry is computed here in Go, and the template "chart"
// only places it, so every text in it is escaped by html/template.
type svgChart struct {
	Title          string
	Width, Height  float64
	Left, Right    float64 // plot area, x
	Top, Bottom    float64 // plot area, y (Top < Bottom)
	PlotW, PlotH   float64
	XLabel, YLabel string
	XLabelX        float64 // position of the x axis title
	XLabelY        float64
	YLabelX        float64 // position of the y axis title (rotated)
	YLabelY        float64
	XTicks, YTicks []svgTick
	Series         []svgSeries
	Note           string     // a remark under the title ("each point: the highest of 4 intervals")
	Empty          string     // shown in the plot area when there is nothing to draw
	EmptyX, EmptyY float64    // where
	Phases         []svgPhase // the run's phases, on a time chart (markPhases)

	tx0, tx1 float64 // a time chart's x domain, seconds; tx1 > tx0 only on time charts
}

// svgPhase is one phase of the run on a time chart: a band over the plot and its label.
type svgPhase struct {
	X, W   float64
	Class  string // p-ramp, p-measured, p-drain, or an event such as p-storm
	Label  string
	LX, LY float64
}

// phaseSpan is a phase in seconds since the run's start.
type phaseSpan struct {
	name     string
	from, to float64
}

// markPhases shades the phases of the run on a time chart, so that a reader tells the ramp
// and the drain from the measured part; other charts are left alone. A span that is not one
// of those three (the reconnect scenario's storm) is an event within the measured part: drawn
// at least 2 pixels wide however short, its label on a second line.
func (c *svgChart) markPhases(spans []phaseSpan) {
	if !(c.tx1 > c.tx0) {
		return
	}
	xs := scale{c.tx0, c.tx1, c.Left, c.Right}
	for _, p := range spans {
		x0, x1 := xs.at(p.from), xs.at(p.to)
		ly := c.Top + 11
		switch p.name {
		case metrics.PhaseRamp, metrics.PhaseMeasured, metrics.PhaseDrain:
			if x1-x0 < 1 {
				continue
			}
		default:
			x1 = min(max(x1, x0+2), c.Right)
			ly = c.Top + 24
		}
		if x1 <= x0 {
			continue
		}
		c.Phases = append(c.Phases, svgPhase{X: x0, W: round1(x1 - x0), Class: "p-" + p.name, Label: p.name, LX: x0 + 3, LY: ly})
	}
}

// svgTick is one tick: its grid line from (X1,Y1) to (X2,Y2) and its label at (TX,TY).
type svgTick struct {
	X1, Y1, X2, Y2 float64
	TX, TY         float64
	Label          string
}

// svgSeries is one line of a chart: polylines ("x,y x,y ..."), lone points drawn as dots
// (a one-point segment cannot be seen as a line), and its legend entry.
type svgSeries struct {
	Name                       string
	Class                      string // CSS class: the series' colour
	Lines                      []string
	Dots                       []svgPoint
	LegendX, LegendX2, LegendY float64 // the legend's sample line
	LegendTX, LegendTY         float64 // the legend's text
}

// svgPoint is a point in SVG coordinates.
type svgPoint struct{ X, Y float64 }

// dataSeries is a series in data coordinates, before scaling; NaN y values break the line.
type dataSeries struct {
	name, class string
	pts         []dataPoint
}

// dataPoint is a point in data coordinates.
type dataPoint struct{ x, y float64 }

// newChart lays out an empty chart with its title and axis titles.
func newChart(title, xLabel, yLabel string) *svgChart {
	return &svgChart{
		Title: title, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom,
		PlotW: chartRight - chartLeft, PlotH: chartBottom - chartTop,
		XLabel: xLabel, YLabel: yLabel,
		XLabelX: (chartLeft + chartRight) / 2, XLabelY: chartHeight - 6,
		YLabelX: 16, YLabelY: (chartTop + chartBottom) / 2,
		EmptyX: (chartLeft + chartRight) / 2, EmptyY: (chartTop + chartBottom) / 2,
	}
}

// linearTicks chooses "nice" ticks (1, 2 or 5 times a power of ten) covering [lo, hi], about
// n of them. Degenerate ranges (hi <= lo, infinities, NaN) are widened to something drawable.
func linearTicks(lo, hi float64, n int) []float64 {
	if math.IsNaN(lo) || math.IsInf(lo, 0) {
		lo = 0
	}
	if math.IsNaN(hi) || math.IsInf(hi, 0) || hi <= lo {
		hi = lo + math.Max(math.Abs(lo), 1)
	}
	step := niceStep((hi - lo) / float64(max(n-1, 1)))
	start := math.Floor(lo/step) * step
	var ticks []float64
	for i := 0; ; i++ {
		v := start + float64(i)*step
		ticks = append(ticks, v)
		if v >= hi-step*1e-9 || i > 100 {
			break
		}
	}
	return ticks
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel formats a tick value with as many decimals as the step needs.
func tickLabel(v, step float64) string {
	decimals := 0
	if step > 0 && step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	if math.Abs(v) < step*1e-9 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// scale maps data values to SVG coordinates.
type scale struct{ d0, d1, p0, p1 float64 }

// at maps a data value, clamped to the domain.
func (s scale) at(v float64) float64 {
	v = math.Max(math.Min(v, math.Max(s.d0, s.d1)), math.Min(s.d0, s.d1))
	return round1(s.p0 + (v-s.d0)/(s.d1-s.d0)*(s.p1-s.p0))
}

// round1 rounds to a tenth of a unit: enough for a screen, short in the page.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// plot fills in a chart: x ticks (given, with labels), y ticks (nice, from 0 or the data's
// minimum), the series scaled, and the legend. xTicks are in data units.
func (c *svgChart) plot(xTicks []float64, xLabels []string, yFromZero bool, series []dataSeries) {
	x0, x1 := xTicks[0], xTicks[len(xTicks)-1]
	if x1 <= x0 {
		x1 = x0 + 1
	}
	ylo, yhi := math.Inf(1), math.Inf(-1)
	points := 0
	for _, s := range series {
		for _, p := range s.pts {
			if !math.IsNaN(p.y) {
				ylo, yhi = math.Min(ylo, p.y), math.Max(yhi, p.y)
				points++
			}
		}
	}
	if points == 0 {
		ylo, yhi = 0, 1
		c.Empty = "no data"
	}
	if yFromZero || ylo > 0 && ylo < yhi/2 {
		ylo = math.Min(0, ylo)
	}
	yhi += (yhi - ylo) * 0.05 // headroom: a line at the maximum stays off the frame
	yt := linearTicks(ylo, yhi, 5)
	ys := scale{yt[0], yt[len(yt)-1], c.Bottom, c.Top}
	xs := scale{x0, x1, c.Left, c.Right}
	step := 0.0
	if len(yt) > 1 {
		step = yt[1] - yt[0]
	}
	for _, v := range yt {
		y := ys.at(v)
		c.YTicks = append(c.YTicks, svgTick{X1: c.Left, Y1: y, X2: c.Right, Y2: y, TX: c.Left - 6, TY: y + 4, Label: tickLabel(v, step)})
	}
	for i, v := range xTicks {
		x := xs.at(v)
		c.XTicks = append(c.XTicks, svgTick{X1: x, Y1: c.Top, X2: x, Y2: c.Bottom, TX: x, TY: c.Bottom + 16, Label: xLabels[i]})
	}
	legendX := c.Left
	for _, s := range series {
		out := svgSeries{Name: s.name, Class: s.class, LegendX: legendX, LegendX2: legendX + 20, LegendY: c.Top - 10,
			LegendTX: legendX + 25, LegendTY: c.Top - 6}
		legendX += 40 + 7*float64(len(s.name))
		var seg []svgPoint
		flush := func() {
			switch len(seg) {
			case 0:
			case 1:
				out.Dots = append(out.Dots, seg[0])
			default:
				parts := make([]string, len(seg))
				for i, p := range seg {
					parts[i] = strconv.FormatFloat(p.X, 'f', -1, 64) + "," + strconv.FormatFloat(p.Y, 'f', -1, 64)
				}
				out.Lines = append(out.Lines, strings.Join(parts, " "))
			}
			seg = seg[:0]
		}
		for _, p := range s.pts {
			if math.IsNaN(p.y) || math.IsNaN(p.x) {
				flush()
				continue
			}
			seg = append(seg, svgPoint{xs.at(p.x), ys.at(p.y)})
		}
		flush()
		c.Series = append(c.Series, out)
	}
}

// Percentile spectrum: the x axis is log10(1/(1-q)), HdrHistogram's plotter's axis, from 0%
// to 99.999%.
var (
	spectrumTicks  = []float64{0, 1, 2, 3, 4, 5}
	spectrumLabels = []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
)

// spectrumX places a quantile (0..1) on the spectrum's axis, clamped to its right end.
func spectrumX(q float64) float64 {
	if q >= 1 {
		return spectrumTicks[len(spectrumTicks)-1]
	}
	return math.Min(math.Log10(1/(1-q)), spectrumTicks[len(spectrumTicks)-1])
}

// spectrumChart draws latency (ms) by percentile for the corrected and service latencies.
// Each series is a list of (quantile 0..1, ms) points in increasing quantile order.
func spectrumChart(title string, corrected, service []dataPoint) *svgChart {
	c := newChart(title, "percentile", "latency (ms)")
	toX := func(pts []dataPoint) []dataPoint {
		out := make([]dataPoint, len(pts))
		for i, p := range pts {
			out[i] = dataPoint{spectrumX(p.x), p.y}
		}
		return out
	}
	c.plot(spectrumTicks, spectrumLabels, true, []dataSeries{
		{name: "corrected", class: "s-corrected", pts: toX(corrected)},
		{name: "service", class: "s-service", pts: toX(service)},
	})
	return c
}

// timeChart draws series over the run's time, x in seconds from x0 to x1.
func timeChart(title, yLabel string, x0, x1 float64, series []dataSeries) *svgChart {
	c := newChart(title, "time since start (s)", yLabel)
	if !(x1 > x0) {
		x1 = x0 + 1
	}
	xt := linearTicks(x0, x1, 8)
	step := xt[1] - xt[0]
	labels := make([]string, len(xt))
	for i, v := range xt {
		labels[i] = tickLabel(v, step)
	}
	c.plot(xt, labels, true, series)
	c.tx0, c.tx1 = xt[0], xt[len(xt)-1]
	return c
}
