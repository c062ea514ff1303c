package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// nodeUplink6 is node i's IPv6 address on the underlay (from 0), which
// this test adds to br-phy itself: the harness's underlay is IPv4.
func nodeUplink6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x18, 14: 0, 15: byte(i + 1)})
}

// TestNodePortIPv6: on a dual-stack cluster (dual-stack join, pods and
// Service), each node answers a NodePort Service's node port at its IPv6
// address as at its IPv4 one, each family reaching the endpoints of its
// own family: Cluster any of them through the IPv6 ClusterIP, Local this
// node's only. The client is another node, on the underlay.
func TestNodePortIPv6(t *testing.T) {
	e := newEnvWith(t, dualStackJoin())
	o := e.underlayNodes("n1", "n2")
	for i, n := range o.nodes {
		if out, err := nodeExec(n, "ip", "-6", "addr", "add", nodeUplink6(i).String()+"/64", "dev", "br-phy", "nodad"); err != nil {
			t.Fatalf("IPv6 on %s's uplink: %v: %s", n.Name, err, out)
		}
	}
	e.namespace("dual", map[string]string{annotation.CIDR: "10.91.0.0/24,fd00:10:91::/120"})
	web1 := o.nodes[0].Runtime(t).AddPod(t, e.pod("dual", "web-1", "n1", nil))
	web2 := o.nodes[1].Runtime(t).AddPod(t, e.pod("dual", "web-2", "n2", nil))
	for _, s := range []*harness.Sandbox{web1, web2} {
		if len(s.IPs) != 2 {
			t.Fatalf("%s got %v, want an address of each family", s.Pod.Name, s.IPs)
		}
		e.serve(s, "--tcp", fmt.Sprint(backendTCP))
	}
	endpoints := []nodePortEndpoint{{pod: web1, ready: true}, {pod: web2, ready: true}}
	service := func(name string, policy corev1.ServiceExternalTrafficPolicy, port int32) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: policy,
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack),
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80,
				TargetPort: intstr.FromInt32(backendTCP), NodePort: port}}}}
		e.createService(svc)
		e.setFamilyEndpointsOnNodes(svc, discoveryv1.AddressTypeIPv4, endpoints)
		e.setFamilyEndpointsOnNodes(svc, discoveryv1.AddressTypeIPv6, endpoints)
	}
	service("cluster", corev1.ServiceExternalTrafficPolicyCluster, 30090)
	service("local", corev1.ServiceExternalTrafficPolicyLocal, 30091)

	// answers connects from node n2 to target until both of want answered
	// (or serviceTries connections went by) and checks nothing else did.
	answers := func(t *testing.T, target string, want ...netip.Addr) {
		t.Helper()
		until(t, "tcp "+target+" from n2", func() error {
			_, err := e.nodeAnswer(o.nodes[1], target)
			return err
		})
		seen := map[netip.Addr]int{}
		for i := 0; i < serviceTries && len(seen) < len(want); i++ {
			a, err := e.nodeAnswer(o.nodes[1], target)
			if err != nil {
				t.Fatal(err)
			}
			seen[a]++
		}
		if err := onlyAnswered(seen, want...); err != nil {
			t.Errorf("tcp %s from n2: %v", target, err)
		}
	}
	n1v4, n1v6 := nodeAddr(0), nodeUplink6(0)
	t.Run("Cluster over IPv6 reaches the IPv6 endpoints on both nodes", func(t *testing.T) {
		answers(t, netip.AddrPortFrom(n1v6, 30090).String(), web1.IPs[1], web2.IPs[1])
	})
	t.Run("Cluster over IPv4 still reaches the IPv4 endpoints", func(t *testing.T) {
		answers(t, netip.AddrPortFrom(n1v4, 30090).String(), web1.IPs[0], web2.IPs[0])
	})
	t.Run("Local over IPv6 reaches this node's IPv6 endpoint only", func(t *testing.T) {
		answers(t, netip.AddrPortFrom(n1v6, 30091).String(), web1.IPs[1])
	})
}

// nodeAnswer makes one probe connection from the node's namespace and
// returns the backend address that answered.
func (e *env) nodeAnswer(n *harness.Node, target string) (netip.Addr, error) {
	out, err := nodeExec(n, e.probe, "connect", "tcp", target, "--timeout", "2s")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("tcp %s from %s: %w: %s", target, n.Name, err, out)
	}
	local, err := netip.ParseAddr(localOf(out))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("answer without local address: %q", out)
	}
	return local, nil
}
