package e2e

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/daemon/bridgemap"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// The underlay subnets of TestUnderlay, on the nodes' physical network:
// one untagged beside the nodes' own addresses with the external host as
// its router, one on VLAN underlayVLAN with a VLAN host as its router.
var (
	underlayCIDR     = netip.MustParsePrefix("172.20.0.0/24")
	underlayGateway  = netip.MustParsePrefix("172.20.0.254/24")
	underlayVLANCIDR = netip.MustParsePrefix("172.21.0.0/24")
	underlayVLANGW   = netip.MustParsePrefix("172.21.0.254/24")
	// overlayCIDR is the overlay namespace whose pods meet underlay pods.
	overlayCIDR = netip.MustParsePrefix("10.85.0.0/24")
)

const (
	// underlayVLAN tags the second underlay subnet's frames.
	underlayVLAN = 100
	// providerName is TestUnderlay's ProviderNetwork, on the harness
	// nodes' br-phy.
	providerName = "physnet"
)

// TestUnderlay: pods of underlay subnets sit on the nodes' physical
// network through a localnet port on br-phy, with the external host as
// their router. Pods on two nodes talk (ping, TCP) with their own
// addresses on the wire and no tunnel packet; they reach the external
// host and, through it, the far host, which sees their own addresses. A
// VLAN-tagged subnet beside the untagged one is separate at L2, and its
// frames carry the tag on the wire to its router, a host on that VLAN.
// Underlay pods take their node's uplink MTU, overlay pods less the
// tunnel's overhead. With
// u2oInterconnection on, overlay and underlay pods reach each other both
// ways through the cluster router, with their own addresses.
func TestUnderlay(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	n1, n2 := o.nodes[0], o.nodes[1]
	o.ext.AddGateway(t, underlayGateway)
	vlanHost := o.ul.AddVLANHost(t, underlayVLAN, underlayVLANGW)

	if err := e.c.Create(e.ctx, &ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: providerName},
		Spec: ovnetv1.ProviderNetworkSpec{Bridge: "br-phy"}}); err != nil {
		t.Fatal(err)
	}
	e.createSubnet("ul", ovnetv1.SubnetSpec{CIDR: underlayCIDR.String(), Gateway: underlayGateway.Addr().String(),
		Provider: providerName, NATOutgoing: ptr.To(false)})
	e.createSubnet("ulv", ovnetv1.SubnetSpec{CIDR: underlayVLANCIDR.String(), Gateway: underlayVLANGW.Addr().String(),
		Provider: providerName, Vlan: underlayVLAN, NATOutgoing: ptr.To(false)})
	for _, n := range o.nodes {
		e.eventually("ovn-bridge-mappings of "+n.Name, func() error {
			if m := n.Chassis.BridgeMappings(t); m != providerName+":br-phy" {
				return fmt.Errorf("%q", m)
			}
			return nil
		})
	}

	// n2's uplink is narrower than n1's, so that each underlay pod is
	// seen to take its own node's uplink MTU, read when it is added,
	// rather than a constant; the tunnel still fits under it.
	n2.Chassis.Vsctl(t, "set", "Interface", "br-phy", fmt.Sprintf("mtu_request=%d", narrowUplinkMTU))
	until(t, "n2's uplink MTU", func() error {
		if out, err := nodeExec(n2, "ip", "-o", "link", "show", "br-phy"); err != nil || !strings.Contains(out, fmt.Sprintf(" mtu %d ", narrowUplinkMTU)) {
			return fmt.Errorf("%s (%v)", out, err)
		}
		return nil
	})

	inSubnet := func(rt *harness.Runtime, name, node, subnet string) *harness.Sandbox {
		return e.labeledPod(rt, "default", name, node, nil, map[string]string{annotation.LogicalSwitch: subnet}, nil)
	}
	rt1, rt2 := n1.Runtime(t), n2.Runtime(t)
	u1, u2 := inSubnet(rt1, "u1", "n1", "ul"), inSubnet(rt2, "u2", "n2", "ul")
	v1, v2 := inSubnet(rt1, "v1", "n1", "ulv"), inSubnet(rt2, "v2", "n2", "ulv")
	for _, s := range []*harness.Sandbox{u1, u2} {
		e.serve(s, "--tcp", fmt.Sprint(backendTCP))
	}

	t.Run("underlay pods take their uplink's MTU", func(t *testing.T) {
		for _, c := range []struct {
			pod  *harness.Sandbox
			want int
		}{{u1, harness.UnderlayMTU}, {v1, harness.UnderlayMTU}, {u2, narrowUplinkMTU}, {v2, narrowUplinkMTU}} {
			if got := linkMTU(t, c.pod); got != c.want {
				t.Errorf("%s's %s has MTU %d, want its node's uplink's %d (no tunnel to leave room for)", c.pod.Pod.Name, c.pod.IfName, got, c.want)
			}
		}
	})

	t.Run("pods on two nodes, no tunnel", func(t *testing.T) {
		// Other traffic (IPv6 multicast of pods elsewhere) may cross in
		// tunnels; none of the underlay subnet's packets may.
		tunnels := o.ul.Capture(t, n1.Chassis, "udp port 6081 or udp port 4789")
		wire := o.ul.Capture(t, n1.Chassis, "host", u1.IP.String(), "and", "host", u2.IP.String())
		ping(t, u1, u2.IP.String())
		ping(t, u2, u1.IP.String())
		e.reachable(u1, netip.AddrPortFrom(u2.IP, backendTCP).String())
		e.reachable(u2, netip.AddrPortFrom(u1.IP, backendTCP).String())
		until(t, "u1 and u2's packets on n1's uplink", func() error {
			if n := len(wire.Lines()); n < 6 {
				return fmt.Errorf("%d captured", n)
			}
			return nil
		})
		inner := strings.TrimSuffix(underlayCIDR.Masked().Addr().String(), "0")
		for _, line := range tunnels.Lines() {
			if strings.Contains(line, inner) {
				t.Errorf("a packet of the underlay subnet in a tunnel: %s", line)
			}
		}
		t.Logf("%d packets between %s and %s on n1's uplink; %d tunnel packets, none of them the underlay subnet's",
			len(wire.Lines()), u1.IP, u2.IP, len(tunnels.Lines()))
	})

	t.Run("the external host and beyond", func(t *testing.T) {
		for _, s := range []*harness.Sandbox{u1, u2} {
			ping(t, s, underlayGateway.Addr().String())
			until(t, s.Pod.Name+" to the far host, seen with its own address", func() error {
				return farSees(e.connect(s, "tcp", farTarget(harness.FarIP)))(s.IP)
			})
		}
	})

	t.Run("overlay and underlay through the cluster router", func(t *testing.T) {
		// The path: an underlay pod's packet to the overlay goes to its
		// gateway, the external host, which routes the overlay CIDR to
		// the cluster router's address on the underlay subnet (and
		// redirects the pod there); OVN routes it into the overlay switch.
		// The overlay pod's reply and its own connections take the router
		// port on the underlay switch and the physical network. No node
		// forwards them, so the overlay namespace's NAT never applies:
		// each side sees the other's own address.
		e.namespace("ov", map[string]string{annotation.CIDR: overlayCIDR.String()})
		o2 := rt2.AddPod(t, e.pod("ov", "o2", "n2", nil))
		e.serve(o2, "--tcp", fmt.Sprint(backendTCP))
		if got := linkMTU(t, o2); got != harness.PodMTU {
			t.Errorf("overlay pod o2's MTU %d, want the tunnel-reduced %d", got, harness.PodMTU)
		}
		patch := mustJSON(t, map[string]any{"spec": map[string]any{"u2oInterconnection": true}})
		if err := e.c.Patch(e.ctx, &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "ul"}},
			client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
		var routerAddr netip.Addr
		until(t, "ul's u2oInterconnectionIP", func() error {
			s := &ovnetv1.Subnet{}
			if err := e.c.Get(e.ctx, client.ObjectKey{Name: "ul"}, s); err != nil {
				return err
			}
			a, err := netip.ParseAddr(s.Status.U2OInterconnectionIP)
			if err != nil {
				return fmt.Errorf("status %q: %w", s.Status.U2OInterconnectionIP, err)
			}
			routerAddr = a
			return nil
		})
		if want := netip.MustParseAddr("172.20.0.253"); routerAddr != want {
			t.Errorf("u2oInterconnectionIP %s, want %s: the last address that is not the gateway", routerAddr, want)
		}
		o.ext.Route(t, overlayCIDR, routerAddr)
		// u1 is on the other node than o2, u2 on the same.
		for _, u := range []*harness.Sandbox{u1, u2} {
			until(t, u.Pod.Name+" to o2, seen with its own address", func() error {
				return farSees(e.connect(u, "tcp", netip.AddrPortFrom(o2.IP, backendTCP).String()))(u.IP)
			})
			until(t, "o2 to "+u.Pod.Name+", seen with o2's own address", func() error {
				return farSees(e.connect(o2, "tcp", netip.AddrPortFrom(u.IP, backendTCP).String()))(o2.IP)
			})
			ping(t, u, o2.IP.String())
			ping(t, o2, u.IP.String())
		}
	})

	t.Run("a VLAN apart", func(t *testing.T) {
		vlan := fmt.Sprint(underlayVLAN)
		leaving := o.ul.Capture(t, n1.Chassis, "vlan", vlan, "and", "icmp", "and", "host", v1.IP.String())
		arriving := o.ul.Capture(t, vlanHost.Chassis, "vlan", vlan, "and", "icmp", "and", "host", v1.IP.String())
		ping(t, v1, v2.IP.String())
		ping(t, v2, v1.IP.String())
		ping(t, v1, vlanHost.IP.String())
		for _, c := range []struct {
			where   string
			capture *harness.Capture
		}{{"n1's uplink", leaving}, {"the VLAN's router", arriving}} {
			until(t, "v1's tagged packets at "+c.where, func() error {
				if n := len(c.capture.Lines()); n < 2 {
					return fmt.Errorf("%d captured", n)
				}
				return nil
			})
		}
		// On-link routes make each pod ARP for the other directly: only
		// a shared L2 segment would answer.
		for _, pair := range [][2]*harness.Sandbox{{u1, v2}, {v2, u1}} {
			from, to := pair[0], pair[1]
			host := netip.PrefixFrom(to.IP, 32).String()
			if out, err := from.Exec("ip", "route", "add", host, "dev", from.IfName); err != nil {
				t.Fatalf("on-link route in %s: %v: %s", from.Pod.Name, err, out)
			}
			if out, err := from.Exec("ping", "-c", "3", "-W", "1", to.IP.String()); err == nil {
				t.Errorf("%s reached %s across VLANs at L2:\n%s", from.Pod.Name, to.Pod.Name, out)
			}
			if out, err := from.Exec("ip", "route", "del", host, "dev", from.IfName); err != nil {
				t.Fatalf("on-link route in %s: %v: %s", from.Pod.Name, err, out)
			}
		}
		t.Logf("v1's ICMP tagged %s: %d packets on n1's uplink, %d at the VLAN's router", vlan, len(leaving.Lines()), len(arriving.Lines()))
	})

	t.Run("a bridge made after its network is mapped when it comes", func(t *testing.T) {
		pn := &ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Spec: ovnetv1.ProviderNetworkSpec{Bridge: "br-late"}}
		if err := e.c.Create(e.ctx, pn); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := e.c.Delete(e.ctx, pn); err != nil {
				t.Errorf("delete provider network late: %v", err)
			}
		})
		e.eventOn(t, "late", bridgemap.ReasonBridgeMissing, "node n1 has no OVS bridge br-late")
		n1.Chassis.Vsctl(t, "add-br", "br-late", "--", "set", "Bridge", "br-late", "datapath_type=netdev")
		t.Cleanup(func() { n1.Chassis.Vsctl(t, "del-br", "br-late") })
		// Well inside the 30 s after which the daemon looks at a missing
		// bridge again anyway: only the bridge's arrival can map it in time.
		wait.For(t, 10*time.Second, "n1 maps late to br-late", func() error {
			if m := n1.Chassis.BridgeMappings(t); !strings.Contains(m, "late:br-late") {
				return fmt.Errorf("%q", m)
			}
			return nil
		})
	})
}

