package ovn

import (
	"errors"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
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
	return get(c, &nbdb.LogicalSwitch{Name: name})
}

// SwitchOps returns the ops that make want exist as described, or none
// when it already does.
func (c *Client) SwitchOps(want Switch) ([]ovsdb.Operation, error) {
	groups, err := c.groupUUIDs(want.LoadBalancerGroup)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", want.Name, err)
	}
	ls := &nbdb.LogicalSwitch{Name: want.Name, ExternalIDs: want.Owner.ExternalIDs(), OtherConfig: want.OtherConfig,
		LoadBalancerGroup: groups}
	res, err := ensure(c, "logical switch "+want.Name, ovsdbtxn.Row[*nbdb.LogicalSwitch]{
		Model: ls, Fields: []any{&ls.ExternalIDs, &ls.OtherConfig, &ls.LoadBalancerGroup}, Unique: &ls.Name,
	})
	return res.Ops, err
}

// groupUUIDs resolves a load balancer group's name to the switch column's
// value: none for no name, an error when the group does not exist.
func (c *Client) groupUUIDs(name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	g, err := get(c, &nbdb.LoadBalancerGroup{Name: name})
	if err != nil {
		return nil, fmt.Errorf("load balancer group %s: %w", name, err)
	}
	if g == nil {
		return nil, fmt.Errorf("%w: %s", ErrGroupMissing, name)
	}
	return []string{g.UUID}, nil
}

// ErrGroupMissing is returned for a switch whose load balancer group does
// not exist (yet).
var ErrGroupMissing = errors.New("load balancer group does not exist")

// DeleteSwitchOps removes a switch and, with it, every port on it.
func (c *Client) DeleteSwitchOps(name string) ([]ovsdb.Operation, error) {
	return deleteOps(c, "logical switch "+name, &nbdb.LogicalSwitch{Name: name})
}
