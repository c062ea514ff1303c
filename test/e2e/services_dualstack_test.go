package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// v6CIDR is the IPv6-only subnet of the dual-stack Service tests' IPv6
// clients and backends (pods are of one family each until Subnets are
// dual stack).
const v6CIDR = "fd00:66::/112"

// Dual-stack and IPv6 Services: each ClusterIP reaches the backends of
// its own family, one of them on the other node; IPv4 clients use the
// IPv4 ClusterIP, IPv6 clients the IPv6 one.
func TestServiceDualStack(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	n1, n2 := nodes[0].Runtime(t), nodes[1].Runtime(t)
	e.namespace("v6", map[string]string{annotation.CIDR: v6CIDR})
	client4 := n1.AddPod(t, e.pod("default", "client", "n1", nil))
	client6 := n1.AddPod(t, e.pod("v6", "client", "n1", nil))
	web4 := n1.AddPod(t, e.pod("default", "web-1", "n1", nil))
	web6a := n1.AddPod(t, e.pod("v6", "web-1", "n1", nil))
	web6b := n2.AddPod(t, e.pod("v6", "web-2", "n2", nil))
	for _, s := range []*harness.Sandbox{web4, web6a, web6b} {
		e.serve(s, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	}
	if !client6.IP.Is6() || !web6b.IP.Is6() {
		t.Fatalf("pods of %s got %s and %s, want IPv6", v6CIDR, client6.IP, web6b.IP)
	}
	v4Backends := map[string]bool{web4.IP.String(): true}
	v6Backends := map[string]bool{web6a.IP.String(): true, web6b.IP.String(): true}

	// reachesFamilies checks both families of a dual-stack Service over TCP
	// and UDP: each ClusterIP answered by all the backends of its family.
	reachesFamilies := func(t *testing.T, svc *corev1.Service) {
		t.Helper()
		if len(svc.Spec.ClusterIPs) != 2 {
			t.Fatalf("cluster IPs %v, want one per family", svc.Spec.ClusterIPs)
		}
		e.setFamilyEndpoints(svc, discoveryv1.AddressTypeIPv4, v4Backends)
		e.setFamilyEndpoints(svc, discoveryv1.AddressTypeIPv6, v6Backends)
		for _, ip := range svc.Spec.ClusterIPs {
			vip := netip.MustParseAddr(ip)
			from, want := client4, v4Backends
			if vip.Is6() {
				from, want = client6, v6Backends
			}
			for _, p := range []struct {
				proto string
				port  uint16
			}{{"tcp", 80}, {"udp", 53}} {
				target := netip.AddrPortFrom(vip, p.port).String()
				until(t, p.proto+" to "+target, func() error {
					_, err := e.answeredBy(from, p.proto, target)
					return err
				})
				seen := e.mustAnswer(t, from, p.proto, target)
				if len(seen) != len(want) {
					t.Errorf("%s %s from %s answered by %v, want each of %v", p.proto, target, from.Pod.Namespace, seen, want)
				}
				for backend := range want {
					if seen[backend] == 0 {
						t.Errorf("%s %s from %s answered by %v, never by %s", p.proto, target, from.Pod.Namespace, seen, backend)
					}
				}
			}
		}
	}

	t.Run("RequireDualStack", func(t *testing.T) {
		svc := webServiceObject("require", corev1.ServiceAffinityNone)
		svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		reachesFamilies(t, e.createService(svc))
	})
	t.Run("PreferDualStack, IPv6 first", func(t *testing.T) {
		svc := webServiceObject("prefer", corev1.ServiceAffinityNone)
		svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyPreferDualStack)
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
		reachesFamilies(t, e.createService(svc))
	})
	t.Run("IPv6 only with ClientIP affinity keeps a client on one backend", func(t *testing.T) {
		svc := webServiceObject("sticky6", corev1.ServiceAffinityClientIP)
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		svc = e.createService(svc)
		e.setFamilyEndpoints(svc, discoveryv1.AddressTypeIPv6, v6Backends)
		target := netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 80).String()
		// OVN 23.03 loses a client's first connection to an affinity
		// load balancer while it learns the backend (see TestServiceClusterIP).
		until(t, "the sticky IPv6 ClusterIP answers", func() error {
			_, err := e.answeredBy(client6, "tcp", target)
			return err
		})
		if seen := e.mustAnswer(t, client6, "tcp", target); len(seen) != 1 {
			t.Errorf("ClientIP affinity over IPv6 answered by %v, want one backend", seen)
		}
	})
}
