package nodenat

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// Addresses of the modelled node. The uplink side uses TEST-NET-1; the
// pod subnets and the join subnet are ovnet's defaults.
const (
	nodeAddr     = "192.0.2.2"
	externalAddr = "192.0.2.100"
	joinNode     = "100.64.0.2"
	joinGateway  = "100.64.0.1"
	natPod       = "10.16.0.5" // in 10.16.0.0/16, natOutgoing true
	plainPod     = "10.17.0.5" // in 10.17.0.0/16, natOutgoing false
	clusterIP    = "10.96.0.10"
	serverPort   = "9000"
	endpointPort = "8080"
)

// world is a node between "OVN" and the outside: the node namespace with
// ovn0 and an uplink; a router namespace standing for OVN behind ovn0
// (it holds the ClusterIP, as OVN's load balancer would answer for it)
// with a pod namespace per subnet; and an external host on the uplink.
type world struct {
	node, ovn, natPod, plainPod, external *testNS
	table                                 *Table
	probe                                 string
}

// newWorld builds the namespaces, links and routes, enables forwarding
// the way the daemon does, and starts a probe server everywhere.
func newWorld(t *testing.T) *world {
	w := &world{node: newNS(t, "n"), ovn: newNS(t, "o"), natPod: newNS(t, "a"), plainPod: newNS(t, "b"),
		external: newNS(t, "x"), probe: buildProbe(t)}
	// Strict reverse-path filtering on the node: replies and forwarded
	// egress must pass it.
	w.node.sysctl(t, "net.ipv4.conf.all.rp_filter", "1")
	veth(t, w.node, "ovn0", w.ovn, "join")
	veth(t, w.node, "eth1", w.external, "eth0")
	w.node.ip(t, "addr", "add", joinNode+"/16", "dev", "ovn0")
	w.node.ip(t, "addr", "add", nodeAddr+"/24", "dev", "eth1")
	for _, cidr := range []string{"10.16.0.0/16", "10.17.0.0/16", "10.96.0.0/12"} {
		w.node.ip(t, "route", "add", cidr, "via", joinGateway, "dev", "ovn0")
	}
	w.ovn.sysctl(t, "net.ipv4.ip_forward", "1")
	w.ovn.ip(t, "addr", "add", joinGateway+"/16", "dev", "join")
	w.ovn.ip(t, "addr", "add", clusterIP+"/32", "dev", "lo")
	w.ovn.ip(t, "route", "add", "default", "via", joinNode)
	w.external.ip(t, "addr", "add", externalAddr+"/24", "dev", "eth0")
	// The route an operator adds to reach a subnet without NAT; the same
	// for the NAT subnet, to show the guard stops what routing allows.
	w.external.ip(t, "route", "add", "10.16.0.0/15", "via", nodeAddr)
	w.addPod(t, w.natPod, "pa", natPod, "10.16.0.1")
	w.addPod(t, w.plainPod, "pb", plainPod, "10.17.0.1")

	if _, err := EnableForwarding(&nslink.Namespace{NS: w.node.fd}); err != nil {
		t.Fatal(err)
	}
	w.table = NewTable(int(w.node.fd), "ovn0", IPv4)
	t.Cleanup(func() {
		if err := w.table.Delete(); err != nil {
			t.Errorf("delete table: %v", err)
		}
	})
	for _, ns := range []*testNS{w.natPod, w.plainPod, w.external} {
		w.serve(t, ns, serverPort+","+endpointPort)
	}
	w.serve(t, w.ovn, "80")
	return w
}

// addPod links a pod namespace to the OVN router.
func (w *world) addPod(t *testing.T, pod *testNS, routerSide, addr, gateway string) {
	veth(t, w.ovn, routerSide, pod, "eth0")
	w.ovn.ip(t, "addr", "add", gateway+"/16", "dev", routerSide)
	pod.ip(t, "addr", "add", addr+"/16", "dev", "eth0")
	pod.ip(t, "route", "add", "default", "via", gateway)
}

// state is what the daemon would compute for this world.
func (w *world) state() State {
	return State{
		NATSubnets: []Range{rangeOf("10.16.0.0/16")},
		NodePorts: []NodePort{
			{Service: "a/cluster:http", Protocol: corev1.ProtocolTCP, Port: 30080,
				ClusterIP: netip.MustParseAddrPort(clusterIP + ":80")},
			{Service: "a/local:http", Protocol: corev1.ProtocolTCP, Port: 30081, Local: true, Endpoints: []netip.AddrPort{
				netip.MustParseAddrPort(natPod + ":" + endpointPort), netip.MustParseAddrPort(plainPod + ":" + endpointPort)}},
			{Service: "a/nowhere:http", Protocol: corev1.ProtocolTCP, Port: 30082, Local: true},
		},
	}
}

var (
	probeOnce sync.Once
	probeDir  string
	probeBin  string
	probeErr  error
)

