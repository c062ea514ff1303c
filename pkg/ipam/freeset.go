package ipam

import "github.com/google/btree"

// freeTreeDegree trades node size against tree height; 32 keeps a /8 worth of
// fragmented intervals within four levels while nodes stay cache friendly.
const freeTreeDegree = 32

// interval is an inclusive run of free addresses.
type interval struct{ first, last uint128 }

// intervalLess orders disjoint intervals. Two intervals that overlap compare
// equal, which lets a single address act as a lookup key for the interval
// containing it and lets ReplaceOrInsert swap an interval for a shrunk or
// grown copy of itself in place. For disjoint intervals the order is the
// order of their start addresses.
func intervalLess(a, b interval) bool { return a.last.less(b.first) }

// freeSet is the free space of one subnet as disjoint, non-adjacent
// intervals, so every operation is O(log intervals).
type freeSet struct {
	tree *btree.BTreeG[interval]
	size uint128 // number of free addresses, kept in step with the tree
}

func newFreeSet(first, last uint128) *freeSet {
	s := &freeSet{tree: btree.NewG(freeTreeDegree, intervalLess)}
	// For ::/0 the size wraps to zero here; it comes right as soon as the
	// network address is removed, which every subnet does.
	s.insert(interval{first, last})
	return s
}

func point(a uint128) interval { return interval{a, a} }

func (s *freeSet) contains(a uint128) bool { return s.tree.Has(point(a)) }

// take removes one address; it reports false if the address was not free.
func (s *freeSet) take(a uint128) bool {
	iv, ok := s.tree.Get(point(a))
	if !ok {
		return false
	}
	s.takeFrom(iv, a)
	return true
}

// takeFrom removes address a from the free interval iv that contains it.
func (s *freeSet) takeFrom(iv interval, a uint128) {
	s.size = s.size.subOne()
	switch {
	case iv.first == iv.last:
		s.tree.Delete(iv)
	case a == iv.first:
		s.tree.ReplaceOrInsert(interval{a.addOne(), iv.last})
	case a == iv.last:
		s.tree.ReplaceOrInsert(interval{iv.first, a.subOne()})
	default:
		s.tree.ReplaceOrInsert(interval{iv.first, a.subOne()})
		s.tree.ReplaceOrInsert(interval{a.addOne(), iv.last})
	}
}

// next returns the first free address at or after from, wrapping around to
// the lowest free address; ok is false when nothing is free.
func (s *freeSet) next(from uint128) (a uint128, ok bool) {
	if iv, ok := s.firstEndingAtOrAfter(from); ok {
		if iv.first.less(from) {
			return from, true
		}
		return iv.first, true
	}
	iv, ok := s.tree.Min()
	return iv.first, ok
}

// put returns one address to the free space, merging it with the intervals
// on either side; it reports false if the address was already free.
func (s *freeSet) put(a uint128) bool {
	merged := point(a)
	// One descent finds the interval starting at or before a: it either
	// already holds a or is the left neighbour to merge with.
	if prev, ok := s.lastStartingAtOrBefore(a); ok {
		if !prev.last.less(a) {
			return false
		}
		if prev.last.addOne() == a {
			merged.first = prev.first
		}
	}
	// The guard stops the wrap-around at the all-ones address.
	if a != lowBits(128) {
		if next, ok := s.tree.Get(point(a.addOne())); ok {
			// Delete first so the merged interval overlaps at most one item.
			s.tree.Delete(next)
			merged.last = next.last
		}
	}
	s.tree.ReplaceOrInsert(merged)
	s.size = s.size.addOne()
	return true
}

func (s *freeSet) lastStartingAtOrBefore(a uint128) (found interval, ok bool) {
	// Under intervalLess an item is "at or before" the point a exactly when
	// it starts at or before a.
	s.tree.DescendLessOrEqual(point(a), func(iv interval) bool {
		found, ok = iv, true
		return false
	})
	return found, ok
}

// removeRange takes every free address in [first, last] out of the set; it
// is used while building a subnet, so it favours clarity over speed.
func (s *freeSet) removeRange(first, last uint128) {
	for {
		iv, ok := s.firstEndingAtOrAfter(first)
		if !ok || last.less(iv.first) {
			return
		}
		s.tree.Delete(iv)
		s.size = s.size.sub(iv.last.sub(iv.first).addOne())
		if iv.first.less(first) {
			s.insert(interval{iv.first, first.subOne()})
		}
		if last.less(iv.last) {
			s.insert(interval{last.addOne(), iv.last})
			return
		}
	}
}

func (s *freeSet) firstEndingAtOrAfter(a uint128) (found interval, ok bool) {
	s.tree.AscendGreaterOrEqual(point(a), func(iv interval) bool {
		found, ok = iv, true
		return false
	})
	return found, ok
}

func (s *freeSet) insert(iv interval) {
	s.tree.ReplaceOrInsert(iv)
	s.size = s.size.add(iv.last.sub(iv.first).addOne())
}
