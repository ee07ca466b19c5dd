package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/internal/promtest"
	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
)

// dashboardFile is the Grafana dashboard of a load run beside the server's metrics.
const dashboardFile = "../../../fixtures/grafana/pkarena-load.json"

// knownMetrics are the metric families a dashboard may name, by family name.
type knownMetrics map[string]*dto.MetricFamily

// check says why a name a PromQL expression selects names no series, or nil: a counter or
// gauge by its name; a histogram by its _bucket, _sum and _count series, and by its own name
// when it has native buckets (the native histogram's series).
func (k knownMetrics) check(name string) error {
	if f := k[name]; f != nil {
		if f.GetType() == dto.MetricType_HISTOGRAM && !hasNative(f) {
			return fmt.Errorf("%s has classic buckets only: select %s_bucket, _sum or _count", name, name)
		}
		return nil
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && k[base].GetType() == dto.MetricType_HISTOGRAM {
			return nil
		}
	}
	return fmt.Errorf("no metric %s in the load generator's registry or the reference server's (of its kind they have %s)", name, strings.Join(k.like(name), ", "))
}

// like lists the names that share name's first two words (pkarena_load_, pkarena_rest_, ...),
// else its first word.
func (k knownMetrics) like(name string) []string {
	words := strings.SplitN(name, "_", 3)
	for n := min(2, len(words)); n > 0; n-- {
		prefix := strings.Join(words[:n], "_") + "_"
		var out []string
		for _, m := range k.names() {
			if strings.HasPrefix(m, prefix) {
				out = append(out, m)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

func (k knownMetrics) names() []string {
	var out []string
	for n := range k {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func hasNative(f *dto.MetricFamily) bool {
	for _, m := range f.GetMetric() {
		if m.GetHistogram().Schema != nil {
			return true
		}
	}
	return false
}

// loadFamilies are the families of the live view's registry once a run has recorded samples
// of every kind, counted every counter the view names on its own, an error code and another
// counter, and set its gauges.
func loadFamilies(t *testing.T) knownMetrics {
	t.Helper()
	end := time.Now()
	rec := metrics.NewRecorder(metrics.Options{Start: end.Add(-2 * time.Second)})
	live := metrics.NewLive(rec, metrics.LiveLabels{Scenario: "pk", Shard: "0/1", RunID: "g", Agent: "a"})
	sent := end.Add(-time.Second)
	for _, m := range []string{metrics.Connect, metrics.ScoreFanout, metrics.GeneratorLag, metrics.ReplyMetric("heartbeat")} {
		rec.Record(m, 0, sent, sent, sent.Add(3*time.Millisecond))
	}
	for _, c := range []string{metrics.Ops, metrics.Errors, metrics.ErrorCounter(100001), metrics.Dropped, metrics.Late,
		metrics.Lost, metrics.OutOfOrder, metrics.Connections, "score.gaps"} {
		rec.Add(c, 1)
	}
	rec.Set(metrics.ConnectionsOpen, 1)
	rec.Set(metrics.MemoryPerConnection, 1)
	rec.Finish(end)
	fams, err := live.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return promtest.ByName(fams)
}

// serverFamilies are the families the reference server's registry serves once a client has
// connected and left and a REST call was answered: the families with labels (close codes,
// REST results) appear only then.
func serverFamilies(t *testing.T) knownMetrics {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: srv.URL, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret, UserID: "grafana-check", UserName: "grafana"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	rest := client.NewREST(client.RESTConfig{BaseURL: srv.RESTURL, SDKAppID: cfg.SDKAppID, Secret: cfg.Secret, Identifier: cfg.AdminIdentifiers[0]})
	_, _ = rest.GetBattleInfo(ctx, "no-such-battle", "") // an answer with an error code is an answer
	for {
		fams, err := promtest.Scrape(srv.RESTURL+server.MetricsPath, false)
		if err != nil {
			t.Fatal(err)
		}
		if fams["pkarena_connections_closed_total"] != nil && fams["pkarena_rest_requests_total"] != nil {
			return fams
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server's metrics never showed the closed connection and the REST call: %v", knownMetrics(fams).names())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where string
	expr  string
}

// dashboardQueries lists every PromQL expression of a dashboard: each panel target's expr
// (rows' panels included) and each query variable's query (label_values(selector, label):
// the selector).
func dashboardQueries(t *testing.T, data []byte) []dashboardQuery {
	t.Helper()
	type panel struct {
		Title   string
		Panels  []json.RawMessage
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string
		}
	}
	var d struct {
		UID        string
		Panels     []json.RawMessage
		Templating struct {
			List []struct {
				Name  string
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []dashboardQuery
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardFile, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q target %s: no expr", p.Title, tg.RefID)
				}
				out = append(out, dashboardQuery{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
			q = obj.Query
		}
		args, ok := strings.CutPrefix(q, "label_values(")
		if !ok || !strings.HasSuffix(args, ")") {
			t.Errorf("variable %s: query %q: want label_values(selector, label)", v.Name, q)
			continue
		}
		sel, _, ok := cutLastComma(strings.TrimSuffix(args, ")"))
		if !ok {
			t.Errorf("variable %s: query %q: want label_values(selector, label), with a selector", v.Name, q)
			continue
		}
		out = append(out, dashboardQuery{"variable " + v.Name, sel})
	}
	return out
}

// cutLastComma cuts s around its last comma outside braces and quotes.
func cutLastComma(s string) (before, after string, ok bool) {
	depth, quote, at := 0, byte(0), -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{' || c == '(' || c == '[':
			depth++
		case c == '}' || c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			at = i
		}
	}
	if at < 0 {
		return s, "", false
	}
	return s[:at], s[at+1:], true
}

// promqlWords are PromQL's keywords, aggregation operators and literals: words that are not
// metric names where they stand.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	"start": true, "end": true,
}

// promqlLabelLists are the keywords followed by a list of label names.
var promqlLabelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promqlNames returns the metric names a PromQL expression selects, in order: the words that
// are not functions (a word before "("), keywords, label names (in braces, after by, on, ...),
// strings, ranges, numbers or Grafana variables ($name, ${name}). Selecting by __name__ is
// refused: the check could not see the names.
func promqlNames(expr string) ([]string, error) {
	var names []string
	isWord := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	skipTo := func(i int, open, close byte) (int, error) { // i at open: the index after its close
		depth := 0
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; c {
			case '"', '\'', '`':
				end := strings.IndexByte(expr[j+1:], c)
				if end < 0 {
					return 0, fmt.Errorf("unterminated string at %d", j)
				}
				j += end + 1
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c at %d", open, i)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end := strings.IndexByte(expr[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			i += end + 2
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			if strings.Contains(expr[i:j], "__name__") {
				return nil, fmt.Errorf("selects by __name__: %s", expr[i:j])
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$': // a Grafana variable
			i++
			if i < len(expr) && expr[i] == '{' {
				j, err := skipTo(i, '{', '}')
				if err != nil {
					return nil, err
				}
				i = j
			}
			for i < len(expr) && isWord(expr[i], false) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isWord(expr[i], false) || expr[i] == '.') {
				i++
			}
		case isWord(c, true):
			j := i
			for j < len(expr) && isWord(expr[j], false) {
				j++
			}
			word := expr[i:j]
			next := j
			for next < len(expr) && expr[next] == ' ' {
				next++
			}
			switch {
			case promqlLabelLists[strings.ToLower(word)]:
				if next < len(expr) && expr[next] == '(' {
					k, err := skipTo(next, '(', ')')
					if err != nil {
						return nil, err
					}
					j = k
				}
			case promqlWords[strings.ToLower(word)]:
			case next < len(expr) && expr[next] == '(': // a function
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

// Every PromQL expression of the Grafana dashboard names metrics that exist: those the load
// generator's live view registers and those the reference server's registry serves.
func TestGrafanaDashboardNamesOnlyExistingMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	known := loadFamilies(t)
	for name, f := range serverFamilies(t) {
		known[name] = f
	}
	queries := dashboardQueries(t, data)
	if len(queries) < 20 {
		t.Fatalf("%d queries in %s; want the dashboard's 20 or more", len(queries), dashboardFile)
	}
	named := map[string]bool{}
	for _, q := range queries {
		names, err := promqlNames(q.expr)
		if err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", q.where, q.expr)
		}
		for _, n := range names {
			named[n] = true
			if err := known.check(n); err != nil {
				t.Errorf("%s: %v", q.where, err)
			}
		}
	}
	// The dashboard shows what the issue asks for, the load run beside the server.
	for _, want := range []string{"pkarena_load_ops_total", "pkarena_load_errors_total", "pkarena_load_lost_total",
		"pkarena_load_out_of_order_total", "pkarena_load_latency_seconds_bucket", "pkarena_load_latency_seconds",
		"pkarena_load_connections_open", "pkarena_load_generator_cpu_seconds_total", "pkarena_connections_open",
		"pkarena_score_update_latency_seconds_bucket"} {
		if !named[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// The name check itself: it finds the names where PromQL puts them and refuses one that does
// not exist.
func TestPromQLNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`rate(pkarena_load_ops_total{scenario=~"$scenario"}[$__rate_interval])`, []string{"pkarena_load_ops_total"}},
		{`histogram_quantile(0.99, sum by (le, metric) (rate(x_bucket{kind="corrected", metric!="or"}[5m]))) or histogram_quantile(0.5, sum without (shard) (rate(y[1m] offset 5m)))`, []string{"x_bucket", "y"}},
		{`sum(a) / on (shard) group_left (le) max(b{c="d"}) > bool 0.9`, []string{"a", "b"}},
		{`count(up{job="${job}"}) and $var`, []string{"up"}},
		{`pkarena_load_connections_open`, []string{"pkarena_load_connections_open"}},
	} {
		got, err := promqlNames(tt.expr)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("promqlNames(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
	if _, err := promqlNames(`{__name__=~"pkarena_.*"}`); err == nil {
		t.Error("a selector by __name__ was accepted")
	}
	known := loadFamilies(t)
	for _, ok := range []string{"pkarena_load_ops_total", "pkarena_load_latency_seconds", "pkarena_load_latency_seconds_bucket", "pkarena_load_latency_seconds_count"} {
		if err := known.check(ok); err != nil {
			t.Errorf("check(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"pkarena_load_opz_total", "pkarena_load_ops_total_bucket", "pkarena_load_latency"} {
		if known.check(bad) == nil {
			t.Errorf("check(%s) accepted a metric that does not exist", bad)
		}
	}
}
