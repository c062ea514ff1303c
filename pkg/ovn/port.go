package ovn

import (
	"fmt"
	"maps"
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
//
// The operations are built by hand, column by column, rather than through
// libovsdb's model mapper: a port is written for every pod, and the
// mapper's reflection was most of the cost of building them
// (test/perf/README.md, "Sixth round").
func (c *Client) SwitchPortOps(want SwitchPort) ([]ovsdb.Operation, error) {
	have, err := c.portByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("logical switch port %s: %w", want.Name, err)
	}
	ids := withOwner(want.Owner, want.ExternalIDs)
	ids[ExternalIDSwitch] = want.Switch
	var ops []ovsdb.Operation
	if have != nil {
		ops = updatePortOps(have, want, ids)
		// A port already on its switch (every reconcile of a pod that
		// has one, a restart's included) does not read the switch: a
		// switch's row is copied out of the cache to be read.
		if have.ExternalIDs[ExternalIDSwitch] == want.Switch {
			return ops, nil
		}
	}
	onSwitch, err := c.switchCondition(want)
	if err != nil {
		return nil, err
	}
	if have == nil {
		uuid := ovsdbtxn.NamedUUID()
		return []ovsdb.Operation{insertPortOp(want, ids, uuid), attachPortOp(onSwitch, uuid)}, nil
	}
	// The port sits on another switch: detached from it and attached to
	// want's in the same transaction, so the row is never unreferenced.
	ls := &nbdb.LogicalSwitch{}
	move, err := ovsdbtxn.DetachOps(c.db, ls, &ls.Ports, have.UUID)
	if err != nil {
		return nil, fmt.Errorf("move port %s: %w", want.Name, err)
	}
	return slices.Concat(move, []ovsdb.Operation{attachPortOp(onSwitch, have.UUID)}, ops), nil
}

// switchCondition selects want's switch: by its UUID from the cache, or by
// name when it is created in the same transaction. A switch in neither is
// ErrSwitchMissing: a port attached to nothing would be dropped by OVSDB.
func (c *Client) switchCondition(want SwitchPort) (ovsdb.Condition, error) {
	if want.SwitchInTransaction {
		return ovsdb.NewCondition("name", ovsdb.ConditionEqual, want.Switch), nil
	}
	ls, found, err := ovsdbtxn.Get(c.db, &nbdb.LogicalSwitch{Name: want.Switch})
	if err != nil {
		return ovsdb.Condition{}, fmt.Errorf("logical switch port %s: %w", want.Name, err)
	}
	if !found {
		return ovsdb.Condition{}, fmt.Errorf("%w: %s", ErrSwitchMissing, want.Switch)
	}
	return ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: ls.UUID}), nil
}

// insertPortOp inserts want's port under the named UUID. Columns at their
// default are left out, as libovsdb's mapper leaves them.
func insertPortOp(want SwitchPort, ids map[string]string, uuid string) ovsdb.Operation {
	row := ovsdb.Row{"name": want.Name, "external_ids": ovsMap(ids)}
	if want.Type != "" {
		row["type"] = want.Type
	}
	if len(want.Addresses) > 0 {
		row["addresses"] = ovsSet(want.Addresses)
	}
	if len(want.PortSecurity) > 0 {
		row["port_security"] = ovsSet(want.PortSecurity)
	}
	if len(want.Options) > 0 {
		row["options"] = ovsMap(want.Options)
	}
	if want.Tag != nil {
		row["tag"] = ovsTag(want.Tag)
	}
	return ovsdb.Operation{Op: ovsdb.OperationInsert, Table: nbdb.LogicalSwitchPortTable, UUIDName: uuid, Row: row}
}

// attachPortOp adds the port (its UUID or named UUID) to the ports of the
// switch onSwitch selects.
func attachPortOp(onSwitch ovsdb.Condition, uuid string) ovsdb.Operation {
	ref := ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: uuid}}}
	return ovsdb.Operation{Op: ovsdb.OperationMutate, Table: nbdb.LogicalSwitchTable, Where: []ovsdb.Condition{onSwitch},
		Mutations: []ovsdb.Mutation{*ovsdb.NewMutation("ports", ovsdb.MutateOperationInsert, ref)}}
}

// updatePortOps updates the columns of have that ovnet owns and that
// differ from want; none when all are as wanted. Sets compare as sets.
func updatePortOps(have *nbdb.LogicalSwitchPort, want SwitchPort, ids map[string]string) []ovsdb.Operation {
	row := ovsdb.Row{}
	if have.Type != want.Type {
		row["type"] = want.Type
	}
	if !sameSet(have.Addresses, want.Addresses) {
		row["addresses"] = ovsSet(want.Addresses)
	}
	if !sameSet(have.PortSecurity, want.PortSecurity) {
		row["port_security"] = ovsSet(want.PortSecurity)
	}
	if !maps.Equal(have.Options, want.Options) {
		row["options"] = ovsMap(want.Options)
	}
	if !maps.Equal(have.ExternalIDs, ids) {
		row["external_ids"] = ovsMap(ids)
	}
	if (have.Tag == nil) != (want.Tag == nil) || have.Tag != nil && *have.Tag != *want.Tag {
		row["tag"] = ovsTag(want.Tag)
	}
	if len(row) == 0 {
		return nil
	}
	byUUID := ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: have.UUID})
	return []ovsdb.Operation{{Op: ovsdb.OperationUpdate, Table: nbdb.LogicalSwitchPortTable,
		Where: []ovsdb.Condition{byUUID}, Row: row}}
}

// sameSet reports whether two set columns hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// ovsSet is a string set column's value in OVSDB's notation.
func ovsSet(values []string) ovsdb.OvsSet {
	set := make([]any, len(values))
	for i, v := range values {
		set[i] = v
	}
	return ovsdb.OvsSet{GoSet: set}
}

// ovsMap is a string map column's value in OVSDB's notation.
func ovsMap(m map[string]string) ovsdb.OvsMap {
	out := make(map[any]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return ovsdb.OvsMap{GoMap: out}
}

// ovsTag is the optional integer tag in OVSDB's notation: a set of none or one.
func ovsTag(tag *int) ovsdb.OvsSet {
	if tag == nil {
		return ovsdb.OvsSet{GoSet: []any{}}
	}
	return ovsdb.OvsSet{GoSet: []any{*tag}}
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
