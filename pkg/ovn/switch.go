package ovn

import (
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
}

func (c *Client) switchByName(name string) (*nbdb.LogicalSwitch, error) {
	ls := &nbdb.LogicalSwitch{Name: name}
	found, err := c.lookup(ls)
	if err != nil || !found {
		return nil, err
	}
	return ls, nil
}

// SwitchOps returns the ops that make want exist as described, or none
// when it already does.
func (c *Client) SwitchOps(want Switch) ([]ovsdb.Operation, error) {
	have, err := c.switchByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", want.Name, err)
	}
	ids := want.Owner.ExternalIDs()
	if have == nil {
		ls := &nbdb.LogicalSwitch{UUID: newNamedUUID(), Name: want.Name, ExternalIDs: ids, OtherConfig: want.OtherConfig}
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
	if sameMap(have.ExternalIDs, ids) && sameMap(have.OtherConfig, want.OtherConfig) {
		return nil, nil
	}
	have.ExternalIDs, have.OtherConfig = ids, want.OtherConfig
	ops, err := c.nb.Where(have).Update(have, &have.ExternalIDs, &have.OtherConfig)
	if err != nil {
		return nil, fmt.Errorf("update logical switch %s: %w", want.Name, err)
	}
	return ops, nil
}

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
