package ovn

import (
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
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
	return find(c, &nbdb.LoadBalancer{Name: name})
}

// groupSelector selects a load balancer group by its (indexed) name
// without reading it: the group lists every load balancer, and copying
// that list out of the cache would make each service change cost O(services).
func (c *Client) groupSelector(name string) (*nbdb.LoadBalancerGroup, []model.Condition) {
	g := &nbdb.LoadBalancerGroup{Name: name}
	return g, []model.Condition{{Field: &g.Name, Function: ovsdb.ConditionEqual, Value: name}}
}

// LoadBalancerGroupOps returns the ops that make the group exist and hold
// every load balancer ovnet owns, or none when it does. It reads every
// load balancer, so it is for start-up, not for each service change.
func (c *Client) LoadBalancerGroupOps(name string) ([]ovsdb.Operation, error) {
	have := &nbdb.LoadBalancerGroup{Name: name}
	found, err := c.lookup(have)
	if err != nil {
		return nil, fmt.Errorf("load balancer group %s: %w", name, err)
	}
	var owned []nbdb.LoadBalancer
	err = c.nb.WhereCache(func(lb *nbdb.LoadBalancer) bool {
		_, ok := OwnerOf(lb.ExternalIDs)
		return ok
	}).List(backgroundCtx(), &owned)
	if err != nil {
		return nil, fmt.Errorf("list owned load balancers: %w", err)
	}
	var missing []string
	for _, lb := range owned {
		if !found || !slices.Contains(have.LoadBalancer, lb.UUID) {
			missing = append(missing, lb.UUID)
		}
	}
	if !found {
		g := &nbdb.LoadBalancerGroup{UUID: newNamedUUID(), Name: name, LoadBalancer: missing}
		ops, err := c.nb.Create(g)
		if err != nil {
			return nil, fmt.Errorf("create load balancer group %s: %w", name, err)
		}
		return ops, nil
	}
	if len(missing) == 0 {
		return nil, nil
	}
	ops, err := c.nb.Where(have).Mutate(have, model.Mutation{Field: &have.LoadBalancer,
		Mutator: ovsdb.MutateOperationInsert, Value: missing})
	if err != nil {
		return nil, fmt.Errorf("add load balancers to group %s: %w", name, err)
	}
	return ops, nil
}

// LoadBalancerOps returns the ops that make want exist as described and a
// member of group, or none when it already is. A change of backends is an
// update of the vips column of that one row.
func (c *Client) LoadBalancerOps(group string, want LoadBalancer) ([]ovsdb.Operation, error) {
	have, err := c.loadBalancerByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("load balancer %s: %w", want.Name, err)
	}
	lb := &nbdb.LoadBalancer{Name: want.Name, Protocol: &want.Protocol, Vips: want.Vips, Options: want.Options,
		ExternalIDs: want.Owner.ExternalIDs()}
	if have == nil {
		return c.createLoadBalancerOps(group, lb)
	}
	lb.UUID = have.UUID
	var columns []any
	if have.Protocol == nil || *have.Protocol != want.Protocol {
		columns = append(columns, &lb.Protocol)
	}
	if !sameMap(have.Vips, lb.Vips) {
		columns = append(columns, &lb.Vips)
	}
	if !sameMap(have.Options, lb.Options) {
		columns = append(columns, &lb.Options)
	}
	if !sameMap(have.ExternalIDs, lb.ExternalIDs) {
		columns = append(columns, &lb.ExternalIDs)
	}
	if len(columns) == 0 {
		return nil, nil
	}
	ops, err := c.nb.Where(lb).Update(lb, columns...)
	if err != nil {
		return nil, fmt.Errorf("update load balancer %s: %w", want.Name, err)
	}
	return ops, nil
}

func (c *Client) createLoadBalancerOps(group string, lb *nbdb.LoadBalancer) ([]ovsdb.Operation, error) {
	lb.UUID = newNamedUUID()
	probe := &nbdb.LoadBalancer{Name: lb.Name}
	ops, err := c.waitAbsent(probe, &probe.Name, lb.Name)
	if err != nil {
		return nil, err
	}
	create, err := c.nb.Create(lb)
	if err != nil {
		return nil, fmt.Errorf("create load balancer %s: %w", lb.Name, err)
	}
	g, cond := c.groupSelector(group)
	attach, err := c.nb.WhereAny(g, cond...).Mutate(g, insertRef(&g.LoadBalancer, lb.UUID))
	if err != nil {
		return nil, fmt.Errorf("add load balancer %s to group %s: %w", lb.Name, group, err)
	}
	return append(append(ops, create...), attach...), nil
}

// DeleteLoadBalancerOps removes a load balancer from group and deletes it;
// none when it is already gone.
func (c *Client) DeleteLoadBalancerOps(group, name string) ([]ovsdb.Operation, error) {
	have, err := c.loadBalancerByName(name)
	if err != nil || have == nil {
		return nil, err
	}
	g, cond := c.groupSelector(group)
	return c.deleteLoadBalancerOps(c.nb.WhereAny(g, cond...), g, have)
}

// deleteLoadBalancerOps detaches lb from the groups groups selects, then
// deletes it, in one transaction. The group's reference is weak in the NB
// schema ovnet is built for, so the delete alone would do; detaching first
// keeps the transaction valid where the reference is strong.
func (c *Client) deleteLoadBalancerOps(groups client.ConditionalAPI, g *nbdb.LoadBalancerGroup, lb *nbdb.LoadBalancer) ([]ovsdb.Operation, error) {
	ops, err := groups.Mutate(g, deleteRef(&g.LoadBalancer, lb.UUID))
	if err != nil {
		return nil, fmt.Errorf("remove load balancer %s from its group: %w", lb.Name, err)
	}
	del, err := c.nb.Where(lb).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete load balancer %s: %w", lb.Name, err)
	}
	return append(ops, del...), nil
}

// loadBalancerGarbage deletes dead owned load balancers, detaching each
// from whichever group holds it.
func (c *Client) loadBalancerGarbage(dead func(map[string]string) bool) ([]ovsdb.Operation, error) {
	var lbs []nbdb.LoadBalancer
	err := c.nb.WhereCache(func(lb *nbdb.LoadBalancer) bool { return dead(lb.ExternalIDs) }).List(backgroundCtx(), &lbs)
	if err != nil {
		return nil, fmt.Errorf("list dead load balancers: %w", err)
	}
	var ops []ovsdb.Operation
	for i := range lbs {
		g := &nbdb.LoadBalancerGroup{}
		holders := c.nb.WhereAny(g, model.Condition{Field: &g.LoadBalancer, Function: ovsdb.ConditionIncludes,
			Value: []string{lbs[i].UUID}})
		more, err := c.deleteLoadBalancerOps(holders, g, &lbs[i])
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}
