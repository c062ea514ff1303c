package netpol

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// selector converts a label selector; nil selects nothing, which callers
// handle before asking.
func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("label selector: %w", err)
	}
	return sel, nil
}

// SelectedPods returns the addressed pods of the policy's namespace that
// its podSelector selects.
func SelectedPods(p *networkingv1.NetworkPolicy, c Cluster) ([]Pod, error) {
	sel, err := selector(&p.Spec.PodSelector)
	if err != nil {
		return nil, fmt.Errorf("podSelector: %w", err)
	}
	return matching(c.Pods[p.Namespace], sel), nil
}

func matching(pods []Pod, sel labels.Selector) []Pod {
	var out []Pod
	for _, pod := range pods {
		if sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pod)
		}
	}
	return out
}

// peerPods returns the pods a podSelector/namespaceSelector peer stands
// for: with only a podSelector, pods of the policy's namespace; with a
// namespaceSelector, pods of the namespaces it selects, narrowed by the
// podSelector when both are given.
func peerPods(policyNamespace string, peer networkingv1.NetworkPolicyPeer, c Cluster) ([]Pod, error) {
	namespaces := []string{policyNamespace}
	if peer.NamespaceSelector != nil {
		nsSel, err := selector(peer.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("namespaceSelector: %w", err)
		}
		namespaces = namespaces[:0]
		for name, ns := range c.Namespaces {
			if nsSel.Matches(labels.Set(ns.Labels)) {
				namespaces = append(namespaces, name)
			}
		}
		sort.Strings(namespaces)
	}
	podSel := labels.Everything()
	if peer.PodSelector != nil {
		var err error
		if podSel, err = selector(peer.PodSelector); err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
	}
	var out []Pod
	for _, ns := range namespaces {
		out = append(out, matching(c.Pods[ns], podSel)...)
	}
	return out, nil
}

// allPods returns every addressed pod of the cluster.
func allPods(c Cluster) []Pod {
	var out []Pod
	for _, pods := range c.Pods {
		out = append(out, pods...)
	}
	return out
}

// namedPort resolves a named port on a pod: the number of the container
// port of that name and protocol; ok is false when the pod has none.
func namedPort(pod Pod, name string, protocol corev1.Protocol) (int32, bool) {
	for _, cp := range pod.Ports {
		proto := cp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if cp.Name == name && proto == protocol {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// PolicyTypes returns the directions a policy isolates, with the API's
// defaults: Ingress always, Egress when it has egress rules.
func PolicyTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}
