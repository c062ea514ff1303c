package harness

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// NBDump is a northbound database's rows as text, one sorted line per
// row, without UUIDs: a reference reads as the row it points at, by name
// when that row has one, else by its own text. Two databases holding the
// same rows under other UUIDs dump the same, which is what a rebuild must
// give back.
type NBDump []string

// dumpSkipped are tables left out of a dump: NB_Global is ovn-northd's
// row, and the identity ovnet keeps there changes when the database is
// replaced, by design.
var dumpSkipped = map[string]bool{nbdb.NBGlobalTable: true}

// Dump returns every row of the view except NB_Global's.
func (v *NBView) Dump(tb T) NBDump {
	tb.Helper()
	d := &dumper{cache: v.nb.Cache().DatabaseModel(), text: map[string]string{}, rows: map[string]model.Model{},
		tables: map[string]string{}}
	for table := range d.cache.Schema.Tables {
		rows := v.nb.Cache().Table(table)
		if rows == nil {
			continue
		}
		for uuid, m := range rows.Rows() {
			d.rows[uuid], d.tables[uuid] = m, table
		}
	}
	var out NBDump
	for uuid, table := range d.tables {
		if dumpSkipped[table] {
			continue
		}
		line, err := d.rowText(uuid, 0)
		if err != nil {
			tb.Fatalf("dump %s row %s: %v", table, uuid, err)
		}
		out = append(out, table+" "+line)
	}
	sort.Strings(out)
	return out
}

// Count is the number of rows in table, read without copying any: cheap
// enough to poll while thousands of rows are written.
func (v *NBView) Count(table string) int {
	rows := v.nb.Cache().Table(table)
	if rows == nil {
		return 0
	}
	return rows.Len()
}

// Tables counts the dump's rows per table.
func (d NBDump) Tables() map[string]int {
	n := map[string]int{}
	for _, line := range d {
		n[strings.SplitN(line, " ", 2)[0]]++
	}
	return n
}

// Diff lists the rows of want missing from d ("- ") and the rows of d
// want lacks ("+ "), counting repeated rows; none when they hold the same.
func (d NBDump) Diff(want NBDump) []string {
	count := map[string]int{}
	for _, line := range want {
		count[line]++
	}
	for _, line := range d {
		count[line]--
	}
	var diff []string
	for line, n := range count {
		for ; n > 0; n-- {
			diff = append(diff, "- "+line)
		}
		for ; n < 0; n++ {
			diff = append(diff, "+ "+line)
		}
	}
	sort.Strings(diff)
	return diff
}

// maxRefDepth bounds how deep references are followed: the northbound
// schema has no cycles, so this only catches a bug.
const maxRefDepth = 8

// dumper turns rows into text, once each.
type dumper struct {
	cache  model.DatabaseModel
	rows   map[string]model.Model
	tables map[string]string
	text   map[string]string
}

// rowText is the row's columns in order, _uuid left out.
func (d *dumper) rowText(uuid string, depth int) (string, error) {
	if t, ok := d.text[uuid]; ok {
		return t, nil
	}
	if depth > maxRefDepth {
		return "", fmt.Errorf("references deeper than %d", maxRefDepth)
	}
	table := d.tables[uuid]
	schema := d.cache.Schema.Tables[table]
	info, err := d.cache.NewModelInfo(d.rows[uuid])
	if err != nil {
		return "", err
	}
	cols := make([]string, 0, len(schema.Columns))
	for col := range schema.Columns {
		cols = append(cols, col)
	}
	sort.Strings(cols)
	var b strings.Builder
	b.WriteString("{")
	for _, col := range cols {
		value, err := info.FieldByColumn(col)
		if err != nil {
			continue // a column of a newer schema than the model's
		}
		text, err := d.valueText(schema.Columns[col].TypeObj, reflect.ValueOf(value), depth)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", col, err)
		}
		fmt.Fprintf(&b, " %s=%s", col, text)
	}
	b.WriteString(" }")
	d.text[uuid] = b.String()
	return d.text[uuid], nil
}

// valueText writes a column's value; sets and maps sorted.
func (d *dumper) valueText(typ *ovsdb.ColumnType, v reflect.Value, depth int) (string, error) {
	var key, value *ovsdb.BaseType
	if typ != nil {
		key, value = typ.Key, typ.Value
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "[]", nil
		}
		return d.atomText(key, v.Elem(), depth)
	case reflect.Slice:
		items := make([]string, 0, v.Len())
		for i := range v.Len() {
			t, err := d.atomText(key, v.Index(i), depth)
			if err != nil {
				return "", err
			}
			items = append(items, t)
		}
		slices.Sort(items)
		return "[" + strings.Join(items, ",") + "]", nil
	case reflect.Map:
		items := make([]string, 0, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k, err := d.atomText(key, iter.Key(), depth)
			if err != nil {
				return "", err
			}
			val, err := d.atomText(value, iter.Value(), depth)
			if err != nil {
				return "", err
			}
			items = append(items, k+":"+val)
		}
		slices.Sort(items)
		return "{" + strings.Join(items, ",") + "}", nil
	}
	return d.atomText(key, v, depth)
}

// atomText is one value; a reference becomes the referenced row's name,
// or its text when it has none.
func (d *dumper) atomText(typ *ovsdb.BaseType, v reflect.Value, depth int) (string, error) {
	if typ == nil || typ.Type != ovsdb.TypeUUID {
		return fmt.Sprintf("%q", fmt.Sprint(v.Interface())), nil
	}
	uuid := v.String()
	table, ok := d.tables[uuid]
	if !ok {
		return "dangling", nil
	}
	if name := d.nameOf(uuid); name != "" {
		return table + "[" + name + "]", nil
	}
	t, err := d.rowText(uuid, depth+1)
	return table + t, err
}

// nameOf is the row's name column, if it has one.
func (d *dumper) nameOf(uuid string) string {
	info, err := d.cache.NewModelInfo(d.rows[uuid])
	if err != nil {
		return ""
	}
	name, err := info.FieldByColumn("name")
	if s, ok := name.(string); err == nil && ok {
		return s
	}
	return ""
}
