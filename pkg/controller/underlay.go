package controller

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// underlay is where a subnet's switch meets the physical network: the
// zero value for an overlay subnet, attached to the cluster router.
type underlay struct {
	// provider is the ProviderNetwork's name, the localnet port's
	// network_name and the key of ovn-bridge-mappings on every node.
	provider string
	// vlan is the 802.1Q tag on the provider network; 0 is untagged.
	vlan int
	// interconnect holds the cluster router's addresses on the subnet,
	// one per CIDR (IPv4 first), with the CIDR's prefix length, when
	// u2oInterconnection is on; none otherwise.
	interconnect []netip.Prefix
}

// interconnected says whether the switch is routed by the cluster router
// as well as bridged.
func (u underlay) interconnected() bool { return len(u.interconnect) > 0 }

// interconnectAddrs are the router's addresses on the subnet, written as
// u2oInterconnectionIP is: comma separated, IPv4 first.
func (u underlay) interconnectAddrs() string {
	addrs := make([]string, len(u.interconnect))
	for i, p := range u.interconnect {
		addrs[i] = p.Addr().String()
	}
	return strings.Join(addrs, ",")
}

// isUnderlay says whether the switch is bridged rather than routed.
func (u underlay) isUnderlay() bool { return u.provider != "" }

// parseUnderlay checks the spec's provider, VLAN and interconnection: a
// VLAN or an interconnection needs a provider, a VLAN lies in 0..4094
// (the schema says so too, but a client may bypass it with an older CRD),
// the router's address is free (holder reports who holds an address of
// the subnet) and the ProviderNetwork must exist.
func parseUnderlay(ctx context.Context, c client.Reader, spec ovnetv1.SubnetSpec, holder func(netip.Addr) (string, bool)) (underlay, error) {
	u := underlay{provider: spec.Provider, vlan: spec.Vlan}
	if u.vlan < 0 || u.vlan > ovnetv1.MaxVlan {
		return underlay{}, invalidSpec("vlan %d is outside 0..%d", u.vlan, ovnetv1.MaxVlan)
	}
	if !u.isUnderlay() {
		if u.vlan != 0 {
			return underlay{}, invalidSpec("vlan %d needs a provider: a VLAN tag means something on a physical network only", u.vlan)
		}
		if spec.U2OInterconnection || spec.U2OInterconnectionIP != "" {
			return underlay{}, invalidSpec("u2oInterconnection needs a provider: an overlay subnet is attached to the cluster router already")
		}
		return u, nil
	}
	if spec.U2OInterconnectionIP != "" && !spec.U2OInterconnection {
		return underlay{}, invalidSpec("u2oInterconnectionIP %s without u2oInterconnection: true would not be used", spec.U2OInterconnectionIP)
	}
	if spec.U2OInterconnection {
		prefixes, err := interconnectPrefixes(spec)
		if err != nil {
			return underlay{}, err
		}
		for _, p := range prefixes {
			if who, held := holder(p.Addr()); held {
				return underlay{}, &specError{Reason: ovnetv1.ReasonInUse,
					Err: fmt.Errorf("u2oInterconnectionIP %s is held by %s", p.Addr(), who)}
			}
		}
		u.interconnect = prefixes
	}
	pn := &ovnetv1.ProviderNetwork{}
	if err := c.Get(ctx, types.NamespacedName{Name: u.provider}, pn); err != nil {
		if apierrors.IsNotFound(err) {
			return underlay{}, &specError{Reason: ovnetv1.ReasonUnknownProvider,
				Err: fmt.Errorf("provider %q: no ProviderNetwork of that name", u.provider)}
		}
		return underlay{}, fmt.Errorf("provider %q: %w", u.provider, err)
	}
	return u, nil
}

// interconnectPrefixes are the cluster router's addresses on an
// interconnected underlay subnet, one per CIDR (IPv4 first), with the
// CIDR's prefix length: u2oInterconnectionIP holds at most one per family,
// comma separated as Kube-OVN writes it; a family it does not give takes
// the CIDR's last usable address that is not the gateway.
func interconnectPrefixes(spec ovnetv1.SubnetSpec) ([]netip.Prefix, error) {
	cidrs, err := parseCIDRs(spec.CIDR)
	if err != nil {
		return nil, err
	}
	gateways, err := parseGateways(cidrs, spec.Gateway)
	if err != nil {
		return nil, err
	}
	given, err := addressPerFamily("u2oInterconnectionIP", spec.U2OInterconnectionIP, cidrs)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, len(cidrs))
	for i, cidr := range cidrs {
		a, err := interconnectAddr(cidr, gateways[i], given[cidr.Addr().Is4()])
		if err != nil {
			return nil, err
		}
		out[i] = netip.PrefixFrom(a, cidr.Bits())
	}
	return out, nil
}

