package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
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
	as := &nbdb.AddressSet{Name: want.Name, Addresses: want.Addresses, ExternalIDs: withOwner(want.Owner, want.ExternalIDs)}
	res, err := ensure(c, "address set "+want.Name, ovsdbtxn.Row[*nbdb.AddressSet]{
		Model: as, Fields: []any{&as.ExternalIDs}, MutatedSets: []*[]string{&as.Addresses},
	})
	return res.Ops, err
}

// DeleteOwnedAddressSetsOps removes the address sets owner wrote except
// those named in keep.
func (c *Client) DeleteOwnedAddressSetsOps(owner Owner, keep map[string]bool) ([]ovsdb.Operation, error) {
	sets, err := ovsdbtxn.List(c.db, func(as *nbdb.AddressSet) bool {
		o, ok := OwnerOf(as.ExternalIDs)
		return ok && o == owner && !keep[as.Name]
	})
	if err != nil {
		return nil, fmt.Errorf("address sets of %s/%s: %w", owner.Namespace, owner.Name, err)
	}
	return deleteRows(c, sets)
}

// deleteRows deletes each of rows, found by UUID.
func deleteRows[T any, P interface {
	*T
	model.Model
}](c *Client, rows []T) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for i := range rows {
		more, err := c.db.DB().Where(P(&rows[i])).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete %T: %w", P(&rows[i]), err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
