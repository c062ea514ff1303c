package ovn

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// ACL is the desired state of one ACL row.
type ACL struct {
	// Name is what ovn-controller's log lines show (at most 63 characters).
	Name      string
	Direction string // nbdb.ACLDirectionToLport or FromLport
	Priority  int
	Match     string
	Action    string
	// Severity turns logging on; empty means the ACL does not log.
	Severity string
	Options  map[string]string
}

// aclKey identifies an ACL by everything that matters about it, so a set
// of ACLs converges by adding and removing rows, never by editing them.
func aclKey(a *nbdb.ACL) string {
	var b strings.Builder
	b.WriteString(a.Direction + "|" + strconv.Itoa(a.Priority) + "|" + a.Action + "|" + a.Match + "|")
	if a.Name != nil {
		b.WriteString(*a.Name)
	}
	b.WriteString("|" + strconv.FormatBool(a.Log) + "|")
	if a.Severity != nil {
		b.WriteString(*a.Severity)
	}
	keys := make([]string, 0, len(a.Options))
	for k := range a.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("|" + k + "=" + a.Options[k])
	}
	for _, k := range []string{ExternalIDKind, ExternalIDNamespace, ExternalIDName} {
		b.WriteString("|" + a.ExternalIDs[k])
	}
	return b.String()
}

func aclRow(want ACL, owner Owner) *nbdb.ACL {
	row := &nbdb.ACL{Direction: want.Direction, Priority: want.Priority, Match: want.Match, Action: want.Action,
		Options: want.Options, ExternalIDs: owner.ExternalIDs()}
	if want.Name != "" {
		name := want.Name
		row.Name = &name
	}
	if want.Severity != "" {
		sev := want.Severity
		row.Severity, row.Log = &sev, true
	}
	return row
}

// aclChange is how a set of ACL references converges: rows to create (with
// named UUIDs to reference) and references to drop.
type aclChange struct {
	create []*nbdb.ACL
	drop   []string
}

func (ch aclChange) empty() bool { return len(ch.create) == 0 && len(ch.drop) == 0 }

// newUUIDs returns the named UUIDs of the rows to create.
func (ch aclChange) newUUIDs() []string {
	uuids := make([]string, len(ch.create))
	for i, a := range ch.create {
		uuids[i] = a.UUID
	}
	return uuids
}

// diffACLs compares the ACLs referenced by have with want. Only ACLs owned
// by ovnet are dropped: on a switch, rows someone else added stay.
func (c *Client) diffACLs(have []string, want []ACL, owner Owner) (aclChange, error) {
	wanted := map[string]*nbdb.ACL{}
	var order []string
	for _, w := range want {
		row := aclRow(w, owner)
		k := aclKey(row)
		if _, dup := wanted[k]; !dup {
			order = append(order, k)
		}
		wanted[k] = row
	}
	var ch aclChange
	for _, uuid := range have {
		row, ok := ovsdbtxn.ByUUID[*nbdb.ACL](c.db, uuid)
		if !ok {
			continue // not in the cache: nothing to compare, and nothing ovnet wrote
		}
		if _, ours := OwnerOf(row.ExternalIDs); !ours {
			continue
		}
		if k := aclKey(row); wanted[k] != nil {
			delete(wanted, k)
			continue
		}
		ch.drop = append(ch.drop, uuid)
	}
	for _, k := range order {
		if row := wanted[k]; row != nil {
			row.UUID = ovsdbtxn.NamedUUID()
			ch.create = append(ch.create, row)
		}
	}
	return ch, nil
}

// createOps returns the inserts of the change's new rows.
func (c *Client) createACLOps(ch aclChange) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, row := range ch.create {
		op, err := c.db.DB().Create(row)
		if err != nil {
			return nil, fmt.Errorf("create acl %q: %w", row.Match, err)
		}
		ops = append(ops, op...)
	}
	return ops, nil
}

// refsOps returns the mutations of a set of ACL references: the new rows
// in, the dropped ones out.
func (ch aclChange) refsOps(field *[]string) []model.Mutation {
	var muts []model.Mutation
	if len(ch.create) > 0 {
		muts = append(muts, ovsdbtxn.InsertRefs(field, ch.newUUIDs()...))
	}
	if len(ch.drop) > 0 {
		muts = append(muts, ovsdbtxn.DeleteRefs(field, ch.drop...))
	}
	return muts
}

// SwitchACLsOps makes the ACLs owner wrote on a switch equal want, leaving
// other ACLs on it alone. The switch may be created earlier in the same
// transaction.
func (c *Client) SwitchACLsOps(switchName string, owner Owner, want []ACL) ([]ovsdb.Operation, error) {
	sw, err := c.switchByName(switchName)
	if err != nil {
		return nil, fmt.Errorf("logical switch %s: %w", switchName, err)
	}
	var have []string
	if sw != nil {
		have = slices.Clone(sw.ACLs)
	}
	ch, err := c.diffACLs(have, want, owner)
	if err != nil || ch.empty() {
		return nil, err
	}
	ops, err := c.createACLOps(ch)
	if err != nil {
		return nil, err
	}
	parent := switchParent(switchName, switchACLs, true)
	mutate, err := c.db.DB().WhereAny(parent.Model, model.Condition{Field: parent.Name, Function: ovsdb.ConditionEqual,
		Value: switchName}).Mutate(parent.Model, ch.refsOps(parent.Refs)...)
	if err != nil {
		return nil, fmt.Errorf("set acls of switch %s: %w", switchName, err)
	}
	return append(ops, mutate...), nil
}
