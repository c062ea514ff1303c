package ovsdbtxn

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
)

// ErrParentMissing is returned for a row whose parent (the row that must
// reference it: a port's switch or router) is neither in the cache nor
// declared as created earlier in the same transaction. Committing the row
// anyway would attach it to nothing, and OVSDB would drop it.
var ErrParentMissing = errors.New("parent row does not exist")

// Row is a row as wanted, for EnsureOps.
type Row[T model.Model] struct {
	// Model holds the wanted values. The existing row is the cached one
	// matching its UUID or, without one, its indexes (a name).
	Model T
	// Fields point into Model at the columns the caller owns; an existing
	// row gets one update of those whose value differs, and only those.
	Fields []any
	// MergedMaps point into Model at map columns other writers add keys
	// to: wanted keys are set, the others kept.
	MergedMaps []*map[string]string
	// MutatedSets point into Model at set columns that can grow large
	// (an address set's addresses, a port group's ports): an existing row
	// gets the insert of what is missing and the delete of what is extra,
	// not a rewrite of the whole set.
	MutatedSets []*[]string
	// Parent, when set, is the row that must reference a created row.
	Parent *Parent
	// Unique, when set, points into Model at a column ovnet keeps unique
	// although the schema does not index it (the name of a switch or a
	// router): creation then aborts if such a row appeared since the cache
	// was read, so two racing writers cannot make two rows.
	Unique *string
}

// Parent is the row holding references to its children in a set column.
type Parent struct {
	// Model is the parent, found in the cache by its UUID or indexes.
	Model model.Model
	// Refs points into Model at the column referencing the children.
	Refs *[]string
	// Name points into Model at its name, the parent's selector when
	// ByName is set.
	Name *string
	// ByName selects the parent by name without reading the cache: it is
	// created earlier in the same transaction (so not in the cache yet), or
	// too large to copy out of the cache for every child. Otherwise a
	// parent missing from the cache is ErrParentMissing.
	ByName bool
}

// Ensured is what EnsureOps built.
type Ensured struct {
	// Ops make the row as wanted; none when it already is.
	Ops []ovsdb.Operation
	// UUID is the row's UUID, or its named UUID when Ops create it.
	UUID string
	// Created says Ops insert the row.
	Created bool
}

// EnsureOps returns the operations that make want's row exist as wanted:
// none when the cached row already is; one update of the changed columns
// (and mutations of the merged maps and mutated sets) when it differs; an
// insert with a named UUID, attached to its parent, when it is missing.
func EnsureOps[T model.Model](c *Client, want Row[T]) (Ensured, error) {
	info, err := c.db.Cache().DatabaseModel().NewModelInfo(want.Model)
	if err != nil {
		return Ensured{}, err
	}
	parent, err := c.selectParent(want.Parent)
	if err != nil {
		return Ensured{}, err
	}
	have, found, err := Get(c, want.Model)
	if err != nil {
		return Ensured{}, err
	}
	if !found {
		return createOps(c, info, want, parent)
	}
	return updateOps(c, info, want, have)
}

// selectParent selects the parent for the attach mutation: by UUID when
// cached, by name when created in the same transaction.
func (c *Client) selectParent(p *Parent) (client.ConditionalAPI, error) {
	if p == nil {
		return nil, nil
	}
	if p.ByName && p.Name != nil {
		return c.db.WhereAny(p.Model, model.Condition{Field: p.Name, Function: ovsdb.ConditionEqual, Value: *p.Name}), nil
	}
	rows := c.db.Cache().Table(tableName(c.db.Cache().DatabaseModel(), p.Model))
	if rows != nil {
		if found, err := rows.RowsByModels([]model.Model{p.Model}); err == nil && len(found) > 0 {
			for uuid := range found {
				return c.db.Where(withUUID(c, p.Model, uuid)), nil
			}
		}
	}
	return nil, ErrParentMissing
}

// AttachOps returns the mutation adding uuids to the parent's references.
func AttachOps(c *Client, p *Parent, uuids ...string) ([]ovsdb.Operation, error) {
	sel, err := c.selectParent(p)
	if err != nil {
		return nil, err
	}
	ops, err := sel.Mutate(p.Model, InsertRefs(p.Refs, uuids...))
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return ops, nil
}

// DetachOps returns the mutations removing each of uuids from the refs
// column of whichever rows of parent's table hold it. The server finds
// those rows, so the cache need not mirror the column, and a parent that
// is gone is simply nothing to detach from. parent is an empty model and
// refs points into it.
func DetachOps(c *Client, parent model.Model, refs *[]string, uuids ...string) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, uuid := range uuids {
		holders := model.Condition{Field: refs, Function: ovsdb.ConditionIncludes, Value: []string{uuid}}
		detach, err := c.db.WhereAny(parent, holders).Mutate(parent, DeleteRefs(refs, uuid))
		if err != nil {
			return nil, fmt.Errorf("detach %s: %w", uuid, err)
		}
		ops = append(ops, detach...)
	}
	return ops, nil
}

