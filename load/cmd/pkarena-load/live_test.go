package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pkarena/pkarena/internal/promtest"
	"github.com/pkarena/pkarena/load/metrics"
)

// lockedBuffer is an output one goroutine writes while another reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// liveMoved says what the live view of a small pk run still lacks: counters that moved and
// latency samples, with the run's labels, in both kinds of buckets; "" when nothing.
func liveMoved(proto, text map[string]*dto.MetricFamily) string {
	run := []string{"scenario=pk", "shard=0/1"}
	var lacks []string
	for _, c := range []string{"pkarena_load_ops_total", "pkarena_load_connections_opened_total"} {
		if promtest.Sample(proto, c, run...).GetCounter().GetValue() <= 0 {
			lacks = append(lacks, c+" > 0")
		}
	}
	if promtest.Sample(proto, "pkarena_load_connections_open", run...) == nil {
		lacks = append(lacks, "pkarena_load_connections_open")
	}
	for _, metric := range []string{metrics.Connect, metrics.ScoreFanout} {
		sel := append([]string{"metric=" + metric, "kind=corrected"}, run...)
		h := promtest.Sample(proto, "pkarena_load_latency_seconds", sel...).GetHistogram()
		if h.GetSampleCount() == 0 || h.GetSchema() != metrics.LiveSchema || len(h.GetPositiveSpan()) == 0 {
			lacks = append(lacks, metric+" samples in native buckets")
		}
		c := promtest.Sample(text, "pkarena_load_latency_seconds", sel...).GetHistogram()
		if n := len(c.GetBucket()); c.GetSampleCount() == 0 || n == 0 || c.GetBucket()[n-1].GetCumulativeCount() == 0 {
			lacks = append(lacks, metric+" samples in classic buckets")
		}
	}
	return strings.Join(lacks, ", ")
}

// A small run with -metrics-listen serves its live figures while it runs: the counters move
// and the latency histograms fill, in the classic and in the native buckets, with the run's
// labels; the listener is gone once the run is over.
func TestRunServesLiveMetrics(t *testing.T) {
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	args := append([]string{"run", "-out", t.TempDir(), "-no-report", "-metrics-listen", "127.0.0.1:0", "-interval", "100ms"}, small...)
	go func() { done <- run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr) }()
	code := -1
	ended := func() bool {
		select {
		case code = <-done:
			return true
		default:
			return false
		}
	}
	failed := func(format string, a ...any) {
		t.Helper()
		if code < 0 {
			code = <-done
		}
		t.Fatalf(format+"\nexit %d\nstdout:\n%s\nstderr:\n%s", append(a, code, stdout.String(), stderr.String())...)
	}

	addr := regexp.MustCompile(`live metrics: (http://\S+/metrics)`)
	var url string
	for url == "" { // printed before the embedded server starts
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if ended() {
			failed("the run never said where its live metrics are")
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	var proto, text map[string]*dto.MetricFamily
	lacks := "a scrape"
	for lacks != "" { // scrape until the figures show, as long as the run lasts
		if ended() {
			failed("the run ended and the live view still lacked %s", lacks)
		}
		var err, terr error
		proto, err = promtest.Scrape(url, false)
		text, terr = promtest.Scrape(url, true)
		if err = errors.Join(err, terr); err != nil {
			failed("scraping %s during the run: %v", url, err)
		}
		if lacks = liveMoved(proto, text); lacks != "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if help := proto["pkarena_load_latency_seconds"].GetHelp(); !strings.Contains(help, metrics.LiveApproximate) {
		t.Errorf("latency HELP %q does not say %q", help, metrics.LiveApproximate)
	}
	if code < 0 {
		code = <-done
	}
	if code == metrics.ExitUsage || code == metrics.ExitError { // the verdict is the machine's business: a busy one breaches the scenario's thresholds
		failed("the run did not run to its end")
	}
	if _, err := promtest.Scrape(url, false); err == nil {
		t.Errorf("%s still serves after the run", url)
	}
}

// A bad -metrics-listen address is a usage error before anything starts; a port already
// taken is the tool's failure, as for pkarena-server's listeners.
func TestMetricsListenErrors(t *testing.T) {
	for _, cmd := range []string{"run", "capacity"} {
		for _, bad := range []string{"nonsense", "127.0.0.1:99999", "127.0.0.1:http-alt"} {
			code, out, errOut := runCLI(t, append([]string{cmd, "-out", t.TempDir(), "-metrics-listen", bad}, small...)...)
			if code != metrics.ExitUsage || !strings.Contains(errOut, "-metrics-listen") || strings.Contains(out, "embedded reference server") {
				t.Errorf("%s -metrics-listen %q: exit %d, stderr %q, stdout %q; want exit 2 at once, naming the flag", cmd, bad, code, errOut, out)
			}
		}
	}
	taken, err := listenMetrics("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, errOut := runCLI(t, append([]string{"run", "-out", t.TempDir(), "-metrics-listen", taken.addr}, small...)...)
	if code != metrics.ExitError || !strings.Contains(errOut, "-metrics-listen") {
		t.Errorf("-metrics-listen on a port in use: exit %d, stderr %q; want exit 3 naming the flag", code, errOut)
	}
}
