package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
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
)

// PeerSetReconciler keeps a pod's address in the shared peer address sets
// that select it. Requests are keyed by pod: a pod's change costs a label
// match against the selectors of its namespace and the cross-namespace
// ones, and one transaction editing only the sets that gain or lose it.
type PeerSetReconciler struct {
	// Client reads pods and namespaces from the manager's cache.
	Client client.Client
	// Sets are the shared sets, also used by the NetworkPolicyReconciler.
	Sets *peerSets
}

// SetupWithManager registers the reconciler: a pod is reconciled when it
// changes in a way policies see, and every pod of a namespace whose labels
// change while some set selects namespaces by label.
func (r *PeerSetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Pod{}, builder.WithPredicates(podPolicyChanges, predicate.NewPredicateFuncs(r.podMayJoinSet))).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.podsOfNamespace),
			builder.WithPredicates(namespaceLabelChanges)).
		WithOptions(controller.Options{MaxConcurrentReconciles: policyWorkers}).
		Named("peerset").
		Complete(r)
}

// podMayJoinSet passes the events of pods some set could take: every pod
// event would otherwise cost a reconcile, and most clusters have few
// policies or none. A set made later fills itself from the cache, so a
// pod event passed over while there was none is not missed.
func (r *PeerSetReconciler) podMayJoinSet(obj client.Object) bool {
	return r.Sets.anyFor(obj.GetNamespace())
}

// Reconcile converges one pod's memberships.
func (r *PeerSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, r.Sets.updatePod(ctx, req.NamespacedName)
}

// podsOfNamespace maps a namespace to its pods, when some set could
// select them by the namespace's labels.
func (r *PeerSetReconciler) podsOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
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
