package ovs

import (
	"slices"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// physicalTypes are the interface types that carry a bridge's traffic off
// the node: a kernel device (a NIC, or a veth standing for one) or a
// userspace-driven NIC. Internal, patch and tunnel interfaces report their
// link up whatever happens to the cable, so they say nothing of it.
var physicalTypes = []string{PortTypeSystem, "system", "dpdk", "afxdp", "afxdp-nonpmd"}

// BridgeUplink is what carries a bridge out of the node.
type BridgeUplink struct {
	// Bridge holds the internal interface asked about.
	Bridge string
	// Members are the bridge's physical interfaces (every interface of a
	// bond), with the link state ovs-vswitchd reports.
	Members []MemberLink
}

// MemberLink is one physical interface of a bridge.
type MemberLink struct {
	Name string
	// LinkState is "up", "down", or "" while ovs-vswitchd has not said.
	LinkState string
}

// AnyUp reports whether at least one member has its link up.
func (u BridgeUplink) AnyUp() bool {
	return slices.ContainsFunc(u.Members, func(m MemberLink) bool {
		return m.LinkState == string(vswitch.InterfaceLinkStateUp)
	})
}

// UplinkOf returns, for an internal interface of an OVS bridge (its local
// port, br-ex or br-phy, holding the node's address), the bridge and its
// physical members. Such a device stays up when the cable is pulled: only
// its members lose carrier. ok is false when OVS has no internal
// interface by that name (a plain NIC, say), read from the cache.
func (c *Client) UplinkOf(name string) (up BridgeUplink, ok bool, err error) {
	iface, err := c.iface(name)
	if err != nil || iface == nil || iface.Type != PortTypeInternal {
		return BridgeUplink{}, false, err
	}
	bridges, err := ovsdbtxn.List[vswitch.Bridge](c.db, nil)
	if err != nil {
		return BridgeUplink{}, false, err
	}
	for _, br := range bridges {
		if c.bridgeHolds(&br, iface.UUID) {
			return BridgeUplink{Bridge: br.Name, Members: c.physicalMembers(&br)}, true, nil
		}
	}
	// An interface on no bridge: ovs-vswitchd has no device for it.
	return BridgeUplink{}, false, nil
}

// bridgeHolds reports whether one of the bridge's ports has the interface.
func (c *Client) bridgeHolds(br *vswitch.Bridge, ifaceUUID string) bool {
	for _, uuid := range br.Ports {
		if p := cachedRow[*vswitch.Port](c, uuid); p != nil && slices.Contains(p.Interfaces, ifaceUUID) {
			return true
		}
	}
	return false
}

// physicalMembers lists the bridge's interfaces of a physical type.
func (c *Client) physicalMembers(br *vswitch.Bridge) []MemberLink {
	var out []MemberLink
	for _, uuid := range br.Ports {
		p := cachedRow[*vswitch.Port](c, uuid)
		if p == nil {
			continue
		}
		for _, ifUUID := range p.Interfaces {
			iface := cachedRow[*vswitch.Interface](c, ifUUID)
			if iface == nil || !slices.Contains(physicalTypes, iface.Type) {
				continue
			}
			out = append(out, MemberLink{Name: iface.Name, LinkState: string(deref(iface.LinkState))})
		}
	}
	return out
}
