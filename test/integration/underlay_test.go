package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// An underlay Subnet's switch is bridged to its ProviderNetwork by a
// localnet port (tagged with its VLAN) and not attached to the cluster
// router, which holds no policy for its CIDR; its pods take the physical
// router as gateway. What cannot be acted on is refused with a condition
// and an Event, and a refusal keeps the attachment in force. With
// u2oInterconnection the switch is routed by the cluster router as well.
func TestUnderlaySubnet(t *testing.T) {
	e := newEnv(t)
	e.providerNetwork("physnet", "br-phy")
	e.underlaySubnet("ul", "172.20.0.0/24", "physnet", 0, false)
	e.underlaySubnet("ulv", "172.21.0.0/24", "physnet", 100, false)
	e.localnet("ul", "physnet", nil)
	e.localnet("ulv", "physnet", ptr.To(100))

	t.Run("pods take the physical router as gateway", func(t *testing.T) {
		e.namespace("phys", nil)
		p := e.addressed("phys", e.pod("phys", "a", map[string]string{annotation.LogicalSwitch: "ul"}).Name)
		if got := p.Annotations[annotation.Gateway]; got != "172.20.0.254" {
			t.Errorf("pod's gateway %q, want the physical router 172.20.0.254", got)
		}
		if got := p.Annotations[annotation.CIDR]; got != "172.20.0.0/24" {
			t.Errorf("pod's cidr %q, want 172.20.0.0/24", got)
		}
		e.checkPort(p)
	})
	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name, provider string
			vlan           int
			reason, says   string
		}{
			{name: "unknown-provider", provider: "nowhere", reason: ovnetv1.ReasonUnknownProvider, says: `provider "nowhere"`},
			{name: "vlan-alone", vlan: 7, reason: ovnetv1.ReasonInvalidSpec, says: "vlan 7 needs a provider"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.underlaySubnet(tt.name, fmt.Sprintf("172.22.%d.0/24", i), tt.provider, tt.vlan, false)
				if msg := e.condition(tt.name, ovnetv1.ConditionValidated, metav1.ConditionFalse, tt.reason); !strings.Contains(msg, tt.says) {
					t.Errorf("Validated says %q, want it to mention %q", msg, tt.says)
				}
				e.condition(tt.name, ovnetv1.ConditionReady, metav1.ConditionFalse, tt.reason)
				e.event("Subnet", "", tt.name, tt.reason, tt.says)
				if e.view.Switch(t, tt.name) != nil {
					t.Errorf("switch %s programmed for a refused spec", tt.name)
				}
			})
		}
		t.Run("the provider created later is picked up", func(t *testing.T) {
			e.providerNetwork("nowhere", "")
			e.condition("unknown-provider", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
			e.localnet("unknown-provider", "nowhere", nil)
		})
		t.Run("vlan out of range is refused by the API server", func(t *testing.T) {
			s := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "vlan-too-big"},
				Spec: ovnetv1.SubnetSpec{CIDR: "172.22.9.0/24", Provider: "physnet", Vlan: 4095}}
			if err := e.c.Create(e.ctx, s); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "4094") {
				t.Fatalf("create with vlan 4095: %v, want Invalid naming 4094", err)
			}
		})
		t.Run("natOutgoing left on is reported as not acted on", func(t *testing.T) {
			e.underlaySubnet("natted", "172.22.10.0/24", "physnet", 0, true)
			if msg := e.condition("natted", ovnetv1.ConditionIgnoredFields, metav1.ConditionTrue, ovnetv1.ReasonNotActedOn); !strings.Contains(msg, "natOutgoing") {
				t.Errorf("IgnoredFields says %q, want it to name natOutgoing", msg)
			}
		})
	})
	t.Run("a deleted provider keeps the attachment in force", func(t *testing.T) {
		if err := e.c.Delete(e.ctx, &ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: "nowhere"}}); err != nil {
			t.Fatal(err)
		}
		e.condition("unknown-provider", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonUnknownProvider)
		e.localnet("unknown-provider", "nowhere", nil)
	})
	t.Run("interconnected with the overlay", func(t *testing.T) {
		setU2O := func(on bool, addr string) {
			t.Helper()
			s := e.subnet("ul")
			patch := client.MergeFrom(s.DeepCopy())
			s.Spec.U2OInterconnection, s.Spec.U2OInterconnectionIP = on, addr
			if err := e.c.Patch(e.ctx, s, patch); err != nil {
				t.Fatal(err)
			}
		}
		routed := func(network string) {
			t.Helper()
			e.eventually("ul routed at "+network+" and bridged", func() error {
				lrp := e.view.RouterPort(t, "ovn-cluster-ul")
				if lrp == nil || !slices.Equal(lrp.Networks, []string{network}) || e.view.SwitchPort(t, "ul-ovn-cluster") == nil {
					return fmt.Errorf("router port %+v or its peer", lrp)
				}
				if e.view.SwitchPort(t, "ul-localnet") == nil {
					return fmt.Errorf("localnet port gone")
				}
				if !slices.Contains(e.policies(), policy{priority: 31000, match: "ip4.dst == 172.20.0.0/24", action: "allow"}) {
					return fmt.Errorf("172.20.0.0/24 is no cluster destination: %+v", e.policies())
				}
				if got := e.subnet("ul").Status.U2OInterconnectionIP; got+"/24" != network {
					return fmt.Errorf("status u2oInterconnectionIP %q", got)
				}
				return nil
			})
		}
		setU2O(true, "")
		routed("172.20.0.253/24") // .254 is the physical router's
		global := harness.List(t, e.view, func(*nbdb.NBGlobal) bool { return true })
		if len(global) != 1 || global[0].Options["use_ct_inv_match"] != "false" {
			t.Errorf("NB_Global %+v, want options:use_ct_inv_match=false", global)
		}
		// A pod never takes the router's address.
		e.namespace("u2o", nil)
		pod := e.pod("u2o", "wants-router", map[string]string{annotation.LogicalSwitch: "ul", annotation.IPAddress: "172.20.0.253"})
		e.condition("ul", ovnetv1.ConditionAddressesPending, metav1.ConditionTrue, ovnetv1.ReasonPodsWaiting)
		if err := e.c.Delete(e.ctx, pod); err != nil {
			t.Fatal(err)
		}

		setU2O(true, "172.20.0.254")
		if msg := e.condition("ul", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonInvalidSpec); !strings.Contains(msg, "gateway") {
			t.Errorf("Validated says %q, want it to name the gateway", msg)
		}
		e.event("Subnet", "", "ul", ovnetv1.ReasonInvalidSpec, "u2oInterconnectionIP")
		routed("172.20.0.253/24") // the refusal keeps the address in force
		setU2O(true, "172.20.0.200")
		routed("172.20.0.200/24")
		setU2O(false, "")
		e.localnet("ul", "physnet", nil)
	})
	t.Run("dual stack, interconnected in both families", func(t *testing.T) {
		sub := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "ul6"}, Spec: ovnetv1.SubnetSpec{
			CIDR: "172.23.0.0/24,fd00:23::/120", Gateway: "172.23.0.254,fd00:23::fe", Provider: "physnet",
			NATOutgoing: ptr.To(false), U2OInterconnection: true}}
		if err := e.c.Create(e.ctx, sub); err != nil {
			t.Fatal(err)
		}
		routed := func(networks ...string) {
			t.Helper()
			e.eventually(fmt.Sprintf("ul6 routed at %v and bridged", networks), func() error {
				lrp := e.view.RouterPort(t, "ovn-cluster-ul6")
				// OVSDB sets have no order.
				if lrp == nil || !slices.Equal(slices.Sorted(slices.Values(lrp.Networks)), slices.Sorted(slices.Values(networks))) ||
					e.view.SwitchPort(t, "ul6-ovn-cluster") == nil {
					return fmt.Errorf("router port %+v or its peer", lrp)
				}
				if e.view.SwitchPort(t, "ul6-localnet") == nil {
					return fmt.Errorf("localnet port gone")
				}
				if err := e.hasPolicies([]policy{{31000, "ip4.dst == 172.23.0.0/24", "allow", ""},
					{31000, "ip6.dst == fd00:23::/120", "allow", ""}}); err != nil {
					return err
				}
				var addrs []string
				for _, n := range networks {
					addrs = append(addrs, strings.Split(n, "/")[0])
				}
				if got, want := e.subnet("ul6").Status.U2OInterconnectionIP, strings.Join(addrs, ","); got != want {
					return fmt.Errorf("status u2oInterconnectionIP %q, want %q", got, want)
				}
				return nil
			})
		}
		// By default each CIDR's last usable address that is not the
		// gateway: IPv4's broadcast is not usable, IPv6 has none.
		routed("172.23.0.253/24", "fd00:23::ff/120")
		e.condition("ul6", ovnetv1.ConditionReady, metav1.ConditionTrue, "")

		// A pod never takes the router's IPv6 address either.
		e.namespace("u2o6", nil)
		pod := e.pod("u2o6", "wants-router", map[string]string{annotation.LogicalSwitch: "ul6", annotation.IPAddress: "172.23.0.10,fd00:23::ff"})
		e.condition("ul6", ovnetv1.ConditionAddressesPending, metav1.ConditionTrue, ovnetv1.ReasonPodsWaiting)
		if err := e.c.Delete(e.ctx, pod); err != nil {
			t.Fatal(err)
		}
		holder := e.addressed("u2o6", e.pod("u2o6", "holder", map[string]string{annotation.LogicalSwitch: "ul6",
			annotation.IPAddress: "172.23.0.11,fd00:23::c8"}).Name)
		e.checkPort(holder)

		setSpec := func(addr string) {
			t.Helper()
			s := e.subnet("ul6")
			patch := client.MergeFrom(s.DeepCopy())
			s.Spec.U2OInterconnectionIP = addr
			if err := e.c.Patch(e.ctx, s, patch); err != nil {
				t.Fatal(err)
			}
		}
		// One address per family, as Kube-OVN writes them, in either order.
		setSpec("fd00:23::c9, 172.23.0.200")
		routed("172.23.0.200/24", "fd00:23::c9/120")
		// One family given, the other by default.
		setSpec("172.23.0.201")
		routed("172.23.0.201/24", "fd00:23::ff/120")
		// Refusals keep the addresses in force.
		for _, bad := range []struct{ addr, reason, says string }{
			{"172.23.0.200,fd00:23::fe", ovnetv1.ReasonInvalidSpec, "gateway"},
			{"172.23.0.200,172.23.0.201", ovnetv1.ReasonInvalidSpec, "two addresses of one family"},
			{"172.23.0.200,fd00:24::1", ovnetv1.ReasonInvalidSpec, "not a host address"},
			{"172.23.0.200,fd00:23::c8", ovnetv1.ReasonInUse, "u2o6/holder"},
		} {
			setSpec(bad.addr)
			e.eventually("u2oInterconnectionIP "+bad.addr+" refused", func() error {
				c := meta.FindStatusCondition(e.subnet("ul6").Status.Conditions, ovnetv1.ConditionValidated)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != bad.reason || !strings.Contains(c.Message, bad.says) {
					return fmt.Errorf("Validated %+v, want False, %s, mentioning %q", c, bad.reason, bad.says)
				}
				return nil
			})
			routed("172.23.0.201/24", "fd00:23::ff/120")
		}
		setSpec("")
		routed("172.23.0.253/24", "fd00:23::ff/120")
	})
	t.Run("back to the overlay", func(t *testing.T) {
		s := e.subnet("ulv")
		patch := client.MergeFrom(s.DeepCopy())
		s.Spec.Provider, s.Spec.Vlan = "", 0
		if err := e.c.Patch(e.ctx, s, patch); err != nil {
			t.Fatal(err)
		}
		e.eventually("ulv attached to ovn-cluster, without localnet port", func() error {
			if e.view.SwitchPort(t, "ulv-localnet") != nil {
				return fmt.Errorf("localnet port still there")
			}
			if e.view.RouterPort(t, "ovn-cluster-ulv") == nil || e.view.SwitchPort(t, "ulv-ovn-cluster") == nil {
				return fmt.Errorf("router port or its peer missing")
			}
			return nil
		})
	})
	e.restartWritesNothing()
}

