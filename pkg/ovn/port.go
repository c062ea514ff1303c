package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Logical switch port types ovnet uses.
const (
	PortTypeNormal = ""
	PortTypeRouter = "router"
	// PortTypeLocalnet bridges a switch to a physical network through
	// the bridge ovn-bridge-mappings names for options:network_name.
	PortTypeLocalnet = "localnet"
)

// SwitchPort is the desired state of a logical switch port.
type SwitchPort struct {
	Switch       string
	Name         string
	Type         string
	Addresses    []string
	PortSecurity []string
	Options      map[string]string
	// Tag is a localnet port's VLAN tag; nil for untagged.
	Tag   *int
	Owner Owner
	// ExternalIDs are extra keys recorded beside the owner's.
	ExternalIDs map[string]string
	// SwitchInTransaction says the switch is created earlier in the same
	// transaction, so its absence from the cache is expected.
	SwitchInTransaction bool
}

// SwitchPortRow is what the database holds for a port.
type SwitchPortRow struct {
	Name        string
	Switch      string
	Addresses   []string
	ExternalIDs map[string]string
	Owner       Owner
}

func rowOf(lsp *nbdb.LogicalSwitchPort) SwitchPortRow {
	owner, _ := OwnerOf(lsp.ExternalIDs)
	return SwitchPortRow{Name: lsp.Name, Switch: lsp.ExternalIDs[ExternalIDSwitch], Addresses: lsp.Addresses,
		ExternalIDs: lsp.ExternalIDs, Owner: owner}
}

func (c *Client) portByName(name string) (*nbdb.LogicalSwitchPort, error) {
	return get(c, &nbdb.LogicalSwitchPort{Name: name})
}

// SwitchPort reads a port from the cache.
func (c *Client) SwitchPort(name string) (SwitchPortRow, bool, error) {
	lsp, err := c.portByName(name)
	if err != nil || lsp == nil {
		return SwitchPortRow{}, false, err
	}
	return rowOf(lsp), true, nil
}

// SwitchPortOps returns the ops that make want exist on its switch as
// described (moving it if it sits on another switch), or none when it already
// does. The switch must exist or be created in the same transaction.
func (c *Client) SwitchPortOps(want SwitchPort) ([]ovsdb.Operation, error) {
	have, err := c.portByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("logical switch port %s: %w", want.Name, err)
	}
	ids := withOwner(want.Owner, want.ExternalIDs)
	ids[ExternalIDSwitch] = want.Switch
	lsp := &nbdb.LogicalSwitchPort{
		Name: want.Name, Type: want.Type, Addresses: want.Addresses, PortSecurity: want.PortSecurity,
		Options: want.Options, ExternalIDs: ids, Tag: want.Tag,
	}
	parent := switchParent(want.Switch, switchPorts, want.SwitchInTransaction)
	res, err := ensure(c, "logical switch port "+want.Name, ovsdbtxn.Row[*nbdb.LogicalSwitchPort]{
		Model: lsp, Fields: []any{&lsp.Type, &lsp.Addresses, &lsp.PortSecurity, &lsp.Options, &lsp.ExternalIDs, &lsp.Tag},
		Parent: parent,
	})
	if err != nil {
		return nil, parentError(err, ErrSwitchMissing, want.Switch)
	}
	if have == nil || have.ExternalIDs[ExternalIDSwitch] == want.Switch {
		return res.Ops, nil
	}
	// The port sits on another switch: detached from it and attached to
	// want's in the same transaction, so the row is never unreferenced.
	ls := &nbdb.LogicalSwitch{}
	move, err := ovsdbtxn.DetachOps(c.db, ls, &ls.Ports, have.UUID)
	if err != nil {
		return nil, fmt.Errorf("move port %s: %w", want.Name, err)
	}
	attach, err := ovsdbtxn.AttachOps(c.db, parent, have.UUID)
	if err != nil {
		return nil, fmt.Errorf("move port %s: %w", want.Name, parentError(err, ErrSwitchMissing, want.Switch))
	}
	return slices.Concat(move, attach, res.Ops), nil
}

// DeleteSwitchPortOps detaches a port from its switch; OVSDB then removes
// the unreferenced row. None if the port is already gone.
func (c *Client) DeleteSwitchPortOps(name string) ([]ovsdb.Operation, error) {
	c.knownPorts.Delete(name) // a port group's next lookup reads the cache
	have, err := c.portByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	ls := &nbdb.LogicalSwitch{}
	return ovsdbtxn.DetachOps(c.db, ls, &ls.Ports, have.UUID)
}
