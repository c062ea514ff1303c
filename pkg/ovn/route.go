package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// StaticRoute is the desired state of the one static route an owner has on
// a router.
type StaticRoute struct {
	Router  string
	Prefix  string // "192.168.0.5" or "10.0.0.0/8"
	Nexthop string
	Owner   Owner
}

// routesOf lists the router's static routes that belong to owner.
func (c *Client) routesOf(lr *nbdb.LogicalRouter, owner Owner) ([]nbdb.LogicalRouterStaticRoute, error) {
	routes, err := ovsdbtxn.List(c.db, func(r *nbdb.LogicalRouterStaticRoute) bool {
		o, ok := OwnerOf(r.ExternalIDs)
		return ok && o == owner && slices.Contains(lr.StaticRoutes, r.UUID)
	})
	if err != nil {
		return nil, fmt.Errorf("static routes of %s/%s: %w", owner.Kind, owner.Name, err)
	}
	return routes, nil
}

// StaticRouteOps returns the ops that make want the owner's only route on
// the router, or none when it already is.
func (c *Client) StaticRouteOps(want StaticRoute) ([]ovsdb.Operation, error) {
	lr, err := c.existingRouter(want.Router)
	if err != nil {
		return nil, err
	}
	routes, err := c.routesOf(lr, want.Owner)
	if err != nil {
		return nil, err
	}
	ids := want.Owner.ExternalIDs()
	var stale []string
	kept := false
	for _, r := range routes {
		if !kept && r.IPPrefix == want.Prefix && r.Nexthop == want.Nexthop && ovsdbtxn.Equivalent(r.ExternalIDs, ids) {
			kept = true
			continue
		}
		stale = append(stale, r.UUID)
	}
	var ops []ovsdb.Operation
	if len(stale) > 0 {
		if ops, err = c.db.DB().Where(lr).Mutate(lr, ovsdbtxn.DeleteRefs(&lr.StaticRoutes, stale...)); err != nil {
			return nil, fmt.Errorf("detach static routes of %s: %w", want.Owner.Name, err)
		}
	}
	if kept {
		return ops, nil
	}
	route := &nbdb.LogicalRouterStaticRoute{UUID: ovsdbtxn.NamedUUID(), IPPrefix: want.Prefix, Nexthop: want.Nexthop,
		ExternalIDs: ids}
	create, err := c.db.DB().Create(route)
	if err != nil {
		return nil, fmt.Errorf("create static route %s: %w", want.Prefix, err)
	}
	attach, err := c.db.DB().Where(lr).Mutate(lr, ovsdbtxn.InsertRefs(&lr.StaticRoutes, route.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach static route %s: %w", want.Prefix, err)
	}
	return slices.Concat(ops, create, attach), nil
}

// DeleteStaticRoutesOps removes every route owner has on the router.
func (c *Client) DeleteStaticRoutesOps(router string, owner Owner) ([]ovsdb.Operation, error) {
	lr, err := c.routerByName(router)
	if err != nil || lr == nil {
		return nil, err
	}
	routes, err := c.routesOf(lr, owner)
	if err != nil || len(routes) == 0 {
		return nil, err
	}
	uuids := make([]string, len(routes))
	for i, r := range routes {
		uuids[i] = r.UUID
	}
	ops, err := c.db.DB().Where(lr).Mutate(lr, ovsdbtxn.DeleteRefs(&lr.StaticRoutes, uuids...))
	if err != nil {
		return nil, fmt.Errorf("detach static routes of %s: %w", owner.Name, err)
	}
	return ops, nil
}
