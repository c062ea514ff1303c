package integration

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// A pod's change puts its port in the port groups of the policies that
// select it and of its namespace's default deny, and its address in the
// peer sets, one mutate each in one transaction, without reconciling a
// policy; and a full reconcile of every policy and namespace, from rows
// deleted, writes back exactly the same rows.
func TestPodPolicyMemberships(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("inc", map[string]string{"team": "a"}, nil)
	peers := e.labeledNamespace("peers", map[string]string{"team": "b"}, nil)
	e.labeledPod("peers", "db", map[string]string{"role": "db"}, nil)
	e.labeledPod("inc", "client", map[string]string{"app": "client"}, nil)
	port := intstr.FromInt32(80)
	web := &networkingv1.NetworkPolicy{ // ingress only, from app=client here and role=db of team=b
		ObjectMeta: metav1.ObjectMeta{Namespace: "inc", Name: "web"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")},
				{NamespaceSelector: sel("team", "b"), PodSelector: sel("role", "db")}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}},
	}
	webOut := &networkingv1.NetworkPolicy{ // egress of the same pods to app=api
		ObjectMeta: metav1.ObjectMeta{Namespace: "inc", Name: "web-out"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "web"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "api")}}}}},
	}
	api := &networkingv1.NetworkPolicy{ // ingress of app=api from app=web
		ObjectMeta: metav1.ObjectMeta{Namespace: "inc", Name: "api"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "api"), Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}}}}},
	}
	for _, p := range []*networkingv1.NetworkPolicy{web, webOut, api} {
		e.createPolicy(p)
	}
	groups := map[string]string{"web": ovnname.PolicyPortGroup("inc", "web"), "web-out": ovnname.PolicyPortGroup("inc", "web-out"),
		"api": ovnname.PolicyPortGroup("inc", "api"), "deny-in": ovnname.DenyPortGroup("inc", netpol.Ingress),
		"deny-out": ovnname.DenyPortGroup("inc", netpol.Egress)}
	// membersAre waits until each group holds the ports given for it, and
	// the others none.
	membersAre := func(want map[string][]string) {
		t.Helper()
		for key, name := range groups {
			e.waitPortGroup(name, want[key], nil)
		}
	}
	ip := func(ns, name string) string { return e.addressed(ns, name).Annotations[annotation.IPAddress] }
	// setsAre waits until the IPv4 peer sets hold exactly the address
	// lists given, and their IPv6 twins nothing (these pods are IPv4 only).
	setsAre := func(want ...[]string) {
		t.Helper()
		e.eventually("peer sets", func() error {
			var have [][]string
			for name, addrs := range e.peerSets() {
				if strings.HasSuffix(name, "_ip6") {
					if len(addrs) > 0 {
						return fmt.Errorf("IPv6 peer set %s holds %v, want nothing", name, addrs)
					}
					continue
				}
				have = append(have, sorted(addrs))
			}
			for i := range want {
				want[i] = sorted(want[i])
			}
			key := func(a []string) string { return strings.Join(a, ",") }
			if !slices.Equal(sorted(mapped(have, key)), sorted(mapped(want, key))) {
				return fmt.Errorf("peer sets hold %v, want %v", have, want)
			}
			return nil
		})
	}
	membersAre(nil)
	setsAre([]string{ip("inc", "client")}, []string{ip("peers", "db")}, nil, nil) // app=client, role=db of team=b, app=web, app=api

	t.Run("pod arrives in one transaction besides its port", func(t *testing.T) {
		// The tail of the setup's work (the policies', the earlier pods')
		// can outlast the waits above on a loaded machine: not the arrival's.
		e.ctrl.SettleNB(t, settle)
		before := e.ctrl.NBTransactions(t)
		e.labeledPod("inc", "web1", map[string]string{"app": "web"}, nil)
		membersAre(map[string][]string{"web": {"web1.inc"}, "web-out": {"web1.inc"}, "deny-in": {"web1.inc"}, "deny-out": {"web1.inc"}})
		setsAre([]string{ip("inc", "client")}, []string{ip("peers", "db")}, []string{ip("inc", "web1")}, nil)
		e.ctrl.SettleNB(t, settle) // any later transaction the arrival caused is counted too
		if n := e.ctrl.NBTransactions(t) - before; n != 2 {
			t.Errorf("the pod's arrival took %d NB transactions, want 2 (its port; its port groups and peer sets)", n)
		}
	})
	t.Run("pod relabelled into a selector", func(t *testing.T) {
		e.relabel(e.addressed("inc", "client"), map[string]string{"app": "api"})
		membersAre(map[string][]string{"web": {"web1.inc"}, "web-out": {"web1.inc"}, "api": {"client.inc"},
			"deny-in": {"client.inc", "web1.inc"}, "deny-out": {"web1.inc"}})
		setsAre(nil, []string{ip("peers", "db")}, []string{ip("inc", "web1")}, []string{ip("inc", "client")})
	})
	t.Run("pod relabelled out of a selector", func(t *testing.T) {
		e.relabel(e.addressed("inc", "web1"), map[string]string{"app": "none"})
		membersAre(map[string][]string{"api": {"client.inc"}, "deny-in": {"client.inc"}})
		setsAre(nil, []string{ip("peers", "db")}, nil, []string{ip("inc", "client")})
	})
	t.Run("pod deleted", func(t *testing.T) {
		e.labeledPod("inc", "web2", map[string]string{"app": "web"}, nil)
		membersAre(map[string][]string{"web": {"web2.inc"}, "web-out": {"web2.inc"}, "api": {"client.inc"},
			"deny-in": {"client.inc", "web2.inc"}, "deny-out": {"web2.inc"}})
		e.deletePod("inc", "web2")
		membersAre(map[string][]string{"api": {"client.inc"}, "deny-in": {"client.inc"}})
		setsAre(nil, []string{ip("peers", "db")}, nil, []string{ip("inc", "client")})
	})
	t.Run("namespace relabelled", func(t *testing.T) {
		e.relabel(peers, map[string]string{"team": "c"})
		setsAre(nil, nil, nil, []string{ip("inc", "client")})
		e.relabel(peers, map[string]string{"team": "b"})
		setsAre(nil, []string{ip("peers", "db")}, nil, []string{ip("inc", "client")})
		e.labeledPod("inc", "web3", map[string]string{"app": "web"}, nil)
		setsAre(nil, []string{ip("peers", "db")}, []string{ip("inc", "web3")}, []string{ip("inc", "client")})
	})
	t.Run("a full reconcile writes the same rows", func(t *testing.T) {
		membersAre(map[string][]string{"web": {"web3.inc"}, "web-out": {"web3.inc"}, "api": {"client.inc"},
			"deny-in": {"client.inc", "web3.inc"}, "deny-out": {"web3.inc"}})
		incremental := policyRows(t, e.view)
		e.ctrl.Stop(t)
		deletePolicyRows(t, e)
		e.eventually("policy rows deleted", func() error {
			if rows := policyRows(t, e.view); len(rows) != 0 {
				return fmt.Errorf("%d rows left", len(rows))
			}
			return nil
		})
		e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
		e.eventually("policy rows rewritten", func() error {
			full := policyRows(t, e.view)
			if !maps.Equal(full, incremental) {
				return fmt.Errorf("after a full reconcile:\n%v\nafter pod changes:\n%v", full, incremental)
			}
			return nil
		})
	})
}

