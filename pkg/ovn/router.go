package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
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
}

func (c *Client) routerByName(name string) (*nbdb.LogicalRouter, error) {
	return find(c, &nbdb.LogicalRouter{Name: name})
}

// RouterOps returns the ops that make want exist, or none when it does.
func (c *Client) RouterOps(want Router) ([]ovsdb.Operation, error) {
	have, err := c.routerByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("logical router %s: %w", want.Name, err)
	}
	ids := want.Owner.ExternalIDs()
	if have == nil {
		lr := &nbdb.LogicalRouter{UUID: newNamedUUID(), Name: want.Name, ExternalIDs: ids}
		probe := &nbdb.LogicalRouter{Name: want.Name}
		ops, err := c.waitAbsent(probe, &probe.Name, want.Name)
		if err != nil {
			return nil, err
		}
		create, err := c.nb.Create(lr)
		if err != nil {
			return nil, fmt.Errorf("create logical router %s: %w", want.Name, err)
		}
		return append(ops, create...), nil
	}
	if sameMap(have.ExternalIDs, ids) {
		return nil, nil
	}
	have.ExternalIDs = ids
	ops, err := c.nb.Where(have).Update(have, &have.ExternalIDs)
	if err != nil {
		return nil, fmt.Errorf("update logical router %s: %w", want.Name, err)
	}
	return ops, nil
}

// RouterPortOps returns the ops that make want exist on its router, or none
// when it already does. The router must exist.
func (c *Client) RouterPortOps(want RouterPort) ([]ovsdb.Operation, error) {
	lr, err := c.routerByName(want.Router)
	if err != nil {
		return nil, fmt.Errorf("logical router %s: %w", want.Router, err)
	}
	if lr == nil {
		// Created by a transaction whose update has not reached the cache yet.
		lr = &nbdb.LogicalRouter{Name: want.Router}
	}
	have := &nbdb.LogicalRouterPort{Name: want.Name}
	found, err := c.lookup(have)
	if err != nil {
		return nil, fmt.Errorf("logical router port %s: %w", want.Name, err)
	}
	lrp := &nbdb.LogicalRouterPort{Name: want.Name, MAC: want.MAC, Networks: want.Networks, ExternalIDs: want.Owner.ExternalIDs()}
	if !found {
		lrp.UUID = newNamedUUID()
		ops, err := c.nb.Create(lrp)
		if err != nil {
			return nil, fmt.Errorf("create logical router port %s: %w", want.Name, err)
		}
		attach, err := c.selectRouter(lr).Mutate(lr, insertRef(&lr.Ports, lrp.UUID))
		if err != nil {
			return nil, fmt.Errorf("attach router port %s: %w", want.Name, err)
		}
		return append(ops, attach...), nil
	}
	if have.MAC == lrp.MAC && sameStrings(have.Networks, lrp.Networks) && sameMap(have.ExternalIDs, lrp.ExternalIDs) {
		return nil, nil
	}
	lrp.UUID = have.UUID
	ops, err := c.nb.Where(lrp).Update(lrp, &lrp.MAC, &lrp.Networks, &lrp.ExternalIDs)
	if err != nil {
		return nil, fmt.Errorf("update logical router port %s: %w", want.Name, err)
	}
	return ops, nil
}

// DeleteRouterPortOps detaches a port from its router; none if it is gone.
func (c *Client) DeleteRouterPortOps(router, name string) ([]ovsdb.Operation, error) {
	have := &nbdb.LogicalRouterPort{Name: name}
	found, err := c.lookup(have)
	if err != nil || !found {
		return nil, err
	}
	lr, err := c.existingRouter(router)
	if err != nil {
		return nil, err
	}
	ops, err := c.nb.Where(lr).Mutate(lr, deleteRef(&lr.Ports, have.UUID))
	if err != nil {
		return nil, fmt.Errorf("detach router port %s: %w", name, err)
	}
	return ops, nil
}

func (c *Client) existingRouter(name string) (*nbdb.LogicalRouter, error) {
	lr, err := c.routerByName(name)
	if err != nil {
		return nil, fmt.Errorf("logical router %s: %w", name, err)
	}
	if lr == nil {
		return nil, fmt.Errorf("logical router %s does not exist", name)
	}
	return lr, nil
}

// selectRouter selects a cached router by UUID, or one not yet in the cache
// by name.
func (c *Client) selectRouter(lr *nbdb.LogicalRouter) client.ConditionalAPI {
	if lr.UUID != "" {
		return c.nb.Where(lr)
	}
	return c.nb.WhereAny(lr, model.Condition{Field: &lr.Name, Function: ovsdb.ConditionEqual, Value: lr.Name})
}
