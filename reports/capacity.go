package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// CapacityReportFile is the page WriteCapacityReportDir writes beside capacity.json.
const CapacityReportFile = "capacity.html"

//go:embed capacity.html.tmpl
var capacityTemplateText string

var capacityTemplate = template.Must(template.Must(template.New("capacity").Parse(capacityTemplateText)).Parse(chartTemplateText))

// WriteCapacityReportDir reads a capacity search's capacity.json from dir and writes
// capacity.html beside it; it returns the page's path.
func WriteCapacityReportDir(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, metrics.CapacityFile))
	if err != nil {
		return "", fmt.Errorf("reports: %w", err)
	}
	var c metrics.Capacity
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("reports: %s: %w", metrics.CapacityFile, err)
	}
	var buf bytes.Buffer
	if err := WriteCapacityReport(&buf, &c); err != nil {
		return "", err
	}
	path := filepath.Join(dir, CapacityReportFile)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("reports: %w", err)
	}
	return path, nil
}

// WriteCapacityReport writes a capacity search as one self-contained HTML page: the knee and
// which side gave way first, the latency of the headline metric against the rate (p50, p99,
// the SLO's bound on it when it has one, the knee marked), what was delivered against what
// was offered, and every step.
func WriteCapacityReport(w io.Writer, c *metrics.Capacity) error {
	if c == nil {
		return errors.New("reports: no capacity search")
	}
	var buf bytes.Buffer
	if err := capacityTemplate.Execute(&buf, newCapacityView(c)); err != nil {
		return fmt.Errorf("reports: rendering the capacity report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type capacityView struct {
	Title, Knee, Why, Side, Param, StepLength, Command string
	SLO                                                []string
	Latency, Delivered                                 *svgChart
	Steps                                              []capacityRow
}

type capacityRow struct {
	N, Rate, Achieved, P50, P99, CPU, Lag, Verdict, Dir, Class string
}

func newCapacityView(c *metrics.Capacity) *capacityView {
	v := &capacityView{
		Title: singleLine("pkarena capacity: " + cleanText(c.Scenario)), Why: cleanText(c.Why), Side: cleanText(c.Saturated),
		Param: cleanText(c.Param + " (" + c.Unit + ")"), StepLength: (time.Duration(c.StepLength * float64(time.Second))).String(),
		Command: cleanText(strings.Join(c.Command, " ")),
	}
	for _, t := range c.SLO {
		v.SLO = append(v.SLO, cleanText(t))
	}
	v.Knee = "knee: none (the first rate tried did not hold)"
	if c.Knee != nil {
		v.Knee = fmt.Sprintf("knee: %s %s, %s %.0f delivered a second at p99 %.2f ms", fmtRate(c.Knee.Rate), cleanText(c.Unit), cleanText(c.Metric), c.Knee.Achieved, c.Knee.P99)
	}
	steps := slices.Clone(c.Steps)
	slices.SortStableFunc(steps, func(a, b metrics.CapacityStep) int {
		switch {
		case a.Rate < b.Rate:
			return -1
		case a.Rate > b.Rate:
			return 1
		}
		return 0
	})
	var p50, p99, got, offered []dataPoint
	yMax := 0.0
	for _, st := range steps {
		if st.ErrorText != "" {
			continue
		}
		p50 = append(p50, dataPoint{st.Rate, st.P50})
		p99 = append(p99, dataPoint{st.Rate, st.P99})
		got = append(got, dataPoint{st.Rate, st.Achieved})
		yMax = math.Max(yMax, st.P99)
	}
	x0, x1 := 0.0, 1.0
	if len(steps) > 0 {
		x1 = steps[len(steps)-1].Rate * 1.05
	}
	xt := linearTicks(x0, x1, 8)
	labels := make([]string, len(xt))
	for i, x := range xt {
		labels[i] = tickLabel(x, xt[1]-xt[0])
	}
	series := []dataSeries{{name: "p50", class: "s-p50", pts: p50}, {name: "p99", class: "s-p99", pts: p99}}
	if bound, ok := sloBound(c); ok {
		series = append(series, dataSeries{name: "SLO", class: "s-slo", pts: []dataPoint{{x0, bound}, {xt[len(xt)-1], bound}}})
		yMax = math.Max(yMax, bound)
	}
	if c.Knee != nil {
		series = append(series, dataSeries{name: "knee", class: "s-knee", pts: []dataPoint{{c.Knee.Rate, 0}, {c.Knee.Rate, yMax}}})
	}
	v.Latency = newChart(cleanText(c.Metric)+": latency by rate", cleanText(c.Param+" ("+c.Unit+")"), "latency (ms), corrected")
	v.Latency.plot(xt, labels, true, series)
	v.Delivered = newChart(cleanText(c.Metric)+": delivered a second", cleanText(c.Param+" ("+c.Unit+")"), "samples a second")
	if len(got) > 0 { // what each gift would deliver if the rate held, from the lowest step
		per := got[0].y / got[0].x
		for _, p := range got {
			offered = append(offered, dataPoint{p.x, p.x * per})
		}
	}
	v.Delivered.plot(xt, labels, true, []dataSeries{{name: "delivered", class: "s-rate", pts: got}, {name: "in proportion to the rate", class: "s-offered", pts: offered}})
	for i, st := range c.Steps {
		r := capacityRow{N: strconv.Itoa(i + 1), Rate: fmtRate(st.Rate), Dir: cleanText(filepath.Base(st.Dir)), CPU: "-", Lag: "-"}
		switch {
		case st.ErrorText != "":
			r.Verdict, r.Class = cleanText(st.ErrorText), "broke"
		case st.Held:
			r.Verdict = "holds"
		default:
			r.Verdict, r.Class = cleanText("breaks: "+strings.Join(st.Failed, "; ")), "broke"
		}
		if c.Knee != nil && st.Rate == c.Knee.Rate && st.Held {
			r.Class = "knee"
		}
		if st.ErrorText == "" {
			r.Achieved, r.P50, r.P99 = strconv.FormatFloat(st.Achieved, 'f', 0, 64), ms3(st.P50), ms3(st.P99)
		}
		if g := st.Generator; g != nil && g.Unknown == "" {
			r.CPU = strconv.FormatFloat(100*g.CPUShare, 'f', 0, 64) + "%"
			r.Lag = ms3(g.LagP99) + " ms"
		}
		v.Steps = append(v.Steps, r)
	}
	return v
}

// sloBound is the tightest bound the SLO puts on the headline metric's corrected p99, if any.
func sloBound(c *metrics.Capacity) (float64, bool) {
	bound, ok := math.Inf(1), false
	for _, expr := range c.SLO {
		t, err := metrics.ParseThreshold(expr)
		if err == nil && t.Name == c.Metric && t.Kind == metrics.Corrected && t.Stat == "p99" && (t.Op == "<" || t.Op == "<=") {
			bound, ok = math.Min(bound, t.Value), true
		}
	}
	return bound, ok
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', 6, 64) }
