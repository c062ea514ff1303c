package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// clientsPolicy lets pods labelled app=client of the policy's namespace
// and of namespaces labelled team=b reach TCP 80 of pods labelled app=web.
func clientsPolicy(namespace string) *networkingv1.NetworkPolicy {
	port := intstr.FromInt32(80)
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "clients"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "web"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")},
					{NamespaceSelector: sel("team", "b"), PodSelector: sel("app", "client")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
			}},
		},
	}
}

// Policies whose peers have the same selectors share one address set; a
// set lives while some policy names it, follows pods and namespace labels
// one address at a time, and a set no policy names is deleted, also when
// found in NB at start.
func TestPeerSetsShared(t *testing.T) {
	e := newEnv(t)
	for _, ns := range []string{"s1", "s2"} {
		e.labeledNamespace(ns, map[string]string{"team": "a"}, nil)
		e.labeledPod(ns, "web", map[string]string{"app": "web"}, nil)
		e.labeledPod(ns, "client", map[string]string{"app": "client"}, nil)
	}
	far := e.labeledNamespace("far", map[string]string{"team": "b"}, nil)
	x := e.labeledPod("far", "x", map[string]string{"app": "client"}, nil)
	e.createPolicy(clientsPolicy("s1"))
	e.createPolicy(clientsPolicy("s2"))
	ip := func(ns, name string) string { return e.addressed(ns, name).Annotations[annotation.IPAddress] }
	// peersAre waits until the policy's ACL names sets holding exactly ips.
	peersAre := func(ns string, ips ...string) {
		t.Helper()
		e.waitPortGroup(ovnname.PolicyPortGroup(ns, "clients"), []string{"web." + ns}, func(acls []nbdb.ACL) error {
			if len(acls) != 1 {
				return fmt.Errorf("acls %+v, want one", acls)
			}
			peers, err := e.peersOf(acls[0], "ip4.src")
			if err != nil {
				return err
			}
			if fmt.Sprint(peers) != fmt.Sprint(sorted(ips)) {
				return fmt.Errorf("peers %v, want %v", peers, sorted(ips))
			}
			return nil
		})
	}
	peersAre("s1", ip("s1", "client"), x.Annotations[annotation.IPAddress])
	peersAre("s2", ip("s2", "client"), x.Annotations[annotation.IPAddress])
	setsAre := func(n int) {
		t.Helper()
		e.eventually(fmt.Sprintf("%d peer sets", n), func() error {
			// A pair per selector: one set per family.
			if sets := e.peerSets(); len(sets) != 2*n {
				return fmt.Errorf("peer sets %v", sets)
			}
			return nil
		})
	}
	setsAre(3) // each namespace's clients, and far's shared by both

	t.Run("pod arriving in a peer namespace joins the shared set", func(t *testing.T) {
		y := e.labeledPod("far", "y", map[string]string{"app": "client"}, nil)
		peersAre("s1", ip("s1", "client"), x.Annotations[annotation.IPAddress], y.Annotations[annotation.IPAddress])
		peersAre("s2", ip("s2", "client"), x.Annotations[annotation.IPAddress], y.Annotations[annotation.IPAddress])
		e.deletePod("far", "y")
		peersAre("s1", ip("s1", "client"), x.Annotations[annotation.IPAddress])
	})
	t.Run("namespace relabelled out and back", func(t *testing.T) {
		e.relabel(far, map[string]string{"team": "c"})
		peersAre("s1", ip("s1", "client"))
		peersAre("s2", ip("s2", "client"))
		e.relabel(far, map[string]string{"team": "b"})
		peersAre("s1", ip("s1", "client"), x.Annotations[annotation.IPAddress])
	})
	t.Run("an IPv6 pod joins the IPv6 set of the pair only", func(t *testing.T) {
		e.labeledNamespace("far6", map[string]string{"team": "b"}, map[string]string{annotation.CIDR: "fd00:66::/112"})
		z := e.labeledPod("far6", "z", map[string]string{"app": "client"}, nil)
		zIP := z.Annotations[annotation.IPAddress]
		if !strings.Contains(zIP, ":") {
			t.Fatalf("pod of an IPv6 subnet got %q", zIP)
		}
		e.waitPortGroup(ovnname.PolicyPortGroup("s1", "clients"), []string{"web.s1"}, func(acls []nbdb.ACL) error {
			if len(acls) != 1 {
				return fmt.Errorf("acls %+v, want one", acls)
			}
			peers6, err := e.peersOf(acls[0], "ip6.src")
			if err != nil {
				return err
			}
			if fmt.Sprint(peers6) != fmt.Sprint([]string{zIP}) {
				return fmt.Errorf("IPv6 peers %v, want [%s]", peers6, zIP)
			}
			return nil
		})
		peersAre("s1", ip("s1", "client"), x.Annotations[annotation.IPAddress])
		e.deletePod("far6", "z")
		e.waitPortGroup(ovnname.PolicyPortGroup("s1", "clients"), []string{"web.s1"}, func(acls []nbdb.ACL) error {
			if peers6, err := e.peersOf(acls[0], "ip6.src"); err != nil || len(peers6) != 0 {
				return fmt.Errorf("IPv6 peers %v (%v), want none", peers6, err)
			}
			return nil
		})
	})
	t.Run("restart writes nothing", func(t *testing.T) {
		e.restartWritesNothing()
	})
	t.Run("a deleted policy's sets go unless another uses them", func(t *testing.T) {
		if err := e.c.Delete(e.ctx, clientsPolicy("s1")); err != nil {
			t.Fatal(err)
		}
		setsAre(2)
		peersAre("s2", ip("s2", "client"), x.Annotations[annotation.IPAddress])
	})
	t.Run("a set no policy names is deleted at start", func(t *testing.T) {
		e.nbctl("create", "Address_Set", "name=ovnet_ps_stale", "addresses=10.16.9.9",
			`external_ids:"ovnet.io/owner"=ovnet`, `external_ids:"ovnet.io/kind"=PeerSelector`, `external_ids:"ovnet.io/name"=ovnet_ps_stale`)
		e.nbctl("create", "Address_Set", "name=ovnet_ps_stale_ip6", `addresses="fd00:16::9"`,
			`external_ids:"ovnet.io/owner"=ovnet`, `external_ids:"ovnet.io/kind"=PeerSelector`, `external_ids:"ovnet.io/name"=ovnet_ps_stale_ip6`)
		setsAre(3)
		e.ctrl.Stop(t)
		e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
		setsAre(2)
		peersAre("s2", ip("s2", "client"), x.Annotations[annotation.IPAddress])
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}
