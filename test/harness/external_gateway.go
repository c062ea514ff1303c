package harness

import (
	"net/netip"
	"strconv"
)

// AddGateway puts addr on the external host's underlay link until tb's
// test ends, making it the router of addr's network on the untagged
// underlay, as an underlay Subnet's gateway is.
func (h *ExternalHost) AddGateway(tb T, addr netip.Prefix) {
	tb.Helper()
	mustIP(tb, h.NetNS, "addr", "add", addr.String(), "dev", h.Interface)
	tb.Cleanup(func() {
		if out, err := ipCommand(h.NetNS, "addr", "del", addr.String(), "dev", h.Interface).CombinedOutput(); err != nil {
			tb.Errorf("external host: deleting %s: %v: %s", addr, err, out)
		}
	})
}

// VLANHost is a host on the underlay with an address on one VLAN only:
// the router of a tagged underlay Subnet. The test machines' kernel has
// neither 8021q nor VLAN filtering in its bridge, so its VLAN interface is
// an OVS internal port, an access port of the VLAN on a bridge whose
// uplink is a trunk into the underlay bridge.
type VLANHost struct {
	// Chassis is its Open vSwitch (no ovn-controller): Capture takes it.
	Chassis *Chassis
	// IP is its address on the VLAN.
	IP netip.Addr
}

// vlanHostBridge is the VLAN host's bridge; vlanHostPort its VLAN port.
const (
	vlanHostBridge = "br-vlan"
	vlanHostPort   = "vlan"
)

// AddVLANHost starts a VLAN host on the underlay with addr on VLAN id
// until tb's test ends.
func (u *Underlay) AddVLANHost(tb T, id int, addr netip.Prefix) *VLANHost {
	tb.Helper()
	name := UniqueName("vlh")
	ch := startVswitch(tb, name, name, false)
	u.plug(tb, ch.NetNS, uplinkName, ch.Name)
	ch.Vsctl(tb, "--may-exist", "add-br", vlanHostBridge, "--", "set", "Bridge", vlanHostBridge, "datapath_type=netdev",
		"--", "--may-exist", "add-port", vlanHostBridge, uplinkName,
		"--", "--may-exist", "add-port", vlanHostBridge, vlanHostPort, "tag="+strconv.Itoa(id),
		"--", "set", "Interface", vlanHostPort, "type=internal")
	tb.Cleanup(func() {
		if _, err := toolOutput("ovs-vsctl", "--db="+ch.OVS.Endpoint, toolTimeout, "--if-exists", "del-br", vlanHostBridge); err != nil {
			tb.Errorf("removing %s of %s: %v", vlanHostBridge, ch.Name, err)
		}
	})
	mustIP(tb, ch.NetNS, "link", "set", vlanHostPort, "mtu", strconv.Itoa(UnderlayMTU), "up")
	mustIP(tb, ch.NetNS, "addr", "add", addr.String(), "dev", vlanHostPort)
	// It computes its checksums itself, as the external host does.
	if out, err := execIn(ch.NetNS, "ethtool", "-K", vlanHostPort, "tx", "off"); err != nil {
		tb.Fatalf("VLAN host: %v: %s", err, out)
	}
	return &VLANHost{Chassis: ch, IP: addr.Addr()}
}
