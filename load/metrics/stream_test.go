package metrics

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// streamInfo is the RunInfo of the streaming tests.
var streamInfo = RunInfo{Scenario: "pk", Model: "open", Seed: 3, Targets: []string{"ws://127.0.0.1:7070/v1/ws"},
	Parameters: map[string]string{"hosts": "9"}, Agent: "agent-0", Shard: "0/2", Version: "test"}

// streamScripts are recordings that exercise every way an interval closes: samples in one
// interval and in the next before its tick, an interval with counters only, idle intervals
// skipped, a last interval shorter than the others, an empty last interval of no length, and a
// sample that arrived after the final tick's interval.
var streamScripts = []struct {
	name      string
	end       float64 // ms after t0: Finish's end
	intervals int     // in the summary
	play      func(r *Recorder, stream func())
}{
	{"samples and counters", 2500, 3, func(r *Recorder, stream func()) {
		stream()
		for i := 1; i <= 100; i++ {
			r.Record(ScoreFanout, i, at(100), at(100), at(100+float64(i)))
		}
		r.Record(Connect, 0, at(10), at(10), at(13))
		r.Record(Connect, 1, at(900), at(990), at(1200)) // the next interval's, before its tick
		r.Add(Ops, 1000)
		r.Tick(at(2000))
		r.Add(Errors, 1)
		for i := range 10 {
			r.Record(ScoreFanout, i, at(1000), at(2000), at(2005))
		}
		r.Set(ConnectionsOpen, 7)
	}},
	{"streamed after intervals closed", 3300, 4, func(r *Recorder, stream func()) {
		for i := 1; i <= 50; i++ {
			r.Record(ScoreFanout, i, at(100), at(100), at(100+float64(3*i)))
		}
		r.Add(Ops, 3)
		r.Tick(at(2000))
		stream() // intervals 0 and 1 were kept: they go to the log first
		r.Record(Connect, 2, at(2100), at(2150), at(2900))
		r.Tick(at(3000))
		r.Record(Connect, 2, at(3100), at(3150), at(3200))
	}},
	{"idle intervals and an empty end", 12000, 3, func(r *Recorder, stream func()) {
		stream()
		r.Record(Connect, 0, at(400), at(400), at(500))
		r.Tick(at(1000))
		r.Tick(at(11000)) // ten idle intervals: left out
		r.Record(Connect, 0, at(11400), at(11400), at(11500))
		r.Tick(at(12000)) // Finish at 12000: a last interval of no length, nothing in it
	}},
	{"counters in a last interval of no length", 2000, 3, func(r *Recorder, stream func()) {
		stream()
		r.Record(BattleStart, 0, at(10), at(10), at(20))
		r.Tick(at(2000))
		r.Add(Lost, 2) // after the tick: the final interval [2000, 2000) holds it
	}},
	{"nothing at all", 0, 0, func(r *Recorder, stream func()) { stream() }},
}

// TestStreamedFolderIsTheKeptOne: a recorder that streams its intervals (StreamResults)
// writes, byte for byte, the results folder of one that keeps them until WriteResults, for
// every script, with the stream begun before or after intervals closed; its Totals answer
// Metrics and Histogram alike; and it keeps no interval in memory.
func TestStreamedFolderIsTheKeptOne(t *testing.T) {
	t.Parallel()
	thresholds := mustParse(t, "score_fanout.p95 < 50ms", "connect.service.p99 < 1s")
	for _, sc := range streamScripts {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			kept := NewRecorder(Options{Start: t0})
			sc.play(kept, func() {})
			keptTotals := kept.Finish(at(sc.end))
			keptSum, err := WriteResults(filepath.Join(root, "kept"), streamInfo, keptTotals, thresholds)
			if err != nil {
				t.Fatal(err)
			}

			streamed := NewRecorder(Options{Start: t0})
			dir := filepath.Join(root, "streamed")
			sc.play(streamed, func() {
				if err := streamed.StreamResults(dir, streamInfo); err != nil {
					t.Fatal(err)
				}
			})
			if len(streamed.closed) != 0 {
				t.Errorf("a streaming recorder kept %d intervals in memory", len(streamed.closed))
			}
			streamedTotals := streamed.Finish(at(sc.end))
			streamedSum, err := WriteResults(dir, streamInfo, streamedTotals, thresholds)
			if err != nil {
				t.Fatal(err)
			}

			keptFiles := folderFiles(t, filepath.Join(root, "kept"))
			streamedFiles := folderFiles(t, dir)
			if !slices.Equal(mapKeys(keptFiles), mapKeys(streamedFiles)) {
				t.Fatalf("streamed folder holds %v; the kept one %v", mapKeys(streamedFiles), mapKeys(keptFiles))
			}
			for name, want := range keptFiles {
				if got := streamedFiles[name]; !bytes.Equal(got, want) {
					t.Errorf("%s differs:\nstreamed:\n%s\nkept:\n%s", name, got, want)
				}
			}
			if len(keptSum.Intervals) != sc.intervals {
				t.Errorf("%d intervals in the summary; want %d", len(keptSum.Intervals), sc.intervals)
			}
			if mustJSON(t, streamedSum) != mustJSON(t, keptSum) {
				t.Errorf("WriteResults returned different summaries:\nstreamed %s\nkept     %s", mustJSON(t, streamedSum), mustJSON(t, keptSum))
			}
			if got, want := streamedTotals.Metrics(), keptTotals.Metrics(); !slices.Equal(got, want) {
				t.Errorf("Metrics() = %v streamed, %v kept", got, want)
			}
			for _, m := range keptTotals.Metrics() {
				for _, k := range Kinds {
					g, w := streamedTotals.Histogram(m, k), keptTotals.Histogram(m, k)
					if !g.Equals(w) {
						t.Errorf("Histogram(%s, %s): streamed %d samples, p99 %d; kept %d, p99 %d",
							m, k, g.TotalCount(), g.ValueAtQuantile(99), w.TotalCount(), w.ValueAtQuantile(99))
					}
				}
			}
		})
	}
}

