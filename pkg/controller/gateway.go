package controller

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// Policies on the cluster router decide where a packet bound outside the
// cluster leaves. The router runs on the chassis the packet came from, so
// a node's reroute, guarded by is_chassis_resident of its own join port,
// matches only its own pods: a pod's arrival or departure changes no
// northbound row of the gateway state.
const (
	// priorityClusterDestination lets traffic to subnets, the join and
	// service CIDRs and node addresses route normally.
	priorityClusterDestination = 31000
	// priorityCentralized sends a centralized subnet's egress to its
	// active gateway node.
	priorityCentralized = 29500
	// priorityDistributed sends every other pod's egress to its own node.
	priorityDistributed = 29000
)

// ipMatchField is "ip4" or "ip6" for an address's family.
func ipMatchField(a netip.Addr) string {
	if a.Is4() {
		return "ip4"
	}
	return "ip6"
}

// destinationPolicy lets traffic to p take the router's routes.
func destinationPolicy(p netip.Prefix) ovn.RouterPolicy {
	return ovn.RouterPolicy{Priority: priorityClusterDestination, Action: ovn.PolicyAllow,
		Match: fmt.Sprintf("%s.dst == %s", ipMatchField(p.Addr()), p.Masked())}
}

// distributedPolicy sends IPv4 traffic that came from the node's own pods,
// and is bound outside the cluster, to the node's join address.
func distributedPolicy(node string, join netip.Addr) ovn.RouterPolicy {
	return ovn.RouterPolicy{Priority: priorityDistributed, Action: ovn.PolicyReroute, Nexthops: []string{join.String()},
		Match: fmt.Sprintf("%s && is_chassis_resident(%q)", ipMatchField(join), ovnname.NodePort(node))}
}

// centralizedPolicy sends the subnet's egress to its gateway node's join
// address.
func centralizedPolicy(cidr netip.Prefix, gateway netip.Addr) ovn.RouterPolicy {
	return ovn.RouterPolicy{Priority: priorityCentralized, Action: ovn.PolicyReroute, Nexthops: []string{gateway.String()},
		Match: fmt.Sprintf("%s.src == %s", ipMatchField(cidr.Addr()), cidr.Masked())}
}

// nodeFamily is a node's join address of one family and its InternalIP
// of that family, invalid when it has none.
type nodeFamily struct {
	join, internal netip.Addr
}

// nodePolicies are a node's policies, given its join address's families
// (IPv4 first): its InternalIP of each is a cluster destination, reached
// through its ovn0 (the node's static route), and its pods leave through
// it, in IPv4 and, with a dual-stack join, in IPv6.
func nodePolicies(node string, families []nodeFamily) []ovn.RouterPolicy {
	var out []ovn.RouterPolicy
	for i, f := range families {
		if f.internal.IsValid() {
			out = append(out, destinationPolicy(netip.PrefixFrom(f.internal, f.internal.BitLen())))
		}
		if i > 0 || f.join.Is4() {
			out = append(out, distributedPolicy(node, f.join))
		}
	}
	return out
}

// clusterRoutingOps are the cluster router's own routing rows: the
// default route that lets packets bound outside reach the policy stage
// (its next hop, the router's own join address, is never used: a reroute
// always decides), and each service CIDR as a cluster destination.
func (n *Network) clusterRoutingOps() ([]ovnOp, error) {
	joins, err := parseCIDRs(n.Config.JoinSubnet.CIDR)
	if err != nil {
		return nil, fmt.Errorf("join subnet: %w", err)
	}
	gateways, err := parseGateways(joins, n.Config.JoinSubnet.Gateway)
	if err != nil {
		return nil, fmt.Errorf("join subnet: %w", err)
	}
	owner := n.clusterOwner()
	var ops []ovnOp
	for i, gw := range gateways {
		// One default route per family of the join subnet; an owner holds
		// one route, so a dual-stack join's IPv6 route has an owner of its own.
		route := ovn.StaticRoute{Router: n.Config.ClusterRouter, Prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0).String(),
			Nexthop: gw.String(), Owner: owner}
		if !gw.Is4() {
			route.Prefix = netip.PrefixFrom(netip.IPv6Unspecified(), 0).String()
		}
		if i == 1 {
			route.Owner.Name = ipv6Half(owner.Name)
		}
		more, err := n.NB.StaticRouteOps(route)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	if len(gateways) == 1 {
		// A join no longer dual stack leaves no IPv6 default route behind.
		ipv6Owner := owner
		ipv6Owner.Name = ipv6Half(owner.Name)
		more, err := n.NB.DeleteStaticRoutesOps(n.Config.ClusterRouter, ipv6Owner)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	var policies []ovn.RouterPolicy
	for _, svc := range n.Config.ServiceCIDRs {
		policies = append(policies, destinationPolicy(svc))
	}
	more, err := n.NB.RouterPoliciesOps(n.Config.ClusterRouter, owner, policies)
	return slices.Concat(ops, more), err
}

// subnetPoliciesOps makes the subnet's policies: its CIDR is a cluster
// destination, and a centralized subnet's egress goes to its active
// gateway. A nil egress (a refused gateway setting) keeps the reroute in
// force. An underlay subnet has no egress policy, its pods' egress never
// reaching the router; an interconnected one is a cluster destination, so
// that overlay pods reach it through its router port, while any other is
// none, an overlay pod's packet to it taking its node's reroute.
func (n *Network) subnetPoliciesOps(sub subnetConfig, egress *egressState, u underlay) ([]ovnOp, error) {
	cfg := sub.SubnetConfig
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: cfg.Name}
	if u.isUnderlay() {
		var policies []ovn.RouterPolicy
		for _, p := range u.interconnect {
			policies = append(policies, destinationPolicy(p))
		}
		return n.NB.RouterPoliciesOps(n.Config.ClusterRouter, owner, policies)
	}
	var policies []ovn.RouterPolicy
	for _, half := range sub.halves() {
		policies = append(policies, destinationPolicy(half.CIDR))
	}
	switch {
	case egress == nil:
		have, err := n.NB.RouterPolicies(n.Config.ClusterRouter, owner)
		if err != nil {
			return nil, err
		}
		for _, p := range have {
			if p.Priority == priorityCentralized {
				policies = append(policies, p)
			}
		}
	case egress.spec.centralized && egress.active != nil:
		// Each family's half leaves through the gateway's join address of
		// that family; without one (an IPv4 join) the IPv6 half has no way
		// out at all, which the Subnet's IgnoredFields says.
		for _, half := range sub.halves() {
			if next, ok := egress.active.joinOf(half.CIDR.Addr()); ok {
				policies = append(policies, centralizedPolicy(half.CIDR, next))
			}
		}
	}
	return n.NB.RouterPoliciesOps(n.Config.ClusterRouter, owner, policies)
}
