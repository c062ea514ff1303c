package controller

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/servicecidr"
)

// specError is a Subnet spec the controller refuses; Reason goes into the
// Validated condition.
type specError struct {
	Reason string
	Err    error
}

func (e *specError) Error() string { return e.Err.Error() }
func (e *specError) Unwrap() error { return e.Err }

func invalidSpec(format string, args ...any) error {
	return &specError{Reason: ovnetv1.ReasonInvalidSpec, Err: fmt.Errorf(format, args...)}
}

// subnetConfig is a Subnet as the allocator has it: its first family
// under the Subnet's name and, for a dual-stack Subnet, its IPv6 half under
// ipv6Half(name). Code that knows one family only sees the first.
type subnetConfig struct {
	ipam.SubnetConfig
	// IPv6 is the IPv6 half of a dual-stack Subnet; nil otherwise.
	IPv6 *ipam.SubnetConfig
}

// halves lists the allocator's subnets, IPv4 first.
func (c subnetConfig) halves() []ipam.SubnetConfig {
	if c.IPv6 == nil {
		return []ipam.SubnetConfig{c.SubnetConfig}
	}
	return []ipam.SubnetConfig{c.SubnetConfig, *c.IPv6}
}

// sameAddressing reports whether pods' records need no rewrite between
// the two configurations: the same CIDRs and gateways.
func (c subnetConfig) sameAddressing(o subnetConfig) bool {
	return slices.EqualFunc(c.halves(), o.halves(), func(a, b ipam.SubnetConfig) bool {
		return a.CIDR == b.CIDR && a.Gateway == b.Gateway
	})
}

// ipv6HalfSuffix names the allocator's subnet holding the IPv6 half of a
// dual-stack Subnet; a "/" is in no Kubernetes name, so it cannot collide.
const ipv6HalfSuffix = "/ipv6"

func ipv6Half(name string) string { return name + ipv6HalfSuffix }

// nameOfHalf is the name a half's name was made from: the Subnet an
// allocator subnet belongs to, the object an IPv6 row's owner stands for.
func nameOfHalf(name string) string { return strings.TrimSuffix(name, ipv6HalfSuffix) }

// subnetConfig reads a Subnet's configuration back from the allocator.
func (n *Network) subnetConfig(name string) (subnetConfig, bool) {
	cfg, ok := n.IPAM.Subnet(name)
	if !ok {
		return subnetConfig{}, false
	}
	out := subnetConfig{SubnetConfig: cfg}
	if v6, ok := n.IPAM.Subnet(ipv6Half(name)); ok {
		out.IPv6 = &v6
	}
	return out, true
}

// setSubnet loads a Subnet into the allocator, both halves or neither. The
// IPv6 half goes in first: a pod placed meanwhile finds either no subnet
// (and waits) or both halves, never an IPv4 half that reads as single
// stack and addresses it in one family only.
func (n *Network) setSubnet(cfg subnetConfig) error {
	if cfg.IPv6 == nil {
		return n.setSingleStack(cfg.SubnetConfig)
	}
	v6 := ipv6Half(cfg.Name)
	oldV6, hadV6 := n.IPAM.Subnet(v6)
	if err := n.IPAM.SetSubnet(*cfg.IPv6); err != nil {
		return err
	}
	if err := n.IPAM.SetSubnet(cfg.SubnetConfig); err != nil {
		n.restore(v6, oldV6, hadV6)
		return err
	}
	return nil
}

// setSingleStack loads a single-stack Subnet and drops an IPv6 half it had.
func (n *Network) setSingleStack(cfg ipam.SubnetConfig) error {
	old, existed := n.IPAM.Subnet(cfg.Name)
	if err := n.IPAM.SetSubnet(cfg); err != nil {
		return err
	}
	if err := n.IPAM.RemoveSubnet(ipv6Half(cfg.Name)); err != nil {
		n.restore(cfg.Name, old, existed)
		return fmt.Errorf("the IPv6 half cannot go: %w", err)
	}
	return nil
}

// restore puts an allocator subnet back as it was before a refused change:
// its old configuration, which was accepted as it stands, or nothing.
func (n *Network) restore(name string, old ipam.SubnetConfig, existed bool) {
	if existed {
		_ = n.IPAM.SetSubnet(old)
	} else {
		_ = n.IPAM.RemoveSubnet(name)
	}
}

