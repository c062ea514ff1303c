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
	IP  netip.Addr
	MAC net.HardwareAddr
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
}

// Prefix is the interface's address with the subnet's prefix length.
func (a Address) Prefix() netip.Prefix { return netip.PrefixFrom(a.IP, a.Subnet.Bits()) }

// Annotations is the record as written on the object. It is the only
// writer of these keys; ParseAddress and ParseHolding are their readers.
func (a Address) Annotations() map[string]string {
	return map[string]string{
		IPAddress:      a.IP.String(),
		MACAddress:     a.MAC.String(),
		CIDRWritten:    a.Subnet.String(),
		GatewayWritten: a.Gateway.String(),
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
	if h.IP, err = netip.ParseAddr(strings.TrimSpace(annotations[IPAddress])); err != nil {
		return Holding{}, true, fmt.Errorf("%s: %w", IPAddress, err)
	}
	// A zone or an IPv4 address written as IPv6 would never match the
	// subnet's family, and is not what the controller writes.
	if h.IP.Zone() != "" || h.IP.Is4In6() {
		return Holding{}, true, fmt.Errorf("%s: %s: want a plain IPv4 or IPv6 address", IPAddress, h.IP)
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
	if addr.Subnet, err = netip.ParsePrefix(strings.TrimSpace(annotations[CIDRWritten])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", CIDRWritten, err)
	}
	if addr.Gateway, err = netip.ParseAddr(strings.TrimSpace(annotations[GatewayWritten])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", GatewayWritten, err)
	}
	if !addr.Subnet.Contains(addr.IP) || !addr.Subnet.Contains(addr.Gateway) {
		return Address{}, true, fmt.Errorf("address %s or gateway %s outside %s", addr.IP, addr.Gateway, addr.Subnet)
	}
	return addr, true, nil
}
