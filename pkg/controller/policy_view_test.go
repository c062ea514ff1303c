package controller

import (
	"net"
	"net/netip"
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/netpol"
)

func TestPolicyReach(t *testing.T) {
	named, numbered := intstr.FromString("http"), intstr.FromInt32(80)
	teamB := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}
	block := &networkingv1.IPBlock{CIDR: "10.16.0.0/16"}
	namespaces := map[string]netpol.Namespace{"a": {Name: "a", Labels: map[string]string{"team": "a"}},
		"b": {Name: "b", Labels: map[string]string{"team": "b"}}}
	tests := []struct {
		name      string
		spec      networkingv1.NetworkPolicySpec
		wantCross bool
		wantPeers []string
	}{
		{name: "pod selector only", spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}}},
		// Its shared set follows the namespaces' labels; the policy's own rows do not.
		{name: "namespace selector", spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: teamB}}}}}},
		{name: "egress named port to a namespace selector", spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: teamB}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}},
			wantCross: true, wantPeers: []string{"b"}},
		{name: "egress named port to anyone", spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}}, wantCross: true, wantPeers: []string{"a", "b"}},
		{name: "egress numbered port to anyone", spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: &numbered}}}}}},
		{name: "egress named port to an ipBlock", spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}, {IPBlock: block}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}}, wantCross: true, wantPeers: []string{"a", "b"}},
		{name: "egress numbered port to an ipBlock", spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{IPBlock: block}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &numbered}}}}}},
		{name: "ingress named port from an ipBlock", spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{IPBlock: block}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"}, Spec: tt.spec}
			if got := crossNamespace(p); got != tt.wantCross {
				t.Errorf("crossNamespace = %v, want %v", got, tt.wantCross)
			}
			got := peerNamespaces(p, namespaces)
			sort.Strings(got)
			if !slices.Equal(got, tt.wantPeers) {
				t.Errorf("peerNamespaces = %v, want %v", got, tt.wantPeers)
			}
		})
	}
}

func TestPodPolicyChanges(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{annotation.Allocated: "true", annotation.IPAddress: "10.16.0.5"}}}
	}
	tests := []struct {
		name   string
		change func(*corev1.Pod)
		want   bool
	}{
		{"nothing", func(*corev1.Pod) {}, false},
		{"status only", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, false},
		{"label", func(p *corev1.Pod) { p.Labels["app"] = "db" }, true},
		{"address", func(p *corev1.Pod) { p.Annotations[annotation.IPAddress] = "10.16.0.6" }, true},
		{"finished", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newPod := base()
			tt.change(newPod)
			if got := podPolicyChanges.Update(event.UpdateEvent{ObjectOld: base(), ObjectNew: newPod}); got != tt.want {
				t.Errorf("passes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicyPodsFollowResourceVersions(t *testing.T) {
	record := func(ip string) map[string]string {
		return annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr(ip), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
			LogicalSwitch: "s"}, Subnet: netip.MustParsePrefix("10.16.0.0/16"), Gateway: netip.MustParseAddr("10.16.0.1")}.Annotations()
	}
	pod := func(name, version, ip string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: version}}
		if ip != "" {
			p.Annotations = record(ip)
		}
		return p
	}
	addresses := func(pods []netpol.Pod) []string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Name+"="+p.IPs[0].String())
		}
		sort.Strings(out)
		return out
	}
	m := newPolicyPods()
	steps := []struct {
		name string
		pods []corev1.Pod
		want []string
	}{
		{"first listing", []corev1.Pod{pod("a", "1", "10.16.0.5"), pod("b", "1", "")}, []string{"a=10.16.0.5"}},
		{"b addressed", []corev1.Pod{pod("a", "1", "10.16.0.5"), pod("b", "2", "10.16.0.6")}, []string{"a=10.16.0.5", "b=10.16.0.6"}},
		{"listed again, unchanged", []corev1.Pod{pod("a", "1", "10.16.0.5"), pod("b", "2", "10.16.0.6")}, []string{"a=10.16.0.5", "b=10.16.0.6"}},
		{"b replaced by c", []corev1.Pod{pod("a", "1", "10.16.0.5"), pod("c", "2", "10.16.0.8")}, []string{"a=10.16.0.5", "c=10.16.0.8"}},
		{"c replaced by b", []corev1.Pod{pod("a", "1", "10.16.0.5"), pod("b", "2", "10.16.0.6")}, []string{"a=10.16.0.5", "b=10.16.0.6"}},
		{"a re-addressed", []corev1.Pod{pod("a", "3", "10.16.0.7"), pod("b", "2", "10.16.0.6")}, []string{"a=10.16.0.7", "b=10.16.0.6"}},
		{"a gone", []corev1.Pod{pod("b", "2", "10.16.0.6")}, []string{"b=10.16.0.6"}},
		{"a back with its old version", []corev1.Pod{pod("a", "1", "10.16.0.9")}, []string{"a=10.16.0.9"}},
		{"no version", []corev1.Pod{pod("a", "", "10.16.0.10")}, []string{"a=10.16.0.10"}},
		{"no pods", nil, nil},
	}
	for _, s := range steps {
		pods := make([]*corev1.Pod, len(s.pods))
		for i := range s.pods {
			pods[i] = &s.pods[i]
		}
		if got := addresses(m.of("ns", pods)); !slices.Equal(got, s.want) {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}
	if len(m.namespaces) != 0 {
		t.Errorf("a namespace without pods is remembered: %v", m.namespaces)
	}
}

func TestPolicyPodHasEveryFamily(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tests := []struct {
		name string
		addr annotation.Address
		want []string
	}{
		{"IPv4", annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("10.16.0.5"), MAC: mac, LogicalSwitch: "s"},
			Subnet: netip.MustParsePrefix("10.16.0.0/16"), Gateway: netip.MustParseAddr("10.16.0.1")},
			[]string{"10.16.0.5"}},
		{"IPv6", annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("fd00:10:16::5"), MAC: mac, LogicalSwitch: "s"},
			Subnet: netip.MustParsePrefix("fd00:10:16::/64"), Gateway: netip.MustParseAddr("fd00:10:16::1")},
			[]string{"fd00:10:16::5"}},
		{"dual stack", annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("10.16.0.5"),
			IPv6: netip.MustParseAddr("fd00:10:16::5"), MAC: mac, LogicalSwitch: "s"},
			Subnet: netip.MustParsePrefix("10.16.0.0/16"), Gateway: netip.MustParseAddr("10.16.0.1"),
			IPv6Subnet: netip.MustParsePrefix("fd00:10:16::/64"), IPv6Gateway: netip.MustParseAddr("fd00:10:16::1")},
			[]string{"10.16.0.5", "fd00:10:16::5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Annotations: tt.addr.Annotations()}}
			got, ok := policyPod(pod)
			if !ok {
				t.Fatal("policyPod: not addressed")
			}
			var ips []string
			for _, ip := range got.IPs {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.want) {
				t.Errorf("IPs = %v, want %v", ips, tt.want)
			}
		})
	}
}
