package ovsdbtxn

import (
	"reflect"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
)

// columnTest is one thing a row must show after an update or mutation.
type columnTest struct {
	dbModel model.DatabaseModel
	column  string
	want    func(value any) bool
}

func (t columnTest) holds(row model.Model) bool {
	info, err := t.dbModel.NewModelInfo(row)
	if err != nil {
		return true
	}
	value, err := info.FieldByColumn(t.column)
	if err != nil {
		return true
	}
	return t.want(value)
}

// columnTests returns what the rows an update or mutation selected must
// show once the cache has its result, for the mirrored columns.
func (c *Client) columnTests(op ovsdb.Operation, named map[string]string) []columnTest {
	dbModel := c.db.Cache().DatabaseModel()
	schema := dbModel.Schema.Table(op.Table)
	if schema == nil {
		return nil
	}
	var tests []columnTest
	add := func(column string, holds func(any) bool) {
		tests = append(tests, columnTest{dbModel: dbModel, column: column, want: holds})
	}
	for column, value := range op.Row {
		col := schema.Column(column)
		if col == nil || !c.isMirrored(op.Table, column) {
			continue
		}
		want, err := ovsdb.OvsToNative(col, resolveNamed(value, named))
		if err != nil {
			continue
		}
		add(column, func(have any) bool { return Equivalent(have, want) })
	}
	for _, m := range op.Mutations {
		col := schema.Column(m.Column)
		if col == nil || !c.isMirrored(op.Table, m.Column) {
			continue
		}
		if holds := mutationTest(col, m, named); holds != nil {
			add(m.Column, holds)
		}
	}
	return tests
}

// mutationTest says what an insert into or delete from a set or map leaves
// in the column; nil for mutations whose result it cannot tell (arithmetic,
// deletion of map keys by name).
func mutationTest(col *ovsdb.ColumnSchema, m ovsdb.Mutation, named map[string]string) func(any) bool {
	if col.Type != ovsdb.TypeSet && col.Type != ovsdb.TypeMap {
		return nil
	}
	if _, byKeys := m.Value.(ovsdb.OvsSet); col.Type == ovsdb.TypeMap && byKeys {
		return nil
	}
	value, err := ovsdb.OvsToNative(col, resolveNamed(m.Value, named))
	if err != nil {
		return nil
	}
	switch m.Mutator {
	case ovsdb.MutateOperationInsert:
		// Insert never overwrites a map key: only the keys' presence is sure.
		return func(have any) bool { return containsAll(have, value) }
	case ovsdb.MutateOperationDelete:
		if col.Type == ovsdb.TypeMap {
			return func(have any) bool { return !containsAnyPair(have, value) }
		}
		return func(have any) bool { return !containsAny(have, value) }
	}
	return nil
}

// resolveNamed replaces the named UUIDs in an OVSDB value by the UUIDs the
// server gave the rows.
func resolveNamed(value any, named map[string]string) any {
	switch v := value.(type) {
	case ovsdb.UUID:
		if real, ok := named[v.GoUUID]; ok {
			return ovsdb.UUID{GoUUID: real}
		}
		return v
	case ovsdb.OvsSet:
		set := make([]any, len(v.GoSet))
		for i, e := range v.GoSet {
			set[i] = resolveNamed(e, named)
		}
		return ovsdb.OvsSet{GoSet: set}
	case ovsdb.OvsMap:
		m := make(map[any]any, len(v.GoMap))
		for k, e := range v.GoMap {
			m[resolveNamed(k, named)] = resolveNamed(e, named)
		}
		return ovsdb.OvsMap{GoMap: m}
	}
	return value
}

// Equivalent compares two column values as OVSDB does: sets ignore order,
// an empty set or map equals none, optional values compare by what they
// hold.
func Equivalent(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() || va.Kind() != vb.Kind() {
		return reflect.DeepEqual(a, b)
	}
	switch va.Kind() {
	case reflect.Pointer:
		if va.IsNil() || vb.IsNil() {
			return va.IsNil() == vb.IsNil()
		}
		return Equivalent(va.Elem().Interface(), vb.Elem().Interface())
	case reflect.Slice:
		return va.Len() == vb.Len() && containsAll(a, b)
	case reflect.Map:
		if va.Len() != vb.Len() {
			return false
		}
		for _, k := range va.MapKeys() {
			w := vb.MapIndex(k)
			if !w.IsValid() || !reflect.DeepEqual(va.MapIndex(k).Interface(), w.Interface()) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// containsAll reports whether every element of the set (or key of the
// map) part is in whole.
func containsAll(whole, part any) bool {
	in := members(whole)
	for _, e := range elements(part) {
		if !in[e] {
			return false
		}
	}
	return true
}

// containsAny reports whether some element of the set part is in whole.
func containsAny(whole, part any) bool {
	in := members(whole)
	for _, e := range elements(part) {
		if in[e] {
			return true
		}
	}
	return false
}

// containsAnyPair reports whether the map whole holds some key of the map
// part with the same value.
func containsAnyPair(whole, part any) bool {
	vw, vp := reflect.ValueOf(whole), reflect.ValueOf(part)
	if vw.Kind() != reflect.Map || vp.Kind() != reflect.Map {
		return false
	}
	for _, k := range vp.MapKeys() {
		if w := vw.MapIndex(k); w.IsValid() && reflect.DeepEqual(w.Interface(), vp.MapIndex(k).Interface()) {
			return true
		}
	}
	return false
}

// elements lists a slice's elements or a map's keys.
func elements(set any) []any {
	v := reflect.ValueOf(set)
	var out []any
	switch v.Kind() {
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, v.Index(i).Interface())
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			out = append(out, k.Interface())
		}
	}
	return out
}

func members(set any) map[any]bool {
	in := map[any]bool{}
	for _, e := range elements(set) {
		in[e] = true
	}
	return in
}