// ipamConfig checks a Subnet spec and turns it into the allocator's
// configuration. A dual-stack Subnet writes its CIDRs, gateways and
// excludes as Kube-OVN does: comma separated, one CIDR of each family.
// Overlaps between subnets are the allocator's to find.
func (n *Network) ipamConfig(name string, spec ovnetv1.SubnetSpec) (subnetConfig, error) {
	cidrs, err := parseCIDRs(spec.CIDR)
	if err != nil {
		return subnetConfig{}, err
	}
	gateways, err := parseGateways(cidrs, spec.Gateway)
	if err != nil {
		return subnetConfig{}, err
	}
	excludes, err := ipam.ParseExcludes(strings.Join(spec.ExcludeIPs, ","))
	if err != nil {
		return subnetConfig{}, invalidSpec("excludeIPs: %w", err)
	}
	if spec.Underlay() && spec.U2OInterconnection {
		// The cluster router's address on the subnet is no pod's; a bad
		// one is parseUnderlay's to refuse.
		prefixes, _ := interconnectPrefixes(spec)
		for _, p := range prefixes {
			excludes = append(excludes, ipam.Range{First: p.Addr(), Last: p.Addr()})
		}
	}
	for _, a := range spec.Allow {
		if _, err := netip.ParsePrefix(strings.TrimSpace(a)); err != nil {
			return subnetConfig{}, invalidSpec("allow: %q is not a CIDR", a)
		}
	}
	halves := make([]ipam.SubnetConfig, len(cidrs))
	for i, cidr := range cidrs {
		if svc, ok := servicecidr.Of(n.Config.ServiceCIDRs, cidr.Addr()); ok && svc.Overlaps(cidr) {
			return subnetConfig{}, &specError{Reason: ovnetv1.ReasonOverlap,
				Err: fmt.Errorf("cidr %s overlaps the service CIDR %s", cidr, svc)}
		}
		inside, _ := splitExcludes(cidr, excludes)
		halves[i] = ipam.SubnetConfig{Name: name, CIDR: cidr, Gateway: gateways[i], Excludes: inside}
	}
	cfg := subnetConfig{SubnetConfig: halves[0]}
	if len(halves) == 2 {
		halves[1].Name = ipv6Half(name)
		cfg.IPv6 = &halves[1]
	}
	return cfg, nil
}

// parseCIDRs reads one CIDR, or an IPv4 and an IPv6 one (in either order;
// IPv4 comes first in the result).
func parseCIDRs(s string) ([]netip.Prefix, error) {
	parts := annotation.SplitList(s)
	if len(parts) == 0 || len(parts) > 2 {
		return nil, invalidSpec("cidr %q: want one CIDR, or one IPv4 and one IPv6 CIDR separated by a comma", s)
	}
	cidrs := make([]netip.Prefix, len(parts))
	for i, part := range parts {
		cidr, err := ipam.ParseCIDR(part)
		if err != nil {
			return nil, invalidSpec("cidr: %w", err)
		}
		cidrs[i] = cidr
	}
	if len(cidrs) == 2 {
		if cidrs[0].Addr().Is4() == cidrs[1].Addr().Is4() {
			return nil, invalidSpec("cidr %q: two CIDRs of one family; a dual-stack subnet has one IPv4 and one IPv6 CIDR", s)
		}
		if cidrs[0].Addr().Is6() {
			cidrs[0], cidrs[1] = cidrs[1], cidrs[0]
		}
	}
	return cidrs, nil
}

// parseGateways reads the gateway of each CIDR, matched by family; a CIDR
// given none has its first address.
func parseGateways(cidrs []netip.Prefix, s string) ([]netip.Addr, error) {
	given, err := addressPerFamily("gateway", s, cidrs)
	if err != nil {
		return nil, err
	}
	gateways := make([]netip.Addr, len(cidrs))
	for i, cidr := range cidrs {
		gw, err := gatewayOf(cidr, given[cidr.Addr().Is4()])
		if err != nil {
			return nil, err
		}
		gateways[i] = gw
	}
	return gateways, nil
}

