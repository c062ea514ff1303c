package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// TestDualStack: pods of a dual-stack subnet on two nodes each get an
// IPv4 and an IPv6 address, reported by ADD and configured on their
// interface with a default route of each family, and ping and talk TCP to
// each other across the tunnel over both families; with a dual-stack join
// subnet a node reaches the pod on the other node over both, and a pod
// reaches the other node's InternalIP of each family through that node's
// ovn0, the node seeing the pod's own address.
func TestDualStack(t *testing.T) {
	e := newEnvWith(t, dualStackJoin())
	o := e.outsideNodes("n1", "n2")
	o.ul.AddIPv6Outside(t)
	nodeIPs := [][]netip.Addr{make([]netip.Addr, 2), make([]netip.Addr, 2)} // by node, then family
	for i, n := range o.nodes {
		addr6 := harness.UnderlayAddrIPv6(i + 1)
		o.ul.AttachNodeIPv6(t, n, harness.UnderlayAddr(i+1), addr6)
		nodeIPs[i][0], nodeIPs[i][1] = nodeAddr(i), addr6.Addr()
	}
	e.serveHostNetwork(o.nodes[1], hostServicePort)
	e.namespace("dual", map[string]string{annotation.CIDR: "10.90.0.0/24,fd00:10:90::/120"})
	a := o.nodes[0].Runtime(t).AddPod(t, e.pod("dual", "a", "n1", nil))
	b := o.nodes[1].Runtime(t).AddPod(t, e.pod("dual", "b", "n2", nil))
	for _, s := range []*harness.Sandbox{a, b} {
		if len(s.IPs) != 2 || !s.IPs[0].Is4() || !s.IPs[1].Is6() {
			t.Fatalf("ADD for %s reported %v, want an IPv4 then an IPv6 address", s.Pod.Name, s.IPs)
		}
		routes, err := s.Exec("ip", "-6", "route", "show", "default")
		if err != nil || !strings.Contains(routes, "via fd00:10:90::1") {
			t.Errorf("IPv6 default route of %s: %q, %v", s.Pod.Name, routes, err)
		}
	}
	e.serve(b, "--tcp", fmt.Sprint(backendTCP))
	for i, family := range []string{"IPv4", "IPv6"} {
		t.Run(family, func(t *testing.T) {
			until(t, "ping a (n1) -> b (n2)", func() error {
				_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IPs[i].String())
				return err
			})
			ping(t, b, a.IPs[i].String())
			until(t, "node n1 -> b (n2) through ovn0", func() error {
				_, err := nodeExec(o.nodes[0], "ping", "-c", "1", "-W", "1", b.IPs[i].String())
				return err
			})
			until(t, "tcp a (n1) -> node n2's InternalIP, straight to its ovn0", func() error {
				out, err := e.connect(a, "tcp", netip.AddrPortFrom(nodeIPs[1][i], hostServicePort).String())
				if err != nil {
					return err
				}
				if seen, err := clientSeen(out); err != nil || seen != a.IPs[i] {
					return fmt.Errorf("node n2 saw the client as %v (%v), want pod a's own %s, not masqueraded by n1", seen, err, a.IPs[i])
				}
				return nil
			})
			until(t, "tcp a -> b", func() error {
				out, err := e.connect(a, "tcp", netip.AddrPortFrom(b.IPs[i], backendTCP).String())
				if err != nil {
					return err
				}
				if seen, err := clientSeen(out); err != nil || seen != a.IPs[i] {
					return fmt.Errorf("b saw the client as %v (%v), want %s", seen, err, a.IPs[i])
				}
				return nil
			})
		})
	}
}
