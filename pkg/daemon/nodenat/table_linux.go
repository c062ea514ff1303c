package nodenat

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Table converges the ovnet table of one family in one network namespace. It reads and
// writes only its own table's rules and sets (chains are listed per
// family, and other tables' are skipped), so other tables, even with
// rules in the same hooks, are left exactly as they are.
type Table struct {
	// netnsFD is the node's network namespace; every call opens its
	// netlink socket there.
	netnsFD int
	// nodePort is the name of ovn0, the node's port on the join switch.
	nodePort string
	family   Family
	table    *nftables.Table
}

// NewTable returns the table of family f in the namespace netnsFD (which
// the caller keeps open); nodePort is the name of ovn0.
func NewTable(netnsFD int, nodePort string, f Family) *Table {
	return &Table{netnsFD: netnsFD, nodePort: nodePort, family: f,
		table: &nftables.Table{Name: TableName, Family: f.table}}
}

// Family is the table's address family.
func (t *Table) Family() Family { return t.family }

// conn opens a fresh connection: a Conn keeps the first marshalling error
// for good, so none outlives one converge.
func (t *Table) conn() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(t.netnsFD))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// Converge makes the table enforce s in one atomic batch, sending nothing
// when it already does.
func (t *Table) Converge(s State) (Changes, error) {
	conn, err := t.conn()
	if err != nil {
		return Changes{}, err
	}
	want := buildLayout(s, t.nodePort, t.family)
	have, err := t.observe(conn)
	if err != nil {
		return Changes{}, err
	}
	var changes Changes
	if have == nil || !have.sameShape(want) {
		changes.Created, changes.Reason = true, "absent"
		if have != nil {
			conn.DelTable(t.table)
			changes.Reason = "not the expected chains and sets"
			if have.unreadable != nil {
				changes.Reason = "unreadable: " + have.unreadable.Error()
			}
		}
		err = t.create(conn, want)
	} else {
		changes, err = t.update(conn, want, have)
	}
	if err != nil {
		return Changes{}, err
	}
	if err := conn.Flush(); err != nil {
		return Changes{}, fmt.Errorf("nftables table %s %s: %w", t.family, TableName, err)
	}
	return changes, nil
}

// Delete removes the table; the daemon never does (pods keep their egress
// across its restart), tests do.
func (t *Table) Delete() error {
	conn, err := t.conn()
	if err != nil {
		return err
	}
	conn.DelTable(t.table)
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s %s: %w", t.family, TableName, err)
	}
	return nil
}

// create queues the whole table.
func (t *Table) create(conn *nftables.Conn, want layout) error {
	conn.AddTable(t.table)
	for _, s := range want.sets {
		if err := conn.AddSet(t.set(s), s.elements); err != nil {
			return fmt.Errorf("set %s: %w", s.name, err)
		}
	}
	// Every chain before any rule: a rule may jump to a later chain.
	for _, c := range want.chains {
		conn.AddChain(t.chain(c))
	}
	for _, c := range want.chains {
		if err := t.addRules(conn, t.chain(c), c.rules); err != nil {
			return err
		}
	}
	return nil
}

// update queues what differs between the table and want, whose shape
// (chains and sets) is already the same.
func (t *Table) update(conn *nftables.Conn, want layout, have *observed) (Changes, error) {
	var changes Changes
	for _, s := range want.sets {
		if t.updateSet(conn, s, have.elements[s.name]) {
			changes.Sets = append(changes.Sets, s.name)
		}
	}
	for _, c := range want.chains {
		changed, err := t.updateChain(conn, c, have.rules[c.name])
		if err != nil {
			return Changes{}, err
		}
		if changed {
			changes.Chains = append(changes.Chains, c.name)
		}
	}
	return changes, nil
}

// updateSet rewrites an interval set whole (its elements come in start and
// end pairs that must stay matched) and diffs the others; it reports
// whether anything was queued.
func (t *Table) updateSet(conn *nftables.Conn, s setSpec, have []nftables.SetElement) bool {
	haveKeys := map[string]nftables.SetElement{}
	for _, e := range have {
		haveKeys[elementKey(e)] = e
	}
	var add []nftables.SetElement
	for _, e := range s.elements {
		if _, ok := haveKeys[elementKey(e)]; ok {
			delete(haveKeys, elementKey(e))
			continue
		}
		add = append(add, e)
	}
	if len(add) == 0 && len(haveKeys) == 0 {
		return false
	}
	set := t.set(s)
	if s.interval {
		conn.FlushSet(set)
		if len(s.elements) > 0 {
			conn.SetAddElements(set, s.elements)
		}
		return true
	}
	if len(haveKeys) > 0 {
		conn.SetDeleteElements(set, slices.Collect(maps.Values(haveKeys)))
	}
	if len(add) > 0 {
		conn.SetAddElements(set, add)
	}
	return true
}

// updateChain queues the rule changes of one chain and reports whether
// there were any.
func (t *Table) updateChain(conn *nftables.Conn, c chainSpec, have []*nftables.Rule) (bool, error) {
	ch := t.chain(c)
	if !c.unordered {
		if slices.Equal(comments(have), specComments(c.rules)) {
			return false, nil
		}
		conn.FlushChain(ch)
		return true, t.addRules(conn, ch, c.rules)
	}
	wanted := map[string]bool{}
	for _, r := range c.rules {
		wanted[r.comment] = true
	}
	changed := false
	for _, r := range have {
		comment := ruleComment(r)
		if wanted[comment] {
			delete(wanted, comment) // kept; a duplicate is deleted below
			continue
		}
		if err := conn.DelRule(&nftables.Rule{Table: t.table, Chain: ch, Handle: r.Handle}); err != nil {
			return false, fmt.Errorf("delete rule %q: %w", comment, err)
		}
		changed = true
	}
	var add []ruleSpec
	for _, r := range c.rules {
		if wanted[r.comment] {
			add = append(add, r)
		}
	}
	return changed || len(add) > 0, t.addRules(conn, ch, add)
}

// addRules queues rules at the end of a chain.
func (t *Table) addRules(conn *nftables.Conn, ch *nftables.Chain, rules []ruleSpec) error {
	for _, r := range rules {
		exprs, err := r.exprs(conn, t.table)
		if err != nil {
			return fmt.Errorf("rule %q: %w", r.comment, err)
		}
		conn.AddRule(&nftables.Rule{Table: t.table, Chain: ch, Exprs: exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
	}
	return nil
}

func (t *Table) set(s setSpec) *nftables.Set {
	return &nftables.Set{Table: t.table, Name: s.name, KeyType: s.keyType, Interval: s.interval,
		Concatenation: len(nftables.ConcatSetTypeElements(s.keyType)) > 1}
}

func (t *Table) chain(c chainSpec) *nftables.Chain {
	ch := &nftables.Chain{Table: t.table, Name: c.name, Hooknum: c.hook, Priority: c.priority, Type: c.kind}
	if c.hook != nil {
		accept := nftables.ChainPolicyAccept
		ch.Policy = &accept
	}
	return ch
}

func comments(rules []*nftables.Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = ruleComment(r)
	}
	return out
}

func specComments(rules []ruleSpec) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.comment
	}
	return out
}

func ruleComment(r *nftables.Rule) string {
	c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return c
}
