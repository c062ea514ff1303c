package harness

import (
	"strconv"
)

const (
	// underlayBridge joins the nodes' uplinks inside the underlay namespace.
	underlayBridge = "ul0"
	// physBridge is the OVS bridge holding a node's uplink: the userspace
	// datapath sends tunnel packets out of the bridge whose device holds
	// the encap address.
	physBridge = "br-phy"
	// uplinkName is a node's end of its underlay veth.
	uplinkName = "eth1"
	// UnderlayMTU is the underlay links' MTU; pods get PodMTU, leaving
	// room for Geneve.
	UnderlayMTU = 1500
)

// Underlay is a network namespace with a Linux bridge, standing in for
// the physical network between nodes: each attached node gets a veth
// into it, on an OVS bridge br-phy that carries the node's encap address.
type Underlay struct {
	netns string
	count int
}

// NewUnderlay creates the namespace and its bridge; tb.Cleanup deletes
// them after the nodes attached later are gone.
func NewUnderlay(tb T) *Underlay {
	tb.Helper()
	u := &Underlay{netns: UniqueName("ul")}
	addNetNS(tb, u.netns)
	mustIP(tb, u.netns, "link", "add", underlayBridge, "type", "bridge")
	mustIP(tb, u.netns, "link", "set", underlayBridge, "up")
	return u
}

// Attach plugs the node into the underlay with address ip (CIDR form,
// e.g. 172.18.0.1/24), which must be the node's EncapIP.
func (u *Underlay) Attach(tb T, n *Node, ip string) {
	tb.Helper()
	u.count++
	peer := UniqueName("ulp")
	mustIP(tb, n.Chassis.NetNS, "link", "add", uplinkName, "type", "veth", "peer", "name", peer, "netns", u.netns)
	tb.Cleanup(func() {
		if out, err := ipCommand(n.Chassis.NetNS, "link", "del", uplinkName).CombinedOutput(); err != nil {
			tb.Errorf("deleting %s of %s: %v: %s", uplinkName, n.Name, err, out)
		}
	})
	mustIP(tb, u.netns, "link", "set", peer, "mtu", strconv.Itoa(UnderlayMTU), "master", underlayBridge, "up")
	mustIP(tb, n.Chassis.NetNS, "link", "set", uplinkName, "mtu", strconv.Itoa(UnderlayMTU), "up")
	n.Chassis.Vsctl(tb, "--may-exist", "add-br", physBridge,
		"--", "set", "Bridge", physBridge, "datapath_type=netdev",
		"--", "--may-exist", "add-port", physBridge, uplinkName)
	tb.Cleanup(func() {
		if _, err := toolOutput("ovs-vsctl", "--db="+n.Chassis.OVS.Endpoint, toolTimeout,
			"--if-exists", "del-br", physBridge); err != nil {
			tb.Errorf("removing %s of %s: %v", physBridge, n.Name, err)
		}
	})
	mustIP(tb, n.Chassis.NetNS, "link", "set", physBridge, "mtu", strconv.Itoa(UnderlayMTU))
	mustIP(tb, n.Chassis.NetNS, "addr", "replace", ip, "dev", physBridge)
	mustIP(tb, n.Chassis.NetNS, "link", "set", physBridge, "up")
}
