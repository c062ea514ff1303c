package netpol

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
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
	// Family is the one family of the addresses its set holds.
	Family Family
	// Namespace is the one namespace of a peer without namespaceSelector;
	// "" for a peer with one.
	Namespace string
	// namespaces selects namespaces; nil when Namespace is set.
	namespaces labels.Selector
	pods       labels.Selector
	// port, when set, narrows the selector to the pods on which a named
	// port resolves to one number: the peers of an egress named port.
	port *resolvedPort
}

// resolvedPort is a named port with the number it resolves to.
type resolvedPort struct {
	ref    namedPortRef
	number int32
}

// resolves reports whether the port's name resolves to its number on pod.
func (r *resolvedPort) resolves(pod Pod) bool {
	n, ok := namedPort(pod, r.ref.name, r.ref.protocol)
	return ok && n == r.number
}

// Resolving narrows the selector to the pods on which the named port of
// protocol resolves to number, with sets of their own: an egress rule to
// a named port of selected peers names, per number, the peers resolving
// it so. Being a selector of its own, such a set follows pods one address
// at a time like any other, and is shared by every policy naming the same
// port of the same peers.
func (s PeerSelector) Resolving(name string, protocol corev1.Protocol, number int32) PeerSelector {
	s.port = &resolvedPort{ref: namedPortRef{name: name, protocol: protocol}, number: number}
	s.Key += fmt.Sprintf(" resolving port %s/%s to %d", strings.ToLower(string(protocol)), name, number)
	return s.InFamily(s.Family)
}

// NamedPort returns the named port the selector's pods resolve, its
// protocol and the number; ok is false for a selector of every port.
func (s PeerSelector) NamedPort() (name string, protocol corev1.Protocol, number int32, ok bool) {
	if s.port == nil {
		return "", "", 0, false
	}
	return s.port.ref.name, s.port.ref.protocol, s.port.number, true
}

// NewPeerSelector returns the IPv4 selector of a podSelector/namespaceSelector
// peer of a policy of namespace policyNamespace; InFamily gives its twin.
func NewPeerSelector(policyNamespace string, peer networkingv1.NetworkPolicyPeer) (PeerSelector, error) {
	s := PeerSelector{pods: labels.Everything(), Family: IPv4}
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

// InFamily is the same selector for the addresses of family f, with the
// set of that family.
func (s PeerSelector) InFamily(f Family) PeerSelector {
	s.Family = f
	if f == IPv6 {
		s.Name = ovnname.PeerAddressSetIPv6(s.Key)
	} else {
		s.Name = ovnname.PeerAddressSet(s.Key)
	}
	return s
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
	return s.SelectsNamespace(pod.Namespace, nsLabels) && s.pods.Matches(labels.Set(pod.Labels)) &&
		(s.port == nil || s.port.resolves(pod))
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
		for _, pod := range matching(c.Pods[ns], s.pods) {
			if s.port == nil || s.port.resolves(pod) {
				out = append(out, pod)
			}
		}
	}
	return out
}

// Addresses returns the distinct addresses of family f of pods, sorted:
// an address set's content.
func Addresses(pods []Pod, f Family) []string { return addresses(ipsOf(pods, f)) }

// peerMatch is the match of the peer side ("src" or "dst") against the
// shared sets of sels, each family's field against that family's sets.
func peerMatch(side string, sels []PeerSelector) string {
	var terms []string
	for _, f := range families {
		var names []string
		for _, s := range sels {
			if s.Family == f {
				names = append(names, "$"+s.Name)
			}
		}
		switch len(names) {
		case 0:
		case 1:
			terms = append(terms, f.field(side)+" == "+names[0])
		default:
			terms = append(terms, f.field(side)+" == {"+strings.Join(names, ", ")+"}")
		}
	}
	return or(terms)
}
