package nodenat

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// observed is the table as the kernel has it.
type observed struct {
	// chains and rules by chain name.
	chains map[string]*nftables.Chain
	rules  map[string][]*nftables.Rule
	// sets are the named sets (the rules' anonymous ones are left out).
	sets     map[string]*nftables.Set
	elements map[string][]nftables.SetElement
	// unreadable says why the table's content could not be read (e.g. a
	// rule someone else added with an expression the library cannot
	// decode); such a table is replaced whole.
	unreadable error
}

// observe reads the table, or returns nil when there is none.
func (t *Table) observe(conn *nftables.Conn) (*observed, error) {
	_, err := conn.ListTableOfFamily(TableName, t.family.table)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read nftables table %s %s: %w", t.family, TableName, err)
	}
	have := &observed{chains: map[string]*nftables.Chain{}, rules: map[string][]*nftables.Rule{},
		sets: map[string]*nftables.Set{}, elements: map[string][]nftables.SetElement{}}
	if err := t.observeChains(conn, have); err != nil {
		have.unreadable = err
		return have, nil
	}
	have.unreadable = t.observeSets(conn, have)
	return have, nil
}

// observeChains reads our chains and their rules. The kernel lists
// chains by family only; other tables' chains are skipped unread.
func (t *Table) observeChains(conn *nftables.Conn, have *observed) error {
	chains, err := conn.ListChainsOfTableFamily(t.family.table)
	if err != nil {
		return fmt.Errorf("list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		rules, err := conn.GetRules(t.table, ch)
		if err != nil {
			return fmt.Errorf("read chain %s: %w", ch.Name, err)
		}
		have.chains[ch.Name], have.rules[ch.Name] = ch, rules
	}
	return nil
}

// observeSets reads the named sets and their elements.
func (t *Table) observeSets(conn *nftables.Conn, have *observed) error {
	sets, err := conn.GetSets(t.table)
	if err != nil {
		return fmt.Errorf("read sets: %w", err)
	}
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		elements, err := conn.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("read set %s: %w", s.Name, err)
		}
		have.sets[s.Name], have.elements[s.Name] = s, elements
	}
	return nil
}

// sameShape reports whether the table has exactly want's chains and sets,
// with the same hooks, priorities, types and key types; only then can it
// be updated in place.
func (o *observed) sameShape(want layout) bool {
	if o.unreadable != nil {
		return false
	}
	if len(o.chains) != len(want.chains) || len(o.sets) != len(want.sets) {
		return false
	}
	for _, c := range want.chains {
		have, ok := o.chains[c.name]
		if !ok || have.Type != c.kind || !sameValue(have.Hooknum, c.hook) || !sameValue(have.Priority, c.priority) {
			return false
		}
		if c.hook != nil && (have.Policy == nil || *have.Policy != nftables.ChainPolicyAccept) {
			return false
		}
	}
	for _, s := range want.sets {
		have, ok := o.sets[s.name]
		if !ok || have.KeyType.Name != s.keyType.Name || have.Interval != s.interval || have.IsMap {
			return false
		}
	}
	return true
}

// sameValue compares two optional values.
func sameValue[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