// addressPerFamily reads a spec field holding at most one address of each
// family the cidrs have, comma separated as Kube-OVN writes it, by "is
// IPv4"; field names it in refusals.
func addressPerFamily(field, s string, cidrs []netip.Prefix) (map[bool]string, error) {
	given := make(map[bool]string)
	for _, g := range annotation.SplitList(s) {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return nil, invalidSpec("%s %q is not an IP address", field, g)
		}
		if _, dup := given[a.Is4()]; dup {
			return nil, invalidSpec("%s %q: two addresses of one family", field, s)
		}
		given[a.Is4()] = g
	}
	for is4, g := range given {
		if !slices.ContainsFunc(cidrs, func(c netip.Prefix) bool { return c.Addr().Is4() == is4 }) {
			return nil, invalidSpec("%s %s is not of the family of any cidr", field, g)
		}
	}
	return given, nil
}

// splitExcludes separates the excludes that touch cidr from those wholly
// outside it (or of the other family), which cannot mean anything there.
func splitExcludes(cidr netip.Prefix, excludes []ipam.Range) (inside, outside []ipam.Range) {
	first, last := cidr.Masked().Addr(), ipam.LastAddr(cidr)
	for _, r := range excludes {
		if r.First.Is4() != first.Is4() || r.Last.Less(first) || last.Less(r.First) {
			outside = append(outside, r)
			continue
		}
		inside = append(inside, r)
	}
	return inside, outside
}

// specNotices lists what of an accepted spec ovnet does not act on, each
// saying why: excludes outside the CIDR, and gateway nodes of a
// distributed subnet.
func specNotices(spec ovnetv1.SubnetSpec) []string {
	var notes []string
	if cidrs, err := parseCIDRs(spec.CIDR); err == nil {
		if excludes, err := ipam.ParseExcludes(strings.Join(spec.ExcludeIPs, ",")); err == nil {
			for _, cidr := range cidrs {
				_, excludes = splitExcludes(cidr, excludes)
			}
			if len(excludes) > 0 {
				notes = append(notes, fmt.Sprintf("excludeIPs %s lie outside cidr %s and are ignored", joinRanges(excludes), spec.CIDR))
			}
		}
	}
	if spec.GatewayNode != "" && !spec.Underlay() && (spec.GatewayType == "" || spec.GatewayType == ovnetv1.GatewayDistributed) {
		notes = append(notes, fmt.Sprintf("gatewayNode %s is used by centralized gateways only: egress of this distributed subnet leaves through each pod's own node", spec.GatewayNode))
	}
	return append(notes, underlayNotices(spec)...)
}

// egressNotices says which of an overlay subnet's CIDRs cannot leave the
// cluster: one of a family the join subnet lacks (an IPv6 CIDR beside an
// IPv4 join) has no node address to be rerouted to, so its egress, NAT or
// not, stops at the cluster router.
func (n *Network) egressNotices(spec ovnetv1.SubnetSpec) []string {
	cidrs, err := parseCIDRs(spec.CIDR)
	if err != nil || spec.Underlay() {
		return nil
	}
	joins := n.joinPrefixes()
	var notes []string
	for _, cidr := range cidrs {
		if !slices.ContainsFunc(joins, func(j netip.Prefix) bool { return j.Addr().Is4() == cidr.Addr().Is4() }) {
			notes = append(notes, fmt.Sprintf("cidr %s does not reach outside the cluster (natOutgoing, gateways): the join subnet %s has no CIDR of its family (--join-cidr)",
				cidr, n.Config.JoinSubnet.CIDR))
		}
	}
	return notes
}