// TestStreamedIntervalsAreOnDiskAsTheyClose: each interval is in metrics.hlog on disk once a
// tick closed it, before Finish (a soak's log can be read while it runs, and outlives a
// killed agent), and the live ops/s still comes from the last closed interval.
func TestStreamedIntervalsAreOnDiskAsTheyClose(t *testing.T) {
	t.Parallel()
	now := t0
	r := NewRecorder(Options{Start: t0, Now: func() time.Time { return now }})
	dir := filepath.Join(t.TempDir(), "run")
	if err := r.StreamResults(dir, streamInfo); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		for i := range k + 1 { // k+1 samples in interval k
			recv := at(float64(1000*k + 100 + i))
			r.Record(ScoreFanout, i, recv.Add(-time.Millisecond), recv.Add(-time.Millisecond), recv)
		}
		r.Add(Ops, int64(10*(k+1)))
		now = at(float64(1000 * (k + 1)))
		p := r.Progress(ScoreFanout)
		if p.OpsPerSec != float64(10*(k+1)) {
			t.Errorf("after interval %d: %v ops/s; want %d", k, p.OpsPerSec, 10*(k+1))
		}
		hs, err := ReadHistograms(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := int64((k + 1) * (k + 2) / 2) // 1 + 2 + ... + (k+1)
		if got := hs[Tag(ScoreFanout, Corrected)]; got == nil || got.TotalCount() != want {
			t.Errorf("after interval %d closed the log on disk holds %v; want %d samples", k, got, want)
		}
	}
	if len(r.closed) != 0 {
		t.Errorf("%d intervals kept in memory while streamed", len(r.closed))
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("summary.json before WriteResults: %v; want none", err)
	}
	if _, err := WriteResults(dir, streamInfo, r.Finish(now), nil); err != nil {
		t.Fatal(err)
	}

	// A second run streamed into the same folder: the first one's summary goes at once.
	r2 := NewRecorder(Options{Start: now})
	if err := r2.StreamResults(dir, streamInfo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the earlier run's summary.json beside a new run's log: %v; want it removed", err)
	}
	if hs, err := ReadHistograms(dir); err != nil || len(hs) != 0 {
		t.Errorf("the new run's log holds %v, %v; want no histogram yet", hs, err)
	}
}

// TestStreamResultsMisuse: each wrong use of streaming is an error that says what is wrong,
// and none writes a half folder as if it were whole.
func TestStreamResultsMisuse(t *testing.T) {
	t.Parallel()
	started := func(t *testing.T) (*Recorder, string) {
		r := NewRecorder(Options{Start: t0})
		dir := filepath.Join(t.TempDir(), "run")
		if err := r.StreamResults(dir, streamInfo); err != nil {
			t.Fatal(err)
		}
		r.Record(Connect, 0, at(10), at(10), at(20))
		return r, dir
	}
	other := streamInfo
	other.Agent = "agent-1"
	for _, tt := range []struct {
		name string
		try  func(t *testing.T) error
		want string
	}{
		{"twice", func(t *testing.T) error {
			r, dir := started(t)
			return r.StreamResults(dir+"2", streamInfo)
		}, "already streaming into"},
		{"after Finish", func(t *testing.T) error {
			r := NewRecorder(Options{Start: t0})
			r.Finish(at(10))
			return r.StreamResults(filepath.Join(t.TempDir(), "run"), streamInfo)
		}, "after Finish"},
		{"a file where the folder goes", func(t *testing.T) error {
			file := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return NewRecorder(Options{Start: t0}).StreamResults(file, streamInfo)
		}, "not a directory"},
		{"finished into another folder", func(t *testing.T) error {
			r, dir := started(t)
			_, err := WriteResults(dir+"-other", streamInfo, r.Finish(at(1500)), nil)
			return err
		}, "but the intervals were streamed into"},
		{"finished with another run's info", func(t *testing.T) error {
			r, dir := started(t)
			_, err := WriteResults(dir, other, r.Finish(at(1500)), nil)
			return err
		}, "info differs"},
		{"finished twice", func(t *testing.T) error {
			r, dir := started(t)
			tot := r.Finish(at(1500))
			if _, err := WriteResults(dir, streamInfo, tot, nil); err != nil {
				t.Fatal(err)
			}
			_, err := WriteResults(dir, streamInfo, tot, nil)
			return err
		}, "already written"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.try(t); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error about %q", err, tt.want)
			}
		})
	}
}

