package integration

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

func sel(k, v string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

// webPolicy lets pods labelled app=client and every pod of namespaces
// labelled team=b reach the named port "http" of pods labelled app=web.
func webPolicy(namespace string) *networkingv1.NetworkPolicy {
	http := intstr.FromString("http")
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "allow-web"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "web"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")}, {NamespaceSelector: sel("team", "b")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &http}},
			}},
		},
	}
}

// The rows of a policy follow its pods' labels and addresses, the
// namespaces' labels, and go when the policy goes.
func TestNetworkPolicyRows(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("np", map[string]string{"team": "a"}, nil)
	other := e.labeledNamespace("other", map[string]string{"team": "b"}, nil)
	web := e.labeledPod("np", "web", map[string]string{"app": "web"}, map[string]int32{"http": 8080})
	clientPod := e.labeledPod("np", "client", map[string]string{"app": "client"}, nil)
	o1 := e.labeledPod("other", "o1", nil, nil)
	e.createPolicy(webPolicy("np"))

	pg := ovnname.PolicyPortGroup("np", "allow-web")
	denyIn := ovnname.DenyPortGroup("np", netpol.Ingress)
	ipOf := func(p *corev1.Pod) string { return p.Annotations[annotation.IPAddress] }
	peersAre := func(ips ...string) func([]nbdb.ACL) error {
		return func(acls []nbdb.ACL) error {
			a, ok := aclWith(acls, "outport == @"+pg, "tcp.dst == 8080")
			if !ok {
				return fmt.Errorf("no ACL for the named port in %+v", acls)
			}
			if a.Action != nbdb.ACLActionAllowRelated || a.Direction != nbdb.ACLDirectionToLport || a.Priority != netpol.PriorityPolicyAllow {
				return fmt.Errorf("acl %+v", a)
			}
			peers, err := e.peersOf(a, "ip4.src")
			if err != nil {
				return err
			}
			sort.Strings(ips)
			if !slices.Equal(peers, ips) && !(len(peers) == 0 && len(ips) == 0) {
				return fmt.Errorf("the ACL's peer sets hold %v, want %v", peers, ips)
			}
			return nil
		}
	}
	e.waitPortGroup(pg, []string{"web.np"}, peersAre(ipOf(clientPod), ipOf(o1)))
	e.waitPortGroup(denyIn, []string{"web.np"}, func(acls []nbdb.ACL) error {
		if _, ok := aclWith(acls, "outport == @"+denyIn); !ok || len(acls) != 3 {
			return fmt.Errorf("deny ACLs %+v", acls)
		}
		return nil
	})
	if _, _, ok := e.portGroup(ovnname.DenyPortGroup("np", netpol.Egress)); !ok {
		t.Errorf("no egress deny group (it exists, empty, while the namespace has policies)")
	}

	t.Run("peer pod relabelled", func(t *testing.T) {
		e.relabel(clientPod, map[string]string{"app": "other"})
		e.waitPortGroup(pg, []string{"web.np"}, peersAre(ipOf(o1)))
	})
	t.Run("new peer pod addressed", func(t *testing.T) {
		c2 := e.labeledPod("np", "client2", map[string]string{"app": "client"}, nil)
		e.waitPortGroup(pg, []string{"web.np"}, peersAre(ipOf(c2), ipOf(o1)))
	})
	t.Run("pod added in a peer namespace", func(t *testing.T) {
		o2 := e.labeledPod("other", "o2", nil, nil)
		e.waitPortGroup(pg, []string{"web.np"}, peersAre(e.addressed("np", "client2").Annotations[annotation.IPAddress], ipOf(o1), ipOf(o2)))
		e.deletePod("other", "o2")
		e.waitPortGroup(pg, []string{"web.np"}, peersAre(e.addressed("np", "client2").Annotations[annotation.IPAddress], ipOf(o1)))
	})
	t.Run("peer namespace relabelled", func(t *testing.T) {
		e.relabel(other, map[string]string{"team": "c"})
		e.waitPortGroup(pg, []string{"web.np"}, peersAre(e.addressed("np", "client2").Annotations[annotation.IPAddress]))
	})
	t.Run("policy edited", func(t *testing.T) {
		p := &networkingv1.NetworkPolicy{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: "np", Name: "allow-web"}, p); err != nil {
			t.Fatal(err)
		}
		udp, port := corev1.ProtocolUDP, intstr.FromInt32(5353)
		p.Spec.Ingress[0].Ports = []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}}
		if err := e.c.Update(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		e.waitPortGroup(pg, []string{"web.np"}, func(acls []nbdb.ACL) error {
			if len(acls) != 1 || !strings.HasSuffix(acls[0].Match, "&& udp.dst == 5353") {
				return fmt.Errorf("acls %+v, want only the UDP 5353 rule", acls)
			}
			return nil
		})
		if sets := e.addressSetsOf("np", "allow-web"); len(sets) != 0 {
			t.Errorf("address sets %v: the named port's set should be gone", sets)
		}
		if sets := e.peerSets(); len(sets) != 2*2 {
			t.Errorf("peer sets %v: want the two peers' pairs kept", sets)
		}
	})
	t.Run("a set the policy no longer needs is removed by the next controller", func(t *testing.T) {
		// As a controller of an earlier version, or one that died between
		// an edit and its reconcile, would leave it.
		e.nbctl("create", "Address_Set", "name=ovnet_np_left_behind", "addresses=10.16.9.9",
			`external_ids:"ovnet.io/owner"=ovnet`, `external_ids:"ovnet.io/kind"=NetworkPolicy`,
			`external_ids:"ovnet.io/namespace"=np`, `external_ids:"ovnet.io/name"=allow-web`)
		// The test's view of NB follows the commit a moment later.
		e.eventually("the set left behind in the view", func() error {
			if sets := e.addressSetsOf("np", "allow-web"); len(sets) != 1 {
				return fmt.Errorf("address sets %v, want the one left behind", sets)
			}
			return nil
		})
		e.restartController()
		e.eventually("the set left behind removed", func() error {
			if sets := e.addressSetsOf("np", "allow-web"); len(sets) != 0 {
				return fmt.Errorf("address sets %v", sets)
			}
			return nil
		})
	})
	t.Run("selected pod relabelled", func(t *testing.T) {
		e.relabel(web, map[string]string{"app": "none"})
		e.waitPortGroup(pg, nil, nil)
		e.waitPortGroup(denyIn, nil, nil)
	})
	t.Run("policy deleted", func(t *testing.T) {
		if err := e.c.Delete(e.ctx, webPolicy("np")); err != nil {
			t.Fatal(err)
		}
		e.eventually("policy rows gone", func() error {
			if _, _, ok := e.portGroup(pg); ok {
				return fmt.Errorf("port group %s still there", pg)
			}
			if _, _, ok := e.portGroup(denyIn); ok {
				return fmt.Errorf("deny group %s still there", denyIn)
			}
			if sets := e.addressSetsOf("np", "allow-web"); len(sets) != 0 {
				return fmt.Errorf("address sets left: %v", sets)
			}
			if sets := e.peerSets(); len(sets) != 0 {
				return fmt.Errorf("peer sets left: %v", sets)
			}
			if acls := harness.List[nbdb.ACL](t, e.view, nil); len(acls) != 0 {
				return fmt.Errorf("ACLs left: %d", len(acls))
			}
			return nil
		})
	})
}

