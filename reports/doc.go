// Package reports renders pkarena's results and decides nothing: a conformance run (the model
// and its certification rule are conformance/results) as results.json, JUnit XML, a
// self-contained HTML page and a log summary; a load run (the results folder load/metrics
// writes) and a capacity search as self-contained HTML pages with SVG charts.
package reports
