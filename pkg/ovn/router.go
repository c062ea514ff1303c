package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Router is the desired state of a logical router.
type Router struct {
	Name  string
	Owner Owner
}

// RouterPort is the desired state of a logical router port.
type RouterPort struct {
	Router   string
	Name     string
	MAC      string
	Networks []string // "10.16.0.1/16"
	Owner    Owner
	// RouterInTransaction says the router is created earlier in the same
	// transaction, so its absence from the cache is expected.
	RouterInTransaction bool
}

func (c *Client) routerByName(name string) (*nbdb.LogicalRouter, error) {
	return get(c, &nbdb.LogicalRouter{Name: name})
}

// RouterOps returns the ops that make want exist, or none when it does.
func (c *Client) RouterOps(want Router) ([]ovsdb.Operation, error) {
	lr := &nbdb.LogicalRouter{Name: want.Name, ExternalIDs: want.Owner.ExternalIDs()}
	res, err := ensure(c, "logical router "+want.Name, ovsdbtxn.Row[*nbdb.LogicalRouter]{
		Model: lr, Fields: []any{&lr.ExternalIDs}, Unique: &lr.Name,
	})
	return res.Ops, err
}

// RouterPortOps returns the ops that make want exist on its router, or none
// when it already does. The router must exist or be created in the same
// transaction, as a switch port's switch.
func (c *Client) RouterPortOps(want RouterPort) ([]ovsdb.Operation, error) {
	lrp := &nbdb.LogicalRouterPort{Name: want.Name, MAC: want.MAC, Networks: want.Networks,
		ExternalIDs: want.Owner.ExternalIDs()}
	res, err := ensure(c, "logical router port "+want.Name, ovsdbtxn.Row[*nbdb.LogicalRouterPort]{
		Model: lrp, Fields: []any{&lrp.MAC, &lrp.Networks, &lrp.ExternalIDs},
		Parent: routerParent(want.Router, routerPorts, want.RouterInTransaction),
	})
	if err != nil {
		return nil, parentError(err, ErrRouterMissing, want.Router)
	}
	return res.Ops, nil
}

// DeleteRouterPortOps detaches a port from its router; OVSDB then removes
// the unreferenced row. None if the port is already gone. As for switch
// ports, the port leaves whichever router holds it, and a router already
// gone is nothing to detach from.
func (c *Client) DeleteRouterPortOps(router, name string) ([]ovsdb.Operation, error) {
	have, err := get(c, &nbdb.LogicalRouterPort{Name: name})
	if err != nil || have == nil {
		return nil, err
	}
	lr := &nbdb.LogicalRouter{}
	ops, err := ovsdbtxn.DetachOps(c.db, lr, &lr.Ports, have.UUID)
	if err != nil {
		return nil, fmt.Errorf("detach router port %s from %s: %w", name, router, err)
	}
	return ops, nil
}

// existingRouter returns the cached router, or ErrRouterMissing.
func (c *Client) existingRouter(name string) (*nbdb.LogicalRouter, error) {
	lr, err := c.routerByName(name)
	if err != nil {
		return nil, fmt.Errorf("logical router %s: %w", name, err)
	}
	if lr == nil {
		return nil, fmt.Errorf("%w: %s", ErrRouterMissing, name)
	}
	return lr, nil
}
