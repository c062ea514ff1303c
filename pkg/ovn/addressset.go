package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// AddressSet is the desired state of an address set.
type AddressSet struct {
	Name      string
	Owner     Owner
	Addresses []string
	// ExternalIDs are extra keys recorded beside the owner's.
	ExternalIDs map[string]string
}

// AddressSetOps returns the ops that make want exist with exactly its
// addresses, adding and removing only what differs.
func (c *Client) AddressSetOps(want AddressSet) ([]ovsdb.Operation, error) {
	have := &nbdb.AddressSet{Name: want.Name}
	found, err := c.lookup(have)
	if err != nil {
		return nil, fmt.Errorf("address set %s: %w", want.Name, err)
	}
	ids := withOwner(want.Owner, want.ExternalIDs)
	if !found {
		as := &nbdb.AddressSet{UUID: newNamedUUID(), Name: want.Name, Addresses: want.Addresses, ExternalIDs: ids}
		ops, err := c.nb.Create(as)
		if err != nil {
			return nil, fmt.Errorf("create address set %s: %w", want.Name, err)
		}
		return ops, nil
	}
	var mutations []model.Mutation
	added, removed := diffSets(have.Addresses, want.Addresses)
	if len(added) > 0 {
		mutations = append(mutations, insertRefs(&have.Addresses, added))
	}
	if len(removed) > 0 {
		mutations = append(mutations, deleteRefs(&have.Addresses, removed))
	}
	var ops []ovsdb.Operation
	if len(mutations) > 0 {
		if ops, err = c.nb.Where(have).Mutate(have, mutations...); err != nil {
			return nil, fmt.Errorf("update address set %s: %w", want.Name, err)
		}
	}
	if !sameMap(have.ExternalIDs, ids) {
		have.ExternalIDs = ids
		more, err := c.nb.Where(have).Update(have, &have.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update address set %s: %w", want.Name, err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// DeleteOwnedAddressSetsOps removes the address sets owner wrote except
// those named in keep.
func (c *Client) DeleteOwnedAddressSetsOps(owner Owner, keep map[string]bool) ([]ovsdb.Operation, error) {
	var sets []nbdb.AddressSet
	err := c.nb.WhereCache(func(as *nbdb.AddressSet) bool {
		o, ok := OwnerOf(as.ExternalIDs)
		return ok && o == owner && !keep[as.Name]
	}).List(backgroundCtx(), &sets)
	if err != nil {
		return nil, fmt.Errorf("list address sets of %s/%s: %w", owner.Namespace, owner.Name, err)
	}
	var ops []ovsdb.Operation
	for i := range sets {
		more, err := c.nb.Where(&sets[i]).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete address set %s: %w", sets[i].Name, err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
