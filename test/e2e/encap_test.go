package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness"
)

// encapCase is one tunnel type between nodes and what a node's pods see
// of it.
type encapCase struct {
	encap string
	// port is the tunnel's UDP destination port (IANA's).
	port int
	// podMTU is the pods' MTU: PodMTU given to a Geneve node, and under
	// VXLAN what the daemon derives, the underlay's 1500 less 50.
	podMTU int
}

var encapCases = []encapCase{
	{encap: ovs.EncapGeneve, port: 6081, podMTU: harness.PodMTU},
	{encap: ovs.EncapVXLAN, port: 4789, podMTU: harness.UnderlayMTU - 50},
}

// Two nodes, each its own namespace with ovs-vswitchd, ovn-controller and
// daemon, joined over an underlay by each tunnel type in turn: pods on
// different nodes ping and talk TCP and UDP, full-size packets cross, a
// Service reaches its backend on the other node, a NetworkPolicy acts on
// traffic from the other node both ways (ingress, and egress where OVN
// matches the pod's logical input port, which VXLAN does not carry), a
// node reaches a pod on the other; and on the underlay every tunnel
// packet is of the type asked for, none of the other.
func TestTwoNodes(t *testing.T) {
	for _, tc := range encapCases {
		t.Run(tc.encap, func(t *testing.T) { twoNodes(t, tc) })
	}
}

func twoNodes(t *testing.T, tc encapCase) {
	e := newEnv(t)
	o := e.tunnelNodes(tc.encap, "n1", "n2")
	n1, n2 := o.nodes[0], o.nodes[1]
	// Both directions: the UDP destination port is the tunnel's either way.
	tunnel := o.ul.Capture(t, n1.Chassis, "udp", "dst", "port", strconv.Itoa(tc.port))
	var others []*harness.Capture
	for _, other := range encapCases {
		if other.encap != tc.encap {
			others = append(others, o.ul.Capture(t, n1.Chassis, "udp", "dst", "port", strconv.Itoa(other.port)))
		}
	}

	rt1 := n1.Runtime(t)
	a := e.labeledPod(rt1, "default", "a", "n1", map[string]string{"app": "client"}, nil, nil)
	c := e.labeledPod(rt1, "default", "c", "n1", map[string]string{"app": "other"}, nil, nil)
	b := e.labeledPod(n2.Runtime(t), "default", "b", "n2", map[string]string{"app": "web"}, nil, nil)
	e.serve(b, "--tcp", fmt.Sprintf("%d,%d", backendTCP, backendTCP+1), "--udp", fmt.Sprint(backendUDP))
	http, other := fmt.Sprintf("%s:%d", b.IP, backendTCP), fmt.Sprintf("%s:%d", b.IP, backendTCP+1)

	e.eventually("ping a (n1) -> b (n2)", func() error {
		_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IP.String())
		return err
	})
	ping(t, b, a.IP.String())
	for _, target := range []struct{ proto, addr string }{{"tcp", http}, {"udp", fmt.Sprintf("%s:%d", b.IP, backendUDP)}} {
		e.eventually(target.proto+" a -> b across nodes", func() error {
			_, err := e.connect(a, target.proto, target.addr)
			return err
		})
	}

	// Full-size packets cross: the pod MTU leaves room for the tunnel.
	for _, s := range []*harness.Sandbox{a, b} {
		if got := podMTU(t, s); got != tc.podMTU {
			t.Errorf("MTU of %s's %s is %d, want %d", s.Pod.Name, s.IfName, got, tc.podMTU)
		}
	}
	if out, err := a.Exec("ping", "-c", "2", "-W", "2", "-M", "do", "-s", strconv.Itoa(tc.podMTU-28), b.IP.String()); err != nil {
		t.Errorf("full-size (%d) ping across nodes: %v\n%s", tc.podMTU, err, out)
	}

	web := e.webService("web", corev1.ServiceAffinityNone)
	e.setEndpoints(web, map[string]bool{b.IP.String(): true})
	for _, proto := range []struct{ name, vip string }{{"tcp", web.Spec.ClusterIP + ":80"}, {"udp", web.Spec.ClusterIP + ":53"}} {
		until(t, proto.name+" to the ClusterIP, backend on n2", func() error {
			who, err := e.answeredBy(a, proto.name, proto.vip)
			if err == nil && who != b.IP.String() {
				return fmt.Errorf("answered by %s, want %s", who, b.IP)
			}
			return err
		})
	}

	e.eventually("node n1 reaches b on n2", func() error {
		_, err := nodeExec(n1, "ping", "-c", "1", "-W", "1", b.IP.String())
		return err
	})

	crossNodePolicies(e, a, b, c, http, other)

	for _, line := range tunnel.Lines() {
		if !strings.Contains(line, fmt.Sprintf(".%d: ", tc.port)) {
			t.Errorf("not a %s packet: %s", tc.encap, line)
		}
	}
	e.eventually(tc.encap+" packets on n1's underlay link", func() error {
		if n := len(tunnel.Lines()); n < 10 {
			return fmt.Errorf("%d captured", n)
		}
		return nil
	})
	for _, c := range others {
		if lines := c.Lines(); len(lines) > 0 {
			t.Errorf("with %s, %d packets of another tunnel crossed, first: %s", tc.encap, len(lines), lines[0])
		}
	}
	t.Logf("%s: %d tunnel packets to or from n1", tc.encap, len(tunnel.Lines()))
}

