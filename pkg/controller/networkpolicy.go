package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

const (
	// ReasonUnsupportedPolicy is the Event reason on a NetworkPolicy with
	// content that cannot be enforced; that content is left out.
	ReasonUnsupportedPolicy = "UnsupportedPolicy"
	// policyWorkers reconcile policies concurrently; each writes its own
	// rows, and NB commits are what takes the time.
	policyWorkers = 8
)

// NetworkPolicyReconciler keeps each NetworkPolicy's port group (the pods
// it selects, carrying its allow ACLs) and its named-port address sets in
// step with the policy and the pods' labels, addresses and ports, and
// makes sure the shared sets of its selector peers exist; their content is
// the PeerSetReconciler's. The default deny of isolated pods is the
// IsolationReconciler's.
type NetworkPolicyReconciler struct {
	// Client reads policies, pods and namespaces from the manager's cache.
	Client client.Client
	// Network holds the northbound client.
	Network *Network
	// Sets are the shared peer address sets.
	Sets *peerSets
	// Recorder emits Events on policies with unsupported content.
	Recorder events.EventRecorder
	// Groups orders the writes to its port group with pods' changes.
	Groups *portGroupLocks
	// Pods remembers what policies saw of the pods, shared with the
	// other policy reconcilers.
	Pods *policyPods
	// reported holds, per policy, the problems last reported, so an
	// unchanged policy is not reported again on every pod change.
	reported sync.Map
	// owned are the names of the address sets each policy wrote.
	owned policySets
}

// SetupWithManager registers the reconciler: a policy is reconciled when
// it changes, when a pod whose named port it resolves changes, and when
// its namespace's logging changes. A pod it merely selects is the
// PodPolicyReconciler's, which puts the pod's port in its port group.
func (r *NetworkPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&networkingv1.NetworkPolicy{}).
		WatchesRawSource(r.Network.resyncs.source(resyncNetworkPolicy)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.policiesOfPod), builder.WithPredicates(podPolicyChanges, podsAfterFirstList)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.policiesOfNamespace),
			builder.WithPredicates(namespacePolicyChanges)).
		WithOptions(controller.Options{MaxConcurrentReconciles: policyWorkers}).
		Named("networkpolicy").
		Complete(r)
}

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch

// Reconcile converges one policy's rows.
func (r *NetworkPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// After the bootstrap, as every reconciler writing NB: at a restart
	// the policies' workers would otherwise take most of the CPU the
	// bootstrap needs (half of it, at 20,000 pods and 2000 policies) to
	// converge rows that are already right.
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	owner := ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: req.Namespace, Name: req.Name}
	defer r.Groups.lock(req.Namespace, fullReconcile)()
	// Read in place from the cache, not copied: the policy is only read.
	p := &networkingv1.NetworkPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, p, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			r.reported.Delete(req.NamespacedName)
			return ctrl.Result{}, r.remove(ctx, owner)
		}
		return ctrl.Result{}, fmt.Errorf("get networkpolicy: %w", err)
	}
	view := policyView{client: r.Client, pods: r.Pods}
	cluster, err := view.clusterFor(ctx, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	ns, err := view.namespace(ctx, p.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	logging, _ := loggingOf(ns) // a bad annotation logs nothing; the IsolationReconciler reports it
	want := netpol.Translate(p, cluster, logging)
	r.report(p, want.Problems)
	// The shared sets in the same transaction, first: an ACL naming a set
	// not in NB would make ovn-northd drop the ACL.
	fills, err := r.Sets.use(ctx, req.NamespacedName, want.Peers)
	if err != nil {
		return ctrl.Result{}, err
	}
	ops, keep, err := r.ops(owner, want)
	if err == nil {
		err = r.Network.NB.Transact(ctx, append(fills.ops, ops...))
	}
	if err == nil {
		fills.written()
		r.owned.committed(owner, keep)
	}
	fills.release()
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("program networkpolicy %s/%s: %w", p.Namespace, p.Name, err)
	}
	if len(ops) > 0 {
		log.FromContext(ctx).V(1).Info("networkpolicy programmed", "pods", len(want.PortGroup.Ports),
			"acls", len(want.PortGroup.ACLs), "addressSets", len(want.AddressSets), "peerSets", len(want.Peers))
	}
	return ctrl.Result{}, r.Sets.drop(ctx, req.NamespacedName, peerNames(want.Peers))
}

// ops builds the policy's one transaction: its named-port address sets,
// the removal of those it no longer needs (and of the per-policy peer sets
// of versions before the shared ones), and its port group. keep names the
// sets the policy has once it commits.
func (r *NetworkPolicyReconciler) ops(owner ovn.Owner, want netpol.Policy) (ops []ovnOp, keep map[string]bool, err error) {
	keep = make(map[string]bool, len(want.AddressSets))
	for _, as := range want.AddressSets {
		keep[as.Name] = true
		more, err := r.Network.NB.AddressSetOps(ovn.AddressSet{Name: as.Name, Owner: owner, Addresses: as.Addresses})
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, more...)
	}
	names, err := r.owned.stale(r.Network.NB, owner, keep)
	if err != nil {
		return nil, nil, err
	}
	stale, err := r.Network.NB.DeleteNamedAddressSetsOps(owner, names)
	if err != nil {
		return nil, nil, err
	}
	more, err := portGroupOps(r.Network.NB, want.PortGroup, owner)
	if err != nil {
		return nil, nil, err
	}
	return append(append(ops, more...), stale...), keep, nil
}

