package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/speaker"
	"github.com/ovnet/ovnet/test/harness"
)

// The AS numbers of the tests' BGP speakers: the external router's and
// the cluster's, from the private range.
const (
	routerAS  = 64500
	clusterAS = 64512
	// bgpPassword is TestBGP's TCP MD5 password: the session comes up
	// only if both ends sign with it.
	bgpPassword = "ovnet-e2e"
)

// TestBGP: BIRD on the external host peers with a node's ovnet-speaker and
// learns, with the node's address as next hop, the CIDR of an annotated
// Subnet without NAT, an annotated pod's address and an annotated
// Service's ClusterIP, and nothing of a Subnet with NAT (refused with an
// Event), over a session signed with TCP MD5. The far network then
// reaches the pod and the Service by those routes alone; the pod sees the
// far host's own address, the Service's backend the node's ovn0 address
// (masqueraded on the way in). Removing the
// pod's annotation or deleting the Service withdraws their routes; the
// speaker stopping withdraws the rest. With graceful restart, the routes
// stay while the speaker is down, traffic still flows by them, and after
// it comes back the table holds what it announces again.
func TestBGP(t *testing.T) {
	// A dual-stack join subnet and IPv6 on the underlay, for the IPv6
	// subtest: the node routes IPv6 pods through ovn0 then.
	e := newEnvWith(t, dualStackJoin())
	o := e.outsideNodes("n1")
	n, node := o.nodes[0], nodeAddr(0)
	o.addIPv6(t)
	cidr := netip.MustParsePrefix("10.90.0.0/24")
	e.namespace("bgp", map[string]string{annotation.CIDR: cidr.String(), annotation.GatewayNAT: "false"})
	e.namespace("natted", map[string]string{annotation.CIDR: "10.91.0.0/24"})
	pod := n.Runtime(t).AddPod(t, e.pod("bgp", "web", n.Name, map[string]string{annotation.BGP: annotation.True}))
	e.serve(pod, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	svc := e.webService("web", corev1.ServiceAffinityNone)
	e.setEndpoints(svc, map[string]bool{pod.IP.String(): true})
	e.annotate(svc, map[string]any{annotation.BGP: annotation.True})
	for _, name := range []string{"bgp", "natted"} {
		e.annotate(e.subnet(t, name), map[string]any{annotation.BGP: annotation.True})
	}
	clusterIP := netip.MustParseAddr(svc.Spec.ClusterIP)

	bird := harness.StartBIRD(t, harness.BIRDOptions{NetNS: o.ext.NetNS, RouterID: harness.ExternalHostIP, AS: routerAS,
		Neighbors: []harness.BIRDNeighbor{{Name: "n1", Address: node, AS: clusterAS, Password: bgpPassword}}, IPv6: true})
	config := func(graceful bool) speaker.Config {
		return speaker.Config{LocalAS: clusterAS, Peers: []speaker.Peer{{Address: harness.ExternalHostIP.String(), AS: routerAS,
			Password: bgpPassword, GracefulRestart: graceful}}}
	}
	sp := harness.StartSpeaker(t, harness.SpeakerOptions{Node: n, API: e.api, Address: node,
		IPv6: nodeAddrIPv6(0), Config: config(false)})

	all := map[netip.Prefix][]netip.Addr{cidr: {node}, host(pod.IP): {node}, host(clusterIP): {node}}
	birdHolds(t, bird, all)
	e.eventOn(t, "natted", speaker.ReasonBGPNotAnnounced, "natOutgoing on")
	podTarget := netip.AddrPortFrom(pod.IP, backendTCP).String()
	serviceTarget := netip.AddrPortFrom(clusterIP, 80).String()
	farReaches(t, o, e.probe, podTarget, pod.IP, harness.FarIP)
	// Masqueraded as it enters ovn0: the reply must come back this way.
	farReaches(t, o, e.probe, serviceTarget, pod.IP, e.joinAddr(t, n))

	e.annotate(pod.Pod, map[string]any{annotation.BGP: nil})
	birdHolds(t, bird, map[netip.Prefix][]netip.Addr{cidr: {node}, host(clusterIP): {node}})
	if err := e.c.Delete(e.ctx, svc); err != nil {
		t.Fatal(err)
	}
	birdHolds(t, bird, map[netip.Prefix][]netip.Addr{cidr: {node}})
	sp.Stop(t)
	birdHolds(t, bird, map[netip.Prefix][]netip.Addr{})

	t.Run("graceful restart", func(t *testing.T) {
		e.annotate(pod.Pod, map[string]any{annotation.BGP: annotation.True})
		sp.Configure(t, config(true))
		sp.Start(t)
		withPod := map[netip.Prefix][]netip.Addr{cidr: {node}, host(pod.IP): {node}}
		birdHolds(t, bird, withPod)
		sp.Stop(t)
		until(t, "BIRD sees the session to n1 down", func() error {
			if up, err := bird.Established("n1"); err != nil || up {
				return fmt.Errorf("established %v: %v", up, err)
			}
			return nil
		})
		birdHolds(t, bird, withPod)
		farReaches(t, o, e.probe, podTarget, pod.IP, harness.FarIP)
		// Changed while the speaker is away: after its restart the
		// peer drops the stale route it no longer announces.
		e.annotate(pod.Pod, map[string]any{annotation.BGP: nil})
		sp.Start(t)
		birdHolds(t, bird, map[netip.Prefix][]netip.Addr{cidr: {node}})
		farReaches(t, o, e.probe, podTarget, pod.IP, harness.FarIP)
	})
	t.Run("IPv6", func(t *testing.T) { bgpIPv6(t, e, o, bird, map[netip.Prefix][]netip.Addr{cidr: {node}}) })
	t.Run("IPv6 egress", func(t *testing.T) { ipv6Egress(t, e, o) })
}

// host is the host route of an address: /32 for IPv4, /128 for IPv6.
func host(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// birdHolds waits until BIRD's table is exactly want: each prefix with
// its next hops.
func birdHolds(t *testing.T, bird *harness.BIRD, want map[netip.Prefix][]netip.Addr) {
	t.Helper()
	until(t, fmt.Sprintf("BIRD's table is %v", want), func() error {
		got, err := bird.Routes()
		if err != nil {
			return err
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			return fmt.Errorf("BIRD has %v", got)
		}
		return nil
	})
}

// farReaches waits until a TCP connection from the far host to target is
// answered by backend, which saw one of clients as the client: the far
// host's own address for a pod reached by its address, an entry node's
// ovn0 address for a ClusterIP.
func farReaches(t *testing.T, o *outside, probe, target string, backend netip.Addr, clients ...netip.Addr) {
	t.Helper()
	until(t, "far host reaches "+target, func() error { return farAnswer(o, probe, target, backend, clients) })
}

// farAnswer makes one connection from the far host to target and checks
// who answered and which client it saw.
func farAnswer(o *outside, probe, target string, backend netip.Addr, clients []netip.Addr) error {
	out, err := o.far.Exec(probe, "connect", "tcp", target, "--timeout", "2s")
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	if local := localOf(out); local != backend.String() {
		return fmt.Errorf("answered by %q, want %s: %s", local, backend, out)
	}
	client, err := clientSeen(out)
	if err != nil {
		return err
	}
	if !slices.Contains(clients, client) {
		return fmt.Errorf("backend saw client %s, want one of %v", client, clients)
	}
	return nil
}

// joinAddr is the node's address on the join subnet (ovn0's), from the
// controller's record on the Node.
func (e *env) joinAddr(t *testing.T, n *harness.Node) netip.Addr {
	t.Helper()
	node := &corev1.Node{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: n.Name}, node); err != nil {
		t.Fatal(err)
	}
	addr, ok, err := annotation.ParseAddress(node.Annotations)
	if err != nil || !ok {
		t.Fatalf("node %s has no join address (%v)", n.Name, err)
	}
	return addr.IP
}

// subnet waits for the Subnet the controller makes of a namespace.
func (e *env) subnet(t *testing.T, name string) *ovnetv1.Subnet {
	t.Helper()
	s := &ovnetv1.Subnet{}
	until(t, "subnet "+name, func() error { return e.c.Get(e.ctx, client.ObjectKey{Name: name}, s) })
	return s
}

// TestBGPRouteReflector: two nodes' speakers peer over iBGP with BIRD as
// their route reflector. BIRD holds the Subnet's CIDR with both nodes as
// next hops, each pod's address via its own node and the ClusterIP via
// both; the far network reaches the pods on both nodes and, with the
// external host spreading connections over both nodes (ECMP by port),
// reaches the Service through either node.
func TestBGPRouteReflector(t *testing.T) {
	e := newEnv(t)
	o := e.underlayNodes("n1", "n2")
	o.far.Serve(t, farPort)
	cidr := netip.MustParsePrefix("10.92.0.0/24")
	e.namespace("bgp", map[string]string{annotation.CIDR: cidr.String(), annotation.GatewayNAT: "false"})
	e.annotate(e.subnet(t, "bgp"), map[string]any{annotation.BGP: annotation.True})
	var neighbors []harness.BIRDNeighbor
	var pods []*harness.Sandbox
	for i, n := range o.nodes {
		pod := n.Runtime(t).AddPod(t, e.pod("bgp", "web-"+n.Name, n.Name, map[string]string{annotation.BGP: annotation.True}))
		e.serve(pod, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
		pods = append(pods, pod)
		neighbors = append(neighbors, harness.BIRDNeighbor{Name: n.Name, Address: nodeAddr(i), AS: clusterAS, RouteReflectorClient: true})
	}
	svc := e.webService("web", corev1.ServiceAffinityNone)
	// One backend, on n1: a connection entering through n2 crosses to it.
	e.setEndpoints(svc, map[string]bool{pods[0].IP.String(): true})
	e.annotate(svc, map[string]any{annotation.BGP: annotation.True})
	clusterIP := netip.MustParseAddr(svc.Spec.ClusterIP)

	if out, err := o.ext.Exec("sysctl", "-q", "-w", "net.ipv4.fib_multipath_hash_policy=1"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bird := harness.StartBIRD(t, harness.BIRDOptions{NetNS: o.ext.NetNS, RouterID: harness.ExternalHostIP, AS: clusterAS, Neighbors: neighbors})
	for i, n := range o.nodes {
		harness.StartSpeaker(t, harness.SpeakerOptions{Node: n, API: e.api, Address: nodeAddr(i), Config: speaker.Config{LocalAS: clusterAS,
			Peers: []speaker.Peer{{Address: harness.ExternalHostIP.String(), AS: clusterAS}}}})
	}
	both := []netip.Addr{nodeAddr(0), nodeAddr(1)}
	birdHolds(t, bird, map[netip.Prefix][]netip.Addr{cidr: both, host(clusterIP): both,
		host(pods[0].IP): {nodeAddr(0)}, host(pods[1].IP): {nodeAddr(1)}})
	for _, pod := range pods {
		farReaches(t, o, e.probe, netip.AddrPortFrom(pod.IP, backendTCP).String(), pod.IP, harness.FarIP)
	}
	// Connections to the ClusterIP that the external host sends to n2.
	viaN2 := o.ext.Capture(t, "tcp", "and", "dst", "host", clusterIP.String(), "and", "ether", "dst", uplinkMAC(t, o.nodes[1]))
	target := netip.AddrPortFrom(clusterIP, 80).String()
	// Masqueraded by the node it entered by, into ovn0.
	entries := []netip.Addr{e.joinAddr(t, o.nodes[0]), e.joinAddr(t, o.nodes[1])}
	farReaches(t, o, e.probe, target, pods[0].IP, entries...)
	// Every connection answered at the first try, whichever node it
	// entered by: none left to a retry.
	for i := range serviceTries {
		if err := farAnswer(o, e.probe, target, pods[0].IP, entries); err != nil {
			t.Fatalf("connection %d from the far host to %s: %v", i, target, err)
		}
	}
	if len(viaN2.Lines()) == 0 {
		t.Errorf("no connection of %d to %s went through n2: ECMP not in use", serviceTries, target)
	}
}

// uplinkMAC is the MAC address of the node's underlay address (br-phy's).
func uplinkMAC(t *testing.T, n *harness.Node) string {
	t.Helper()
	out, err := nodeExec(n, "cat", "/sys/class/net/br-phy/address")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
