package integration

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// TestDualStack: a namespace's subnet of one IPv4 and one IPv6 CIDR, as
// Kube-OVN writes it, gives each pod one address of each family, written
// as Kube-OVN writes them and held by the pod's port, unique, fixed when
// asked, counted per family and released on delete; a restart rebuilds
// the allocations from the records and writes nothing. With a dual-stack
// join subnet a node gets a join address of each family, the cluster
// router a default route of each family, and the node a reroute of its
// pods' egress in each and a route to its InternalIP of each; the subnet's IPv6 CIDR is a cluster destination
// like its IPv4 one. Going back to single stack is refused while pods
// hold IPv6 addresses.
func TestDualStack(t *testing.T) {
	network := harness.DefaultNetwork()
	network.JoinSubnet.CIDR = "100.64.0.0/16,fd00:100:64::/112"
	e := newEnvWith(t, network)
	e.namespace("dual", map[string]string{annotation.CIDR: "10.70.0.0/24,fd00:10:70::/120",
		annotation.ExcludeIPs: "10.70.0.2..10.70.0.9,fd00:10:70::2..fd00:10:70::9"})
	e.condition("dual", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	if gw := e.subnet("dual").Status.Gateway; gw != "10.70.0.1,fd00:10:70::1" {
		t.Errorf("status.gateway %q, want both first addresses", gw)
	}
	lrp := e.view.RouterPort(t, "ovn-cluster-dual")
	if lrp == nil || !slices.Equal(lrp.Networks, []string{"10.70.0.1/24", "fd00:10:70::1/120"}) {
		t.Fatalf("router port %+v, want networks of both gateways", lrp)
	}

	const pods = 5
	seen := map[netip.Addr]string{}
	for i := range pods {
		name := fmt.Sprint("p", i)
		e.pod("dual", name, nil)
		p := e.addressed("dual", name)
		ips := strings.Split(p.Annotations[annotation.IPAddress], ",")
		if len(ips) != 2 {
			t.Fatalf("pod %s ip_address %q, want an IPv4 and an IPv6 address", name, p.Annotations[annotation.IPAddress])
		}
		if got := p.Annotations[annotation.CIDRWritten]; got != "10.70.0.0/24,fd00:10:70::/120" {
			t.Errorf("pod %s cidr %q", name, got)
		}
		if got := p.Annotations[annotation.GatewayWritten]; got != "10.70.0.1,fd00:10:70::1" {
			t.Errorf("pod %s gateway %q", name, got)
		}
		for i, s := range ips {
			ip := netip.MustParseAddr(s)
			if ip.Is4() != (i == 0) || (ip.Is4() && ip.As4()[3] < 10) || (ip.Is6() && ip.As16()[15] < 10) {
				t.Errorf("pod %s address %d is %s: want IPv4 then IPv6, past the excludes", name, i, ip)
			}
			if holder, taken := seen[ip]; taken {
				t.Errorf("pods %s and %s both hold %s", holder, name, ip)
			}
			seen[ip] = name
		}
		e.checkPort(p)
	}

	fixed := e.addressed(e.pod("dual", "fixed", map[string]string{annotation.IPAddress: "10.70.0.200,fd00:10:70::c8"}).Namespace, "fixed")
	if got := fixed.Annotations[annotation.IPAddress]; got != "10.70.0.200,fd00:10:70::c8" {
		t.Errorf("fixed pod got %q", got)
	}
	e.checkPort(fixed)
	e.usage("dual", pods+1, 245-pods-1, 246-pods-1)
	e.dualJoin()
	e.dualEgress()

	e.restartWritesNothing()

	e.deletePod("dual", "fixed")
	e.usage("dual", pods, 245-pods, 246-pods)
	// Both freed addresses can be taken again.
	again := e.addressed(e.pod("dual", "again", map[string]string{annotation.IPAddress: "10.70.0.200,fd00:10:70::c8"}).Namespace, "again")
	e.checkPort(again)

	// Single stack again is refused while pods hold IPv6 addresses; the
	// dual-stack subnet stays in force.
	e.annotateNamespace("dual", map[string]string{annotation.CIDR: "10.70.0.0/24"})
	if msg := e.condition("dual", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonInvalidSpec); !strings.Contains(msg, "IPv6") {
		t.Errorf("refusal %q does not say the IPv6 half is in use", msg)
	}
	late := e.addressed(e.pod("dual", "late", nil).Namespace, "late")
	if ips := strings.Split(late.Annotations[annotation.IPAddress], ","); len(ips) != 2 {
		t.Errorf("pod made after the refusal got %q, want both families", ips)
	}
	e.checkPort(late)
	if got := e.subnet("dual").Status.Gateway; got != "10.70.0.1,fd00:10:70::1" {
		t.Errorf("status.gateway %q after the refusal", got)
	}

	if err := e.c.Delete(e.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}); err != nil {
		t.Fatal(err)
	}
	e.eventually("a deleted node's routes of both families removed", func() error {
		return e.internalIPRows(map[string]string{dualNodeIPv4: "", dualNodeIPv6: ""})
	})
}

