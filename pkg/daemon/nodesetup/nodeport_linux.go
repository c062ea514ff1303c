package nodesetup

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// RouteProtocol marks the routes the daemon owns, so it can delete those
// whose subnet is gone, and uninstall all of them, without touching anyone
// else's ("ip route show proto 0x5a" lists them).
const RouteProtocol netlink.RouteProtocol = 0x5a

// configureNodePort gives the node port's device its MAC, MTU and join
// address, and brings it up; it changes nothing that is already right.
func (n *Node) configureNodePort(name string, addr annotation.Address, mtu int) error {
	link, err := n.netns.Link.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if link.Attrs().HardwareAddr.String() != addr.MAC.String() {
		if err := n.netns.Link.LinkSetHardwareAddr(link, addr.MAC); err != nil {
			return fmt.Errorf("set MAC of %s: %w", name, err)
		}
	}
	if link.Attrs().MTU != mtu {
		if err := n.netns.Link.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("set MTU of %s: %w", name, err)
		}
	}
	for _, fam := range addr.Families() {
		if err := n.netns.SetAddress(link, fam.Prefix); err != nil {
			return err
		}
	}
	if err := n.netns.Link.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}

// syncRoutes makes the daemon's routes on the node port exactly one per
// prefix, via the join gateway of its family.
func (n *Node) syncRoutes(name string, addr annotation.Address, prefixes []netip.Prefix) error {
	link, err := n.netns.Link.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	filter := &netlink.Route{LinkIndex: link.Attrs().Index, Protocol: RouteProtocol}
	have, err := n.netns.Link.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list routes on %s: %w", name, err)
	}
	gateways := map[bool]netip.Addr{} // by "is IPv4"
	for _, fam := range addr.Families() {
		gateways[fam.Gateway.Is4()] = fam.Gateway
	}
	want := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		want[p] = true
	}
	var errs []error
	for _, r := range have {
		p, ok := nslink.PrefixOf(r.Dst)
		gw, _ := netip.AddrFromSlice(r.Gw)
		if ok && want[p] && gw.Unmap() == gateways[p.Addr().Is4()] {
			delete(want, p)
			continue
		}
		if err := n.netns.Link.RouteDel(&r); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
		}
	}
	for p := range want {
		gw := gateways[p.Addr().Is4()]
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: nslink.IPNet(p), Gw: gw.AsSlice(), Protocol: RouteProtocol}
		if err := n.netns.Link.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", p, gw, err))
		}
	}
	return errors.Join(errs...)
}
