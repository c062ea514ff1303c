package ovn

import (
	"errors"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// Switch is the desired state of a logical switch.
type Switch struct {
	Name  string
	Owner Owner
	// OtherConfig carries settings such as the subnet, for ovn-trace and humans.
	OtherConfig map[string]string
	// LoadBalancerGroup names the group of load balancers (the cluster's
	// Services) the switch applies to traffic entering it; empty for none.
	// The group must exist.
	LoadBalancerGroup string
}

func (c *Client) switchByName(name string) (*nbdb.LogicalSwitch, error) {
	return find(c, &nbdb.LogicalSwitch{Name: name})
}

// SwitchOps returns the ops that make want exist as described, or none
// when it already does.
func (c *Client) SwitchOps(want Switch) ([]ovsdb.Operation, error) {
	have, err := c.switchByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", want.Name, err)
	}
	ids := want.Owner.ExternalIDs()
	groups, err := c.groupUUIDs(want.LoadBalancerGroup)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", want.Name, err)
	}
	if have == nil {
		ls := &nbdb.LogicalSwitch{UUID: newNamedUUID(), Name: want.Name, ExternalIDs: ids, OtherConfig: want.OtherConfig,
			LoadBalancerGroup: groups}
		probe := &nbdb.LogicalSwitch{Name: want.Name}
		ops, err := c.waitAbsent(probe, &probe.Name, want.Name)
		if err != nil {
			return nil, err
		}
		create, err := c.nb.Create(ls)
		if err != nil {
			return nil, fmt.Errorf("create logical switch %s: %w", want.Name, err)
		}
		return append(ops, create...), nil
	}
	if sameMap(have.ExternalIDs, ids) && sameMap(have.OtherConfig, want.OtherConfig) &&
		sameStrings(have.LoadBalancerGroup, groups) {
		return nil, nil
	}
	have.ExternalIDs, have.OtherConfig, have.LoadBalancerGroup = ids, want.OtherConfig, groups
	ops, err := c.nb.Where(have).Update(have, &have.ExternalIDs, &have.OtherConfig, &have.LoadBalancerGroup)
	if err != nil {
		return nil, fmt.Errorf("update logical switch %s: %w", want.Name, err)
	}
	return ops, nil
}

// groupUUIDs resolves a load balancer group's name to the switch column's
// value: none for no name, an error when the group does not exist.
func (c *Client) groupUUIDs(name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	g := &nbdb.LoadBalancerGroup{Name: name}
	found, err := c.lookup(g)
	if err != nil {
		return nil, fmt.Errorf("load balancer group %s: %w", name, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrGroupMissing, name)
	}
	return []string{g.UUID}, nil
}

// ErrGroupMissing is returned for a switch whose load balancer group does
// not exist (yet).
var ErrGroupMissing = errors.New("load balancer group does not exist")

// DeleteSwitchOps removes a switch and, with it, every port on it.
func (c *Client) DeleteSwitchOps(name string) ([]ovsdb.Operation, error) {
	have, err := c.switchByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	ops, err := c.nb.Where(have).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete logical switch %s: %w", name, err)
	}
	return ops, nil
}
