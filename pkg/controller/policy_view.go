package controller

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
)

// policyCrossNamespaceField indexes NetworkPolicies whose own rows depend
// on pods of other namespaces: an egress named port resolved on peers
// selected by namespaceSelector, on an ipBlock's pods or, without peers,
// on every pod. A pod event reaches them without listing every policy of
// the cluster. (Selector peers alone do not count: their shared sets
// follow pods by themselves.)
const policyCrossNamespaceField = "ovnet.io/cross-namespace"

func indexPolicyCrossNamespace(obj client.Object) []string {
	if crossNamespace(obj.(*networkingv1.NetworkPolicy)) {
		return []string{"true"}
	}
	return nil
}

func crossNamespace(p *networkingv1.NetworkPolicy) bool {
	for _, r := range namedPortEgress(p) {
		if peersCrossNamespace(r.To) || anyPodEgress(r) {
			return true
		}
	}
	return false
}

// namedPortEgress returns the egress rules naming a port: the only rules
// whose rows depend on their peers' pods (a named port resolves on them).
func namedPortEgress(p *networkingv1.NetworkPolicy) []networkingv1.NetworkPolicyEgressRule {
	var out []networkingv1.NetworkPolicyEgressRule
	for _, r := range p.Spec.Egress {
		if namesPort(r.Ports) {
			out = append(out, r)
		}
	}
	return out
}

// anyPodEgress: an egress rule naming a port resolves the name on pods of
// any namespace when it has no peers (every pod) or an ipBlock peer (every
// pod whose address the block holds).
func anyPodEgress(r networkingv1.NetworkPolicyEgressRule) bool {
	if !namesPort(r.Ports) {
		return false
	}
	if len(r.To) == 0 {
		return true
	}
	for _, peer := range r.To {
		if peer.IPBlock != nil {
			return true
		}
	}
	return false
}

// selectsPod reports whether the policy's podSelector takes a pod with
// podLabels (of the policy's namespace).
func selectsPod(p *networkingv1.NetworkPolicy, podLabels labels.Set) bool {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	return err == nil && sel.Matches(podLabels)
}

// resolvesOnSelectedPod reports whether an ingress named port of the
// policy resolves on a pod with podLabels: the pods it selects.
func resolvesOnSelectedPod(p *networkingv1.NetworkPolicy, podLabels labels.Set) bool {
	for _, r := range p.Spec.Ingress {
		if namesPort(r.Ports) {
			return selectsPod(p, podLabels)
		}
	}
	return false
}

// resolvesOnPodOfOwnNamespace reports whether an egress named port of the
// policy may resolve on a pod of its own namespace with podLabels.
func resolvesOnPodOfOwnNamespace(p *networkingv1.NetworkPolicy, podLabels labels.Set) bool {
	for _, r := range namedPortEgress(p) {
		if anyPodEgress(r) {
			return true
		}
		for _, peer := range r.To {
			if peer.NamespaceSelector != nil {
				continue // the cross-namespace index reaches it
			}
			sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err == nil && (peer.PodSelector == nil || sel.Matches(podLabels)) {
				return true
			}
		}
	}
	return false
}

// namesPort reports whether some port is named, not numbered.
func namesPort(ports []networkingv1.NetworkPolicyPort) bool {
	for _, p := range ports {
		if p.Port != nil && p.Port.Type == intstr.String {
			return true
		}
	}
	return false
}

