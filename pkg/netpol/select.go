package netpol

import (
	"fmt"

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