// An egress rule naming a port towards an ipBlock resolves the name on
// every pod the block holds, in namespaces the policy names nowhere, and
// follows such pods as they come (issue 9, defect 10).
func TestNetworkPolicyEgressNamedPortToIPBlock(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("src", nil, nil)
	e.labeledNamespace("far", nil, nil)
	e.labeledPod("src", "client", map[string]string{"app": "client"}, nil)
	web := e.labeledPod("far", "web", nil, map[string]int32{"http": 8080})
	http := intstr.FromString("http")
	e.createPolicy(&networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "to-block"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "client"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: harness.DefaultNetwork().DefaultSubnet.CIDR}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &http}},
			}},
		},
	})
	pg := ovnname.PolicyPortGroup("src", "to-block")
	ipOf := func(p *corev1.Pod) string { return p.Annotations[annotation.IPAddress] }
	resolved := func(want map[string]string) func([]nbdb.ACL) error {
		return func(acls []nbdb.ACL) error {
			if len(acls) != len(want) {
				return fmt.Errorf("%d ACLs, want one per number of %v", len(acls), want)
			}
			sets := e.addressSetsOf("src", "to-block")
			for number, ip := range want {
				if _, ok := aclWith(acls, "inport == @"+pg, "tcp.dst == "+number); !ok {
					return fmt.Errorf("no ACL to tcp %s in %+v", number, acls)
				}
				if !hasSetWith(sets, ip) {
					return fmt.Errorf("address sets %v, want one holding %s", sets, ip)
				}
			}
			return nil
		}
	}
	e.waitPortGroup(pg, []string{"client.src"}, resolved(map[string]string{"8080": ipOf(web)}))

	t.Run("pod added in a namespace created after the policy", func(t *testing.T) {
		e.labeledNamespace("farther", nil, nil)
		web2 := e.labeledPod("farther", "web2", nil, map[string]int32{"http": 9090})
		e.waitPortGroup(pg, []string{"client.src"}, resolved(map[string]string{"8080": ipOf(web), "9090": ipOf(web2)}))
	})
}