// providerNetwork creates a ProviderNetwork on bridge ("" for br-<name>).
func (e *env) providerNetwork(name, bridge string) {
	e.t.Helper()
	pn := &ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: ovnetv1.ProviderNetworkSpec{Bridge: bridge}}
	if err := e.c.Create(e.ctx, pn); err != nil {
		e.t.Fatalf("create provider network %s: %v", name, err)
	}
}

// underlaySubnet creates a Subnet on provider with its gateway at .254,
// where the physical router sits.
func (e *env) underlaySubnet(name, cidr, provider string, vlan int, nat bool) {
	e.t.Helper()
	gw := strings.TrimSuffix(cidr, "0/24") + "254"
	s := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: ovnetv1.SubnetSpec{CIDR: cidr, Gateway: gw,
		Provider: provider, Vlan: vlan, NATOutgoing: ptr.To(nat)}}
	if err := e.c.Create(e.ctx, s); err != nil {
		e.t.Fatalf("create subnet %s: %v", name, err)
	}
}

// localnet waits until the subnet's switch has its localnet port to
// network with tag and nothing of the cluster router: no router port, no
// peer, no policy naming its CIDR.
func (e *env) localnet(subnet, network string, tag *int) {
	e.t.Helper()
	e.eventually("localnet port of "+subnet, func() error {
		lsp := e.view.SwitchPort(e.t, subnet+"-localnet")
		ls := e.view.Switch(e.t, subnet)
		switch {
		case lsp == nil || ls == nil:
			return fmt.Errorf("no switch %s or no localnet port", subnet)
		case !slices.Contains(e.view.PortsOf(e.t, ls), lsp.Name):
			return fmt.Errorf("localnet port not on switch %s", subnet)
		case lsp.Type != "localnet" || lsp.Options["network_name"] != network || !slices.Equal(lsp.Addresses, []string{"unknown"}):
			return fmt.Errorf("localnet port type %q options %v addresses %v", lsp.Type, lsp.Options, lsp.Addresses)
		case (tag == nil) != (lsp.Tag == nil) || (tag != nil && *tag != *lsp.Tag):
			return fmt.Errorf("tag %v, want %v", lsp.Tag, tag)
		case e.view.RouterPort(e.t, "ovn-cluster-"+subnet) != nil || e.view.SwitchPort(e.t, subnet+"-ovn-cluster") != nil:
			return fmt.Errorf("still attached to ovn-cluster")
		}
		cidr := e.subnet(subnet).Spec.CIDR
		for _, p := range e.policies() {
			if strings.Contains(p.match, cidr) {
				return fmt.Errorf("policy %+v names underlay %s", p, cidr)
			}
		}
		return nil
	})
}
