package ovn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Router policy actions.
const (
	PolicyAllow   = "allow"
	PolicyReroute = "reroute"
)

// RouterPolicy is the desired state of one logical router policy.
type RouterPolicy struct {
	Priority int
	Match    string
	Action   string
	// Nexthops of a reroute.
	Nexthops []string
}

// policyKey identifies a policy by everything that matters about it, so
// an owner's policies converge by adding and removing rows.
func policyKey(p *nbdb.LogicalRouterPolicy) string {
	hops := slices.Clone(p.Nexthops)
	slices.Sort(hops)
	return strings.Join([]string{strconv.Itoa(p.Priority), p.Action, p.Match, strings.Join(hops, ","),
		p.ExternalIDs[ExternalIDKind], p.ExternalIDs[ExternalIDNamespace], p.ExternalIDs[ExternalIDName]}, "|")
}

// RouterPoliciesOps makes the policies owner has on the router equal want,
// leaving everyone else's alone; none when they already are.
func (c *Client) RouterPoliciesOps(router string, owner Owner, want []RouterPolicy) ([]ovsdb.Operation, error) {
	lr, err := c.existingRouter(router)
	if err != nil {
		return nil, err
	}
	wanted := map[string]*nbdb.LogicalRouterPolicy{}
	var order []string
	for _, w := range want {
		row := &nbdb.LogicalRouterPolicy{Priority: w.Priority, Match: w.Match, Action: w.Action,
			Nexthops: w.Nexthops, ExternalIDs: owner.ExternalIDs()}
		k := policyKey(row)
		if wanted[k] == nil {
			order = append(order, k)
		}
		wanted[k] = row
	}
	var stale []string
	for _, uuid := range lr.Policies {
		row, ok := ovsdbtxn.ByUUID[*nbdb.LogicalRouterPolicy](c.db, uuid)
		if !ok {
			continue
		}
		if o, ours := OwnerOf(row.ExternalIDs); !ours || o != owner {
			continue
		}
		if k := policyKey(row); wanted[k] != nil {
			delete(wanted, k)
			continue
		}
		stale = append(stale, uuid)
	}
	var ops []ovsdb.Operation
	var created []string
	for _, k := range order {
		row := wanted[k]
		if row == nil {
			continue
		}
		row.UUID = ovsdbtxn.NamedUUID()
		create, err := c.db.DB().Create(row)
		if err != nil {
			return nil, fmt.Errorf("create router policy %q: %w", row.Match, err)
		}
		ops, created = append(ops, create...), append(created, row.UUID)
	}
	muts := ovsdbtxn.EditSet(&lr.Policies, created, stale)
	if len(muts) == 0 {
		return nil, nil
	}
	mutate, err := c.db.DB().Where(lr).Mutate(lr, muts...)
	if err != nil {
		return nil, fmt.Errorf("set policies of %s/%s on %s: %w", owner.Kind, owner.Name, router, err)
	}
	return append(ops, mutate...), nil
}

// RouterPolicies lists the policies owner has on the router, for tests
// and status.
func (c *Client) RouterPolicies(router string, owner Owner) ([]RouterPolicy, error) {
	lr, err := c.existingRouter(router)
	if err != nil {
		return nil, err
	}
	var out []RouterPolicy
	for _, uuid := range lr.Policies {
		row, ok := ovsdbtxn.ByUUID[*nbdb.LogicalRouterPolicy](c.db, uuid)
		if !ok {
			continue
		}
		if o, ours := OwnerOf(row.ExternalIDs); ours && o == owner {
			out = append(out, RouterPolicy{Priority: row.Priority, Match: row.Match, Action: row.Action, Nexthops: row.Nexthops})
		}
	}
	return out, nil
}