// interconnectAddr is the router's address in one CIDR: the one given,
// checked, or the CIDR's last usable address (IPv4's broadcast is not)
// that is not the gateway.
func interconnectAddr(cidr netip.Prefix, gateway netip.Addr, given string) (netip.Addr, error) {
	network, last := cidr.Addr(), ipam.LastAddr(cidr)
	if cidr.Addr().Is4() {
		last = last.Prev() // the broadcast address
	}
	if given == "" {
		a := last
		if a == gateway {
			a = a.Prev()
		}
		if !cidr.Contains(a) || !network.Less(a) {
			return netip.Addr{}, invalidSpec("u2oInterconnection: cidr %s has no address left for the router", cidr)
		}
		return a, nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(given))
	switch {
	case err != nil:
		return netip.Addr{}, invalidSpec("u2oInterconnectionIP %q is not an IP address", given)
	case !cidr.Contains(a) || a == network || last.Less(a):
		return netip.Addr{}, invalidSpec("u2oInterconnectionIP %s is not a host address of cidr %s", a, cidr)
	case a == gateway:
		return netip.Addr{}, invalidSpec("u2oInterconnectionIP %s is the gateway, the physical router's address", a)
	}
	return a, nil
}

// underlayNotices lists what of an underlay subnet's spec does not apply:
// its pods' traffic never reaches the cluster router, so no node NATs or
// forwards it.
func underlayNotices(spec ovnetv1.SubnetSpec) []string {
	if !spec.Underlay() {
		return nil
	}
	var notes []string
	if spec.NATOutgoing == nil || *spec.NATOutgoing {
		notes = append(notes, "natOutgoing does not apply to an underlay subnet: its pods' traffic leaves by the provider network with their own addresses (set natOutgoing: false)")
	}
	if spec.GatewayType == ovnetv1.GatewayCentralized || spec.GatewayNode != "" {
		notes = append(notes, "gatewayType and gatewayNode do not apply to an underlay subnet: its gateway is the router on the provider network")
	}
	return notes
}

// attachmentOps bridges the switch to its provider network with a
// localnet port, or attaches it to the cluster router, and removes the
// other attachment, so that a subnet changing sides is left with one; an
// interconnected underlay switch keeps both.
func (n *Network) attachmentOps(cfg subnetConfig, u underlay) ([]ovnOp, error) {
	router := n.Config.ClusterRouter
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: cfg.Name}
	lrpName := ovnname.RouterPort(router, cfg.Name)
	if !u.isUnderlay() {
		ops, err := n.NB.DeleteSwitchPortOps(ovnname.LocalnetPort(cfg.Name))
		if err != nil {
			return nil, err
		}
		// An overlay switch's router port holds the gateway.
		more, err := n.routerPortOps(cfg.Name, owner, lrpName, routerPortNetworks(cfg))
		return append(ops, more...), err
	}
	var tag *int
	if u.vlan != 0 {
		tag = &u.vlan
	}
	ops, err := n.NB.SwitchPortOps(ovn.SwitchPort{Switch: cfg.Name, Name: ovnname.LocalnetPort(cfg.Name),
		Type: ovn.PortTypeLocalnet, Addresses: []string{"unknown"}, Options: map[string]string{"network_name": u.provider},
		Tag: tag, Owner: owner, SwitchInTransaction: true})
	if err != nil {
		return nil, err
	}
	if u.interconnected() {
		// Routed as well: the router port holds the interconnection
		// address, not the gateway, which is the physical router's.
		networks := make([]string, len(u.interconnect))
		for i, p := range u.interconnect {
			networks[i] = p.String()
		}
		more, err := n.routerPortOps(cfg.Name, owner, lrpName, networks)
		return append(ops, more...), err
	}
	more, err := n.NB.DeleteSwitchPortOps(ovnname.SwitchRouterPort(router, cfg.Name))
	if err != nil {
		return nil, err
	}
	ops = append(ops, more...)
	more, err = n.NB.DeleteRouterPortOps(router, lrpName)
	return append(ops, more...), err
}

// routerPortOps makes the cluster router's port lrpName on the switch
// with the networks given, and its peer on the switch.
func (n *Network) routerPortOps(sw string, owner ovn.Owner, lrpName string, networks []string) ([]ovnOp, error) {
	router := n.Config.ClusterRouter
	ops, err := n.NB.RouterPortOps(ovn.RouterPort{Router: router, Name: lrpName, MAC: routerPortMAC(lrpName),
		Networks: networks, Owner: owner})
	if err != nil {
		return nil, err
	}
	more, err := n.NB.SwitchPortOps(ovn.SwitchPort{Switch: sw, Name: ovnname.SwitchRouterPort(router, sw),
		Type: ovn.PortTypeRouter, Addresses: []string{"router"},
		Options: map[string]string{"router-port": lrpName}, Owner: owner, SwitchInTransaction: true})
	return append(ops, more...), err
}

// subnetsOfProvider requeues the Subnets that name a ProviderNetwork
// that came or went.
func (r *SubnetReconciler) subnetsOfProvider(ctx context.Context, obj client.Object) []ctrl.Request {
	list := &ovnetv1.SubnetList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, s := range list.Items {
		if s.Spec.Provider == obj.GetName() {
			out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Name: s.Name}})
		}
	}
	return out
}
