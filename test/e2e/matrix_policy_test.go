package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Builders that keep the scenario table readable: each says in the
// domain's words which NetworkPolicy field it fills.

// pol is a NetworkPolicy in short form. nil types leaves policyTypes to
// the API server's defaulting; nil ingress or egress means no rules.
type pol struct {
	namespace, name string
	pods            metav1.LabelSelector
	types           []networkingv1.PolicyType
	ingress         []rule
	egress          []rule
}

// rule is one ingress or egress rule: peers empty means every peer, ports
// empty every port.
type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

var (
	ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	bothTypes   = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	// allowAll is a rule with no peers and no ports: everything.
	allowAll = rule{}
)

func (p pol) object() *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: p.name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: p.pods, PolicyTypes: p.types},
	}
	for _, r := range p.ingress {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: r.peers, Ports: r.ports})
	}
	for _, r := range p.egress {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: r.peers, Ports: r.ports})
	}
	return np
}

// labels selects objects carrying key=value; everything is metav1.LabelSelector{}.
func labels(key, value string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
}

var everything = metav1.LabelSelector{}

// podIs and nsIs select the model's pods and namespaces by name label.
func podIs(name string) metav1.LabelSelector { return labels(podLabel, name) }
func nsIs(name string) metav1.LabelSelector  { return labels(namespaceLabel, name) }

// expressions selects with matchExpressions.
func expressions(reqs ...metav1.LabelSelectorRequirement) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: reqs}
}

func requirement(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func fromPods(s metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &s}
}

func fromNamespaces(s metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &s}
}

// fromPodsIn is one peer with both selectors: the pods selected in the
// namespaces selected (an intersection, not a union).
func fromPodsIn(pods, namespaces metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &pods, NamespaceSelector: &namespaces}
}

func fromCIDR(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func peers(p ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer { return p }

func ports(p ...networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort { return p }

func portNumber(protocol corev1.Protocol, number int32) networkingv1.NetworkPolicyPort {
	port := intstr.FromInt32(number)
	return networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: &port}
}

func tcp(number int32) networkingv1.NetworkPolicyPort { return portNumber(corev1.ProtocolTCP, number) }
func udp(number int32) networkingv1.NetworkPolicyPort { return portNumber(corev1.ProtocolUDP, number) }

// portRange is number..end (endPort) of one protocol.
func portRange(protocol corev1.Protocol, number, end int32) networkingv1.NetworkPolicyPort {
	p := portNumber(protocol, number)
	p.EndPort = &end
	return p
}

// namedPort refers to a container port by name; nil protocol is left to
// the API server, which defaults it to TCP.
func namedPort(name string, protocol *corev1.Protocol) networkingv1.NetworkPolicyPort {
	port := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Protocol: protocol, Port: &port}
}

// anyPortOf is every port of one protocol (protocol without port).
func anyPortOf(protocol corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &protocol}
}

func protocolPtr(p corev1.Protocol) *corev1.Protocol { return &p }

// matrixStep changes the cluster once a scenario's policies exist; the
// matrix is checked again after each.
type matrixStep struct {
	name string
	do   func(t *testing.T, m *model)
}

func relabelPod(name string, labels map[string]string) matrixStep {
	return matrixStep{name: fmt.Sprintf("pod %s labels %v", name, labels),
		do: func(t *testing.T, m *model) { m.setPodLabels(t, name, labels) }}
}

func relabelNamespace(name string, labels map[string]string) matrixStep {
	return matrixStep{name: fmt.Sprintf("namespace %s labels %v", name, labels),
		do: func(t *testing.T, m *model) { m.setNamespaceLabels(t, name, labels) }}
}

func deletePolicy(namespace, name string) matrixStep {
	return matrixStep{name: "delete policy " + namespace + "/" + name, do: func(t *testing.T, m *model) {
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		if err := m.e.c.Delete(m.e.ctx, np); err != nil {
			t.Fatalf("delete policy %s/%s: %v", namespace, name, err)
		}
	}}
}

// updatePolicy replaces the spec of an existing policy, keeping its name.
func updatePolicy(p pol) matrixStep {
	return matrixStep{name: "update policy " + p.namespace + "/" + p.name, do: func(t *testing.T, m *model) {
		var np networkingv1.NetworkPolicy
		if err := m.e.c.Get(m.e.ctx, client.ObjectKey{Namespace: p.namespace, Name: p.name}, &np); err != nil {
			t.Fatal(err)
		}
		np.Spec = p.object().Spec
		if err := m.e.c.Update(m.e.ctx, &np); err != nil {
			t.Fatalf("update policy %s/%s: %v", p.namespace, p.name, err)
		}
	}}
}

// commonPrefix is the smallest IPv4 prefix holding every address given.
func commonPrefix(t *testing.T, addrs ...string) string {
	t.Helper()
	for bits := netip.MustParseAddr(addrs[0]).BitLen(); bits >= 0; bits-- {
		prefix, err := netip.MustParseAddr(addrs[0]).Prefix(bits)
		if err != nil {
			t.Fatal(err)
		}
		all := true
		for _, a := range addrs[1:] {
			all = all && prefix.Contains(netip.MustParseAddr(a))
		}
		if all {
			return prefix.String()
		}
	}
	t.Fatalf("no prefix holds %v", addrs)
	return ""
}
