package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/test/harness"
)

// TestUnderlayIPv6Interconnect: a dual-stack underlay Subnet with
// u2oInterconnection gets the cluster router's address in each family
// (by default each CIDR's last usable address that is not the gateway),
// and, with the external host routing a dual-stack overlay namespace's
// IPv6 CIDR to the router's IPv6 address, underlay pods on both nodes and
// an overlay pod on the second talk TCP and ping over IPv6 both ways,
// each seeing the other's own address.
func TestUnderlayIPv6Interconnect(t *testing.T) {
	e := newEnv(t)
	o := e.underlayNodes("n1", "n2")
	o.ul.AddIPv6Outside(t)
	gateway6 := netip.MustParsePrefix("fd00:20::fe/120")
	o.ext.AddGateway(t, underlayGateway)
	o.ext.AddGateway(t, gateway6)
	if err := e.c.Create(e.ctx, &ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: providerName},
		Spec: ovnetv1.ProviderNetworkSpec{Bridge: "br-phy"}}); err != nil {
		t.Fatal(err)
	}
	e.createSubnet("ul6", ovnetv1.SubnetSpec{CIDR: underlayCIDR.String() + ",fd00:20::/120",
		Gateway: underlayGateway.Addr().String() + "," + gateway6.Addr().String(), Provider: providerName,
		NATOutgoing: ptr.To(false), U2OInterconnection: true})
	var routerIPs string
	until(t, "ul6's u2oInterconnectionIP", func() error {
		s := &ovnetv1.Subnet{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: "ul6"}, s); err != nil {
			return err
		}
		if routerIPs = s.Status.U2OInterconnectionIP; routerIPs == "" {
			return fmt.Errorf("not set yet")
		}
		return nil
	})
	if routerIPs != "172.20.0.253,fd00:20::ff" {
		t.Fatalf("u2oInterconnectionIP %q, want the last usable address of each CIDR that is not the gateway", routerIPs)
	}
	overlay6 := netip.MustParsePrefix("fd00:10:85::/120")
	o.ext.Route(t, overlay6, netip.MustParseAddr("fd00:20::ff"))

	e.namespace("ov6", map[string]string{annotation.CIDR: overlayCIDR.String() + "," + overlay6.String()})
	rt1, rt2 := o.nodes[0].Runtime(t), o.nodes[1].Runtime(t)
	o2 := rt2.AddPod(t, e.pod("ov6", "o2", "n2", nil))
	u1 := e.labeledPod(rt1, "default", "u1", "n1", nil, map[string]string{annotation.LogicalSwitch: "ul6"}, nil)
	u2 := e.labeledPod(rt2, "default", "u2", "n2", nil, map[string]string{annotation.LogicalSwitch: "ul6"}, nil)
	for _, s := range []*harness.Sandbox{o2, u1, u2} {
		if len(s.IPs) != 2 || !s.IPs[1].Is6() {
			t.Fatalf("%s has %v, want an IPv4 and an IPv6 address", s.Pod.Name, s.IPs)
		}
		e.serve(s, "--tcp", fmt.Sprint(backendTCP))
	}
	// u1 is on the other node than o2, u2 on the same.
	for _, u := range []*harness.Sandbox{u1, u2} {
		until(t, u.Pod.Name+" to o2 over IPv6, seen with its own address", func() error {
			return farSees(e.connect(u, "tcp", netip.AddrPortFrom(o2.IPs[1], backendTCP).String()))(u.IPs[1])
		})
		until(t, "o2 to "+u.Pod.Name+" over IPv6, seen with o2's own address", func() error {
			return farSees(e.connect(o2, "tcp", netip.AddrPortFrom(u.IPs[1], backendTCP).String()))(o2.IPs[1])
		})
		ping(t, u, o2.IPs[1].String())
		ping(t, o2, u.IPs[1].String())
	}
}
