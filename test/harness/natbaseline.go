package harness

import (
	"net/netip"
	"strconv"

	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// Addresses of the NAT path: the pod in ovnet's default subnet, the node's
// join address on ovn0, and the uplink in TEST-NET-1.
var (
	natPathSubnet   = netip.MustParsePrefix("10.16.0.0/16")
	natPathPod      = netip.MustParseAddr("10.16.0.5")
	natPathJoin     = netip.MustParseAddr("100.64.0.2")
	natPathNode     = netip.MustParseAddr("192.0.2.2")
	natPathExternal = netip.MustParseAddr("192.0.2.100")
)

// NATPath is the kernel half of a pod's egress with no OVS at all: a pod
// namespace whose veth ends in the node's namespace as ovn0, the node with
// ovnet's own nftables table (pkg/daemon/nodenat, the pod's subnet
// masqueraded) and forwarding on, and an uplink veth to an external host.
// Measured against the same egress through OVN, it says what OVN costs.
type NATPath struct {
	PodNS, NodeNS, ExternalNS string
	Pod, Node, External       netip.Addr
}

// NewNATPath builds the namespaces and converges the table; tb.Cleanup
// removes them (and the table with the node's namespace).
func NewNATPath(tb T) *NATPath {
	tb.Helper()
	p := &NATPath{PodNS: UniqueName("natp"), NodeNS: UniqueName("natn"), ExternalNS: UniqueName("natx"),
		Pod: natPathPod, Node: natPathNode, External: natPathExternal}
	for _, ns := range []string{p.PodNS, p.NodeNS, p.ExternalNS} {
		addNetNS(tb, ns)
	}
	mustIP(tb, p.NodeNS, "link", "add", "ovn0", "type", "veth", "peer", "name", "eth0", "netns", p.PodNS)
	mustIP(tb, p.NodeNS, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", p.ExternalNS)
	for ns, dev := range map[string]string{p.NodeNS: "ovn0", p.PodNS: "eth0", p.ExternalNS: "eth0"} {
		mustIP(tb, ns, "link", "set", dev, "up")
	}
	mustIP(tb, p.NodeNS, "link", "set", "eth1", "up")
	mustIP(tb, p.NodeNS, "addr", "add", natPathJoin.String()+"/16", "dev", "ovn0")
	mustIP(tb, p.NodeNS, "addr", "add", p.Node.String()+"/24", "dev", "eth1")
	mustIP(tb, p.NodeNS, "route", "add", natPathSubnet.String(), "dev", "ovn0")
	mustIP(tb, p.PodNS, "addr", "add", p.Pod.String()+"/32", "dev", "eth0")
	mustIP(tb, p.PodNS, "route", "add", natPathJoin.String(), "dev", "eth0")
	mustIP(tb, p.PodNS, "route", "add", "default", "via", natPathJoin.String())
	mustIP(tb, p.ExternalNS, "addr", "add", p.External.String()+"/24", "dev", "eth0")
	p.convergeTable(tb)
	return p
}

// convergeTable turns forwarding on and converges ovnet's table in the
// node's namespace, as the daemon does.
func (p *NATPath) convergeTable(tb T) {
	tb.Helper()
	ns, err := nslink.Open(netnsDir + "/" + p.NodeNS)
	if err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
	defer ns.Close()
	if _, err := nodenat.EnableForwarding(ns); err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
	to := nodenat.Range{From: natPathSubnet.Addr(), To: netip.MustParseAddr("10.16.255.255")}
	if _, err := nodenat.NewTable(int(ns.NS), "ovn0", nodenat.IPv4).Converge(nodenat.State{NATSubnets: []nodenat.Range{to}}); err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
}

// AsOnUserspaceDatapath makes the pod send as a pod on OVS's userspace
// datapath must: at PodMTU, computing its own checksums, and so without
// TCP segmentation offload (the daemon turns tx checksum offload off in
// every pod, and the kernel drops TSO with it). Measured before and after,
// the path separates what the offloads are worth from what OVS costs.
func (p *NATPath) AsOnUserspaceDatapath(tb T) {
	tb.Helper()
	lookPath(tb, "ethtool")
	mtu := strconv.Itoa(PodMTU)
	mustIP(tb, p.NodeNS, "link", "set", "ovn0", "mtu", mtu)
	mustIP(tb, p.PodNS, "link", "set", "eth0", "mtu", mtu)
	if out, err := execIn(p.PodNS, "ethtool", "-K", "eth0", "tx", "off"); err != nil {
		tb.Fatalf("NAT path: %v: %s", err, out)
	}
}

// EgressMbps runs iperf3 (TCP) from the pod to the external host for the
// given seconds and returns what the external host received, in Mbit/s.
// It fails unless the external host saw the node's address: the traffic
// went through the masquerade.
func (p *NATPath) EgressMbps(tb T, seconds int) float64 {
	tb.Helper()
	return IperfRun{ClientNS: p.PodNS, ServerNS: p.ExternalNS, Server: p.External, WantSource: p.Node,
		Seconds: seconds}.Mbps(tb)
}

// NATBaseline builds a NATPath and measures its egress once.
func NATBaseline(tb T, seconds int) float64 {
	tb.Helper()
	return NewNATPath(tb).EgressMbps(tb, seconds)
}
