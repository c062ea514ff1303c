package ovn

import (
	"errors"
	"fmt"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// get returns a copy of the cached row matching probe's name (or UUID),
// or nil when there is none.
func get[T model.Model](c *Client, probe T) (T, error) {
	row, _, err := ovsdbtxn.Get(c.db, probe)
	return row, err
}

// ensure returns the ops that make want's row as wanted; see
// ovsdbtxn.EnsureOps. what names the row in errors.
func ensure[T model.Model](c *Client, what string, want ovsdbtxn.Row[T]) (ovsdbtxn.Ensured, error) {
	res, err := ovsdbtxn.EnsureOps(c.db, want)
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

// deleteOps deletes the cached row matching probe; none when it is gone.
func deleteOps[T model.Model](c *Client, what string, probe T) ([]ovsdb.Operation, error) {
	have, found, err := ovsdbtxn.Get(c.db, probe)
	if err != nil || !found {
		return nil, err
	}
	ops, err := c.db.DB().Where(have).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete %s: %w", what, err)
	}
	return ops, nil
}

// Errors for a port whose parent is missing. Switch ports and router
// ports follow one rule: the parent must be in the cache, or be declared
// as created earlier in the same transaction (SwitchInTransaction,
// RouterInTransaction); deleting a port detaches it from whichever parent
// holds it, and a parent already gone is nothing to detach from.
var (
	// ErrSwitchMissing is returned for a port whose switch does not exist (yet).
	ErrSwitchMissing = errors.New("logical switch does not exist")
	// ErrRouterMissing is returned for a port whose router does not exist (yet).
	ErrRouterMissing = errors.New("logical router does not exist")
)

// switchParent is the switch a port or ACL hangs from.
func switchParent(name string, refs func(*nbdb.LogicalSwitch) *[]string, inTransaction bool) *ovsdbtxn.Parent {
	ls := &nbdb.LogicalSwitch{Name: name}
	return &ovsdbtxn.Parent{Model: ls, Refs: refs(ls), Name: &ls.Name, ByName: inTransaction}
}

// routerParent is the router a port or route hangs from.
func routerParent(name string, refs func(*nbdb.LogicalRouter) *[]string, inTransaction bool) *ovsdbtxn.Parent {
	lr := &nbdb.LogicalRouter{Name: name}
	return &ovsdbtxn.Parent{Model: lr, Refs: refs(lr), Name: &lr.Name, ByName: inTransaction}
}

// parentError names the missing parent with the package's own error.
func parentError(err error, missing error, parent string) error {
	if errors.Is(err, ovsdbtxn.ErrParentMissing) {
		return fmt.Errorf("%w: %s", missing, parent)
	}
	return err
}

func switchPorts(ls *nbdb.LogicalSwitch) *[]string { return &ls.Ports }
func switchACLs(ls *nbdb.LogicalSwitch) *[]string  { return &ls.ACLs }
func routerPorts(lr *nbdb.LogicalRouter) *[]string { return &lr.Ports }
