package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// PortGroup is the desired state of a port group and its ACLs.
type PortGroup struct {
	Name  string
	Owner Owner
	// Ports are logical switch port names; ports not (yet) in the database
	// are left out, and a later reconcile adds them.
	Ports []string
	ACLs  []ACL
	// ExternalIDs are extra keys recorded beside the owner's.
	ExternalIDs map[string]string
}

func (c *Client) portGroupByName(name string) (*nbdb.PortGroup, error) {
	return get(c, &nbdb.PortGroup{Name: name})
}

// portUUIDs resolves port names to the UUIDs of the ports in the cache.
// A port's name and UUID are fixed for its life, so a UUID found once is
// reused while the cache still holds that row: reading the row itself
// copies it through JSON (libovsdb's model.Clone), which for the hundreds
// of ports of a namespace's deny groups was most of a policy reconcile.
func (c *Client) portUUIDs(names []string) ([]string, error) {
	rows := c.db.DB().Cache().Table(nbdb.LogicalSwitchPortTable)
	uuids := make([]string, 0, len(names))
	for _, name := range names {
		if uuid, ok := c.knownPorts.Load(name); ok && rows != nil && rows.HasRow(uuid.(string)) {
			uuids = append(uuids, uuid.(string))
			continue
		}
		lsp, err := c.portByName(name)
		if err != nil {
			return nil, fmt.Errorf("logical switch port %s: %w", name, err)
		}
		if lsp == nil {
			c.knownPorts.Delete(name)
			continue
		}
		c.knownPorts.Store(name, lsp.UUID)
		uuids = append(uuids, lsp.UUID)
	}
	return uuids, nil
}

// PortGroupOps returns the ops that make want exist with exactly its ports
// and ACLs, changing only what differs; none when it already matches.
func (c *Client) PortGroupOps(want PortGroup) ([]ovsdb.Operation, error) {
	ports, err := c.portUUIDs(want.Ports)
	if err != nil {
		return nil, err
	}
	have, err := c.portGroupByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("port group %s: %w", want.Name, err)
	}
	var haveACLs []string
	if have != nil {
		haveACLs = have.ACLs
	}
	ch, err := c.diffACLs(haveACLs, want.ACLs, want.Owner)
	if err != nil {
		return nil, fmt.Errorf("port group %s: %w", want.Name, err)
	}
	ops, err := c.createACLOps(ch)
	if err != nil {
		return nil, err
	}
	pg := &nbdb.PortGroup{Name: want.Name, Ports: ports, ExternalIDs: withOwner(want.Owner, want.ExternalIDs)}
	if have == nil {
		pg.ACLs = ch.newUUIDs()
	}
	res, err := ensure(c, "port group "+want.Name, ovsdbtxn.Row[*nbdb.PortGroup]{
		Model: pg, Fields: []any{&pg.ExternalIDs}, MutatedSets: []*[]string{&pg.Ports},
	})
	if err != nil {
		return nil, err
	}
	ops = append(ops, res.Ops...)
	if res.Created || ch.empty() {
		return ops, nil
	}
	acls, err := c.db.DB().Where(pg).Mutate(pg, ch.refsOps(&pg.ACLs)...)
	if err != nil {
		return nil, fmt.Errorf("set acls of port group %s: %w", want.Name, err)
	}
	return append(ops, acls...), nil
}

// DeletePortGroupOps removes a port group; its ACLs, referenced by nothing
// else, go with it. None when it is already gone.
func (c *Client) DeletePortGroupOps(name string) ([]ovsdb.Operation, error) {
	return deleteOps(c, "port group "+name, &nbdb.PortGroup{Name: name})
}

// PortMembershipOps returns the ops that put one switch port in the port
// groups of want whose value is true and take it out of the others, by
// mutating each group's ports alone: the cost of one pod's change,
// whatever the groups' sizes. Groups not in the database are left to
// whoever creates them, and a port not in the database is in no group
// (its references went with it); none when every group is already right.
func (c *Client) PortMembershipOps(port string, want map[string]bool) ([]ovsdb.Operation, error) {
	uuids, err := c.portUUIDs([]string{port})
	if err != nil || len(uuids) == 0 {
		return nil, err
	}
	var ops []ovsdb.Operation
	for name, member := range want {
		have, err := c.portGroupByName(name)
		if err != nil {
			return nil, fmt.Errorf("port group %s: %w", name, err)
		}
		if have == nil || slices.Contains(have.Ports, uuids[0]) == member {
			continue
		}
		var add, remove []string
		if member {
			add = uuids
		} else {
			remove = uuids
		}
		pg := &nbdb.PortGroup{Name: name}
		more, err := c.db.DB().Where(pg).Mutate(pg, ovsdbtxn.EditSet(&pg.Ports, add, remove)...)
		if err != nil {
			return nil, fmt.Errorf("edit ports of port group %s: %w", name, err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
