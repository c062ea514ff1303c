package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
)

// encapPoll is how often EncapAddress looks again: the interface's address
// is set by the Open vSwitch container next to the daemon, moments apart.
const encapPoll = 200 * time.Millisecond

// EncapAddress returns the first global IPv4 address of the interface
// name, waiting until it has one or ctx ends. On the userspace datapath the
// tunnel endpoint is an OVS bridge's address (ovs-vswitchd sends tunnel
// packets only out of a bridge), which the chart's Open vSwitch container
// moves there when the daemon starts, so it names the bridge, not an
// address.
func EncapAddress(ctx context.Context, name string) (netip.Addr, error) {
	ticker := time.NewTicker(encapPoll)
	defer ticker.Stop()
	for {
		addr, err := interfaceIPv4(name)
		if err == nil {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, fmt.Errorf("encap address of %s: %w (last: %v)", name, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// interfaceIPv4 is the interface's first global IPv4 address.
func interfaceIPv4(name string) (netip.Addr, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if ok && ip.IsGlobalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", name)
}
