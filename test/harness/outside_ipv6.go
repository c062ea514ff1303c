package harness

import (
	"net/netip"
)

// IPv6 on the modelled outside world, for the tests that exchange IPv6
// with it (BGP's IPv6 announcements): the same links as the IPv4 model,
// addressed in the IPv6 documentation range (RFC 3849) and mirroring its
// IPv4 numbers. A test asks for it with Underlay.AddIPv6Outside and
// Underlay.AttachIPv6; the IPv4 model is unchanged.
var (
	// UnderlayPrefixIPv6 is the underlay's IPv6 subnet: node i (from 1)
	// takes UnderlayAddrIPv6(i), the external host ExternalHostIPv6.
	UnderlayPrefixIPv6 = netip.MustParsePrefix("2001:db8:18::/64")
	// ExternalHostIPv6 is the external host's IPv6 address on the
	// underlay, the nodes' IPv6 default router.
	ExternalHostIPv6 = netip.MustParseAddr("2001:db8:18::fe")
	// FarLinkPrefixIPv6 is the IPv6 subnet of the link between the
	// external host (::1) and the far host (FarIPv6).
	FarLinkPrefixIPv6 = netip.MustParsePrefix("2001:db8:100::/64")
	// FarIPv6 is the far host's IPv6 address on that link.
	FarIPv6 = netip.MustParseAddr("2001:db8:100::10")
	// farGatewayIPv6 is the external host's end of the far link.
	farGatewayIPv6 = netip.MustParseAddr("2001:db8:100::1")
)

// UnderlayAddrIPv6 is the IPv6 address, with the underlay's IPv6 prefix
// length, of the i-th node (from 1): 2001:db8:18::i/64.
func UnderlayAddrIPv6(i int) netip.Prefix {
	a := UnderlayPrefixIPv6.Addr().As16()
	a[15] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), UnderlayPrefixIPv6.Bits())
}

// AddIPv6Outside gives the external host and the far host their IPv6
// addresses, the external host IPv6 forwarding and the far host an IPv6
// default route via the external host. The external host has no IPv6
// route into the cluster: what it learns (BGP) is its only one. The
// addresses go with the links, so nothing needs undoing.
func (u *Underlay) AddIPv6Outside(tb T) {
	tb.Helper()
	h, f := u.External, u.Far
	h.must(tb, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	addIPv6(tb, h.NetNS, h.Interface, netip.PrefixFrom(ExternalHostIPv6, UnderlayPrefixIPv6.Bits()))
	addIPv6(tb, h.NetNS, externalFarLink, netip.PrefixFrom(farGatewayIPv6, FarLinkPrefixIPv6.Bits()))
	addIPv6(tb, f.NetNS, farLink, netip.PrefixFrom(FarIPv6, FarLinkPrefixIPv6.Bits()))
	mustIP(tb, f.NetNS, "-6", "route", "replace", "default", "via", farGatewayIPv6.String(), "dev", farLink)
}

// AttachIPv6 gives a chassis that Attach plugged into the underlay its
// IPv6 address addr (e.g. UnderlayAddrIPv6(1)) on br-phy, beside its IPv4
// one, and an IPv6 default route via the external host.
func (u *Underlay) AttachIPv6(tb T, ch *Chassis, addr netip.Prefix) {
	tb.Helper()
	if !UnderlayPrefixIPv6.Contains(addr.Addr()) || addr.Bits() != UnderlayPrefixIPv6.Bits() {
		tb.Fatalf("attach %s: address %s is not of the underlay %s", ch.Name, addr, UnderlayPrefixIPv6)
	}
	u.port(tb, ch)
	addIPv6(tb, ch.NetNS, physBridge, addr)
	mustIP(tb, ch.NetNS, "-6", "route", "replace", "default", "via", ExternalHostIPv6.String(), "dev", physBridge)
}

// AttachNodeIPv6 is AttachIPv6 for a node that Attach plugged in at
// addr4, recording addr6 as its second InternalIP, as a dual-stack
// kubelet (--node-ip IPv4,IPv6) does.
func (u *Underlay) AttachNodeIPv6(tb T, n *Node, addr4, addr6 netip.Prefix) {
	tb.Helper()
	u.AttachIPv6(tb, n.Chassis, addr6)
	setNodeAddresses(tb, n.api, n.Name, addr4.Addr(), addr6.Addr())
}

// addIPv6 adds an IPv6 address to a link without duplicate address
// detection: the model's addresses are unique by construction, and DAD
// would leave the address unusable for a second or more.
func addIPv6(tb T, netns, link string, addr netip.Prefix) {
	tb.Helper()
	mustIP(tb, netns, "addr", "replace", addr.String(), "dev", link, "nodad")
}