func joinRanges(rs []ipam.Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func gatewayOf(cidr netip.Prefix, given string) (netip.Addr, error) {
	if given == "" {
		return cidr.Addr().Next(), nil
	}
	gw, err := netip.ParseAddr(strings.TrimSpace(given))
	if err != nil {
		return netip.Addr{}, invalidSpec("gateway %q is not an IP address", given)
	}
	if !cidr.Contains(gw) {
		return netip.Addr{}, invalidSpec("gateway %s is outside cidr %s", gw, cidr)
	}
	return gw, nil
}

// routerPortMAC derives a stable MAC from the port name, so the desired
// rows are a pure function of the Subnet and a restart rewrites nothing.
func routerPortMAC(name string) string {
	sum := sha256.Sum256([]byte("ovnet/router-port/" + name))
	mac := net.HardwareAddr{0x0a, sum[0], sum[1], sum[2], sum[3], sum[4]}
	return mac.String()
}

// subnetOps builds the one transaction that makes a subnet's switch, its
// attachment (to the cluster router, or to its provider network) and its
// private/allow ACLs match cfg and spec.
func (n *Network) subnetOps(cfg subnetConfig, spec ovnetv1.SubnetSpec, u underlay) ([]ovnOp, error) {
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: cfg.Name}
	var ops []ovnOp
	steps := []func() ([]ovnOp, error){
		func() ([]ovnOp, error) {
			return n.NB.SwitchOps(ovn.Switch{Name: cfg.Name, Owner: owner, OtherConfig: map[string]string{
				"subnet": cfg.CIDR.String(), "gateway": cfg.Gateway.String()}, LoadBalancerGroup: n.serviceGroup()})
		},
		func() ([]ovnOp, error) { return n.attachmentOps(cfg, u) },
		func() ([]ovnOp, error) {
			var acls []netpol.ACL
			for _, half := range cfg.halves() {
				acls = append(acls, n.privateACLs(half, spec)...)
			}
			return n.NB.SwitchACLsOps(cfg.Name, owner, ovnACLs(acls))
		},
	}
	for _, step := range steps {
		more, err := step()
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// joinPrefixes are the join subnet's CIDRs, one per family; none if they do
// not parse.
func (n *Network) joinPrefixes() []netip.Prefix {
	cidrs, err := parseCIDRs(n.Config.JoinSubnet.CIDR)
	if err != nil {
		return nil
	}
	return cidrs
}

// routerPortNetworks are the gateway addresses the subnet's router port
// holds, one per family.
func routerPortNetworks(cfg subnetConfig) []string {
	var out []string
	for _, half := range cfg.halves() {
		out = append(out, netip.PrefixFrom(half.Gateway, half.CIDR.Bits()).String())
	}
	return out
}

// deleteSubnetOps removes the switch (and its ports), its router port and
// its policies.
func (n *Network) deleteSubnetOps(name string) ([]ovnOp, error) {
	ops, err := n.NB.DeleteRouterPortOps(n.Config.ClusterRouter, ovnname.RouterPort(n.Config.ClusterRouter, name))
	if err != nil {
		return nil, err
	}
	policies, err := n.NB.RouterPoliciesOps(n.Config.ClusterRouter, ovn.Owner{Kind: ovn.KindSubnet, Name: name}, nil)
	if err != nil {
		return nil, err
	}
	more, err := n.NB.DeleteSwitchOps(name)
	return slices.Concat(ops, policies, more), err
}

// setUsage writes a Subnet's address counts into its status: per family,
// and overall the addresses its pods and nodes hold (one of each family
// apiece) and how many more of them fit.
func (n *Network) setUsage(name string, status *ovnetv1.SubnetStatus) {
	status.V4UsedIPs, status.V4AvailableIPs, status.V6UsedIPs, status.V6AvailableIPs = 0, 0, 0, 0
	first := true
	for _, half := range []string{name, ipv6Half(name)} {
		usage, ok := n.IPAM.Usage(half)
		cfg, _ := n.IPAM.Subnet(half)
		if !ok {
			continue
		}
		used, available := saturate(usage.Used), saturate(usage.Available)
		if cfg.CIDR.Addr().Is4() {
			status.V4UsedIPs, status.V4AvailableIPs = used, available
		} else {
			status.V6UsedIPs, status.V6AvailableIPs = used, available
		}
		if first {
			status.UsedIPs, status.AvailableIPs, first = used, available, false
		} else {
			status.AvailableIPs = min(status.AvailableIPs, available)
		}
	}
}

// saturate converts an unsigned count to the int64 the status carries.
func saturate(v uint64) int64 {
	if v > uint64(1<<63-1) {
		return 1<<63 - 1
	}
	return int64(v)
}

// privateACLs are the ACLs a private subnet's switch carries (none for a
// subnet that is not private). The allow CIDRs were validated by ipamConfig.
func (n *Network) privateACLs(cfg ipam.SubnetConfig, spec ovnetv1.SubnetSpec) []netpol.ACL {
	if !spec.Private {
		return nil
	}
	private := netpol.PrivateSubnet{Name: cfg.Name, CIDR: cfg.CIDR}
	// The nodes reach the subnet from their join address of its family.
	for _, join := range n.joinPrefixes() {
		if join.Addr().Is4() == cfg.CIDR.Addr().Is4() {
			private.NodeCIDR = join
		}
	}
	for _, a := range spec.Allow {
		if p, err := netip.ParsePrefix(strings.TrimSpace(a)); err == nil {
			private.Allow = append(private.Allow, p)
		}
	}
	return netpol.PrivateACLs(private)
}