// TestMain removes the probe binary built for the packet tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if probeDir != "" {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}

// buildProbe builds test/image/probe once per test binary.
func buildProbe(t *testing.T) string {
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "nodenat-probe")
		if probeErr != nil {
			return
		}
		probeBin = filepath.Join(probeDir, "probe")
		out, err := exec.Command("go", "build", "-o", probeBin, "github.com/ovnet/ovnet/test/image/probe").CombinedOutput()
		if err != nil {
			probeErr = err
			probeBin = string(out)
		}
	})
	if probeErr != nil {
		t.Fatalf("go build probe: %v: %s", probeErr, probeBin)
	}
	return probeBin
}

// serve starts "probe serve" in ns on the TCP ports and waits until it
// answers; t.Cleanup ends it by PID.
func (w *world) serve(t *testing.T, ns *testNS, ports string) {
	cmd := ns.command(w.probe, "serve", "--tcp", ports, "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatalf("probe serve in %s: %v", ns.name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	first, _, _ := strings.Cut(ports, ",")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := w.connect(ns, "127.0.0.1:"+first, time.Second); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("probe server in %s never answered: %v", ns.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answer is what a probe server reported.
type answer struct {
	local, client string
}

// connect runs "probe connect tcp addr" in ns.
func (w *world) connect(ns *testNS, addr string, timeout time.Duration) (answer, error) {
	out, err := ns.command(w.probe, "connect", "tcp", addr, "--timeout", timeout.String()).CombinedOutput()
	if err != nil {
		return answer{}, &probeError{err: err, out: strings.TrimSpace(string(out))}
	}
	var a answer
	for _, field := range strings.Fields(string(out)) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "local":
			a.local = v
		case "client":
			a.client = v
			if ap, err := netip.ParseAddrPort(v); err == nil {
				a.client = ap.Addr().String()
			}
		}
	}
	return a, nil
}

type probeError struct {
	err error
	out string
}

func (e *probeError) Error() string { return e.err.Error() + ": " + e.out }

// TestPackets sends real TCP connections through the node and checks what
// each side saw.
func TestPackets(t *testing.T) {
	w := newWorld(t)
	mustConverge(t, w.table, w.state())
	tests := []struct {
		name string
		from func() *testNS
		to   string
		// wantLocal and wantClient are what the server must report; a
		// drop is wantDropped.
		wantLocal, wantClient string
		wantDropped           bool
	}{
		{"egress of a NAT subnet leaves masqueraded", func() *testNS { return w.natPod },
			externalAddr + ":" + serverPort, "", nodeAddr, false},
		{"egress of a subnet without NAT keeps the pod address", func() *testNS { return w.plainPod },
			externalAddr + ":" + serverPort, "", plainPod, false},
		{"outside to a NAT subnet is dropped", func() *testNS { return w.external },
			natPod + ":" + serverPort, "", "", true},
		{"outside to a subnet without NAT is routed", func() *testNS { return w.external },
			plainPod + ":" + serverPort, "", externalAddr, false},
		{"node port, Cluster: to the ClusterIP, masqueraded into ovn0", func() *testNS { return w.external },
			nodeAddr + ":30080", clusterIP + ":80", joinNode, false},
		{"node port, Cluster, from a pod: hairpin through the node", func() *testNS { return w.natPod },
			nodeAddr + ":30080", clusterIP + ":80", joinNode, false},
		{"node port, Local, from a pod: masqueraded so the endpoint answers through the node", func() *testNS { return w.plainPod },
			nodeAddr + ":30081", "", joinNode, false},
		{"node port, Local, no local endpoint: dropped", func() *testNS { return w.external },
			nodeAddr + ":30082", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.connect(tt.from(), tt.to, 2*time.Second)
			checkAnswer(t, tt.to, got, err, tt.wantLocal, tt.wantClient, tt.wantDropped)
		})
	}
}

