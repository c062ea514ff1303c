package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// bgpIPv6 is TestBGP's IPv6 part, on its cluster: n1 has an IPv6 address
// on the underlay and a dual-stack join subnet, its speaker that address
// as IPv6 next hop, and BIRD an IPv6 channel on the same IPv4 session.
// A dual-stack Subnet, pod and Service annotated for BGP put their IPv6
// prefixes in BIRD's IPv6 table with n1's IPv6 address as next hop (their
// IPv4 ones in its IPv4 table via n1's IPv4 address); the far host pings
// the pod and talks TCP to it over IPv6 by the route BIRD installed, the
// pod seeing the far host's own IPv6 address; removing the pod's
// annotation withdraws both its routes. before is BIRD's table as TestBGP
// leaves it.
func bgpIPv6(t *testing.T, e *env, o *outside, bird *harness.BIRD, before map[netip.Prefix][]netip.Addr) {
	n, node, node6 := o.nodes[0], nodeAddr(0), nodeAddrIPv6(0)
	cidr4, cidr6 := netip.MustParsePrefix("10.94.0.0/24"), netip.MustParsePrefix("fd00:10:94::/120")
	e.namespace("bgp6", map[string]string{annotation.CIDR: cidr4.String() + "," + cidr6.String(), annotation.GatewayNAT: "false"})
	e.annotate(e.subnet(t, "bgp6"), map[string]any{annotation.BGP: annotation.True})
	pod := n.Runtime(t).AddPod(t, e.pod("bgp6", "web", n.Name, map[string]string{annotation.BGP: annotation.True}))
	if len(pod.IPs) != 2 || !pod.IPs[1].Is6() {
		t.Fatalf("pod of a dual-stack subnet got %v, want an IPv4 then an IPv6 address", pod.IPs)
	}
	e.serve(pod, "--tcp", fmt.Sprint(backendTCP))
	svc := webServiceObject("web6", corev1.ServiceAffinityNone)
	svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
	svc = e.createService(svc)
	e.setFamilyEndpoints(svc, discoveryv1.AddressTypeIPv6, map[string]bool{pod.IPs[1].String(): true})
	e.annotate(svc, map[string]any{annotation.BGP: annotation.True})

	via := func(p netip.Prefix) []netip.Addr {
		if p.Addr().Is6() {
			return []netip.Addr{node6}
		}
		return []netip.Addr{node}
	}
	withPod := maps.Clone(before)
	for _, p := range []netip.Prefix{cidr4, cidr6, host(pod.IPs[0]), host(pod.IPs[1])} {
		withPod[p] = via(p)
	}
	for _, ip := range svc.Spec.ClusterIPs {
		p := host(netip.MustParseAddr(ip))
		withPod[p] = via(p)
	}
	birdHolds(t, bird, withPod)

	// The external host's one route to the pod is the one BIRD learnt.
	until(t, "the external host routes "+pod.IPs[1].String()+" by BIRD's route", func() error {
		out, err := o.ext.Exec("ip", "-6", "route", "show", host(pod.IPs[1]).String())
		if err != nil || !strings.Contains(out, "via "+node6.String()) || !strings.Contains(out, "proto bird") {
			return fmt.Errorf("route %q (%v), want via %s, proto bird", out, err, node6)
		}
		return nil
	})
	target := netip.AddrPortFrom(pod.IPs[1], backendTCP).String()
	until(t, "far host pings "+pod.IPs[1].String(), func() error {
		out, err := o.far.Exec("ping", "-c", "1", "-W", "1", pod.IPs[1].String())
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
	farReaches(t, o, e.probe, target, pod.IPs[1], harness.FarIPv6)

	e.annotate(pod.Pod, map[string]any{annotation.BGP: nil})
	withoutPod := maps.Clone(withPod)
	delete(withoutPod, host(pod.IPs[0]))
	delete(withoutPod, host(pod.IPs[1]))
	birdHolds(t, bird, withoutPod)
}

// ipv6Egress runs on TestBGP's cluster, whose node n1 has a dual-stack
// join and an IPv6 address and default route on the underlay: a pod of a
// dual-stack Subnet with natOutgoing (the default) reaches the far host
// over both families, with no route to the pod outside, and the far host
// sees n1's underlay address of each family as the client (masqueraded by
// the daemon's ip and ip6 tables).
func ipv6Egress(t *testing.T, e *env, o *outside) {
	n := o.nodes[0]
	e.namespace("nat6", map[string]string{annotation.CIDR: "10.95.0.0/24,fd00:10:95::/120"})
	pod := n.Runtime(t).AddPod(t, e.pod("nat6", "client", n.Name, nil))
	if len(pod.IPs) != 2 || !pod.IPs[1].Is6() {
		t.Fatalf("pod of a dual-stack subnet got %v, want an IPv4 then an IPv6 address", pod.IPs)
	}
	e.farSeesPodAt(t, pod, harness.FarIP, nodeAddr(0))
	e.farSeesPodAt(t, pod, harness.FarIPv6, nodeAddrIPv6(0))
	ping(t, pod, harness.FarIPv6.String())
}
