package netpol

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

// PeerSelector is a policy peer made of label selectors: the pods its
// podSelector selects in the namespaces its namespaceSelector selects, or
// in the policy's own namespace when it has none. Its address set is
// named after the selectors alone, so every policy whose peer selects the
// same pods shares one set (ovn-kubernetes' pod-selector address sets are
// the same idea).
type PeerSelector struct {
	// Name is the shared address set's name.
	Name string
	// Key is the canonical text of the selectors, of which Name is a hash.
	Key string
	// Namespace is the one namespace of a peer without namespaceSelector;
	// "" for a peer with one.
	Namespace string
	// namespaces selects namespaces; nil when Namespace is set.
	namespaces labels.Selector
	pods       labels.Selector
}

// NewPeerSelector returns the selector of a podSelector/namespaceSelector
// peer of a policy of namespace policyNamespace.
func NewPeerSelector(policyNamespace string, peer networkingv1.NetworkPolicyPeer) (PeerSelector, error) {
	s := PeerSelector{pods: labels.Everything()}
	if peer.PodSelector != nil {
		var err error
		if s.pods, err = selector(peer.PodSelector); err != nil {
			return PeerSelector{}, fmt.Errorf("podSelector: %w", err)
		}
	}
	if peer.NamespaceSelector == nil {
		s.Namespace = policyNamespace
		s.Key = "pods{" + canonical(s.pods) + "} in namespace " + policyNamespace
	} else {
		nsSel, err := selector(peer.NamespaceSelector)
		if err != nil {
			return PeerSelector{}, fmt.Errorf("namespaceSelector: %w", err)
		}
		s.namespaces = nsSel
		s.Key = "pods{" + canonical(s.pods) + "} in namespaces{" + canonical(nsSel) + "}"
	}
	s.Name = ovnname.PeerAddressSet(s.Key)
	return s, nil
}

// canonical spells a selector one way whatever way it was written:
// requirements sorted by key and values sorted (as labels.Selector keeps
// them), and a one-value "in" written as the "=" it means. Everything is "".
func canonical(sel labels.Selector) string {
	reqs, _ := sel.Requirements()
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		values := r.ValuesUnsorted()
		sort.Strings(values)
		switch op := r.Operator(); {
		case len(values) == 1 && (op == selection.In || op == selection.Equals || op == selection.DoubleEquals):
			parts[i] = r.Key() + "=" + values[0]
		case len(values) == 1 && (op == selection.NotIn || op == selection.NotEquals):
			parts[i] = r.Key() + "!=" + values[0]
		default:
			parts[i] = r.String()
		}
	}
	return strings.Join(parts, ",")
}

// CrossNamespace reports whether the selector reaches pods by their
// namespace's labels, so namespace label changes concern it.
func (s PeerSelector) CrossNamespace() bool { return s.namespaces != nil }

// SelectsNamespace reports whether pods of a namespace with nsLabels can
// be selected.
func (s PeerSelector) SelectsNamespace(name string, nsLabels map[string]string) bool {
	if s.namespaces == nil {
		return name == s.Namespace
	}
	return s.namespaces.Matches(labels.Set(nsLabels))
}

// Selects reports whether the selector holds pod, whose namespace has
// nsLabels.
func (s PeerSelector) Selects(pod Pod, nsLabels map[string]string) bool {
	return s.SelectsNamespace(pod.Namespace, nsLabels) && s.pods.Matches(labels.Set(pod.Labels))
}

// PodsIn returns the pods of c the selector holds.
func (s PeerSelector) PodsIn(c Cluster) []Pod {
	namespaces := []string{s.Namespace}
	if s.namespaces != nil {
		namespaces = namespaces[:0]
		for name, ns := range c.Namespaces {
			if s.namespaces.Matches(labels.Set(ns.Labels)) {
				namespaces = append(namespaces, name)
			}
		}
		sort.Strings(namespaces)
	}
	var out []Pod
	for _, ns := range namespaces {
		out = append(out, matching(c.Pods[ns], s.pods)...)
	}
	return out
}

// Addresses returns the distinct addresses of pods, sorted: an address
// set's content.
func Addresses(pods []Pod) []string { return addresses(ipsOf(pods)) }

// peerMatch is the match of a field against the shared sets of sels.
func peerMatch(field string, sels []PeerSelector) string {
	if len(sels) == 1 {
		return field + " == $" + sels[0].Name
	}
	names := make([]string, len(sels))
	for i, s := range sels {
		names[i] = "$" + s.Name
	}
	return field + " == {" + strings.Join(names, ", ") + "}"
}
