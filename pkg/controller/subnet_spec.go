package controller

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
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

// ipamConfig checks a Subnet spec and turns it into the allocator's
// configuration. Overlaps between subnets are the allocator's to find.
func (n *Network) ipamConfig(name string, spec ovnetv1.SubnetSpec) (ipam.SubnetConfig, error) {
	cidr, err := ipam.ParseCIDR(spec.CIDR)
	if err != nil {
		return ipam.SubnetConfig{}, invalidSpec("cidr: %w", err)
	}
	if svc := n.Config.ServiceCIDR; svc.IsValid() && svc.Overlaps(cidr) {
		return ipam.SubnetConfig{}, &specError{Reason: ovnetv1.ReasonOverlap,
			Err: fmt.Errorf("cidr %s overlaps the service CIDR %s", cidr, svc)}
	}
	gateway, err := gatewayOf(cidr, spec.Gateway)
	if err != nil {
		return ipam.SubnetConfig{}, err
	}
	excludes, err := ipam.ParseExcludes(strings.Join(spec.ExcludeIPs, ","))
	if err != nil {
		return ipam.SubnetConfig{}, invalidSpec("excludeIPs: %w", err)
	}
	excludes, _ = splitExcludes(cidr, excludes)
	for _, a := range spec.Allow {
		if _, err := netip.ParsePrefix(strings.TrimSpace(a)); err != nil {
			return ipam.SubnetConfig{}, invalidSpec("allow: %q is not a CIDR", a)
		}
	}
	return ipam.SubnetConfig{Name: name, CIDR: cidr, Gateway: gateway, Excludes: excludes}, nil
}

// splitExcludes separates the excludes that touch cidr from those wholly
// outside it (or of the other family), which cannot mean anything there.
func splitExcludes(cidr netip.Prefix, excludes []ipam.Range) (inside, outside []ipam.Range) {
	first, last := cidr.Masked().Addr(), lastAddr(cidr)
	for _, r := range excludes {
		if r.First.Is4() != first.Is4() || r.Last.Less(first) || last.Less(r.First) {
			outside = append(outside, r)
			continue
		}
		inside = append(inside, r)
	}
	return inside, outside
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// specNotices lists what of an accepted spec ovnet does not act on, each
// saying why: excludes outside the CIDR, and gateway nodes of a
// distributed subnet.
func specNotices(spec ovnetv1.SubnetSpec) []string {
	var notes []string
	if cidr, err := ipam.ParseCIDR(spec.CIDR); err == nil {
		if excludes, err := ipam.ParseExcludes(strings.Join(spec.ExcludeIPs, ",")); err == nil {
			if _, outside := splitExcludes(cidr, excludes); len(outside) > 0 {
				notes = append(notes, fmt.Sprintf("excludeIPs %s lie outside cidr %s and are ignored", joinRanges(outside), cidr))
			}
		}
	}
	if spec.GatewayNode != "" && !spec.Underlay() && (spec.GatewayType == "" || spec.GatewayType == ovnetv1.GatewayDistributed) {
		notes = append(notes, fmt.Sprintf("gatewayNode %s is used by centralized gateways only: egress of this distributed subnet leaves through each pod's own node", spec.GatewayNode))
	}
	return append(notes, underlayNotices(spec)...)
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
func (n *Network) subnetOps(cfg ipam.SubnetConfig, spec ovnetv1.SubnetSpec, u underlay) ([]ovnOp, error) {
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: cfg.Name}
	var ops []ovnOp
	steps := []func() ([]ovnOp, error){
		func() ([]ovnOp, error) {
			return n.NB.SwitchOps(ovn.Switch{Name: cfg.Name, Owner: owner, OtherConfig: map[string]string{
				"subnet": cfg.CIDR.String(), "gateway": cfg.Gateway.String()}, LoadBalancerGroup: n.serviceGroup()})
		},
		func() ([]ovnOp, error) { return n.attachmentOps(cfg, u) },
		func() ([]ovnOp, error) {
			return n.NB.SwitchACLsOps(cfg.Name, owner, ovnACLs(n.privateACLs(cfg, spec)))
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

// prefixOf is the gateway address with the subnet's prefix length.
func prefixOf(cfg ipam.SubnetConfig) string {
	return netip.PrefixFrom(cfg.Gateway, cfg.CIDR.Bits()).String()
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
	if join, err := netip.ParsePrefix(n.Config.JoinSubnet.CIDR); err == nil {
		private.NodeCIDR = join
	}
	for _, a := range spec.Allow {
		if p, err := netip.ParsePrefix(strings.TrimSpace(a)); err == nil {
			private.Allow = append(private.Allow, p)
		}
	}
	return netpol.PrivateACLs(private)
}