// usage waits until the subnet's status counts used addresses per family
// and the available ones of each.
func (e *env) usage(subnet string, used, v4Available, v6Available int64) {
	e.t.Helper()
	e.eventually("usage of "+subnet, func() error {
		st := e.subnet(subnet).Status
		if st.V4UsedIPs != used || st.V6UsedIPs != used || st.UsedIPs != used ||
			st.V4AvailableIPs != v4Available || st.V6AvailableIPs != v6Available || st.AvailableIPs != min(v4Available, v6Available) {
			return fmt.Errorf("status %+v, want %d used of each family, %d and %d available", st, used, v4Available, v6Available)
		}
		return nil
	})
}

// The InternalIPs of dualJoin's node, one of each family.
const (
	dualNodeIPv4 = "192.168.50.10"
	dualNodeIPv6 = "fd00:50::10"
)

// dualJoin checks a node's join addresses, the default routes and the
// node's and subnet "dual"'s policies of a dual-stack join; the node's
// InternalIP of each family is a cluster destination routed to its join
// address of that family, and the IPv6 one's rows follow the Node's
// addresses.
func (e *env) dualJoin() {
	t := e.t
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	if err := e.c.Create(e.ctx, node); err != nil {
		t.Fatal(err)
	}
	e.setInternalIPs(node, dualNodeIPv4, dualNodeIPv6)
	var joinIPs []string
	e.eventually("node annotated with both families", func() error {
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		a := node.Annotations
		if a[annotation.Allocated] != annotation.True || a[annotation.Gateway] != "100.64.0.1,fd00:100:64::1" {
			return fmt.Errorf("annotations %v", a)
		}
		joinIPs = strings.Split(a[annotation.IPAddress], ",")
		return nil
	})
	if len(joinIPs) != 2 || !strings.HasPrefix(joinIPs[0], "100.64.") || !strings.HasPrefix(joinIPs[1], "fd00:100:64::") {
		t.Fatalf("join addresses %q, want one of each family", joinIPs)
	}
	e.eventually("routes and policies of both families", func() error {
		for prefix, nexthop := range map[string]string{"0.0.0.0/0": "100.64.0.1", "::/0": "fd00:100:64::1"} {
			if routes := e.routesTo(prefix); len(routes) != 1 || routes[0].Nexthop != nexthop {
				return fmt.Errorf("default routes %s: %+v", prefix, routes)
			}
		}
		return e.hasPolicies([]policy{
			{29000, `ip4 && is_chassis_resident("node-worker-1")`, "reroute", joinIPs[0]},
			{29000, `ip6 && is_chassis_resident("node-worker-1")`, "reroute", joinIPs[1]},
			{31000, "ip4.dst == 10.70.0.0/24", "allow", ""},
			{31000, "ip6.dst == fd00:10:70::/120", "allow", ""},
		})
	})
	e.eventually("the node's InternalIPs routed to its join address of their family", func() error {
		return e.internalIPRows(map[string]string{dualNodeIPv4: joinIPs[0], dualNodeIPv6: joinIPs[1]})
	})
	e.setInternalIPs(node, dualNodeIPv4)
	e.eventually("an IPv6 InternalIP gone takes its route and policy", func() error {
		return e.internalIPRows(map[string]string{dualNodeIPv4: joinIPs[0], dualNodeIPv6: ""})
	})
	e.setInternalIPs(node, dualNodeIPv4, dualNodeIPv6)
	e.eventually("the IPv6 InternalIP back", func() error {
		return e.internalIPRows(map[string]string{dualNodeIPv4: joinIPs[0], dualNodeIPv6: joinIPs[1]})
	})
}

