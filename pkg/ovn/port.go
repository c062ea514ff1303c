package ovn

import (
	"errors"
	"fmt"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// Logical switch port types ovnet uses.
const (
	PortTypeNormal = ""
	PortTypeRouter = "router"
)

// SwitchPort is the desired state of a logical switch port.
type SwitchPort struct {
	Switch       string
	Name         string
	Type         string
	Addresses    []string
	PortSecurity []string
	Options      map[string]string
	Owner        Owner
	// ExternalIDs are extra keys recorded beside the owner's.
	ExternalIDs map[string]string
	// SwitchInTransaction says the switch is created earlier in the same
	// transaction, so its absence from the cache is expected.
	SwitchInTransaction bool
}

// ErrSwitchMissing is returned for a port whose switch does not exist (yet).
var ErrSwitchMissing = errors.New("logical switch does not exist")

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
	return find(c, &nbdb.LogicalSwitchPort{Name: name})
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
	sw, err := c.switchByName(want.Switch)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", want.Switch, err)
	}
	if sw == nil {
		if !want.SwitchInTransaction {
			// Committing the port now would attach it to nothing, and OVSDB
			// would drop the unreferenced row.
			return nil, fmt.Errorf("port %s: %w: %s", want.Name, ErrSwitchMissing, want.Switch)
		}
		sw = &nbdb.LogicalSwitch{Name: want.Switch}
	}
	ids := withOwner(want.Owner, want.ExternalIDs)
	ids[ExternalIDSwitch] = want.Switch
	lsp := &nbdb.LogicalSwitchPort{
		Name: want.Name, Type: want.Type, Addresses: want.Addresses, PortSecurity: want.PortSecurity,
		Options: want.Options, ExternalIDs: ids,
	}
	if have == nil {
		return c.createPortOps(sw, lsp)
	}
	lsp.UUID = have.UUID
	var ops []ovsdb.Operation
	if oldSwitch := have.ExternalIDs[ExternalIDSwitch]; oldSwitch != want.Switch {
		if ops, err = c.movePortOps(have, oldSwitch, sw); err != nil {
			return nil, err
		}
	}
	if samePort(have, lsp) {
		return ops, nil
	}
	update, err := c.nb.Where(lsp).Update(lsp, &lsp.Type, &lsp.Addresses, &lsp.PortSecurity, &lsp.Options, &lsp.ExternalIDs)
	if err != nil {
		return nil, fmt.Errorf("update logical switch port %s: %w", want.Name, err)
	}
	return append(ops, update...), nil
}

func samePort(a, b *nbdb.LogicalSwitchPort) bool {
	return a.Type == b.Type && sameStrings(a.Addresses, b.Addresses) &&
		sameStrings(a.PortSecurity, b.PortSecurity) && sameMap(a.Options, b.Options) &&
		sameMap(a.ExternalIDs, b.ExternalIDs)
}

func (c *Client) createPortOps(sw *nbdb.LogicalSwitch, lsp *nbdb.LogicalSwitchPort) ([]ovsdb.Operation, error) {
	lsp.UUID = newNamedUUID()
	ops, err := c.nb.Create(lsp)
	if err != nil {
		return nil, fmt.Errorf("create logical switch port %s: %w", lsp.Name, err)
	}
	attach, err := c.selectSwitch(sw).Mutate(sw, insertRef(&sw.Ports, lsp.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach port %s to %s: %w", lsp.Name, sw.Name, err)
	}
	return append(ops, attach...), nil
}

// selectSwitch selects a cached switch by UUID, or one not yet in the cache
// (created earlier in the same transaction) by name.
func (c *Client) selectSwitch(sw *nbdb.LogicalSwitch) client.ConditionalAPI {
	if sw.UUID != "" {
		return c.nb.Where(sw)
	}
	return c.nb.WhereAny(sw, model.Condition{Field: &sw.Name, Function: ovsdb.ConditionEqual, Value: sw.Name})
}

func (c *Client) movePortOps(lsp *nbdb.LogicalSwitchPort, from string, to *nbdb.LogicalSwitch) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	if old, err := c.switchOfPort(from); err != nil {
		return nil, err
	} else if old != nil {
		if ops, err = c.nb.Where(old).Mutate(old, deleteRef(&old.Ports, lsp.UUID)); err != nil {
			return nil, fmt.Errorf("detach port %s from %s: %w", lsp.Name, old.Name, err)
		}
	}
	attach, err := c.selectSwitch(to).Mutate(to, insertRef(&to.Ports, lsp.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach port %s to %s: %w", lsp.Name, to.Name, err)
	}
	return append(ops, attach...), nil
}

// switchOfPort returns the switch a port was recorded on, or nil when the
// record is missing or the switch is gone. The cache does not hold the
// switches' port lists (see monitoredTables), so the record is the way.
func (c *Client) switchOfPort(recorded string) (*nbdb.LogicalSwitch, error) {
	if recorded == "" {
		return nil, nil
	}
	return c.switchByName(recorded)
}

// DeleteSwitchPortOps detaches a port from its switch; OVSDB then removes
// the unreferenced row. None if the port is already gone.
func (c *Client) DeleteSwitchPortOps(name string) ([]ovsdb.Operation, error) {
	have, err := c.portByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	sw, err := c.switchOfPort(have.ExternalIDs[ExternalIDSwitch])
	if err != nil {
		return nil, err
	}
	if sw == nil {
		return c.detachUnrecorded([]string{have.UUID})
	}
	ops, err := c.nb.Where(sw).Mutate(sw, deleteRef(&sw.Ports, have.UUID))
	if err != nil {
		return nil, fmt.Errorf("detach port %s from %s: %w", name, sw.Name, err)
	}
	return ops, nil
}

// detachUnrecorded detaches ports that carry no record of their switch
// (written by someone else, or by hand) from whichever switch holds them;
// the server finds it, as the cache does not hold the switches' port lists.
func (c *Client) detachUnrecorded(uuids []string) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, uuid := range uuids {
		sw := &nbdb.LogicalSwitch{}
		cond := model.Condition{Field: &sw.Ports, Function: ovsdb.ConditionIncludes, Value: []string{uuid}}
		more, err := c.nb.WhereAny(sw, cond).Mutate(sw, deleteRef(&sw.Ports, uuid))
		if err != nil {
			return nil, fmt.Errorf("detach port %s: %w", uuid, err)
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