// crossNodePolicies checks NetworkPolicy on traffic between a and c on
// one node and b on another: an ingress policy on b (matched on its
// output port, on b's node) lets a reach http and not other, and c
// nothing; an egress policy on a (matched on its input port, on a's
// node) lets a reach http and not other while c, not selected, reaches
// both. Deleting them restores what was there.
func crossNodePolicies(e *env, a, b, c *harness.Sandbox, http, other string) {
	e.t.Helper()
	allowHTTP := ports(tcp(backendTCP))
	e.createPolicy(pol{namespace: "default", name: "web-ingress", pods: labels("app", "web"),
		ingress: []rule{{peers: peers(fromPods(labels("app", "client"))), ports: allowHTTP}}}.object())
	e.blocked(a, other)
	e.blocked(c, http)
	e.reachable(a, http)
	e.deletePolicy("default", "web-ingress")
	e.reachable(c, http)

	e.createPolicy(pol{namespace: "default", name: "client-egress", pods: labels("app", "client"), types: egressOnly,
		egress: []rule{{peers: peers(fromPods(labels("app", "web"))), ports: allowHTTP}}}.object())
	e.blocked(a, other)
	e.reachable(a, http)
	e.reachable(c, other)
	e.deletePolicy("default", "client-egress")
	e.reachable(a, other)
}

// podMTU is the MTU of the pod's interface, as the pod sees it.
func podMTU(t *testing.T, s *harness.Sandbox) int {
	t.Helper()
	out, err := s.Exec("cat", "/sys/class/net/"+s.IfName+"/mtu")
	if err != nil {
		t.Fatalf("MTU of %s: %v\n%s", s.Pod.Name, err, out)
	}
	mtu, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("MTU of %s: %v", s.Pod.Name, err)
	}
	return mtu
}

// vxlanPortKeys is how many ports of one logical switch OVN gives a tunnel
// key once a chassis uses VXLAN: the 12 bits of the VNI left after the
// datapath's hold unicast keys 1 to 2047 (2048 to 4095 are multicast
// groups). Geneve's option holds 15 bits of port key.
const vxlanPortKeys = 2047

// The limit the README gives for VXLAN, checked against the OVN ovnet
// runs: a switch with more ports than that gets every port bound while
// only Geneve chassis are registered, and only vxlanPortKeys of them once
// the chassis uses VXLAN (ovn-northd drops the rest's bindings, so their
// pods would never come up). The ports are written directly to the
// northbound database: 2 048 pods would take this machine minutes.
func TestVXLANPortLimit(t *testing.T) {
	const ports = vxlanPortKeys + 53
	for _, tc := range []struct {
		encap string
		bound int
	}{{ovs.EncapGeneve, ports}, {ovs.EncapVXLAN, vxlanPortKeys}} {
		t.Run(tc.encap, func(t *testing.T) {
			central := harness.StartOVNCentral(t)
			harness.StartChassis(t, harness.ChassisOptions{Name: "c1", SB: central.SB, NetNS: harness.UniqueName("node"), EncapType: tc.encap})
			nbctl := []string{"ovn-nbctl", "--db=" + central.NB.Endpoint, "--timeout=30", "ls-add", "big"}
			for i := range ports {
				nbctl = append(nbctl, "--", "lsp-add", "big", fmt.Sprintf("p%d", i))
			}
			if out, err := runTool(nbctl...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// Returns once ovn-northd has brought the southbound up to date.
			if out, err := runTool("ovn-nbctl", "--db="+central.NB.Endpoint, "--timeout=60", "--wait=sb", "sync"); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			out, err := runTool("ovn-sbctl", "--db="+central.SB.Endpoint, "--timeout=10", "--bare", "--columns=tunnel_key", "list", "Port_Binding")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			keys := strings.Fields(out)
			if len(keys) != tc.bound {
				t.Errorf("%s: %d of %d ports bound, want %d", tc.encap, len(keys), ports, tc.bound)
			}
			for _, k := range keys {
				if n, err := strconv.Atoi(k); err != nil || n < 1 || (tc.encap == ovs.EncapVXLAN && n > vxlanPortKeys) {
					t.Errorf("%s: port tunnel key %s out of range", tc.encap, k)
				}
			}
		})
	}
}
