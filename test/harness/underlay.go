package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
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

// UnderlayPrefix is the underlay's subnet: node i (from 1) takes
// UnderlayAddr(i), the external host ExternalHostIP.
var UnderlayPrefix = netip.MustParsePrefix("172.18.0.0/24")

// UnderlayAddr is the address, with the underlay's prefix length, of the
// i-th node (from 1): 172.18.0.i/24. It is the node's EncapIP and, once
// attached, its InternalIP.
func UnderlayAddr(i int) netip.Prefix {
	a := UnderlayPrefix.Addr().As4()
	a[3] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom4(a), UnderlayPrefix.Bits())
}

// Underlay is a network namespace with a Linux bridge, standing in for
// the physical network between nodes: each attached node gets a veth
// into it, on an OVS bridge br-phy that carries the node's address. On it
// sits an external host, the nodes' default router, and behind that the
// far network that stands for the internet (see ExternalHost).
type Underlay struct {
	// NetNS holds the bridge ul0 and the underlay ends of every veth.
	NetNS string
	// External is the router between the underlay and the far network.
	External *ExternalHost
	// Far is the network behind the external host.
	Far *FarNetwork
	// ports are the underlay ends of the chassis's uplinks, by chassis name.
	ports map[string]string
}

// NewUnderlay creates the underlay namespace and its bridge, the external
// host and the far network. tb.Cleanup deletes them after the nodes
// attached later are gone.
func NewUnderlay(tb T) *Underlay {
	tb.Helper()
	u := &Underlay{NetNS: UniqueName("ul"), ports: map[string]string{}}
	addNetNS(tb, u.NetNS)
	mustIP(tb, u.NetNS, "link", "add", underlayBridge, "type", "bridge")
	mustIP(tb, u.NetNS, "link", "set", underlayBridge, "up")
	u.Far = newFarNetwork(tb)
	u.External = newExternalHost(tb, u, u.Far)
	return u
}

// Attach plugs node n into the underlay with address addr (e.g.
// UnderlayAddr(1)), which must be the node's EncapIP, as AttachChassis
// does, and records addr as the Node's InternalIP (and the node's name as
// its Hostname) in the API server, as a kubelet would: the controller
// routes pods to a node by its InternalIP.
func (u *Underlay) Attach(tb T, n *Node, addr netip.Prefix) {
	tb.Helper()
	u.AttachChassis(tb, n.Chassis, addr)
	setNodeAddresses(tb, n.api, n.Name, addr.Addr())
}

// AttachChassis plugs a chassis into the underlay: a veth eth1 in its
// namespace, a port of the OVS bridge br-phy that carries addr, and a
// default route via the external host, so traffic for the far network
// leaves through br-phy.
func (u *Underlay) AttachChassis(tb T, ch *Chassis, addr netip.Prefix) {
	tb.Helper()
	if !UnderlayPrefix.Contains(addr.Addr()) || addr.Bits() != UnderlayPrefix.Bits() {
		tb.Fatalf("attach %s: address %s is not of the underlay %s", ch.Name, addr, UnderlayPrefix)
	}
	if _, ok := u.ports[ch.Name]; ok {
		tb.Fatalf("attach %s: already attached", ch.Name)
	}
	u.plug(tb, ch.NetNS, uplinkName, ch.Name)
	ch.Vsctl(tb, "--may-exist", "add-br", physBridge,
		"--", "set", "Bridge", physBridge, "datapath_type=netdev",
		"--", "--may-exist", "add-port", physBridge, uplinkName)
	tb.Cleanup(func() {
		if _, err := toolOutput("ovs-vsctl", "--db="+ch.OVS.Endpoint, toolTimeout,
			"--if-exists", "del-br", physBridge); err != nil {
			tb.Errorf("removing %s of %s: %v", physBridge, ch.Name, err)
		}
	})
	mustIP(tb, ch.NetNS, "link", "set", physBridge, "mtu", strconv.Itoa(UnderlayMTU))
	mustIP(tb, ch.NetNS, "addr", "replace", addr.String(), "dev", physBridge)
	mustIP(tb, ch.NetNS, "link", "set", physBridge, "up")
	// The route goes with br-phy's address, so it needs no cleanup.
	mustIP(tb, ch.NetNS, "route", "replace", "default", "via", ExternalHostIP.String(), "dev", physBridge)
}

