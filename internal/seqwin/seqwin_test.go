package seqwin

import "testing"

// TestSee: numbers skipped count until they come; a late one that was skipped fills its gap,
// once; a repeat fills none; Follow below the highest is followed and one further is not.
func TestSee(t *testing.T) {
	type seen struct {
		skipped      uint64
		late, filled bool
	}
	for _, tt := range []struct {
		name string
		in   []uint64
		want []seen
		high uint64
	}{
		{"in order", []uint64{1, 2, 3}, []seen{{}, {}, {}}, 3},
		{"swapped", []uint64{1, 3, 2, 4}, []seen{{}, {1, false, false}, {0, true, true}, {}}, 4},
		{"filled in reverse", []uint64{4, 3, 2, 1}, []seen{{3, false, false}, {0, true, true}, {0, true, true}, {0, true, true}}, 4},
		{"a repeat", []uint64{1, 3, 3, 1}, []seen{{}, {1, false, false}, {0, true, false}, {0, true, false}}, 3},
		{"a late one repeated", []uint64{1, 3, 2, 2}, []seen{{}, {1, false, false}, {0, true, true}, {0, true, false}}, 3},
		{"Follow back", []uint64{Follow + 1, 1}, []seen{{Follow, false, false}, {0, true, true}}, Follow + 1},
		{"one further", []uint64{Follow + 2, 1}, []seen{{Follow + 1, false, false}, {0, true, false}}, Follow + 2},
		// The highest before a jump of Follow is the window's last: come, not a gap.
		{"a jump of Follow", []uint64{1, Follow + 1, 1}, []seen{{}, {Follow - 1, false, false}, {0, true, false}}, Follow + 1},
		{"gaps carried past a jump", []uint64{2, 5, 1}, []seen{{1, false, false}, {2, false, false}, {0, true, true}}, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var w Window
			for i, n := range tt.in {
				s, late, filled := w.See(n)
				if got := (seen{s, late, filled}); got != tt.want[i] {
					t.Errorf("See(%d) = %+v; want %+v", n, got, tt.want[i])
				}
			}
			if w.High() != tt.high {
				t.Errorf("High = %d; want %d", w.High(), tt.high)
			}
		})
	}
}

// TestRaise: the numbers up to the new highest count come; the gaps below stay gaps, as far
// as the window follows; a lower number changes nothing.
func TestRaise(t *testing.T) {
	w := At(2)
	w.See(4) // 3 skipped
	w.Raise(6)
	if _, _, filled := w.See(5); filled {
		t.Error("5, under the raise, filled a gap; want it counted come")
	}
	if _, _, filled := w.See(3); !filled {
		t.Error("3, skipped before the raise, did not fill its gap")
	}
	w.Raise(4)
	if w.High() != 6 {
		t.Errorf("High = %d after raising to a lower number; want 6", w.High())
	}
	w = At(1)
	w.See(3) // 2 skipped
	w.Raise(3 + Follow)
	if _, _, filled := w.See(2); filled {
		t.Error("2, beyond Follow after the raise, filled a gap")
	}
}
