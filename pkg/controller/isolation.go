package controller

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// ReasonInvalidACLLogging is the Event reason on a namespace whose
// acl-logging annotation does not parse; nothing of it is logged.
const ReasonInvalidACLLogging = "InvalidACLLogging"

// IsolationReconciler keeps each namespace's default deny: per direction a
// port group of the pods some policy of the namespace isolates, with ACLs
// dropping what no policy allows (logged when the namespace asks).
// Requests are keyed by namespace name.
type IsolationReconciler struct {
	// Client reads policies, pods and namespaces from the manager's cache.
	Client client.Client
	// Network holds the northbound client and the join subnet.
	Network *Network
	// Recorder emits Events on namespaces with a bad logging annotation.
	Recorder events.EventRecorder
	// Groups orders the writes to the deny groups with pods' changes.
	Groups *portGroupLocks
	// Pods remembers what policies saw of the pods.
	Pods *policyPods
	// reported holds, per namespace, the annotation value last reported bad.
	reported sync.Map
}

// SetupWithManager registers the reconciler: a namespace is reconciled
// when it or one of its policies changes. A pod's change is the
// PodPolicyReconciler's, which puts its port in the deny groups itself.
func (r *IsolationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toNamespace := func(_ context.Context, obj client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: obj.GetNamespace()}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}, builder.WithPredicates(namespacePolicyChanges)).
		WatchesRawSource(r.Network.resyncs.source(resyncIsolation)).
		Watches(&networkingv1.NetworkPolicy{}, handler.EnqueueRequestsFromMapFunc(toNamespace)).
		WithOptions(controller.Options{MaxConcurrentReconciles: policyWorkers}).
		Named("isolation").
		Complete(r)
}

// Reconcile converges one namespace's deny groups.
func (r *IsolationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil { // as the policies'
		return ctrl.Result{}, err
	}
	namespace := req.Name
	owner := ovn.Owner{Kind: ovn.KindNamespace, Name: namespace}
	defer r.Groups.lock(namespace, fullReconcile)()
	view := policyView{client: r.Client, pods: r.Pods}
	ns, err := view.namespace(ctx, namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	logging, logErr := loggingOf(ns)
	r.reportLogging(ns, logErr)
	var list networkingv1.NetworkPolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), readOnly); err != nil {
		return ctrl.Result{}, fmt.Errorf("list networkpolicies of %s: %w", namespace, err)
	}
	if ns == nil || len(list.Items) == 0 {
		return ctrl.Result{}, r.remove(ctx, namespace)
	}
	cluster := netpol.Cluster{Pods: map[string][]netpol.Pod{}}
	if err := view.addPods(ctx, &cluster, namespace); err != nil {
		return ctrl.Result{}, err
	}
	policies := make([]*networkingv1.NetworkPolicy, len(list.Items))
	for i := range list.Items {
		policies[i] = &list.Items[i]
	}
	iso := netpol.NamespaceIsolation(netpol.IsolationInput{Namespace: namespace, Policies: policies, Cluster: cluster,
		Log: logging, NodeCIDRs: r.nodeCIDRs()})
	ops, err := portGroupOps(r.Network.NB, iso.Ingress, owner)
	if err != nil {
		return ctrl.Result{}, err
	}
	more, err := portGroupOps(r.Network.NB, iso.Egress, owner)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Network.NB.Transact(ctx, append(ops, more...)); err != nil {
		return ctrl.Result{}, fmt.Errorf("program isolation of namespace %s: %w", namespace, err)
	}
	return ctrl.Result{}, nil
}

// nodeCIDRs are the join subnet's ranges, one per family, whose addresses
// the nodes' ovn0 carry.
func (r *IsolationReconciler) nodeCIDRs() []netip.Prefix { return r.Network.joinPrefixes() }

// remove deletes a namespace's deny groups once no policy isolates anything there.
func (r *IsolationReconciler) remove(ctx context.Context, namespace string) error {
	var ops []ovnOp
	for _, dir := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		more, err := r.Network.NB.DeletePortGroupOps(ovnname.DenyPortGroup(namespace, dir))
		if err != nil {
			return err
		}
		ops = append(ops, more...)
	}
	if err := r.Network.NB.Transact(ctx, ops); err != nil {
		return fmt.Errorf("remove isolation of namespace %s: %w", namespace, err)
	}
	return nil
}

// reportLogging leaves an Event on a namespace whose logging annotation
// is bad, once per bad value.
func (r *IsolationReconciler) reportLogging(ns *corev1.Namespace, err error) {
	if ns == nil {
		return
	}
	if err == nil {
		r.reported.Delete(ns.Name)
		return
	}
	if last, ok := r.reported.Load(ns.Name); ok && last.(string) == err.Error() {
		return
	}
	r.reported.Store(ns.Name, err.Error())
	r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, ReasonInvalidACLLogging, "Validate",
		"%s; ACLs of this namespace log nothing", err.Error())
}