// checkAnswer checks one connection to to: dropped (a timeout, not a
// refusal) when wantDropped, else answered with the client address
// wantClient seen, by wantLocal when it is not "".
func checkAnswer(t *testing.T, to string, got answer, err error, wantLocal, wantClient string, wantDropped bool) {
	t.Helper()
	if wantDropped {
		if err == nil {
			t.Fatalf("connect %s answered %+v, want it dropped", to, got)
		}
		if !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("connect %s: %v, want a timeout (a drop, not a refusal)", to, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("connect %s: %v", to, err)
	}
	if got.client != wantClient || (wantLocal != "" && got.local != wantLocal) {
		t.Fatalf("connect %s: server saw %+v, want client %s local %s", to, got, wantClient, wantLocal)
	}
}

// TestNodePortLocalSpreads checks that a Local node port reaches each
// local endpoint, a NAT subnet's too (the guard lets DNATed traffic in),
// and that the endpoint sees the client's own address.
func TestNodePortLocalSpreads(t *testing.T) {
	w := newWorld(t)
	mustConverge(t, w.table, w.state())
	seen := map[string]int{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		got, err := w.connect(w.external, nodeAddr+":30081", 2*time.Second)
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		if got.client != externalAddr {
			t.Fatalf("endpoint %s saw client %s, want the client's own %s", got.local, got.client, externalAddr)
		}
		seen[got.local]++
	}
	for _, ep := range []string{natPod + ":" + endpointPort, plainPod + ":" + endpointPort} {
		if seen[ep] == 0 {
			t.Errorf("endpoint %s never chosen: %v", ep, seen)
		}
	}
}

// TestNodePortFromPeerNode checks that node-port traffic from another
// node's address is masqueraded into ovn0, under Local too: OVN would
// send the endpoint's reply straight to that node, past this one's DNAT.
// (The external host stands for the other node.)
func TestNodePortFromPeerNode(t *testing.T) {
	w := newWorld(t)
	s := w.state()
	s.PeerNodes = []netip.Addr{netip.MustParseAddr(externalAddr)}
	mustConverge(t, w.table, s)
	for _, port := range []string{"30080", "30081"} {
		got, err := w.connect(w.external, nodeAddr+":"+port, 2*time.Second)
		if err != nil || got.client != joinNode {
			t.Errorf("peer node to node port %s: %+v, %v; want answered, client %s", port, got, err, joinNode)
		}
	}
	got, err := w.connect(w.external, plainPod+":"+serverPort, 2*time.Second)
	if err != nil || got.client != externalAddr {
		t.Errorf("peer node to a pod without NAT: %+v, %v; want its own address %s kept", got, err, externalAddr)
	}
}

// TestNodePortToRemoteEgress checks that a Local node port's traffic to
// an endpoint whose subnet leaves through another node is masqueraded
// into ovn0, and to the others keeps the client address.
func TestNodePortToRemoteEgress(t *testing.T) {
	w := newWorld(t)
	s := w.state()
	s.RemoteEgress = []Range{rangeOf("10.17.0.0/16")}
	mustConverge(t, w.table, s)
	want := map[string]string{plainPod + ":" + endpointPort: joinNode, natPod + ":" + endpointPort: externalAddr}
	seen := map[string]int{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		got, err := w.connect(w.external, nodeAddr+":30081", 2*time.Second)
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		if got.client != want[got.local] {
			t.Fatalf("endpoint %s saw client %s, want %s", got.local, got.client, want[got.local])
		}
		seen[got.local]++
	}
	if len(seen) != 2 {
		t.Errorf("endpoints chosen: %v, want both", seen)
	}
}

// TestGuardFollowsSubnets checks that turning NAT off for a subnet opens
// it from outside and that egress then keeps the pod address, with only
// the set's elements changed.
func TestGuardFollowsSubnets(t *testing.T) {
	w := newWorld(t)
	mustConverge(t, w.table, w.state())
	if _, err := w.connect(w.external, natPod+":"+serverPort, time.Second); err == nil {
		t.Fatal("NAT subnet reachable from outside")
	}
	s := w.state()
	s.NATSubnets = nil
	if c := mustConverge(t, w.table, s); c.Created || len(c.Chains) != 0 {
		t.Fatalf("turning NAT off changed %v, want only set elements", c)
	}
	got, err := w.connect(w.external, natPod+":"+serverPort, 2*time.Second)
	if err != nil || got.client != externalAddr {
		t.Fatalf("after NAT off, outside to %s: %+v, %v; want answered, client %s", natPod, got, err, externalAddr)
	}
	got, err = w.connect(w.natPod, externalAddr+":"+serverPort, 2*time.Second)
	if err != nil || got.client != natPod {
		t.Fatalf("after NAT off, egress: %+v, %v; want the pod address %s", got, err, natPod)
	}
}

// TestServiceCIDRFromOutside checks that a connection from outside to an
// address of the service CIDR, which the node routes into ovn0, is
// masqueraded to ovn0's address (the reply must come back through this
// node), and keeps the client address while the address is not in it.
func TestServiceCIDRFromOutside(t *testing.T) {
	w := newWorld(t)
	s := w.state()
	target := plainPod + ":" + serverPort
	for _, step := range []struct {
		name        string
		serviceCIDR []Range
		want        string
	}{
		{"outside the service CIDR", []Range{rangeOf("10.96.0.0/12")}, externalAddr},
		{"in the service CIDR", []Range{rangeOf(plainPod + "/32"), rangeOf("10.96.0.0/12")}, joinNode},
		{"no service CIDR", nil, externalAddr},
	} {
		s.ServiceCIDR = step.serviceCIDR
		mustConverge(t, w.table, s)
		got, err := w.connect(w.external, target, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: connect: %v", step.name, err)
		}
		if got.client != step.want {
			t.Errorf("%s: the pod saw client %s, want %s", step.name, got.client, step.want)
		}
	}
}
