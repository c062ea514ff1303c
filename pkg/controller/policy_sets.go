package controller

import (
	"maps"
	"slices"
	"sync"

	"github.com/ovnet/ovnet/pkg/ovn"
)

// policySets remembers the names of the address sets each policy wrote
// (its named-port sets, and per-policy peer sets of versions before the
// shared ones), so that a reconcile finds those it no longer needs without
// looking at every address set in NB: 500 policies each passing over 400
// sets took a fifth of a cold start's policy CPU.
//
// It is filled from NB on first use, then kept by the reconciles, the only
// writers of these sets. A name remembered that NB no longer holds costs a
// lookup and nothing else, while a set NB holds and the index lacks would
// stay behind; so names are added before a transaction and dropped only
// once one has committed.
type policySets struct {
	mu sync.Mutex
	// byOwner is nil until loaded.
	byOwner map[ovn.Owner]map[string]bool
}

// stale returns the names owner's sets may hold beyond keep, and
// remembers keep as owner's, before the transaction writes them.
func (s *policySets) stale(nb *ovn.Client, owner ovn.Owner, keep map[string]bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(nb); err != nil {
		return nil, err
	}
	known := s.byOwner[owner]
	if known == nil {
		known = map[string]bool{}
		s.byOwner[owner] = known
	}
	var stale []string
	for name := range known {
		if !keep[name] {
			stale = append(stale, name)
		}
	}
	maps.Copy(known, keep)
	slices.Sort(stale)
	return stale, nil
}

// load reads every policy's sets from NB, once.
func (s *policySets) load(nb *ovn.Client) error {
	if s.byOwner != nil {
		return nil
	}
	byOwner, err := nb.AddressSetsByOwner(ovn.KindNetworkPolicy)
	if err != nil {
		return err
	}
	s.byOwner = make(map[ovn.Owner]map[string]bool, len(byOwner))
	for owner, names := range byOwner {
		s.byOwner[owner] = make(map[string]bool, len(names))
		for _, name := range names {
			s.byOwner[owner][name] = true
		}
	}
	return nil
}

// committed records that owner's sets are now exactly keep.
func (s *policySets) committed(owner ovn.Owner, keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byOwner != nil {
		s.byOwner[owner] = maps.Clone(keep)
	}
}

// removed records that owner's sets are gone.
func (s *policySets) removed(owner ovn.Owner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byOwner, owner)
}
