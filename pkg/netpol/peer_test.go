package netpol

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Peers select the same pods exactly when their sets are named alike,
// whatever policy or rule names them and however their selectors are
// spelled.
func TestPeerSelectorSharing(t *testing.T) {
	expr := func(values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: values}}}
	}
	tests := []struct {
		name       string
		nsA, nsB   string
		peerA      networkingv1.NetworkPolicyPeer
		peerB      networkingv1.NetworkPolicyPeer
		wantShared bool
	}{
		{"same podSelector, same namespace", "a", "a",
			networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, true},
		{"same podSelector, other namespace", "a", "b",
			networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, false},
		{"namespaceSelector: the policy's namespace does not matter", "a", "b",
			networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "x")}, networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "x")}, true},
		{"values in another order", "a", "a",
			networkingv1.NetworkPolicyPeer{PodSelector: expr("web", "db")}, networkingv1.NetworkPolicyPeer{PodSelector: expr("db", "web")}, true},
		{"matchLabels and the same matchExpressions", "a", "a",
			networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, networkingv1.NetworkPolicyPeer{PodSelector: expr("db")}, true},
		{"empty podSelector and none", "a", "a",
			networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}, NamespaceSelector: labelSel("team", "x")},
			networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "x")}, true},
		{"all namespaces is not the own namespace", "a", "a",
			networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db"), NamespaceSelector: &metav1.LabelSelector{}},
			networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewPeerSelector(tt.nsA, tt.peerA)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewPeerSelector(tt.nsB, tt.peerB)
			if err != nil {
				t.Fatal(err)
			}
			if shared := a.Name == b.Name; shared != tt.wantShared {
				t.Errorf("%q and %q shared = %v, want %v", a.Key, b.Key, shared, tt.wantShared)
			}
		})
	}
}

// A peer selects a pod by its labels and its namespace's, as PodsIn does;
// narrowed to a named port's number, also by that port.
func TestPeerSelectorSelects(t *testing.T) {
	c := testCluster()
	peers := []networkingv1.NetworkPolicyPeer{
		{PodSelector: labelSel("app", "web")},
		{NamespaceSelector: labelSel("team", "y")},
		{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: labelSel("app", "web")},
	}
	for _, peer := range peers {
		all, err := NewPeerSelector("a", peer)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range []PeerSelector{all, all.Resolving("http", corev1.ProtocolTCP, 8080), all.Resolving("http", corev1.ProtocolTCP, 9090)} {
			in := map[string]bool{}
			for _, pod := range sel.PodsIn(c) {
				in[pod.Namespace+"/"+pod.Name] = true
				if n, ok := namedPort(pod, "http", corev1.ProtocolTCP); sel.port != nil && (!ok || n != sel.port.number) {
					t.Errorf("%s holds %s/%s, whose http is %d", sel.Key, pod.Namespace, pod.Name, n)
				}
			}
			for ns, pods := range c.Pods {
				for _, pod := range pods {
					if got := sel.Selects(pod, c.Namespaces[ns].Labels); got != in[ns+"/"+pod.Name] {
						t.Errorf("%s: Selects(%s/%s) = %v, PodsIn says %v", sel.Key, ns, pod.Name, got, !got)
					}
				}
			}
		}
	}
}

func TestPeerSelectorRefusesBadSelector(t *testing.T) {
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
	if _, err := NewPeerSelector("a", networkingv1.NetworkPolicyPeer{PodSelector: bad}); err == nil {
		t.Error("a selector with an unknown operator was accepted")
	}
}