func mapped[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// policyRows describes NB's policy rows as a user compares them: each
// port group of policies and namespaces with its member ports and ACLs,
// each policy and peer address set with its addresses.
func policyRows(t *testing.T, view *harness.NBView) map[string]string {
	t.Helper()
	owned := func(ids map[string]string, kinds ...string) bool {
		o, ok := ovn.OwnerOf(ids)
		return ok && slices.Contains(kinds, o.Kind)
	}
	ports := map[string]string{}
	for _, p := range harness.List[nbdb.LogicalSwitchPort](t, view, nil) {
		ports[p.UUID] = p.Name
	}
	acls := map[string]string{}
	for _, a := range harness.List[nbdb.ACL](t, view, nil) {
		acls[a.UUID] = fmt.Sprintf("%s %d %s %s", a.Direction, a.Priority, a.Action, a.Match)
	}
	rows := map[string]string{}
	for _, pg := range harness.List(t, view, func(pg *nbdb.PortGroup) bool {
		return owned(pg.ExternalIDs, ovn.KindNetworkPolicy, ovn.KindNamespace)
	}) {
		rows["port group "+pg.Name] = fmt.Sprintf("ports %v acls %q", sorted(mapped(pg.Ports, func(u string) string { return ports[u] })),
			sorted(mapped(pg.ACLs, func(u string) string { return acls[u] })))
	}
	for _, as := range harness.List(t, view, func(as *nbdb.AddressSet) bool {
		return owned(as.ExternalIDs, ovn.KindNetworkPolicy, ovn.KindPeerSelector)
	}) {
		rows["address set "+as.Name] = fmt.Sprint(sorted(as.Addresses))
	}
	return rows
}

// deletePolicyRows deletes, as another NB client, every port group and
// address set of policies and namespaces (the ACLs go with their groups).
func deletePolicyRows(t *testing.T, e *env) {
	t.Helper()
	nb, err := ovn.Connect(e.ctx, ovn.Config{Endpoints: []string{e.nb.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	var ops []ovsdb.Operation
	for _, pg := range harness.List[nbdb.PortGroup](t, e.view, nil) {
		more, err := nb.DeletePortGroupOps(pg.Name)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, more...)
	}
	for _, as := range harness.List[nbdb.AddressSet](t, e.view, nil) {
		more, err := nb.DeleteAddressSetOps(as.Name)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, more...)
	}
	if err := nb.Transact(e.ctx, ops); err != nil {
		t.Fatalf("delete the policy rows: %v", err)
	}
}

// An egress rule to a named port of selected peers names, per number the
// name resolves to, the shared sets of the peers resolving it so: a peer
// pod arriving with a number already resolved joins those sets by mutate,
// in its one memberships transaction, the policy's ACLs unchanged; a new
// number adds an ACL and its sets, which go when its last pod goes.
func TestEgressNamedPortFollowsPods(t *testing.T) {
	e := newEnv(t)
	e.labeledNamespace("np", nil, nil)
	e.labeledPod("np", "client", map[string]string{"app": "client"}, nil)
	api1 := e.labeledPod("np", "api1", map[string]string{"app": "api"}, map[string]int32{"http": 8080})
	http := intstr.FromString("http")
	peer := networkingv1.NetworkPolicyPeer{PodSelector: sel("app", "api")}
	e.createPolicy(&networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "np", Name: "to-api"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "client"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{peer},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &http}}}}},
	})
	selector, err := netpol.NewPeerSelector("np", peer)
	if err != nil {
		t.Fatal(err)
	}
	pg := ovnname.PolicyPortGroup("np", "to-api")
	ip := func(name string) string { return e.addressed("np", name).Annotations[annotation.IPAddress] }
	// resolved waits until the policy has one ACL per number given, naming
	// the sets of the peers resolving it so, which hold the addresses given.
	resolved := func(want map[int32][]string) {
		t.Helper()
		e.waitPortGroup(pg, []string{"client.np"}, func(acls []nbdb.ACL) error {
			if len(acls) != len(want) {
				return fmt.Errorf("%d ACLs, want one per number of %v", len(acls), want)
			}
			sets := e.peerSets()
			if len(sets) != 2*len(want) {
				return fmt.Errorf("peer sets %v, want a pair per number of %v", sets, want)
			}
			for n, addrs := range want {
				set := selector.Resolving("http", "TCP", n)
				if _, ok := aclWith(acls, "inport == @"+pg, "ip4.dst == $"+set.Name+" ", fmt.Sprintf("tcp.dst == %d", n)); !ok {
					return fmt.Errorf("no ACL to tcp %d naming %s in %+v", n, set.Name, acls)
				}
				if have := sorted(sets[set.Name]); !slices.Equal(have, sorted(addrs)) {
					return fmt.Errorf("set of port %d holds %v, want %v", n, have, addrs)
				}
			}
			return nil
		})
	}
	resolved(map[int32][]string{8080: {ip("api1")}})

	t.Run("peer pod arrives with a resolved number", func(t *testing.T) {
		// The tail of the setup's work (the policies', the earlier pods')
		// can outlast the waits above on a loaded machine: not the arrival's.
		e.ctrl.SettleNB(t, settle)
		before := e.ctrl.NBTransactions(t)
		e.labeledPod("np", "api2", map[string]string{"app": "api"}, map[string]int32{"http": 8080})
		resolved(map[int32][]string{8080: {ip("api1"), ip("api2")}})
		e.ctrl.SettleNB(t, settle) // any later transaction the arrival caused is counted too
		if n := e.ctrl.NBTransactions(t) - before; n != 2 {
			t.Errorf("the pod's arrival took %d NB transactions, want 2 (its port; its peer sets)", n)
		}
	})
	t.Run("peer pod arrives with a new number", func(t *testing.T) {
		e.labeledPod("np", "api3", map[string]string{"app": "api"}, map[string]int32{"http": 9090})
		resolved(map[int32][]string{8080: {ip("api1"), ip("api2")}, 9090: {ip("api3")}})
	})
	t.Run("last pod of a number deleted", func(t *testing.T) {
		e.deletePod("np", "api3")
		resolved(map[int32][]string{8080: {ip("api1"), ip("api2")}})
	})
	t.Run("peer pod relabelled out", func(t *testing.T) {
		e.relabel(api1, map[string]string{"app": "none"})
		resolved(map[int32][]string{8080: {ip("api2")}})
	})
}
