package nodenat

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// Addresses of the modelled node in IPv6: the uplink in the documentation
// range, the join, pod and service ranges of a dual-stack cluster.
const (
	nodeAddr6     = "2001:db8::2"
	externalAddr6 = "2001:db8::100"
	joinNode6     = "fd00:100:64::2"
	joinGateway6  = "fd00:100:64::1"
	pod6          = "fd00:10:16::5"
	clusterIP6    = "fd00:96::10"
)

// world6 is world in IPv6: a node between "OVN" (a router namespace
// holding the ClusterIP, with one pod behind it) and an external host,
// with only the ip6 table.
type world6 struct {
	node, ovn, pod, external *testNS
	table                    *Table
	w                        *world // for its probe helpers
}

func newWorld6(t *testing.T) *world6 {
	w := &world6{node: newNS(t, "n"), ovn: newNS(t, "o"), pod: newNS(t, "a"), external: newNS(t, "x")}
	w.w = &world{probe: buildProbe(t)}
	// No duplicate address detection, the links' own link-local addresses
	// included: neighbour discovery waits for those, and a first
	// connection could time out while they are tentative.
	for _, ns := range []*testNS{w.node, w.ovn, w.pod, w.external} {
		ns.sysctl(t, "net.ipv6.conf.default.accept_dad", "0")
	}
	veth(t, w.node, "ovn0", w.ovn, "join")
	veth(t, w.node, "eth1", w.external, "eth0")
	veth(t, w.ovn, "pa", w.pod, "eth0")
	w.node.ip(t, "addr", "add", joinNode6+"/112", "dev", "ovn0", "nodad")
	w.node.ip(t, "addr", "add", nodeAddr6+"/64", "dev", "eth1", "nodad")
	for _, cidr := range []string{"fd00:10:16::/64", "fd00:96::/112"} {
		w.node.ip(t, "-6", "route", "add", cidr, "via", joinGateway6, "dev", "ovn0")
	}
	w.ovn.sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	w.ovn.ip(t, "addr", "add", joinGateway6+"/112", "dev", "join", "nodad")
	w.ovn.ip(t, "addr", "add", clusterIP6+"/128", "dev", "lo")
	w.ovn.ip(t, "addr", "add", "fd00:10:16::1/64", "dev", "pa", "nodad")
	w.ovn.ip(t, "-6", "route", "add", "default", "via", joinNode6)
	w.pod.ip(t, "addr", "add", pod6+"/64", "dev", "eth0", "nodad")
	w.pod.ip(t, "-6", "route", "add", "default", "via", "fd00:10:16::1")
	w.external.ip(t, "addr", "add", externalAddr6+"/64", "dev", "eth0", "nodad")
	// A route to the pods, to show the guard stops what routing allows.
	w.external.ip(t, "-6", "route", "add", "fd00:10:16::/64", "via", nodeAddr6)

	// The daemon turns IPv6 forwarding on once the node has an IPv6 join
	// address (pkg/daemon/nodesetup); this node has one.
	node := &nslink.Namespace{NS: w.node.fd}
	if _, err := EnableForwarding(node); err != nil {
		t.Fatal(err)
	}
	if _, err := node.EnsureSysctl(nslink.IPv6Forwarding, "1"); err != nil {
		t.Fatal(err)
	}
	w.table = NewTable(int(w.node.fd), "ovn0", IPv6)
	t.Cleanup(func() {
		if err := w.table.Delete(); err != nil {
			t.Errorf("delete table: %v", err)
		}
	})
	w.w.serve(t, w.pod, serverPort+","+endpointPort)
	w.w.serve(t, w.external, serverPort)
	w.w.serve(t, w.ovn, "80")
	return w
}

// state is what the daemon would compute for this world.
func (w *world6) state() State {
	return State{
		NATSubnets: []Range{rangeOf("fd00:10:16::/64")},
		NodePorts: []NodePort{
			{Service: "a/cluster:http", Protocol: corev1.ProtocolTCP, Port: 30080,
				ClusterIP: netip.AddrPortFrom(netip.MustParseAddr(clusterIP6), 80)},
			{Service: "a/local:http", Protocol: corev1.ProtocolTCP, Port: 30081, Local: true,
				Endpoints: []netip.AddrPort{netip.MustParseAddrPort("[" + pod6 + "]:" + endpointPort)}},
			{Service: "a/nowhere:http", Protocol: corev1.ProtocolTCP, Port: 30082, Local: true},
		},
		ServiceCIDR: []Range{rangeOf("fd00:96::/112")},
	}
}

// TestPacketsIPv6 sends real TCP connections through the node's ip6
// table and checks what each side saw.
func TestPacketsIPv6(t *testing.T) {
	w := newWorld6(t)
	mustConverge(t, w.table, w.state())
	at := func(addr, port string) string { return "[" + addr + "]:" + port }
	tests := []struct {
		name                  string
		from                  *testNS
		to                    string
		wantLocal, wantClient string
		wantDropped           bool
	}{
		{"node port, Cluster: to the IPv6 ClusterIP, masqueraded into ovn0", w.external,
			at(nodeAddr6, "30080"), at(clusterIP6, "80"), joinNode6, false},
		{"node port, Local: to the local endpoint, client address kept", w.external,
			at(nodeAddr6, "30081"), at(pod6, endpointPort), externalAddr6, false},
		{"node port, Local, no local endpoint: dropped", w.external, at(nodeAddr6, "30082"), "", "", true},
		{"node port, Cluster, from a pod: hairpin through the node", w.pod,
			at(nodeAddr6, "30080"), at(clusterIP6, "80"), joinNode6, false},
		{"egress of a NAT subnet leaves masqueraded", w.pod, at(externalAddr6, serverPort), "", nodeAddr6, false},
		{"outside to a NAT subnet is dropped", w.external, at(pod6, serverPort), "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.w.connect(tt.from, tt.to, 2*time.Second)
			checkAnswer(t, tt.to, got, err, tt.wantLocal, tt.wantClient, tt.wantDropped)
		})
	}
}
