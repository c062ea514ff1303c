package controller

import (
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// A pod's memberships, decided one pod at a time, are those the full
// translations of its namespace's policies and isolation give.
func TestMembershipAgreesWithTranslation(t *testing.T) {
	app := func(v string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{"app": v}}
	}
	policy := func(name string, sel metav1.LabelSelector, types ...networkingv1.PolicyType) networkingv1.NetworkPolicy {
		return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: types}}
	}
	bad := metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
	}{
		{name: "no policies"},
		{name: "ingress by label", policies: []networkingv1.NetworkPolicy{policy("web", app("web"))}},
		{name: "egress only", policies: []networkingv1.NetworkPolicy{policy("out", app("web"), networkingv1.PolicyTypeEgress)}},
		{name: "both directions, every pod", policies: []networkingv1.NetworkPolicy{
			policy("all", metav1.LabelSelector{}, networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)}},
		{name: "overlapping and invalid selectors", policies: []networkingv1.NetworkPolicy{policy("web", app("web")),
			policy("api", app("api"), networkingv1.PolicyTypeEgress), policy("bad", bad)}},
	}
	pods := []netpol.Pod{
		{Namespace: "ns", Name: "web", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.16.0.2")},
		{Namespace: "ns", Name: "api", Labels: map[string]string{"app": "api"}, IP: netip.MustParseAddr("10.16.0.3")},
		{Namespace: "ns", Name: "bare", IP: netip.MustParseAddr("10.16.0.4")},
	}
	cluster := netpol.Cluster{Pods: map[string][]netpol.Pod{"ns": pods}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := map[string][]string{}
			policies := make([]*networkingv1.NetworkPolicy, len(tt.policies))
			for i := range tt.policies {
				policies[i] = &tt.policies[i]
				pg := netpol.Translate(policies[i], cluster, netpol.Logging{}).PortGroup
				full[pg.Name] = pg.Ports
			}
			iso := netpol.NamespaceIsolation(netpol.IsolationInput{Namespace: "ns", Policies: policies, Cluster: cluster})
			full[iso.Ingress.Name], full[iso.Egress.Name] = iso.Ingress.Ports, iso.Egress.Ports
			groups := namespaceGroups{namespace: "ns", policies: tt.policies}
			if got := groups.membership(nil, true); len(got) != len(full) {
				t.Fatalf("groups %v, the translations have %d", got, len(full))
			}
			for _, pod := range pods {
				port := ovnname.PodPort(pod.Namespace, pod.Name)
				for name, member := range groups.membership(pod.Labels, true) {
					if want := slices.Contains(full[name], port); member != want {
						t.Errorf("pod %s in group %s: %v, the translation says %v", pod.Name, name, member, want)
					}
				}
				for name, member := range groups.membership(pod.Labels, false) {
					if member {
						t.Errorf("pod %s without an address in group %s", pod.Name, name)
					}
				}
			}
		})
	}
}

// The two sides of a namespace's lock never hold it together, and many
// holders of one side do.
func TestPortGroupLocksSides(t *testing.T) {
	l := newPortGroupLocks()
	var inside [2]atomic.Int32
	var most atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		side := lockSide(i % 2)
		wg.Go(func() {
			for range 300 {
				unlock := l.lock("ns", side)
				n := inside[side].Add(1)
				if o := inside[1-side].Load(); o != 0 {
					t.Errorf("side %d inside with %d holders of the other", side, o)
				}
				if n > most.Load() {
					most.Store(n)
				}
				runtime.Gosched()
				inside[side].Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	if most.Load() < 2 {
		t.Errorf("at most %d holders of one side at once, want several", most.Load())
	}
}
