// Package metrics records the latencies and counters of a load run and writes, merges and judges
// its results.
//
// # Recording
//
// A [Recorder] takes samples from many goroutines. Each sample of a metric (see [Connect],
// [ScoreFanout], [ReplyMetric], ...) carries three times: when the generator intended to send,
// when it actually sent, and when the answer or broadcast arrived. Two latencies are recorded:
//
//   - corrected = received − intended: what a user sees, stalls included (no coordinated
//     omission, as in wrk2);
//   - service = received − sent: what the server took once the request was out.
//
// Values go into HdrHistograms (hdrhistogram-go), in microseconds, from 1 µs to 1 hour with 3
// significant digits; no raw sample is kept. The recorder closes an interval every
// [Options.Interval] and keeps each closed interval's histograms in their compressed form
// (about 0.2–2 KB per metric, kind and interval) until [Recorder.Finish], so a run's memory
// grows with its duration, not with its sample count; or, after [Recorder.StreamResults]
// (pkarena-load run), writes each into the results folder's metrics.hlog as it closes, and
// keeps only the whole run's histograms and the summary's per-interval series and counters: 9
// MB an hour against 48 for thirteen busy metrics (BenchmarkInterval).
//
// # Results folder
//
// [WriteResults] (alone, or finishing what [Recorder.StreamResults] began) and [Merge] write
// the same folder:
//
//   - metrics.hlog: a standard HdrHistogram interval log (format 1.3, absolute timestamps, a
//     StartTime header with millisecond precision). One line per metric, kind and interval,
//     tagged "<metric>.corrected" or "<metric>.service"; intervals without samples of a metric
//     are left out. Values are microseconds: HdrHistogram's HistogramLogProcessor prints
//     milliseconds with -outputValueUnitRatio 1000, and the Interval_Max column (the writer
//     divides by 10^6) is in seconds.
//   - <metric>.corrected.hgrm and <metric>.service.hgrm: the whole run's percentile
//     distribution in HdrHistogram's text format, values in milliseconds, readable by
//     HdrHistogram's plotter.
//   - summary.json: the [Summary]: run information, statistics per metric and kind in
//     milliseconds, the per-interval series, counters, gauges and threshold results.
//
// # Live view
//
// [NewLive] attaches a Prometheus view to a recorder (pkarena-load run -metrics-listen), in a
// registry of its own: the counters and gauges as they are at each scrape, and each metric's
// latency as the histogram pkarena_load_latency_seconds{metric,kind} with classic and native
// buckets. Record does not know about it: the histograms are fed from each closed interval's
// merged HdrHistograms, by walking their populated buckets, so the live view costs the
// recording nothing per sample. It is up to one interval behind and approximate; the results
// folder stays the source of exact percentiles.
//
// # Distributed runs
//
// Each agent writes its own folder; [Merge] adds their interval histograms (intervals aligned on
// their absolute start time rounded to the interval) and sums their counters. Adding
// HdrHistograms is exact, so the merged percentiles are those a single recorder would have
// reported for all the samples.
//
// # Thresholds and exit codes
//
// [ParseThreshold] reads expressions such as "score_fanout.p99 < 50ms" or "errors.rate < 0.1%";
// [Evaluate] judges a summary against them, always adding the built-in rules "lost.count == 0"
// and "out_of_order.count == 0". [Summary.ExitCode] maps the outcome to [ExitOK],
// [ExitThresholds] or [ExitLost].
package metrics
