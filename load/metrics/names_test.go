package metrics

import (
	"slices"
	"testing"
)

// TestCleanNameAtTheEdges: the ends of each range of bytes kept are kept, the bytes just
// outside them are not, and a dot is kept anywhere but first.
func TestCleanNameAtTheEdges(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"azAZ09_-", "azAZ09_-"},
		{"`{@[/:", "______"},
		{".a.b", "_a.b"},
		{"a.", "a."},
	} {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestSplitTag: a tag is a metric name, a dot and a kind; no name, or another kind, is no tag.
func TestSplitTag(t *testing.T) {
	for _, tt := range []struct {
		tag    string
		metric string
		kind   Kind
		ok     bool
	}{
		{"score_fanout.corrected", "score_fanout", Corrected, true},
		{"reply.join_live.service", "reply.join_live", Service, true},
		{".corrected", "", "", false},
		{"score_fanout.other", "", "", false},
		{"corrected", "", "", false},
	} {
		m, k, ok := splitTag(tt.tag)
		if m != tt.metric || k != tt.kind || ok != tt.ok {
			t.Errorf("splitTag(%q) = %q, %q, %v; want %q, %q, %v", tt.tag, m, k, ok, tt.metric, tt.kind, tt.ok)
		}
	}
}

// TestMetricOrder: the known metrics in the order of a battle's life, then the replies, then
// the rest, each group alphabetically, from input in another order.
func TestMetricOrder(t *testing.T) {
	names := []string{"zeta", "reply.z", BattleEnd, "alpha", "reply.a", Connect, ScoreFanout}
	slices.SortFunc(names, compareMetrics)
	want := []string{Connect, ScoreFanout, BattleEnd, "reply.a", "reply.z", "alpha", "zeta"}
	if !slices.Equal(names, want) {
		t.Errorf("order %q; want %q", names, want)
	}
}
