package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Load balancer options ovnet sets (ovn-nb(5), table Load_Balancer).
const (
	// LBOptionReject makes a VIP without backends refuse connections (TCP
	// RST, ICMP port unreachable) instead of dropping them, as kube-proxy
	// does for a Service without ready endpoints.
	LBOptionReject = "reject"
	// LBOptionAffinityTimeout sends a client to the backend it reached
	// before, for that many seconds after its last connection.
	LBOptionAffinityTimeout = "affinity_timeout"
)

// LoadBalancer is the desired state of one load balancer: the VIPs of one
// Service for one protocol.
type LoadBalancer struct {
	Name string
	// Protocol is nbdb.LoadBalancerProtocolTCP, UDP or SCTP.
	Protocol string
	// Vips maps "VIP:port" to its backends, "IP:port" comma separated;
	// an empty string means no backend.
	Vips    map[string]string
	Options map[string]string
	Owner   Owner
}

func (c *Client) loadBalancerByName(name string) (*nbdb.LoadBalancer, error) {
	return get(c, &nbdb.LoadBalancer{Name: name})
}

// groupParent is the load balancer group, selected by its (indexed) name
// without reading it: the group lists every load balancer, and copying
// that list out of the cache would make each service change cost O(services).
func groupParent(name string) *ovsdbtxn.Parent {
	g := &nbdb.LoadBalancerGroup{Name: name}
	return &ovsdbtxn.Parent{Model: g, Refs: &g.LoadBalancer, Name: &g.Name, ByName: true}
}

// LoadBalancerGroupOps returns the ops that make the group exist and hold
// every load balancer ovnet owns, or none when it does. It reads every
// load balancer, so it is for start-up, not for each service change.
func (c *Client) LoadBalancerGroupOps(name string) ([]ovsdb.Operation, error) {
	have, err := get(c, &nbdb.LoadBalancerGroup{Name: name})
	if err != nil {
		return nil, fmt.Errorf("load balancer group %s: %w", name, err)
	}
	owned, err := ovsdbtxn.List(c.db, func(lb *nbdb.LoadBalancer) bool {
		_, ok := OwnerOf(lb.ExternalIDs)
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("owned load balancers: %w", err)
	}
	var missing []string
	for _, lb := range owned {
		if have == nil || !slices.Contains(have.LoadBalancer, lb.UUID) {
			missing = append(missing, lb.UUID)
		}
	}
	if have == nil {
		g := &nbdb.LoadBalancerGroup{UUID: ovsdbtxn.NamedUUID(), Name: name, LoadBalancer: missing}
		ops, err := c.db.DB().Create(g)
		if err != nil {
			return nil, fmt.Errorf("create load balancer group %s: %w", name, err)
		}
		return ops, nil
	}
	if len(missing) == 0 {
		return nil, nil
	}
	ops, err := c.db.DB().Where(have).Mutate(have, ovsdbtxn.InsertRefs(&have.LoadBalancer, missing...))
	if err != nil {
		return nil, fmt.Errorf("add load balancers to group %s: %w", name, err)
	}
	return ops, nil
}

// LoadBalancerOps returns the ops that make want exist as described and a
// member of group, or none when it already is. A change of backends is an
// update of the vips column of that one row.
func (c *Client) LoadBalancerOps(group string, want LoadBalancer) ([]ovsdb.Operation, error) {
	lb := &nbdb.LoadBalancer{Name: want.Name, Protocol: &want.Protocol, Vips: want.Vips, Options: want.Options,
		ExternalIDs: want.Owner.ExternalIDs()}
	res, err := ensure(c, "load balancer "+want.Name, ovsdbtxn.Row[*nbdb.LoadBalancer]{
		Model: lb, Fields: []any{&lb.Protocol, &lb.Vips, &lb.Options, &lb.ExternalIDs}, Unique: &lb.Name,
		Parent: groupParent(group),
	})
	return res.Ops, err
}

// DeleteLoadBalancerOps removes a load balancer from its group and deletes
// it; none when it is already gone. It leaves whichever group holds it,
// group or another, as ports leave whichever switch or router holds them.
func (c *Client) DeleteLoadBalancerOps(group, name string) ([]ovsdb.Operation, error) {
	have, err := c.loadBalancerByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	return c.deleteLoadBalancerOps(have)
}

// deleteLoadBalancerOps detaches lb from the groups holding it, then
// deletes it, in one transaction. The group's reference is weak in the NB
// schema ovnet is built for, so the delete alone would do; detaching first
// keeps the transaction valid where the reference is strong.
func (c *Client) deleteLoadBalancerOps(lb *nbdb.LoadBalancer) ([]ovsdb.Operation, error) {
	g := &nbdb.LoadBalancerGroup{}
	ops, err := ovsdbtxn.DetachOps(c.db, g, &g.LoadBalancer, lb.UUID)
	if err != nil {
		return nil, fmt.Errorf("remove load balancer %s from its group: %w", lb.Name, err)
	}
	del, err := c.db.DB().Where(lb).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete load balancer %s: %w", lb.Name, err)
	}
	return append(ops, del...), nil
}

// loadBalancerGarbage deletes dead owned load balancers, detaching each
// from whichever group holds it.
func (c *Client) loadBalancerGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	lbs, err := ovsdbtxn.List(c.db, func(lb *nbdb.LoadBalancer) bool { return dead(lb.ExternalIDs) })
	if err != nil {
		return nil, fmt.Errorf("dead load balancers: %w", err)
	}
	var ops []ovsdb.Operation
	for i := range lbs {
		more, err := c.deleteLoadBalancerOps(&lbs[i])
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