// withUUID sets m's UUID and returns m.
func withUUID(c *Client, m model.Model, uuid string) model.Model {
	if info, err := c.db.Cache().DatabaseModel().NewModelInfo(m); err == nil {
		_ = info.SetField("_uuid", uuid)
	}
	return m
}

// createOps inserts want's row under a named UUID, guarded and attached
// to its parent in the same transaction.
func createOps[T model.Model](c *Client, info *mapper.Info, want Row[T], parent client.ConditionalAPI) (Ensured, error) {
	var ops []ovsdb.Operation
	if want.Unique != nil {
		timeout := 0
		cond := model.Condition{Field: want.Unique, Function: ovsdb.ConditionEqual, Value: *want.Unique}
		guard, err := c.db.WhereAny(want.Model, cond).Wait(ovsdb.WaitConditionNotEqual, &timeout, want.Model, want.Unique)
		if err != nil {
			return Ensured{}, fmt.Errorf("guard: %w", err)
		}
		ops = append(ops, guard...)
	}
	uuid := NamedUUID()
	if err := info.SetField("_uuid", uuid); err != nil {
		return Ensured{}, err
	}
	create, err := c.db.Create(want.Model)
	if err != nil {
		return Ensured{}, fmt.Errorf("create: %w", err)
	}
	ops = append(ops, create...)
	if parent != nil {
		attach, err := parent.Mutate(want.Parent.Model, InsertRefs(want.Parent.Refs, uuid))
		if err != nil {
			return Ensured{}, fmt.Errorf("attach: %w", err)
		}
		ops = append(ops, attach...)
	}
	return Ensured{Ops: ops, UUID: uuid, Created: true}, nil
}

// updateOps updates the columns of have that differ from want, and
// merges the shared maps.
func updateOps[T model.Model](c *Client, info *mapper.Info, want Row[T], have T) (Ensured, error) {
	haveInfo, err := c.db.Cache().DatabaseModel().NewModelInfo(have)
	if err != nil {
		return Ensured{}, err
	}
	uuid, err := haveInfo.FieldByColumn("_uuid")
	if err != nil {
		return Ensured{}, err
	}
	if err := info.SetField("_uuid", uuid); err != nil {
		return Ensured{}, err
	}
	changed, err := changedFields(info, haveInfo, want.Fields)
	if err != nil {
		return Ensured{}, err
	}
	var muts []model.Mutation
	for _, field := range want.MergedMaps {
		old, err := existing(info, haveInfo, field)
		if err != nil {
			return Ensured{}, err
		}
		oldMap, _ := old.(map[string]string)
		muts = append(muts, MergeMap(field, oldMap, *field)...)
	}
	for _, field := range want.MutatedSets {
		old, err := existing(info, haveInfo, field)
		if err != nil {
			return Ensured{}, err
		}
		oldSet, _ := old.([]string)
		muts = append(muts, SetDiff(field, oldSet, *field)...)
	}
	res := Ensured{UUID: uuid.(string)}
	if len(changed) > 0 {
		update, err := c.db.Where(want.Model).Update(want.Model, changed...)
		if err != nil {
			return Ensured{}, fmt.Errorf("update: %w", err)
		}
		res.Ops = append(res.Ops, update...)
	}
	if len(muts) > 0 {
		mutate, err := c.db.Where(want.Model).Mutate(want.Model, muts...)
		if err != nil {
			return Ensured{}, fmt.Errorf("merge maps: %w", err)
		}
		res.Ops = append(res.Ops, mutate...)
	}
	return res, nil
}

// existing returns the existing row's value of the column field points
// at in the wanted model.
func existing(want, have *mapper.Info, field any) (any, error) {
	column, err := want.ColumnByPtr(field)
	if err != nil {
		return nil, err
	}
	return have.FieldByColumn(column)
}

// changedFields returns the fields (pointers into the wanted model) whose
// value differs from the existing row's.
func changedFields(want, have *mapper.Info, fields []any) ([]any, error) {
	var changed []any
	for _, field := range fields {
		h, err := existing(want, have, field)
		if err != nil {
			return nil, err
		}
		if !Equivalent(reflect.ValueOf(field).Elem().Interface(), h) {
			changed = append(changed, field)
		}
	}
	return changed, nil
}