// AttachNetNS plugs a network namespace into the underlay with addr on
// its uplink eth1 itself, no OVS bridge: a KubeNode's kubelet and API
// server traffic must not depend on an Open vSwitch that the cluster's
// network plugin runs, and restarts, in a pod. The default route goes via
// the external host.
func (u *Underlay) AttachNetNS(tb T, netns string, addr netip.Prefix) {
	tb.Helper()
	if !UnderlayPrefix.Contains(addr.Addr()) || addr.Bits() != UnderlayPrefix.Bits() {
		tb.Fatalf("attach %s: address %s is not of the underlay %s", netns, addr, UnderlayPrefix)
	}
	u.AttachLink(tb, netns, uplinkName, addr)
	mustIP(tb, netns, "route", "replace", "default", "via", ExternalHostIP.String(), "dev", uplinkName)
}

// AttachLink plugs one more link of a network namespace, ifname, into the
// underlay's bridge with addr on it, such as a KubeNode's tunnel link.
func (u *Underlay) AttachLink(tb T, netns, ifname string, addr netip.Prefix) {
	tb.Helper()
	key := netns + "/" + ifname
	if _, ok := u.ports[key]; ok {
		tb.Fatalf("attach %s: already attached", key)
	}
	u.plug(tb, netns, ifname, key)
	mustIP(tb, netns, "addr", "add", addr.String(), "dev", ifname)
}

// plug links ifname in netns to a port of the underlay bridge, recorded
// under key for Capture, Unplug and Plug; tb.Cleanup deletes the veth.
func (u *Underlay) plug(tb T, netns, ifname, key string) {
	tb.Helper()
	peer := UniqueName("ulp")
	u.ports[key] = peer
	mustIP(tb, netns, "link", "add", ifname, "type", "veth", "peer", "name", peer, "netns", u.NetNS)
	tb.Cleanup(func() { deleteLink(tb, netns, ifname) })
	mustIP(tb, u.NetNS, "link", "set", peer, "mtu", strconv.Itoa(UnderlayMTU), "master", underlayBridge, "up")
	mustIP(tb, netns, "link", "set", ifname, "mtu", strconv.Itoa(UnderlayMTU), "up")
}

// Unplug takes the chassis's port on the underlay bridge down, as a pulled
// cable would: the node loses carrier on its uplink and with it the far
// network, the external host and its Geneve tunnels. Plug undoes it.
func (u *Underlay) Unplug(tb T, ch *Chassis) {
	tb.Helper()
	mustIP(tb, u.NetNS, "link", "set", u.port(tb, ch), "down")
}

// Plug takes the chassis's port on the underlay bridge up again.
func (u *Underlay) Plug(tb T, ch *Chassis) {
	tb.Helper()
	mustIP(tb, u.NetNS, "link", "set", u.port(tb, ch), "up")
}

// Capture runs tcpdump on the underlay's end of the chassis's uplink with
// a pcap filter (e.g. "udp dst port 4789") until tb's test ends: it sees
// every packet the node sends to or receives from the underlay, tunnels
// between nodes included, which the bridge's own device would not.
func (u *Underlay) Capture(tb T, ch *Chassis, filter ...string) *Capture {
	tb.Helper()
	return startCapture(tb, u.NetNS, u.port(tb, ch), filter)
}

// port is the underlay end of the chassis's uplink.
func (u *Underlay) port(tb T, ch *Chassis) string {
	tb.Helper()
	peer, ok := u.ports[ch.Name]
	if !ok {
		tb.Fatalf("chassis %s is not attached to the underlay", ch.Name)
	}
	return peer
}

// setNodeAddresses sets the Node's status.addresses to an InternalIP per
// address of ips and Hostname name through the status subresource, where
// a kubelet writes them.
func setNodeAddresses(tb T, api *APIServer, name string, ips ...netip.Addr) {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		tb.Fatalf("addresses of node %s: %v", name, err)
	}
	var addresses []corev1.NodeAddress
	for _, ip := range ips {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"addresses": addresses}})
	if err != nil {
		tb.Fatalf("addresses of node %s: %v", name, err)
	}
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, patch,
		metav1.PatchOptions{}, "status"); err != nil {
		tb.Fatalf("addresses of node %s: %v", name, err)
	}
}

// deleteLink deletes an interface (both ends, for a veth) in cleanup:
// explicitly, since the kernel finishes a namespace's deletion
// asynchronously.
func deleteLink(tb T, netns, name string) {
	tb.Helper()
	if out, err := ipCommand(netns, "link", "del", name).CombinedOutput(); err != nil {
		tb.Errorf("deleting %s in %s: %v: %s", name, netnsLabel(netns), err, out)
	}
}

// netnsLabel names a namespace in messages; "" is the host's.
func netnsLabel(netns string) string {
	if netns == "" {
		return "the host namespace"
	}
	return fmt.Sprintf("namespace %s", netns)
}
