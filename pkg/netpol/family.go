package netpol

import "net/netip"

// Family is an IP address family as OVN's match language names it. An
// OVN match compares a field of one family with constants of that family
// only: a match or an address set that mixes them is refused as a whole
// by ovn-controller, so every address set holds one family and every
// match is written once per family.
type Family string

const (
	IPv4 Family = "ip4"
	IPv6 Family = "ip6"
)

// families is the order matches and sets of both families are written in.
var families = []Family{IPv4, IPv6}

// FamilyOf is the family of an address.
func FamilyOf(ip netip.Addr) Family {
	if ip.Is4() {
		return IPv4
	}
	return IPv6
}

// familyOfPrefix is the family of a prefix.
func familyOfPrefix(p netip.Prefix) Family { return FamilyOf(p.Addr()) }

// field is the family's field of a direction of the IP header, "src" or
// "dst": "ip4.src", "ip6.dst".
func (f Family) field(side string) string { return string(f) + "." + side }

// AddrOf returns the pod's address of family f; ok is false when it has none.
func (p Pod) AddrOf(f Family) (netip.Addr, bool) {
	for _, ip := range p.IPs {
		if FamilyOf(ip) == f {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
