package ipam

import (
	"math/rand/v2"
	"testing"
)

// freeIntervals lists the set's intervals in order, as plain numbers.
func freeIntervals(s *freeSet) [][2]uint64 {
	var out [][2]uint64
	s.tree.Ascend(func(iv interval) bool {
		out = append(out, [2]uint64{iv.first.lo, iv.last.lo})
		return true
	})
	return out
}

func TestFreeSetOperations(t *testing.T) {
	tests := []struct {
		name string
		run  func(s *freeSet) // on a set holding 0..9
		want [][2]uint64
	}{
		{name: "take first", run: func(s *freeSet) { s.take(uint128{0, 0}) }, want: [][2]uint64{{1, 9}}},
		{name: "take last", run: func(s *freeSet) { s.take(uint128{0, 9}) }, want: [][2]uint64{{0, 8}}},
		{name: "take middle splits", run: func(s *freeSet) { s.take(uint128{0, 4}) }, want: [][2]uint64{{0, 3}, {5, 9}}},
		{name: "put merges both sides", run: func(s *freeSet) {
			s.take(uint128{0, 4})
			s.put(uint128{0, 4})
		}, want: [][2]uint64{{0, 9}}},
		{name: "put merges left", run: func(s *freeSet) {
			s.take(uint128{0, 4})
			s.take(uint128{0, 5})
			s.put(uint128{0, 4})
		}, want: [][2]uint64{{0, 4}, {6, 9}}},
		{name: "put merges right", run: func(s *freeSet) {
			s.take(uint128{0, 4})
			s.take(uint128{0, 5})
			s.put(uint128{0, 5})
		}, want: [][2]uint64{{0, 3}, {5, 9}}},
		{name: "put isolated", run: func(s *freeSet) {
			s.removeRange(uint128{0, 2}, uint128{0, 6})
			s.put(uint128{0, 4})
		}, want: [][2]uint64{{0, 1}, {4, 4}, {7, 9}}},
		{name: "remove range across intervals", run: func(s *freeSet) {
			s.take(uint128{0, 3})
			s.take(uint128{0, 6})
			s.removeRange(uint128{0, 2}, uint128{0, 7})
		}, want: [][2]uint64{{0, 1}, {8, 9}}},
		{name: "remove everything", run: func(s *freeSet) { s.removeRange(uint128{}, uint128{0, 100}) }, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFreeSet(uint128{}, uint128{0, 9})
			tt.run(s)
			got := freeIntervals(s)
			if len(got) != len(tt.want) {
				t.Fatalf("intervals = %v, want %v", got, tt.want)
			}
			var size uint64
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("intervals = %v, want %v", got, tt.want)
				}
				size += got[i][1] - got[i][0] + 1
			}
			if s.size != (uint128{0, size}) {
				t.Errorf("size = %d, intervals hold %d", s.size.lo, size)
			}
		})
	}
}

func TestFreeSetNextWraps(t *testing.T) {
	s := newFreeSet(uint128{0, 10}, uint128{0, 19})
	s.removeRange(uint128{0, 13}, uint128{0, 19})
	tests := []struct {
		from, want uint64
	}{{0, 10}, {11, 11}, {12, 12}, {13, 10}, {50, 10}}
	for _, tt := range tests {
		if got, ok := s.next(uint128{0, tt.from}); !ok || got.lo != tt.want {
			t.Errorf("next(%d) = %d, %v; want %d", tt.from, got.lo, ok, tt.want)
		}
	}
	s.removeRange(uint128{}, uint128{0, 100})
	if _, ok := s.next(uint128{}); ok {
		t.Error("next on an empty set found an address")
	}
}

// TestFreeSetAgainstBitmap drives random takes and puts and compares every
// answer with a plain bitmap.
func TestFreeSetAgainstBitmap(t *testing.T) {
	const n = 300
	rng := rand.New(rand.NewPCG(1, 2))
	s := newFreeSet(uint128{}, uint128{0, n - 1})
	free := make([]bool, n)
	for i := range free {
		free[i] = true
	}
	for step := range 20000 {
		a := uint64(rng.IntN(n))
		if rng.IntN(2) == 0 {
			if got := s.take(uint128{0, a}); got != free[a] {
				t.Fatalf("step %d: take(%d) = %v, want %v", step, a, got, free[a])
			}
			free[a] = false
		} else {
			if got := s.put(uint128{0, a}); got != !free[a] {
				t.Fatalf("step %d: put(%d) = %v, want %v", step, a, got, !free[a])
			}
			free[a] = true
		}
	}
	var count uint64
	prevLast := int64(-2)
	for _, iv := range freeIntervals(s) {
		if int64(iv[0]) <= prevLast+1 {
			t.Fatalf("intervals touch or overlap: %v", freeIntervals(s))
		}
		prevLast = int64(iv[1])
		for a := iv[0]; a <= iv[1]; a++ {
			if !free[a] {
				t.Fatalf("%d is in the set but taken", a)
			}
			count++
		}
	}
	var want uint64
	for _, f := range free {
		if f {
			want++
		}
	}
	if s.size.lo != count || count != want {
		t.Errorf("size = %d, intervals hold %d, bitmap has %d free", s.size.lo, count, want)
	}
}