func peersCrossNamespace(peers []networkingv1.NetworkPolicyPeer) bool {
	for _, peer := range peers {
		if peer.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// readOnly lists from the cache without copying: the objects are only read.
var readOnly = &client.ListOptions{UnsafeDisableDeepCopy: ptr.To(true)}

// readOnlyGet reads one object from the cache without copying it, for
// callers that only read it.
var readOnlyGet = &client.GetOptions{UnsafeDisableDeepCopy: ptr.To(true)}

// policyPod is what a policy sees of a pod; ok is false for pods that have
// no address of ovnet's (not yet allocated, host network, finished).
func policyPod(p *corev1.Pod) (netpol.Pod, bool) {
	if p.Spec.HostNetwork || finished(p) {
		return netpol.Pod{}, false
	}
	addr, ok, err := annotation.ParseAddress(p.Annotations)
	if !ok || err != nil {
		return netpol.Pod{}, false
	}
	var ports []corev1.ContainerPort
	for _, c := range p.Spec.Containers {
		ports = append(ports, c.Ports...)
	}
	return netpol.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, IPs: addr.IPs(), Ports: ports}, true
}

// policyPods remembers what policies see of each pod (policyPod), by the
// pod's resourceVersion: a cold start reconciles each of a namespace's
// policies against the same unchanged pods, and parsing every pod's record
// again for each policy took a third of the policy reconciles' CPU. Any
// change of a pod changes its resourceVersion, so an entry serves only the
// object it was made from.
type policyPods struct {
	// store is the pod informer's store, read in place; nil reads through
	// the client. Listing through the client copies every pod into the
	// list, for every policy: at a cold start (25 policies a namespace)
	// those copies were more than a third of the policy reconciles' CPU,
	// and garbage to collect.
	store toolscache.Indexer
	mu    sync.Mutex
	// namespaces holds, per namespace, what its last listing found. An
	// entry, once stored, is never changed, so it is read without the lock.
	namespaces map[string]*seenPods
}

// seenPods is what policies saw of a namespace's pods at one listing.
type seenPods struct {
	// byName holds each pod listed.
	byName map[string]seenPod
	// addressed are the pods with an address of ovnet's, shared read-only
	// by every policy translated against this listing.
	addressed []netpol.Pod
}

// seenPod is what policies saw of one version of a pod.
type seenPod struct {
	resourceVersion string
	pod             netpol.Pod
	addressed       bool
}

func newPolicyPods() *policyPods {
	return &policyPods{namespaces: map[string]*seenPods{}}
}

// newCachedPolicyPods reads the pods from the store of the cache's pod
// informer; a cache whose informer has no store of client-go's is read
// through the client.
func newCachedPolicyPods(ctx context.Context, c cache.Cache) (*policyPods, error) {
	// Not waiting for the informer to sync: the store is read only by
	// reconcilers, which start after it has.
	inf, err := c.GetInformer(ctx, &corev1.Pod{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("pod informer: %w", err)
	}
	m := newPolicyPods()
	if s, ok := inf.(interface{ GetIndexer() toolscache.Indexer }); ok {
		m.store = s.GetIndexer()
	}
	return m, nil
}

// list returns the pods of a namespace, not to be changed: in place from
// the informer's store when there is one.
func (m *policyPods) list(ctx context.Context, c client.Client, namespace string) ([]*corev1.Pod, error) {
	if m.store == nil {
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(namespace), readOnly); err != nil {
			return nil, fmt.Errorf("list pods of %s: %w", namespace, err)
		}
		out := make([]*corev1.Pod, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out, nil
	}
	objs, err := m.store.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", namespace, err)
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// of returns what policies see of a namespace's listed pods, the addressed
// ones, reading each pod's record only when this version of the pod was not
// seen at the namespace's last listing. When every pod is as last seen, it
// returns the last listing's slice, which callers only read.
func (m *policyPods) of(namespace string, pods []*corev1.Pod) []netpol.Pod {
	m.mu.Lock()
	last := m.namespaces[namespace]
	m.mu.Unlock()
	if last != nil && last.holds(pods) {
		return last.addressed
	}
	seen := &seenPods{byName: make(map[string]seenPod, len(pods)), addressed: make([]netpol.Pod, 0, len(pods))}
	for _, p := range pods {
		var e seenPod
		if last != nil {
			e = last.byName[p.Name]
		}
		if p.ResourceVersion == "" || e.resourceVersion != p.ResourceVersion {
			e.pod, e.addressed = policyPod(p)
			e.resourceVersion = p.ResourceVersion
		}
		seen.byName[p.Name] = e
		if e.addressed {
			seen.addressed = append(seen.addressed, e.pod)
		}
	}
	m.mu.Lock()
	if len(pods) == 0 {
		delete(m.namespaces, namespace)
	} else {
		m.namespaces[namespace] = seen
	}
	m.mu.Unlock()
	return seen.addressed
}

// holds reports whether pods are exactly the pods of this listing, each
// in the version seen.
func (s *seenPods) holds(pods []*corev1.Pod) bool {
	if len(pods) != len(s.byName) {
		return false
	}
	for _, p := range pods {
		e, ok := s.byName[p.Name]
		if !ok || p.ResourceVersion == "" || e.resourceVersion != p.ResourceVersion {
			return false
		}
	}
	return true
}

// policyView reads the parts of the cluster policies are translated against.
type policyView struct {
	client client.Client
	// pods remembers what policies saw of the pods.
	pods *policyPods
}

// namespaces returns every namespace, by name.
func (v policyView) namespaces(ctx context.Context) (map[string]netpol.Namespace, error) {
	var list corev1.NamespaceList
	if err := v.client.List(ctx, &list, readOnly); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := make(map[string]netpol.Namespace, len(list.Items))
	for _, ns := range list.Items {
		out[ns.Name] = netpol.Namespace{Name: ns.Name, Labels: ns.Labels}
	}
	return out, nil
}

// addPods adds the addressed pods of a namespace to c.
func (v policyView) addPods(ctx context.Context, c *netpol.Cluster, namespace string) error {
	if _, done := c.Pods[namespace]; done {
		return nil
	}
	pods, err := v.pods.list(ctx, v.client, namespace)
	if err != nil {
		return err
	}
	c.Pods[namespace] = v.pods.of(namespace, pods)
	return nil
}

// clusterFor reads the pods policy p's own rows depend on: those of its
// namespace, and for an egress named port those of the namespaces its
// peers select (every namespace without peers or with an ipBlock). Peers
// without named ports need nothing: their shared sets are kept apart.
func (v policyView) clusterFor(ctx context.Context, p *networkingv1.NetworkPolicy) (netpol.Cluster, error) {
	c := netpol.Cluster{Pods: map[string][]netpol.Pod{}}
	if err := v.addPods(ctx, &c, p.Namespace); err != nil {
		return netpol.Cluster{}, err
	}
	if len(namedPortEgress(p)) == 0 {
		return c, nil
	}
	namespaces, err := v.namespaces(ctx)
	if err != nil {
		return netpol.Cluster{}, err
	}
	c.Namespaces = namespaces
	for _, name := range peerNamespaces(p, namespaces) {
		if err := v.addPods(ctx, &c, name); err != nil {
			return netpol.Cluster{}, err
		}
	}
	return c, nil
}

// peerNamespaces lists the namespaces the peers of p's egress named ports
// select.
func peerNamespaces(p *networkingv1.NetworkPolicy, namespaces map[string]netpol.Namespace) []string {
	var selectors []*metav1.LabelSelector
	everything := false
	for _, r := range namedPortEgress(p) {
		for _, peer := range r.To {
			selectors = append(selectors, peer.NamespaceSelector)
		}
		everything = everything || anyPodEgress(r)
	}
	var out []string
	for name, ns := range namespaces {
		if everything || anySelects(selectors, ns.Labels) {
			out = append(out, name)
		}
	}
	return out
}

func anySelects(selectors []*metav1.LabelSelector, nsLabels map[string]string) bool {
	for _, s := range selectors {
		if s == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err == nil && sel.Matches(labels.Set(nsLabels)) {
			return true
		}
	}
	return false
}

// namespace reads a namespace; nil when it does not exist.
func (v policyView) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{}
	if err := v.client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get namespace %s: %w", name, err)
	}
	return ns, nil
}

// loggingOf reads a namespace's acl-logging annotation; a malformed value
// is an error and logs nothing.
func loggingOf(ns *corev1.Namespace) (netpol.Logging, error) {
	if ns == nil {
		return netpol.Logging{}, nil
	}
	l, err := annotation.ParseACLLogging(ns.Annotations)
	if err != nil {
		return netpol.Logging{}, err
	}
	return netpol.Logging{Deny: l.Deny, Allow: l.Allow}, nil
}

// ovnACLs converts translated ACLs to northbound ones.
func ovnACLs(acls []netpol.ACL) []ovn.ACL {
	out := make([]ovn.ACL, len(acls))
	for i, a := range acls {
		out[i] = ovn.ACL{Name: a.Name, Direction: a.Direction, Priority: a.Priority, Match: a.Match,
			Action: a.Action, Severity: a.Severity, Options: a.Options}
	}
	return out
}

// portGroupOps converts a translated port group into its ops.
func portGroupOps(nb *ovn.Client, pg netpol.PortGroup, owner ovn.Owner) ([]ovnOp, error) {
	return nb.PortGroupOps(ovn.PortGroup{Name: pg.Name, Owner: owner, Ports: pg.Ports, ACLs: ovnACLs(pg.ACLs)})
}