// Rows of a policy deleted while no controller ran are collected.
func TestNetworkPolicyGarbage(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("gc", nil, nil)
	e.labeledPod("gc", "web", map[string]string{"app": "web"}, map[string]int32{"http": 8080})
	e.labeledPod("gc", "client", map[string]string{"app": "client"}, nil)
	e.createPolicy(webPolicy("gc"))
	pg := ovnname.PolicyPortGroup("gc", "allow-web")
	e.waitPortGroup(pg, []string{"web.gc"}, nil)

	// Rows someone else wrote are never collected.
	e.nbctl("pg-add", "foreign_pg")
	e.nbctl("acl-add", "foreign_pg", "to-lport", "1234", "outport == @foreign_pg", "drop")
	e.nbctl("create", "Address_Set", "name=foreign_as", "addresses=10.0.0.1")

	e.ctrl.Stop(t)
	if err := e.c.Delete(e.ctx, webPolicy("gc")); err != nil {
		t.Fatal(err)
	}
	e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
	e.eventually("rows of the deleted policy collected", func() error {
		if _, _, ok := e.portGroup(pg); ok {
			return fmt.Errorf("port group still there")
		}
		if sets := e.addressSetsOf("gc", "allow-web"); len(sets) != 0 {
			return fmt.Errorf("address sets left: %v", sets)
		}
		if sets := e.peerSets(); len(sets) != 0 {
			return fmt.Errorf("peer sets no policy uses left: %v", sets)
		}
		if pgs := harness.List[nbdb.PortGroup](t, e.view, nil); len(pgs) != 1 || pgs[0].Name != "foreign_pg" {
			return fmt.Errorf("port groups %+v, want only foreign_pg", pgs)
		}
		return nil
	})
	if _, acls, _ := e.portGroup("foreign_pg"); len(acls) != 1 {
		t.Errorf("foreign port group's ACLs %+v, want its one ACL", acls)
	}
	if sets := harness.List(t, e.view, func(as *nbdb.AddressSet) bool { return as.Name == "foreign_as" }); len(sets) != 1 {
		t.Errorf("foreign address set collected")
	}
}

// ipBlocks of both families in one rule become one ACL, each block
// matched by its family's field; another policy is unaffected.
func TestNetworkPolicyIPBlocksOfBothFamilies(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("mixed", nil, nil)
	e.labeledPod("mixed", "web", map[string]string{"app": "web"}, map[string]int32{"http": 8080})
	e.labeledPod("mixed", "client", map[string]string{"app": "client"}, nil)
	both := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "mixed", Name: "both"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "web"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "fd00:10::/64", Except: []string{"fd00:10::/120"}}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.7.0/24"}}},
			}},
		},
	}
	e.createPolicy(both)
	e.createPolicy(webPolicy("mixed"))
	e.waitPortGroup(ovnname.PolicyPortGroup("mixed", "both"), []string{"web.mixed"}, func(acls []nbdb.ACL) error {
		want := "((ip6.src == fd00:10::/64 && ip6.src != {fd00:10::/120}) || ip4.src == 192.168.7.0/24)"
		if len(acls) != 1 || !strings.HasSuffix(acls[0].Match, want) {
			return fmt.Errorf("acls %+v: want one ending %q", acls, want)
		}
		return nil
	})
	e.waitPortGroup(ovnname.PolicyPortGroup("mixed", "allow-web"), []string{"web.mixed"}, func(acls []nbdb.ACL) error {
		if _, ok := aclWith(acls, "tcp.dst == 8080"); !ok {
			return fmt.Errorf("acls %+v", acls)
		}
		return nil
	})
}

