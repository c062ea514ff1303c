package ovn

import (
	"fmt"
	"strings"

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
		// The name first: a policy's reconcile looks at every set, and
		// one lookup turns almost all of them away.
		if as.ExternalIDs[ExternalIDName] != owner.Name {
			return false
		}
		o, ok := OwnerOf(as.ExternalIDs)
		return ok && o == owner && !keep[as.Name]
	})
	if err != nil {
		return nil, fmt.Errorf("address sets of %s/%s: %w", owner.Namespace, owner.Name, err)
	}
	return deleteRows(c, sets)
}

// AddressSetsByOwner returns the names of the address sets written by
// owners of kind, by owner: one pass over the table.
func (c *Client) AddressSetsByOwner(kind string) (map[Owner][]string, error) {
	sets, err := ovsdbtxn.List(c.db, func(as *nbdb.AddressSet) bool { return as.ExternalIDs[ExternalIDKind] == kind })
	if err != nil {
		return nil, fmt.Errorf("address sets of %s owners: %w", kind, err)
	}
	byOwner := map[Owner][]string{}
	for _, as := range sets {
		if o, ok := OwnerOf(as.ExternalIDs); ok {
			byOwner[o] = append(byOwner[o], as.Name)
		}
	}
	return byOwner, nil
}

// DeleteNamedAddressSetsOps removes those of the named address sets that
// owner wrote, each found by name; a name NB does not hold, or holds for
// another owner, is passed over.
func (c *Client) DeleteNamedAddressSetsOps(owner Owner, names []string) ([]ovsdb.Operation, error) {
	var rows []nbdb.AddressSet
	for _, name := range names {
		as, found, err := ovsdbtxn.Get(c.db, &nbdb.AddressSet{Name: name})
		if err != nil {
			return nil, fmt.Errorf("address set %s: %w", name, err)
		}
		if !found {
			continue
		}
		if o, ok := OwnerOf(as.ExternalIDs); ok && o == owner {
			rows = append(rows, *as)
		}
	}
	return deleteRows(c, rows)
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

// AddressSetFound reports whether the cache holds the address set.
func (c *Client) AddressSetFound(name string) (bool, error) {
	_, found, err := ovsdbtxn.Get(c.db, &nbdb.AddressSet{Name: name})
	if err != nil {
		return false, fmt.Errorf("address set %s: %w", name, err)
	}
	return found, nil
}

// AddressSetEditOps returns the op that adds and removes single addresses
// of an existing address set, without reading or rewriting the rest: the
// cost of one pod's change, whatever the set's size. None when there is
// nothing to change.
func (c *Client) AddressSetEditOps(name string, add, remove []string) ([]ovsdb.Operation, error) {
	as := &nbdb.AddressSet{Name: name}
	muts := ovsdbtxn.EditSet(&as.Addresses, add, remove)
	if len(muts) == 0 {
		return nil, nil
	}
	ops, err := c.db.DB().Where(as).Mutate(as, muts...)
	if err != nil {
		return nil, fmt.Errorf("edit address set %s: %w", name, err)
	}
	return ops, nil
}

// DeleteAddressSetOps removes an address set; none when it is already gone.
func (c *Client) DeleteAddressSetOps(name string) ([]ovsdb.Operation, error) {
	return deleteOps(c, "address set "+name, &nbdb.AddressSet{Name: name})
}

// OwnedAddressSets returns the names of the address sets whose owner has
// kind.
func (c *Client) OwnedAddressSets(kind string) ([]string, error) {
	sets, err := ovsdbtxn.List(c.db, func(as *nbdb.AddressSet) bool {
		o, ok := OwnerOf(as.ExternalIDs)
		return ok && o.Kind == kind
	})
	if err != nil {
		return nil, fmt.Errorf("address sets of kind %s: %w", kind, err)
	}
	names := make([]string, len(sets))
	for i, as := range sets {
		names[i] = as.Name
	}
	return names, nil
}

// NamedAddressSets returns the names of the address sets some ACL's
// match refers to ("$name").
func (c *Client) NamedAddressSets() (map[string]bool, error) {
	acls, err := ovsdbtxn.List(c.db, func(a *nbdb.ACL) bool { return strings.Contains(a.Match, "$") })
	if err != nil {
		return nil, fmt.Errorf("acls: %w", err)
	}
	named := map[string]bool{}
	for _, a := range acls {
		for rest := a.Match; ; {
			i := strings.IndexByte(rest, '$')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			end := strings.IndexFunc(rest, func(r rune) bool {
				return !(r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			})
			if end < 0 {
				end = len(rest)
			}
			named[rest[:end]] = true
		}
	}
	return named, nil
}