// narrowUplinkMTU is n2's uplink MTU in TestUnderlay: below the
// underlay's links, above what the Geneve tunnel needs for PodMTU.
const narrowUplinkMTU = harness.UnderlayMTU - 20

// linkMTU is the MTU of the pod's interface, as `ip link` shows it.
func linkMTU(t *testing.T, s *harness.Sandbox) int {
	t.Helper()
	out, err := s.Exec("ip", "-o", "link", "show", s.IfName)
	if err != nil {
		t.Fatalf("ip link in %s: %v: %s", s.Pod.Name, err, out)
	}
	fields := strings.Fields(out)
	for i, f := range fields {
		if f == "mtu" && i+1 < len(fields) {
			if mtu, err := strconv.Atoi(fields[i+1]); err == nil {
				return mtu
			}
		}
	}
	t.Fatalf("no MTU in %s's ip link: %s", s.Pod.Name, out)
	return 0
}

// createSubnet creates a Subnet and waits until it is Ready.
func (e *env) createSubnet(name string, spec ovnetv1.SubnetSpec) {
	e.t.Helper()
	if err := e.c.Create(e.ctx, &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}); err != nil {
		e.t.Fatalf("create subnet %s: %v", name, err)
	}
	e.eventually("subnet "+name+" ready", func() error {
		return e.subnetCondition(name, ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	})
}
