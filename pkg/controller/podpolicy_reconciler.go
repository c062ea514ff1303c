package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// PodPolicyReconciler is the fast path of a pod's change for policies:
// it puts the pod's port in the port groups of the policies of its
// namespace that select it (and in its namespace's deny groups) and its
// address in the shared peer address sets that select it, in one
// transaction of OVSDB mutates of that one port and address, without
// reconciling any policy. Requests are keyed by pod; the cost is a label
// match per policy of its namespace and per candidate set. The full
// reconciles of policies and namespaces write the same memberships (see
// portGroupLocks), so either converges alone.
type PodPolicyReconciler struct {
	// Client reads pods, policies and namespaces from the manager's cache.
	Client client.Client
	// Network holds the northbound client.
	Network *Network
	// Sets are the shared sets, also used by the NetworkPolicyReconciler.
	Sets *peerSets
	// Groups orders the writes to port groups with the full reconciles.
	Groups *portGroupLocks
}

// SetupWithManager registers the reconciler: a pod is reconciled when it
// changes in a way policies see, and every pod of a namespace whose labels
// change while some set selects namespaces by label.
func (r *PodPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Pod{}, builder.WithPredicates(podPolicyChanges, podsAfterFirstList, predicate.NewPredicateFuncs(r.podMayMatter))).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.podsOfNamespace),
			builder.WithPredicates(namespaceLabelChanges)).
		WithOptions(controller.Options{MaxConcurrentReconciles: policyWorkers}).
		Named("podpolicy").
		Complete(r)
}

// podMayMatter passes the events of pods some policy could concern: a set
// could take the pod, or its namespace has a policy (and so port groups).
// Every pod event would otherwise cost a reconcile, and most clusters have
// few policies or none. A set or policy made later fills itself from the
// cache, so a pod event passed over while there was none is not missed.
func (r *PodPolicyReconciler) podMayMatter(obj client.Object) bool {
	if r.Sets.anyFor(obj.GetNamespace()) {
		return true
	}
	var list networkingv1.NetworkPolicyList
	err := r.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace()), client.Limit(1), readOnly)
	return err != nil || len(list.Items) > 0 // in doubt, reconcile
}

// Reconcile converges one pod's memberships.
func (r *PodPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil { // as the policies'
		return ctrl.Result{}, err
	}
	groups, err := groupsOf(ctx, r.Client, req.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer r.Groups.lock(req.Namespace, podChange)()
	port := ovnname.PodPort(req.Namespace, req.Name)
	return ctrl.Result{}, r.Sets.updatePod(ctx, req.NamespacedName, func(pod netpol.Pod, addressed bool) ([]ovnOp, error) {
		return r.Network.NB.PortMembershipOps(port, groups.membership(pod.Labels, addressed))
	})
}

// podsOfNamespace maps a namespace to its pods, when some set could
// select them by the namespace's labels.
func (r *PodPolicyReconciler) podsOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	if !r.Sets.anyCrossNamespace() {
		return nil
	}
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetName()), readOnly); err != nil {
		log.FromContext(ctx).Error(err, "list pods", "namespace", obj.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}}
	}
	return reqs
}

// peerNames are the names of the selectors' sets.
func peerNames(sels []netpol.PeerSelector) map[string]bool {
	names := make(map[string]bool, len(sels))
	for _, s := range sels {
		names[s.Name] = true
	}
	return names
}
