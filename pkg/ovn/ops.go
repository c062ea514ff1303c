package ovn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// namedUUIDSeq makes named UUIDs unique within any transaction built in
// this process; OVSDB only requires uniqueness per transaction.
var namedUUIDSeq atomic.Uint64

func newNamedUUID() string {
	return "ovnet" + strconv.FormatUint(namedUUIDSeq.Add(1), 10)
}

// lookup reads the row matching m's UUID, schema indexes or client
// indexes (names of switches and routers) from the cache into m; found is
// false when there is none.
func (c *Client) lookup(m model.Model) (bool, error) {
	table := c.nb.Cache().Table(tableOf(m))
	if table == nil {
		return false, nil
	}
	rows, err := table.RowsByModels([]model.Model{m})
	if err != nil {
		return false, fmt.Errorf("cache lookup: %w", err)
	}
	for _, row := range rows {
		model.CloneInto(row, m)
		return true, nil
	}
	return false, nil
}

// find returns the cached row matching probe (by UUID or index), or nil
// when there is none.
func find[T any, P interface {
	*T
	model.Model
}](c *Client, probe P) (P, error) {
	found, err := c.lookup(probe)
	if err != nil || !found {
		return nil, err
	}
	return probe, nil
}

func tableOf(m model.Model) string {
	switch m.(type) {
	case *nbdb.LogicalSwitch:
		return nbdb.LogicalSwitchTable
	case *nbdb.LogicalSwitchPort:
		return nbdb.LogicalSwitchPortTable
	case *nbdb.LogicalRouter:
		return nbdb.LogicalRouterTable
	case *nbdb.LogicalRouterPort:
		return nbdb.LogicalRouterPortTable
	case *nbdb.LogicalRouterStaticRoute:
		return nbdb.LogicalRouterStaticRouteTable
	case *nbdb.LoadBalancer:
		return nbdb.LoadBalancerTable
	case *nbdb.LoadBalancerGroup:
		return nbdb.LoadBalancerGroupTable
	case *nbdb.PortGroup:
		return nbdb.PortGroupTable
	case *nbdb.AddressSet:
		return nbdb.AddressSetTable
	case *nbdb.ACL:
		return nbdb.ACLTable
	}
	return ""
}

// waitAbsent guards the creation of a row in a table without a unique
// index: the transaction aborts if a row with that name appeared since the
// cache was read, so two racing writers cannot make two rows.
// probe is a model holding only the name, and name a pointer to that field.
func (c *Client) waitAbsent(probe model.Model, name *string, value string) ([]ovsdb.Operation, error) {
	timeout := 0
	cond := model.Condition{Field: name, Function: ovsdb.ConditionEqual, Value: value}
	ops, err := c.nb.WhereAny(probe, cond).Wait(ovsdb.WaitConditionNotEqual, &timeout, probe, name)
	if err != nil {
		return nil, fmt.Errorf("build wait: %w", err)
	}
	return ops, nil
}

// insertRef returns a mutation adding uuid to a set-of-references column.
func insertRef(field *[]string, uuid string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: []string{uuid}}
}

// deleteRef returns a mutation removing uuid from a set-of-references column.
func deleteRef(field *[]string, uuid string) model.Mutation {
	return deleteRefs(field, []string{uuid})
}

func deleteRefs(field *[]string, uuids []string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: uuids}
}

func sameStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return slices.Equal(a, b)
}

func sameMap(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return maps.Equal(a, b)
}

func backgroundCtx() context.Context { return context.Background() }

// insertRefs returns a mutation adding values to a set column.
func insertRefs(field *[]string, values []string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: values}
}
