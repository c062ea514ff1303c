package annotation

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Address is the network identity the controller records on a pod or a
// node: what the node daemon configures on the pod's (or ovn0's) interface.
type Address struct {
	// IP is the interface's address and Subnet the prefix it lives in.
	IP     netip.Addr
	Subnet netip.Prefix
	// Gateway is the next hop of the default route.
	Gateway netip.Addr
	MAC     net.HardwareAddr
	// LogicalSwitch names the Subnet the address came from.
	LogicalSwitch string
}

// Prefix is the interface's address with the subnet's prefix length.
func (a Address) Prefix() netip.Prefix { return netip.PrefixFrom(a.IP, a.Subnet.Bits()) }

// ParseAddress reads the record the controller wrote. ok is false while
// the controller has not marked it allocated; an allocated record that
// does not parse is an error, since nothing would ever fix it by waiting.
func ParseAddress(annotations map[string]string) (addr Address, ok bool, err error) {
	if annotations[Allocated] != True {
		return Address{}, false, nil
	}
	if addr.IP, err = netip.ParseAddr(strings.TrimSpace(annotations[IPAddress])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", IPAddress, err)
	}
	if addr.Subnet, err = netip.ParsePrefix(strings.TrimSpace(annotations[CIDRWritten])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", CIDRWritten, err)
	}
	if addr.Gateway, err = netip.ParseAddr(strings.TrimSpace(annotations[GatewayWritten])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", GatewayWritten, err)
	}
	if addr.MAC, err = net.ParseMAC(strings.TrimSpace(annotations[MACAddress])); err != nil {
		return Address{}, true, fmt.Errorf("%s: %w", MACAddress, err)
	}
	if !addr.Subnet.Contains(addr.IP) || !addr.Subnet.Contains(addr.Gateway) {
		return Address{}, true, fmt.Errorf("address %s or gateway %s outside %s", addr.IP, addr.Gateway, addr.Subnet)
	}
	addr.LogicalSwitch = annotations[LogicalSwitch]
	return addr, true, nil
}
