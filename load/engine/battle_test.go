package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/load/metrics"
)

// TestScoredRecordsTheAnswersArrival: a set_battle_score answer is recorded from the gifts'
// time to when the answer arrived (the at its transport reports, long before the engine got
// to it here), and what it says of the versions is kept; a failed call records no latency,
// counts its gifts failed and gives its version back.
func TestScoredRecordsTheAnswersArrival(t *testing.T) {
	const ms = float64(time.Millisecond / time.Microsecond) // the histograms are in µs
	intended := time.Now().Add(-10 * time.Second)           // the engine reads the answer 10 s late
	st := stamp{intended: intended, sent: intended.Add(2 * time.Millisecond)}
	at := intended.Add(7 * time.Millisecond)
	for _, tt := range []struct {
		name          string
		resp          client.SetBattleScoreResponse
		err           error
		wantRecorded  bool
		wantVersions  []uint64 // the versions whose times the battle keeps
		wantAcked     uint64
		wantNext      uint64
		wantMismatch  int64
		wantFailed    int64
		wantGiftsSent int64
	}{
		{name: "the version asked for", resp: client.SetBattleScoreResponse{ScoreVersion: 5},
			wantRecorded: true, wantVersions: []uint64{5}, wantAcked: 5, wantNext: 6, wantGiftsSent: 2},
		{name: "another version", resp: client.SetBattleScoreResponse{ScoreVersion: 7},
			wantRecorded: true, wantVersions: []uint64{7}, wantAcked: 7, wantNext: 6, wantMismatch: 1, wantGiftsSent: 2},
		{name: "failed", err: errors.New("refused"),
			wantAcked: 4, wantNext: 5, wantFailed: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.Options{})
			e := &engine{cfg: Config{Shards: 1}, rec: rec}
			b := &battle{e: e, versions: map[uint64]stamp{5: st}, acked: 4, next: 6}
			released := 0
			batch := []gift{{done: func() { released++ }}, {done: func() { released++ }}}

			e.scored(b, 0, batch, st, 5, tt.resp, at, tt.err)

			if released != len(batch) {
				t.Errorf("%d of %d gifts released", released, len(batch))
			}
			if len(b.versions) != len(tt.wantVersions) {
				t.Errorf("versions %v; want %v", b.versions, tt.wantVersions)
			}
			for _, v := range tt.wantVersions {
				if got, ok := b.versions[v]; !ok || got.intended != st.intended {
					t.Errorf("version %d: %+v, %v; want the call's times", v, got, ok)
				}
			}
			if b.acked != tt.wantAcked || b.next != tt.wantNext {
				t.Errorf("acked %d, next %d; want %d, %d", b.acked, b.next, tt.wantAcked, tt.wantNext)
			}
			if got := e.giftsSent.Load(); got != tt.wantGiftsSent {
				t.Errorf("gifts sent %d; want %d", got, tt.wantGiftsSent)
			}
			tot := rec.Finish(time.Now())
			if got := tot.Counters[counterVersionMismatch]; got != tt.wantMismatch {
				t.Errorf("%s = %d; want %d", counterVersionMismatch, got, tt.wantMismatch)
			}
			if got := tot.Counters[counterGiftsFailed]; got != tt.wantFailed {
				t.Errorf("%s = %d; want %d", counterGiftsFailed, got, tt.wantFailed)
			}
			for _, k := range []struct {
				kind metrics.Kind
				want float64 // ms
			}{{metrics.Corrected, 7}, {metrics.Service, 5}} {
				h := tot.Histogram(metrics.RESTScore, k.kind)
				switch {
				case !tt.wantRecorded && h != nil && h.TotalCount() > 0:
					t.Errorf("%s %v: %d samples; want none", metrics.RESTScore, k.kind, h.TotalCount())
				case !tt.wantRecorded:
				case h == nil || h.TotalCount() != 1:
					t.Errorf("%s %v: %v; want one sample", metrics.RESTScore, k.kind, h)
				case float64(h.Max())/ms < k.want*0.99 || float64(h.Max())/ms > k.want*1.01:
					t.Errorf("%s %v = %.3f ms; want %.0f, to when the answer arrived", metrics.RESTScore, k.kind, float64(h.Max())/ms, k.want)
				}
			}
		})
	}
}