// remove deletes a gone policy's port group (with its ACLs) and address sets.
func (r *NetworkPolicyReconciler) remove(ctx context.Context, owner ovn.Owner) error {
	ops, err := r.Network.NB.DeletePortGroupOps(ovnname.PolicyPortGroup(owner.Namespace, owner.Name))
	if err != nil {
		return err
	}
	sets, err := r.Network.NB.DeleteOwnedAddressSetsOps(owner, nil)
	if err != nil {
		return err
	}
	if err := r.Network.NB.Transact(ctx, append(ops, sets...)); err != nil {
		return fmt.Errorf("remove networkpolicy %s/%s: %w", owner.Namespace, owner.Name, err)
	}
	r.owned.removed(owner)
	return r.Sets.drop(ctx, types.NamespacedName{Namespace: owner.Namespace, Name: owner.Name}, nil)
}

// report leaves a Warning Event on a policy whose problems changed.
func (r *NetworkPolicyReconciler) report(p *networkingv1.NetworkPolicy, problems []string) {
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	text := strings.Join(problems, "; ")
	if last, ok := r.reported.Load(key); ok && last.(string) == text {
		return
	}
	r.reported.Store(key, text)
	if text == "" {
		return
	}
	r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonUnsupportedPolicy, "Translate",
		"left out, the rest of the policy is enforced: %s", text)
}

// policiesOfPod maps a pod to the policies whose rows other than their
// port group's members it can change: those of its namespace resolving a
// named port on it (an egress named-port set, or an ingress one when they
// select it), and the cross-namespace ones resolving a named port on pods
// of its namespace. Its place in port groups and shared peer sets is the
// PodPolicyReconciler's. For an update, it is called with the old pod and
// the new, so a selector the pod left is reached too.
func (r *NetworkPolicyReconciler) policiesOfPod(ctx context.Context, obj client.Object) []reconcile.Request {
	var list networkingv1.NetworkPolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace()), readOnly); err != nil {
		log.FromContext(ctx).Error(err, "list networkpolicies", "namespace", obj.GetNamespace())
		return nil
	}
	podLabels := labels.Set(obj.GetLabels())
	reqs := requestsOf(list.Items, func(p *networkingv1.NetworkPolicy) bool {
		return resolvesOnSelectedPod(p, podLabels) || resolvesOnPodOfOwnNamespace(p, podLabels)
	})
	cross := r.crossNamespacePolicies(ctx)
	if len(cross) == 0 {
		// Every pod event comes here: without cross-namespace policies,
		// the namespace is not read.
		return reqs
	}
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: obj.GetNamespace()}, ns, readOnlyGet); err != nil {
		return reqs
	}
	one := map[string]netpol.Namespace{"ns": {Name: "ns", Labels: ns.Labels}}
	return append(reqs, requestsOf(cross, func(p *networkingv1.NetworkPolicy) bool { return len(peerNamespaces(p, one)) > 0 })...)
}

// policiesOfNamespace maps a namespace to its own policies (its logging
// annotation names their severity) and to every cross-namespace policy: a
// label change may add the namespace to a named port's peers or take it
// out.
func (r *NetworkPolicyReconciler) policiesOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return append(r.policiesIn(ctx, obj.GetName()), requestsOf(r.crossNamespacePolicies(ctx), nil)...)
}

func (r *NetworkPolicyReconciler) policiesIn(ctx context.Context, namespace string) []reconcile.Request {
	var list networkingv1.NetworkPolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), readOnly); err != nil {
		log.FromContext(ctx).Error(err, "list networkpolicies", "namespace", namespace)
		return nil
	}
	return requestsOf(list.Items, nil)
}

// crossNamespacePolicies lists the policies whose selectors take pods of
// other namespaces, read-only from the cache.
func (r *NetworkPolicyReconciler) crossNamespacePolicies(ctx context.Context) []networkingv1.NetworkPolicy {
	var list networkingv1.NetworkPolicyList
	if err := r.Client.List(ctx, &list, client.MatchingFields{policyCrossNamespaceField: "true"}, readOnly); err != nil {
		log.FromContext(ctx).Error(err, "list cross-namespace networkpolicies")
		return nil
	}
	return list.Items
}

func requestsOf(policies []networkingv1.NetworkPolicy, keep func(*networkingv1.NetworkPolicy) bool) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(policies))
	for i := range policies {
		if keep != nil && !keep(&policies[i]) {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{
			Namespace: policies[i].Namespace, Name: policies[i].Name}})
	}
	return reqs
}
