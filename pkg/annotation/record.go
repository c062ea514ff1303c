package annotation

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// macLen is the length of the Ethernet MACs pods get.
const macLen = 6

// Holding is the part of the controller's record that says which address
// an object holds: what the controller rebuilds its allocations from.
type Holding struct {
	IP netip.Addr
	// IPv6 is the second address of a dual-stack holder, whose IP is then
	// its IPv4 one; zero otherwise.
	IPv6 netip.Addr
	MAC  net.HardwareAddr
	// LogicalSwitch names the Subnet the address came from.
	LogicalSwitch string
}

// Address is the network identity the controller records on a pod or a
// node: what the node daemon configures on the pod's (or ovn0's) interface.
type Address struct {
	Holding
	// Subnet is the prefix the address lives in, as the Subnet has it now.
	Subnet netip.Prefix
	// Gateway is the next hop of the default route.
	Gateway netip.Addr
	// IPv6Subnet and IPv6Gateway go with Holding.IPv6.
	IPv6Subnet  netip.Prefix
	IPv6Gateway netip.Addr
}

// IPs lists the held addresses, IPv4 first in a dual-stack holding.
func (h Holding) IPs() []netip.Addr {
	if h.IPv6.IsValid() {
		return []netip.Addr{h.IP, h.IPv6}
	}
	return []netip.Addr{h.IP}
}

// Family is what an interface is given of one address family.
type Family struct {
	// Prefix is the address with its subnet's prefix length.
	Prefix netip.Prefix
	// Gateway is the next hop of the family's default route.
	Gateway netip.Addr
}

// Prefix is the interface's address with the subnet's prefix length.
func (a Address) Prefix() netip.Prefix { return netip.PrefixFrom(a.IP, a.Subnet.Bits()) }

// Families lists the interface's configuration per family, IPv4 first.
func (a Address) Families() []Family {
	out := []Family{{Prefix: a.Prefix(), Gateway: a.Gateway}}
	if a.IPv6.IsValid() {
		out = append(out, Family{Prefix: netip.PrefixFrom(a.IPv6, a.IPv6Subnet.Bits()), Gateway: a.IPv6Gateway})
	}
	return out
}

// Annotations is the record as written on the object. It is the only
// writer of these keys; ParseAddress and ParseHolding are their readers.
// A dual-stack record writes each key as "IPv4,IPv6", as Kube-OVN does.
func (a Address) Annotations() map[string]string {
	ips, cidrs, gateways := a.IP.String(), a.Subnet.String(), a.Gateway.String()
	if a.IPv6.IsValid() {
		ips += "," + a.IPv6.String()
		cidrs += "," + a.IPv6Subnet.String()
		gateways += "," + a.IPv6Gateway.String()
	}
	return map[string]string{
		IPAddress:      ips,
		MACAddress:     a.MAC.String(),
		CIDRWritten:    cidrs,
		GatewayWritten: gateways,
		LogicalSwitch:  a.LogicalSwitch,
		Allocated:      True,
	}
}

// Recorded reports whether annotations hold exactly this record.
func (a Address) Recorded(annotations map[string]string) bool {
	for k, v := range a.Annotations() {
		if annotations[k] != v {
			return false
		}
	}
	return true
}

// ParseHolding reads which address the record says the object holds. ok is
// false while the controller has not marked it allocated; an allocated
// record whose address, MAC or switch does not parse is an error.
func ParseHolding(annotations map[string]string) (h Holding, ok bool, err error) {
	if annotations[Allocated] != True {
		return Holding{}, false, nil
	}
	ips, err := parseDual(IPAddress, annotations[IPAddress], netip.ParseAddr, netip.Addr.Is4)
	if err != nil {
		return Holding{}, true, err
	}
	for _, ip := range ips {
		// A zone or an IPv4 address written as IPv6 would never match the
		// subnet's family, and is not what the controller writes.
		if ip.Zone() != "" || ip.Is4In6() {
			return Holding{}, true, fmt.Errorf("%s: %s: want a plain IPv4 or IPv6 address", IPAddress, ip)
		}
	}
	h.IP = ips[0]
	if len(ips) == 2 {
		h.IPv6 = ips[1]
	}
	if h.MAC, err = net.ParseMAC(strings.TrimSpace(annotations[MACAddress])); err != nil {
		return Holding{}, true, fmt.Errorf("%s: %w", MACAddress, err)
	}
	// net.ParseMAC takes EUI-64 and InfiniBand addresses too; a veth
	// takes an Ethernet one.
	if len(h.MAC) != macLen {
		return Holding{}, true, fmt.Errorf("%s: %s is not a 48-bit Ethernet address", MACAddress, h.MAC)
	}
	if h.LogicalSwitch = strings.TrimSpace(annotations[LogicalSwitch]); h.LogicalSwitch == "" {
		return Holding{}, true, fmt.Errorf("%s: missing", LogicalSwitch)
	}
	return h, true, nil
}

// ParseAddress reads the whole record, as the node daemon needs it. ok is
// false while the controller has not marked it allocated; an allocated
// record that does not parse is an error, since nothing would ever fix it
// by waiting (the controller rewrites a record whose holding parses but
// whose cidr or gateway is missing or stale).
func ParseAddress(annotations map[string]string) (addr Address, ok bool, err error) {
	if addr.Holding, ok, err = ParseHolding(annotations); !ok || err != nil {
		return Address{}, ok, err
	}
	cidrs, err := parseDual(CIDRWritten, annotations[CIDRWritten], netip.ParsePrefix, func(p netip.Prefix) bool { return p.Addr().Is4() })
	if err != nil {
		return Address{}, true, err
	}
	gateways, err := parseDual(GatewayWritten, annotations[GatewayWritten], netip.ParseAddr, netip.Addr.Is4)
	if err != nil {
		return Address{}, true, err
	}
	ips := addr.IPs()
	if len(cidrs) != len(ips) || len(gateways) != len(ips) {
		return Address{}, true, fmt.Errorf("%d addresses, %d CIDRs and %d gateways: want one of each per family", len(ips), len(cidrs), len(gateways))
	}
	for i, ip := range ips {
		if !cidrs[i].Contains(ip) || !cidrs[i].Contains(gateways[i]) {
			return Address{}, true, fmt.Errorf("address %s or gateway %s outside %s", ip, gateways[i], cidrs[i])
		}
	}
	addr.Subnet, addr.Gateway = cidrs[0], gateways[0]
	if len(ips) == 2 {
		addr.IPv6Subnet, addr.IPv6Gateway = cidrs[1], gateways[1]
	}
	return addr, true, nil
}

// parseDual reads one value, or two separated by a comma: an IPv4 one
// then an IPv6 one, as a dual-stack record has them.
func parseDual[T any](key, value string, parse func(string) (T, error), is4 func(T) bool) ([]T, error) {
	parts := strings.Split(value, ",")
	if len(parts) > 2 {
		return nil, fmt.Errorf("%s: %d values, want one, or an IPv4 and an IPv6 one", key, len(parts))
	}
	out := make([]T, len(parts))
	for i, part := range parts {
		v, err := parse(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out[i] = v
	}
	if len(out) == 2 && (!is4(out[0]) || is4(out[1])) {
		return nil, fmt.Errorf("%s: %q: a dual-stack value is IPv4 then IPv6", key, value)
	}
	return out, nil
}