// setInternalIPs writes the node's InternalIPs in its status, as a
// kubelet with --node-ip does.
func (e *env) setInternalIPs(node *corev1.Node, ips ...string) {
	e.t.Helper()
	patch := client.MergeFrom(node.DeepCopy())
	node.Status.Addresses = nil
	for _, ip := range ips {
		node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	if err := e.c.Status().Patch(e.ctx, node, patch); err != nil {
		e.t.Fatal(err)
	}
}

// internalIPRows checks, for each node address, its one static route to
// the join address given and its cluster-destination policy, or neither
// when the join address is "".
func (e *env) internalIPRows(nexthops map[string]string) error {
	for ip, nexthop := range nexthops {
		addr := netip.MustParseAddr(ip)
		field := "ip4"
		if addr.Is6() {
			field = "ip6"
		}
		destination := policy{31000, fmt.Sprintf("%s.dst == %s", field, netip.PrefixFrom(addr, addr.BitLen())), "allow", ""}
		routes := e.routesTo(ip)
		if nexthop == "" {
			if len(routes) != 0 {
				return fmt.Errorf("routes to %s: %+v, want none", ip, routes)
			}
			if err := e.hasPolicies(nil, destination); err != nil {
				return err
			}
			continue
		}
		if len(routes) != 1 || routes[0].Nexthop != nexthop {
			return fmt.Errorf("routes to %s: %+v, want one via %s", ip, routes, nexthop)
		}
		if err := e.hasPolicies([]policy{destination}); err != nil {
			return err
		}
	}
	return nil
}

// dualEgress checks, on a dual-stack join, what leaving the cluster needs
// of a dual-stack subnet's IPv6 half: a centralized subnet reroutes each
// family to its gateway node's join address of that family, a private
// subnet admits the nodes' join range of each family, and no
// IgnoredFields condition is raised.
func (e *env) dualEgress() {
	t := e.t
	t.Helper()
	node := &corev1.Node{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: "worker-1"}, node); err != nil {
		t.Fatal(err)
	}
	joinIPs := strings.Split(node.Annotations[annotation.IPAddress], ",")
	e.namespace("central", map[string]string{annotation.CIDR: "10.72.0.0/24,fd00:10:72::/120",
		annotation.GatewayType: "centralized", annotation.GatewayNode: "worker-1"})
	e.eventually("centralized reroutes of both families", func() error {
		return e.hasPolicies([]policy{
			{29500, "ip4.src == 10.72.0.0/24", "reroute", joinIPs[0]},
			{29500, "ip6.src == fd00:10:72::/120", "reroute", joinIPs[1]},
		})
	})
	e.namespace("private", map[string]string{annotation.CIDR: "10.73.0.0/24,fd00:10:73::/120", annotation.Private: "true"})
	e.eventually("private ACLs of both families admit the join of their family", func() error {
		ls := e.view.Switch(t, "private")
		if ls == nil {
			return fmt.Errorf("no switch")
		}
		acls := harness.List(t, e.view, func(a *nbdb.ACL) bool { return contains(ls.ACLs, a.UUID) })
		for _, want := range []string{"ip4.dst == 10.73.0.0/24 && ip4.src != {10.73.0.0/24, 100.64.0.0/16}",
			"ip6.dst == fd00:10:73::/120 && ip6.src != {fd00:10:73::/120, fd00:100:64::/112}"} {
			if _, ok := aclWith(acls, want); !ok {
				return fmt.Errorf("acls %+v, want a drop matching %q", acls, want)
			}
		}
		return nil
	})
	for _, subnet := range []string{"dual", "central", "private"} {
		if c := meta.FindStatusCondition(e.subnet(subnet).Status.Conditions, ovnetv1.ConditionIgnoredFields); c != nil {
			t.Errorf("subnet %s: %+v, want no IgnoredFields with a dual-stack join", subnet, c)
		}
	}
}

// TestIPv6EgressNeedsDualJoin: with an IPv4 join subnet a dual-stack
// subnet's IPv6 half has no node address to leave the cluster through;
// the Subnet says so in IgnoredFields and an Event instead of dropping
// its IPv6 egress silently.
func TestIPv6EgressNeedsDualJoin(t *testing.T) {
	e := newEnv(t)
	e.namespace("dual", map[string]string{annotation.CIDR: "10.74.0.0/24,fd00:10:74::/120"})
	msg := e.condition("dual", ovnetv1.ConditionIgnoredFields, metav1.ConditionTrue, ovnetv1.ReasonNotActedOn)
	if !strings.Contains(msg, "fd00:10:74::/120") || strings.Contains(msg, "10.74.0.0/24") {
		t.Errorf("IgnoredFields says %q, want it to name the IPv6 CIDR only", msg)
	}
	e.event("Subnet", "", "dual", ovnetv1.ConditionIgnoredFields, "fd00:10:74::/120")
}