// A private namespace's switch drops traffic from outside the subnet, the
// allow list and the nodes; making it public again removes the ACLs.
func TestPrivateSubnetACLs(t *testing.T) {
	e := newEnv(t)
	ns := e.labeledNamespace("priv", nil, map[string]string{annotation.CIDR: "10.70.0.0/24",
		annotation.Private: "true", annotation.Allow: "10.16.0.0/28, 192.168.0.1/32"})
	want := "ip4.dst == 10.70.0.0/24 && ip4.src != {10.70.0.0/24, 10.16.0.0/28, 100.64.0.0/16, 192.168.0.1/32}"
	e.eventually("private ACLs on the switch", func() error {
		ls := e.view.Switch(t, "priv")
		if ls == nil {
			return fmt.Errorf("no switch")
		}
		acls := harness.List(t, e.view, func(a *nbdb.ACL) bool { return contains(ls.ACLs, a.UUID) })
		drop, ok := aclWith(acls, want)
		if !ok || drop.Action != nbdb.ACLActionDrop || drop.Priority != netpol.PriorityPrivateDrop || drop.Direction != nbdb.ACLDirectionToLport {
			return fmt.Errorf("acls %+v, want a drop matching %q", acls, want)
		}
		return nil
	})
	e.annotate(ns, annotation.Private, "")
	e.eventually("private ACLs removed", func() error {
		if ls := e.view.Switch(t, "priv"); ls == nil || len(ls.ACLs) != 0 {
			return fmt.Errorf("switch %+v", ls)
		}
		return nil
	})
}

// The acl-logging annotation makes the policy's and the default deny's
// ACLs log, each named after what it stands for; a bad value gets an Event
// and logs nothing.
func TestACLLogging(t *testing.T) {
	e := newEnv(t)
	ns := e.labeledNamespace("logged", nil, map[string]string{annotation.ACLLogging: `{"deny":"alert","allow":"notice"}`})
	e.labeledPod("logged", "web", map[string]string{"app": "web"}, map[string]int32{"http": 8080})
	e.createPolicy(webPolicy("logged"))
	pg := ovnname.PolicyPortGroup("logged", "allow-web")
	denyIn := ovnname.DenyPortGroup("logged", netpol.Ingress)
	logs := func(name, severity string) func([]nbdb.ACL) error {
		return func(acls []nbdb.ACL) error {
			for _, a := range acls {
				if a.Name != nil && *a.Name == name && a.Log && a.Severity != nil && *a.Severity == severity {
					return nil
				}
			}
			return fmt.Errorf("no ACL named %s logging at %s in %+v", name, severity, acls)
		}
	}
	e.waitPortGroup(pg, []string{"web.logged"}, logs("logged/allow-web", "notice"))
	e.waitPortGroup(denyIn, []string{"web.logged"}, logs("logged/ingressDefaultDeny", "alert"))

	e.annotate(ns, annotation.ACLLogging, `{"deny":"loud"}`)
	e.event("Namespace", "", "logged", "InvalidACLLogging", "loud")
	unlogged := func(acls []nbdb.ACL) error {
		for _, a := range acls {
			if a.Log {
				return fmt.Errorf("acl %q still logs", a.Match)
			}
		}
		return nil
	}
	e.waitPortGroup(pg, []string{"web.logged"}, unlogged)
	e.waitPortGroup(denyIn, []string{"web.logged"}, unlogged)
}

// A restart with policies, isolation, logging and a private subnet in
// place, and nothing changed, writes nothing to the northbound database.
func TestNetworkPolicyRestartWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("still", map[string]string{"team": "b"}, map[string]string{annotation.ACLLogging: `{"deny":"info","allow":"debug"}`,
		annotation.CIDR: "10.71.0.0/24", annotation.Private: "true", annotation.Allow: "10.16.0.0/16"})
	e.labeledPod("still", "web", map[string]string{"app": "web"}, map[string]int32{"http": 8080})
	e.labeledPod("still", "client", map[string]string{"app": "client"}, nil)
	p := webPolicy("still")
	p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{
		CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}}
	e.createPolicy(p)
	pg := ovnname.PolicyPortGroup("still", "allow-web")
	e.waitPortGroup(pg, []string{"web.still"}, func(acls []nbdb.ACL) error {
		if len(acls) != 2 {
			return fmt.Errorf("%d ACLs, want ingress and egress", len(acls))
		}
		return nil
	})
	e.waitPortGroup(ovnname.DenyPortGroup("still", netpol.Egress), []string{"web.still"}, nil)
	e.restartWritesNothing()
}
