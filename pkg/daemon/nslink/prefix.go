package nslink

import (
	"net"
	"net/netip"
)

// IPNet converts a prefix to netlink's form.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// PrefixOf converts netlink's address form back.
func PrefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// PrefixLen is the length of n's mask.
func PrefixLen(n *net.IPNet) int {
	ones, _ := n.Mask.Size()
	return ones
}

// DefaultDst is the default route's destination in gw's family.
func DefaultDst(gw netip.Addr) *net.IPNet {
	if gw.Is4() {
		return IPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
	return IPNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
}