// TestAFailedStreamWriteIsAnError: a log that cannot be written fails StreamResults at once
// (a link to /dev/full: ENOSPC); one that fails in the middle of the run (its file closed
// under it) fails WriteResults with the log's name and the reason, and nothing is written to
// it after the failure.
func TestAFailedStreamWriteIsAnError(t *testing.T) {
	t.Parallel()
	t.Run("at the start", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full here")
		}
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/full", filepath.Join(dir, LogFile)); err != nil {
			t.Fatal(err)
		}
		err := NewRecorder(Options{Start: t0}).StreamResults(dir, streamInfo)
		if err == nil || !strings.Contains(err.Error(), LogFile) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("StreamResults into an unwritable log: %v; want an error naming it, wrapping ENOSPC", err)
		}
	})
	t.Run("in the middle", func(t *testing.T) {
		r := NewRecorder(Options{Start: t0})
		dir := filepath.Join(t.TempDir(), "run")
		if err := r.StreamResults(dir, streamInfo); err != nil {
			t.Fatal(err)
		}
		r.Record(Connect, 0, at(10), at(10), at(20))
		r.Tick(at(1000))
		before := readFile(t, filepath.Join(dir, LogFile))
		r.stream.file.Close() // the disk goes away
		r.Record(Connect, 0, at(1010), at(1010), at(1020))
		r.Tick(at(2000))
		r.Record(Connect, 0, at(2010), at(2010), at(2020))
		_, err := WriteResults(dir, streamInfo, r.Finish(at(3000)), nil)
		if err == nil || !strings.Contains(err.Error(), LogFile) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("WriteResults after the log failed: %v; want an error naming it, wrapping os.ErrClosed", err)
		}
		if after := readFile(t, filepath.Join(dir, LogFile)); !bytes.Equal(after, before) {
			t.Errorf("the log changed after its failure:\n%s\nwas\n%s", after, before)
		}
		if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("summary.json written after the log failed: %v", err)
		}
	})
}

// folderFiles reads every file of a folder, by name.
func folderFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		out[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return out
}

// mapKeys returns a map's keys in order.
func mapKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

// BenchmarkInterval: one second of a busy run (2,000 samples over 13 metrics, then the tick
// that closes it), its intervals kept until Finish or streamed into metrics.hlog. B/op is
// what an interval allocates, retained-B/interval what stays on the heap for the rest of the
// run (the kept histograms, or the summary's figures when streamed):
//
//	go test -run '^$' -bench BenchmarkInterval -benchtime 3600x ./load/metrics
func BenchmarkInterval(b *testing.B) {
	names := []string{ScoreFanout, ScoreFanout + "_first", BattleStart, BattleEnd, Connect, "rest_set_battle_score",
		"generator_lag", "reply.heartbeat", "reply.requestBattle", "reply.joinLive", "reply.createLive", "reply.acceptBattle", "reply.leaveLive"}
	for _, stream := range []bool{false, true} {
		name := "kept"
		if stream {
			name = "streamed"
		}
		b.Run(name, func(b *testing.B) {
			r := NewRecorder(Options{Start: t0})
			if stream {
				if err := r.StreamResults(filepath.Join(b.TempDir(), "run"), streamInfo); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for k := range b.N {
				for i := range 2000 {
					recv := at(float64(1000*k) + float64(i)/2.1)
					d := time.Duration(rng.ExpFloat64()*3000+500) * time.Microsecond
					r.Record(names[i%len(names)], i, recv.Add(-2*d), recv.Add(-d), recv)
				}
				r.Add(Ops, 2000)
				r.Tick(at(float64(1000 * (k + 1))))
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "retained-B/interval")
			runtime.KeepAlive(r)
		})
	}
}
