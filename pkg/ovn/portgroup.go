package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

type modelMutation = model.Mutation

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
	return find(c, &nbdb.PortGroup{Name: name})
}

// portUUIDs resolves port names to the UUIDs of the ports in the cache.
func (c *Client) portUUIDs(names []string) ([]string, error) {
	uuids := make([]string, 0, len(names))
	for _, name := range names {
		lsp, err := c.portByName(name)
		if err != nil {
			return nil, fmt.Errorf("logical switch port %s: %w", name, err)
		}
		if lsp != nil {
			uuids = append(uuids, lsp.UUID)
		}
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
	ids := withOwner(want.Owner, want.ExternalIDs)
	if have == nil {
		pg := &nbdb.PortGroup{UUID: newNamedUUID(), Name: want.Name, Ports: ports, ACLs: ch.newUUIDs(), ExternalIDs: ids}
		create, err := c.nb.Create(pg)
		if err != nil {
			return nil, fmt.Errorf("create port group %s: %w", want.Name, err)
		}
		return append(ops, create...), nil
	}
	more, err := c.updatePortGroupOps(have, ports, ch, ids)
	return append(ops, more...), err
}

func (c *Client) updatePortGroupOps(have *nbdb.PortGroup, ports []string, ch aclChange, ids map[string]string) ([]ovsdb.Operation, error) {
	var mutations []model.Mutation
	added, removed := diffSets(have.Ports, ports)
	if len(added) > 0 {
		mutations = append(mutations, insertRefs(&have.Ports, added))
	}
	if len(removed) > 0 {
		mutations = append(mutations, deleteRefs(&have.Ports, removed))
	}
	if len(ch.create) > 0 {
		mutations = append(mutations, insertRefs(&have.ACLs, ch.newUUIDs()))
	}
	if len(ch.drop) > 0 {
		mutations = append(mutations, deleteRefs(&have.ACLs, ch.drop))
	}
	var ops []ovsdb.Operation
	if len(mutations) > 0 {
		more, err := c.nb.Where(have).Mutate(have, mutations...)
		if err != nil {
			return nil, fmt.Errorf("update port group %s: %w", have.Name, err)
		}
		ops = append(ops, more...)
	}
	if !sameMap(have.ExternalIDs, ids) {
		have.ExternalIDs = ids
		more, err := c.nb.Where(have).Update(have, &have.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update port group %s: %w", have.Name, err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// DeletePortGroupOps removes a port group; its ACLs, referenced by nothing
// else, go with it. None when it is already gone.
func (c *Client) DeletePortGroupOps(name string) ([]ovsdb.Operation, error) {
	have, err := c.portGroupByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	ops, err := c.nb.Where(have).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete port group %s: %w", name, err)
	}
	return ops, nil
}

// PortGroupExists reports whether a port group of that name is in the cache.
func (c *Client) PortGroupExists(name string) (bool, error) {
	pg, err := c.portGroupByName(name)
	return pg != nil, err
}

// diffSets returns what want has that have lacks, and the reverse.
func diffSets(have, want []string) (added, removed []string) {
	in := make(map[string]bool, len(have))
	for _, h := range have {
		in[h] = true
	}
	for _, w := range want {
		if !in[w] {
			added = append(added, w)
		}
		delete(in, w)
	}
	for _, h := range have {
		if in[h] {
			removed = append(removed, h)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return slices.Compact(added), removed
}
