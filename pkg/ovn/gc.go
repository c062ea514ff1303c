package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// GarbageOps returns the ops that remove every row ovnet owns whose owner
// is no longer alive. Rows without ovnet's owner mark are never touched.
func (c *Client) GarbageOps(alive func(Owner) bool) ([]ovsdb.Operation, error) {
	dead := func(ids map[string]string) bool {
		o, ok := OwnerOf(ids)
		return ok && !alive(o)
	}
	var ops []ovsdb.Operation
	for _, collect := range []func(func(map[string]string) bool) ([]ovsdb.Operation, error){
		c.portGarbage, c.loadBalancerGarbage, c.switchGarbage, c.routerGarbage, c.policyGarbage,
	} {
		more, err := collect(dead)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// policyGarbage deletes dead owned port groups (their ACLs go with them)
// and address sets; both are root rows that nothing else removes.
func (c *Client) policyGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	groups, err := ovsdbtxn.List(c.db, func(pg *nbdb.PortGroup) bool { return dead(pg.ExternalIDs) })
	if err != nil {
		return nil, fmt.Errorf("dead port groups: %w", err)
	}
	sets, err := ovsdbtxn.List(c.db, func(as *nbdb.AddressSet) bool { return dead(as.ExternalIDs) })
	if err != nil {
		return nil, fmt.Errorf("dead address sets: %w", err)
	}
	ops, err := deleteRows(c, groups)
	if err != nil {
		return nil, err
	}
	more, err := deleteRows(c, sets)
	return append(ops, more...), err
}

func (c *Client) switchGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	switches, err := ovsdbtxn.List(c.db, func(ls *nbdb.LogicalSwitch) bool { return dead(ls.ExternalIDs) })
	if err != nil {
		return nil, fmt.Errorf("dead switches: %w", err)
	}
	return deleteRows(c, switches)
}

// portGarbage detaches dead owned ports from the switch holding them;
// ports of a switch being deleted go with it.
func (c *Client) portGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	ports, err := ovsdbtxn.List(c.db, func(p *nbdb.LogicalSwitchPort) bool { return dead(p.ExternalIDs) })
	if err != nil {
		return nil, fmt.Errorf("dead ports: %w", err)
	}
	var uuids []string
	for _, p := range ports {
		if name := p.ExternalIDs[ExternalIDSwitch]; name != "" {
			sw, err := c.switchByName(name)
			if err != nil {
				return nil, err
			}
			if sw != nil && dead(sw.ExternalIDs) {
				continue
			}
		}
		uuids = append(uuids, p.UUID)
	}
	ls := &nbdb.LogicalSwitch{}
	return ovsdbtxn.DetachOps(c.db, ls, &ls.Ports, uuids...)
}

// routerGarbage deletes dead routers and detaches dead ports, routes and
// policies from the live ones.
func (c *Client) routerGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	routers, err := ovsdbtxn.List[nbdb.LogicalRouter](c.db, nil)
	if err != nil {
		return nil, fmt.Errorf("routers: %w", err)
	}
	var ops []ovsdb.Operation
	for i := range routers {
		lr := &routers[i]
		if dead(lr.ExternalIDs) {
			more, err := c.db.DB().Where(lr).Delete()
			if err != nil {
				return nil, err
			}
			ops = append(ops, more...)
			continue
		}
		ports := deadRefs[*nbdb.LogicalRouterPort](c, lr.Ports, func(p *nbdb.LogicalRouterPort) map[string]string { return p.ExternalIDs }, dead)
		routes := deadRefs[*nbdb.LogicalRouterStaticRoute](c, lr.StaticRoutes, func(r *nbdb.LogicalRouterStaticRoute) map[string]string { return r.ExternalIDs }, dead)
		policies := deadRefs[*nbdb.LogicalRouterPolicy](c, lr.Policies, func(r *nbdb.LogicalRouterPolicy) map[string]string { return r.ExternalIDs }, dead)
		var muts []model.Mutation
		if len(policies) > 0 {
			muts = append(muts, ovsdbtxn.DeleteRefs(&lr.Policies, policies...))
		}
		if len(ports) > 0 {
			muts = append(muts, ovsdbtxn.DeleteRefs(&lr.Ports, ports...))
		}
		if len(routes) > 0 {
			muts = append(muts, ovsdbtxn.DeleteRefs(&lr.StaticRoutes, routes...))
		}
		if len(muts) == 0 {
			continue
		}
		more, err := c.db.DB().Where(lr).Mutate(lr, muts...)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// deadRefs returns the referenced rows whose owner is dead.
func deadRefs[T model.Model](c *Client, uuids []string, ids func(T) map[string]string, dead func(map[string]string) bool) []string {
	var out []string
	for _, uuid := range uuids {
		if row, ok := ovsdbtxn.ByUUID[T](c.db, uuid); ok && dead(ids(row)) {
			out = append(out, uuid)
		}
	}
	return out
}

// OwnedSwitchPorts lists the ports ovnet owns, for rebuilding state.
func (c *Client) OwnedSwitchPorts() ([]SwitchPortRow, error) {
	ports, err := ovsdbtxn.List(c.db, func(p *nbdb.LogicalSwitchPort) bool {
		_, ok := OwnerOf(p.ExternalIDs)
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("owned switch ports: %w", err)
	}
	rows := make([]SwitchPortRow, len(ports))
	for i, p := range ports {
		rows[i] = rowOf(&p)
	}
	return rows, nil
}
