package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// GarbageOps returns the ops that remove every row ovnet owns whose owner
// is no longer alive. Rows without ovnet's owner mark are never touched.
func (c *Client) GarbageOps(alive func(Owner) bool) ([]ovsdb.Operation, error) {
	dead := func(ids map[string]string) bool {
		o, ok := OwnerOf(ids)
		return ok && !alive(o)
	}
	var switches []nbdb.LogicalSwitch
	var routers []nbdb.LogicalRouter
	if err := c.nb.List(backgroundCtx(), &switches); err != nil {
		return nil, fmt.Errorf("list switches: %w", err)
	}
	if err := c.nb.List(backgroundCtx(), &routers); err != nil {
		return nil, fmt.Errorf("list routers: %w", err)
	}
	ops, err := c.portGarbage(dead)
	if err != nil {
		return nil, err
	}
	lbs, err := c.loadBalancerGarbage(dead)
	if err != nil {
		return nil, err
	}
	ops = append(ops, lbs...)
	for i := range switches {
		more, err := c.switchGarbage(&switches[i], dead)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	for i := range routers {
		more, err := c.routerGarbage(&routers[i], dead)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	more, err := c.policyGarbage(dead)
	if err != nil {
		return nil, err
	}
	return append(ops, more...), nil
}

// policyGarbage deletes dead owned port groups (their ACLs go with them)
// and address sets; both are root rows that nothing else removes.
func (c *Client) policyGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	var groups []nbdb.PortGroup
	if err := c.nb.WhereCache(func(pg *nbdb.PortGroup) bool { return dead(pg.ExternalIDs) }).List(backgroundCtx(), &groups); err != nil {
		return nil, fmt.Errorf("list dead port groups: %w", err)
	}
	var sets []nbdb.AddressSet
	if err := c.nb.WhereCache(func(as *nbdb.AddressSet) bool { return dead(as.ExternalIDs) }).List(backgroundCtx(), &sets); err != nil {
		return nil, fmt.Errorf("list dead address sets: %w", err)
	}
	var ops []ovsdb.Operation
	for i := range groups {
		more, err := c.nb.Where(&groups[i]).Delete()
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	for i := range sets {
		more, err := c.nb.Where(&sets[i]).Delete()
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

func (c *Client) switchGarbage(ls *nbdb.LogicalSwitch, dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	if dead(ls.ExternalIDs) {
		return c.nb.Where(ls).Delete()
	}
	return nil, nil
}

// portGarbage detaches dead owned ports from the switch they were recorded
// on; ports of a switch being deleted go with it.
func (c *Client) portGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	var ports []nbdb.LogicalSwitchPort
	err := c.nb.WhereCache(func(p *nbdb.LogicalSwitchPort) bool { return dead(p.ExternalIDs) }).List(backgroundCtx(), &ports)
	if err != nil {
		return nil, fmt.Errorf("list dead ports: %w", err)
	}
	bySwitch := map[string][]string{}
	for _, p := range ports {
		bySwitch[p.ExternalIDs[ExternalIDSwitch]] = append(bySwitch[p.ExternalIDs[ExternalIDSwitch]], p.UUID)
	}
	var ops []ovsdb.Operation
	for name, uuids := range bySwitch {
		if name == "" {
			more, err := c.detachUnrecorded(uuids)
			if err != nil {
				return nil, err
			}
			ops = append(ops, more...)
			continue
		}
		sw, err := c.switchOfPort(name)
		if err != nil {
			return nil, err
		}
		if sw == nil || dead(sw.ExternalIDs) {
			continue
		}
		more, err := c.nb.Where(sw).Mutate(sw, deleteRefs(&sw.Ports, uuids))
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

func (c *Client) routerGarbage(lr *nbdb.LogicalRouter, dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	if dead(lr.ExternalIDs) {
		return c.nb.Where(lr).Delete()
	}
	var ports, routes []string
	for _, uuid := range lr.Ports {
		lrp := &nbdb.LogicalRouterPort{UUID: uuid}
		if found, err := c.lookup(lrp); err != nil {
			return nil, err
		} else if found && dead(lrp.ExternalIDs) {
			ports = append(ports, uuid)
		}
	}
	for _, uuid := range lr.StaticRoutes {
		r := &nbdb.LogicalRouterStaticRoute{UUID: uuid}
		if found, err := c.lookup(r); err != nil {
			return nil, err
		} else if found && dead(r.ExternalIDs) {
			routes = append(routes, uuid)
		}
	}
	var ops []ovsdb.Operation
	if len(ports) > 0 {
		more, err := c.nb.Where(lr).Mutate(lr, deleteRefs(&lr.Ports, ports))
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	if len(routes) > 0 {
		more, err := c.nb.Where(lr).Mutate(lr, deleteRefs(&lr.StaticRoutes, routes))
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// OwnedSwitchPorts lists the ports ovnet owns, for rebuilding state.
func (c *Client) OwnedSwitchPorts() ([]SwitchPortRow, error) {
	var ports []nbdb.LogicalSwitchPort
	err := c.nb.WhereCache(func(p *nbdb.LogicalSwitchPort) bool {
		_, ok := OwnerOf(p.ExternalIDs)
		return ok
	}).List(backgroundCtx(), &ports)
	if err != nil {
		return nil, fmt.Errorf("list owned switch ports: %w", err)
	}
	rows := make([]SwitchPortRow, len(ports))
	for i, p := range ports {
		rows[i] = rowOf(&p)
	}
	return rows, nil
}
