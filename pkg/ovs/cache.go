package ovs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
)

// Errors for rows a call needs but the database lacks.
var (
	ErrNoOpenvSwitchRow  = errors.New("the Open_vSwitch table has no row (run ovs-vsctl init, or start ovs-vswitchd)")
	ErrBridgeNotFound    = errors.New("bridge not found")
	ErrPortNotFound      = errors.New("port not found")
	ErrInterfaceNotFound = errors.New("interface not found")
)

// namedUUIDSeq makes named UUIDs unique within any transaction built in
// this process; OVSDB only requires uniqueness per transaction.
var namedUUIDSeq atomic.Uint64

func newNamedUUID() string {
	return "ovnet" + strconv.FormatUint(namedUUIDSeq.Add(1), 10)
}

// byIndex reads the row matching m's schema index (the name, for bridges,
// ports and interfaces) from the cache into m. client.Get would not do:
// it ignores indexes and matches on the UUID only.
func (c *Client) byIndex(table string, m model.Model) (bool, error) {
	rows := c.db.Cache().Table(table)
	if rows == nil {
		return false, nil
	}
	found, err := rows.RowsByModels([]model.Model{m})
	if err != nil {
		return false, fmt.Errorf("cache lookup in %s: %w", table, err)
	}
	for _, row := range found {
		model.CloneInto(row, m)
		return true, nil
	}
	return false, nil
}

// cachedRow returns a copy of the row with the given UUID, or nil.
func cachedRow[T model.Model](c *Client, table, uuid string) T {
	var none T
	rows := c.db.Cache().Table(table)
	if rows == nil {
		return none
	}
	row, ok := rows.Row(uuid).(T)
	if !ok {
		return none
	}
	return row
}

// cachedRows returns copies of every row of a table.
func cachedRows[T model.Model](c *Client, table string) []T {
	rows := c.db.Cache().Table(table)
	if rows == nil {
		return nil
	}
	var all []T
	for _, row := range rows.Rows() {
		if t, ok := row.(T); ok {
			all = append(all, t)
		}
	}
	return all
}

func (c *Client) bridge(name string) (*vswitch.Bridge, error) {
	br := &vswitch.Bridge{Name: name}
	if found, err := c.byIndex(vswitch.BridgeTable, br); err != nil || !found {
		return nil, err
	}
	return br, nil
}

func (c *Client) port(name string) (*vswitch.Port, error) {
	p := &vswitch.Port{Name: name}
	if found, err := c.byIndex(vswitch.PortTable, p); err != nil || !found {
		return nil, err
	}
	return p, nil
}

func (c *Client) iface(name string) (*vswitch.Interface, error) {
	i := &vswitch.Interface{Name: name}
	if found, err := c.byIndex(vswitch.InterfaceTable, i); err != nil || !found {
		return nil, err
	}
	return i, nil
}

// root returns the single Open_vSwitch row that every bridge hangs from.
func (c *Client) root() (*vswitch.OpenvSwitch, error) {
	for _, row := range cachedRows[*vswitch.OpenvSwitch](c, vswitch.OpenvSwitchTable) {
		return row, nil
	}
	return nil, ErrNoOpenvSwitchRow
}

// mergeMap returns the mutations that give the map column field each
// key/value of want, leaving other keys alone, or none when it already
// holds them. Other writers keep keys of their own in these maps
// (ovn-controller's ovn-installed on interfaces, ct-zone-* on br-int), so
// replacing the whole map would erase them.
func mergeMap(field *map[string]string, have, want map[string]string) []model.Mutation {
	var stale []string
	set := map[string]string{}
	for k, v := range want {
		old, ok := have[k]
		if ok && old == v {
			continue
		}
		if ok {
			stale = append(stale, k)
		}
		set[k] = v
	}
	if len(set) == 0 {
		return nil
	}
	var muts []model.Mutation
	if len(stale) > 0 {
		// Insert never overwrites a key, so changed keys go first.
		slices.Sort(stale)
		muts = append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: stale})
	}
	return append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: set})
}

// insertRef returns a mutation adding uuid to a set-of-references column.
func insertRef(field *[]string, uuid string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: []string{uuid}}
}

// deleteRef returns a mutation removing uuid from a set-of-references column.
func deleteRef(field *[]string, uuid string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: []string{uuid}}
}

// sameSet compares two sets held as slices, ignoring order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
