package ovsdbtxn

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
)

// namedUUIDSeq makes named UUIDs unique within any transaction built in
// this process; OVSDB only requires uniqueness per transaction.
var namedUUIDSeq atomic.Uint64

// NamedUUID returns a name for a row inserted in a transaction, by which
// the same transaction's other operations reference it.
func NamedUUID() string {
	return "ovnet" + strconv.FormatUint(namedUUIDSeq.Add(1), 10)
}

func tableName(dbModel model.DatabaseModel, m model.Model) string {
	return dbModel.FindTable(reflect.TypeOf(m))
}

// Get returns a copy of the cached row matching probe's UUID, or else one
// of its indexes (the schema's, or the client indexes given to Connect),
// and false when the cache holds none. The table comes from probe's type.
func Get[T model.Model](c *Client, probe T) (T, bool, error) {
	var none T
	cache := c.db.Cache()
	table := tableName(cache.DatabaseModel(), probe)
	rows := cache.Table(table)
	if rows == nil {
		return none, false, fmt.Errorf("table %s is not mirrored", table)
	}
	found, err := rows.RowsByModels([]model.Model{probe})
	if err != nil {
		return none, false, fmt.Errorf("cache lookup in %s: %w", table, err)
	}
	for _, row := range found {
		if t, ok := row.(T); ok {
			return t, true, nil
		}
	}
	return none, false, nil
}

// ByUUID returns a copy of the cached row of T's table with that UUID, and
// false when the cache holds none.
func ByUUID[T model.Model](c *Client, uuid string) (T, bool) {
	var none T
	cache := c.db.Cache()
	rows := cache.Table(tableName(cache.DatabaseModel(), none))
	if rows == nil {
		return none, false
	}
	row, ok := rows.Row(uuid).(T)
	return row, ok
}

// List returns copies of the cached rows of T's table that keep accepts
// (every row when keep is nil). T is a model type such as nbdb.ACL. keep
// reads each cached row in place, neither keeping nor changing it: only
// the rows it accepts are copied, and it is called directly, where
// libovsdb's WhereCache would call it through reflection (a policy's
// reconcile scans every address set, hundreds of them).
func List[T any, P interface {
	*T
	model.Model
}](c *Client, keep func(P) bool) ([]T, error) {
	cache := c.db.Cache()
	if cache == nil {
		return nil, fmt.Errorf("list %T: no cache", P(nil))
	}
	table := tableName(cache.DatabaseModel(), P(nil))
	cached := cache.Table(table)
	if cached == nil {
		return nil, fmt.Errorf("list %T: table %s is not mirrored", P(nil), table)
	}
	var rows []T
	for _, m := range cached.RowsShallow() {
		row, ok := m.(P)
		if !ok || keep != nil && !keep(row) {
			continue
		}
		rows = append(rows, *model.Clone(row).(P))
	}
	return rows, nil
}

// InsertRefs returns a mutation adding values (row UUIDs or named UUIDs)
// to a set column.
func InsertRefs(field *[]string, values ...string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: values}
}

// DeleteRefs returns a mutation removing values from a set column.
func DeleteRefs(field *[]string, values ...string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: values}
}

// EditSet returns the mutations adding add to a set column and removing
// remove from it, none when both are empty.
func EditSet(field *[]string, add, remove []string) []model.Mutation {
	var muts []model.Mutation
	if len(add) > 0 {
		muts = append(muts, InsertRefs(field, add...))
	}
	if len(remove) > 0 {
		muts = append(muts, DeleteRefs(field, remove...))
	}
	return muts
}

// SetDiff returns the mutations that make a set column holding have hold
// want: an insert of what is missing and a delete of what is extra, none
// when they are the same set.
func SetDiff(field *[]string, have, want []string) []model.Mutation {
	in := make(map[string]bool, len(have))
	for _, h := range have {
		in[h] = true
	}
	var added, removed []string
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
	var muts []model.Mutation
	if len(added) > 0 {
		slices.Sort(added)
		muts = append(muts, InsertRefs(field, slices.Compact(added)...))
	}
	if len(removed) > 0 {
		slices.Sort(removed)
		muts = append(muts, DeleteRefs(field, removed...))
	}
	return muts
}

// MergeMap returns the mutations that give the map column field each
// key/value of want, leaving other keys alone, or none when it already
// holds them. Other writers keep keys of their own in some maps
// (ovn-controller's ovn-installed on interfaces, ct-zone-* on br-int), so
// replacing the whole map would erase them.
func MergeMap(field *map[string]string, have, want map[string]string) []model.Mutation {
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

// DeleteKeys returns a mutation removing keys from a map column.
func DeleteKeys(field *map[string]string, keys ...string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: keys}
}
