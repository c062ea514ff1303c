package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// ReasonInvalidService is the Event reason on a Service whose content
// ovnet cannot program in full (a non-IPv4 cluster IP, an unsupported
// protocol); what it can program still is.
const ReasonInvalidService = "InvalidService"

// sliceServiceField indexes EndpointSlices by the Service they belong to
// (the kubernetes.io/service-name label), so a reconcile reads a Service's
// slices without scanning its namespace's.
const sliceServiceField = "ovnet.io/service-name"

func indexSliceService(obj client.Object) []string {
	if name := obj.GetLabels()[discoveryv1.LabelServiceName]; name != "" {
		return []string{name}
	}
	return nil
}

// ServiceReconciler programs each Service's cluster IPs as OVN load
// balancers, one per protocol, whose backends are the ready endpoints of
// the Service's EndpointSlices. The load balancers are members of the
// cluster's group, which every subnet's switch carries, so a Service
// change touches its own rows only.
type ServiceReconciler struct {
	// Client reads Services and EndpointSlices from the manager's cache.
	Client client.Client
	// Network holds the northbound client and the cluster's settings.
	Network *Network
	// Recorder emits Events on Services that cannot be programmed in full.
	Recorder events.EventRecorder
}

// SetupWithManager registers the reconciler: a Service is reconciled when
// it or one of its EndpointSlices changes.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Service{}).
		WatchesRawSource(r.Network.resyncs.source(resyncService)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(sliceToService)).
		Named("service").
		Complete(r)
}

// sliceToService maps an EndpointSlice to its Service, by label: slices
// the EndpointSlice controller writes and those written by hand for a
// Service without a selector carry it alike.
func sliceToService(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch

// Reconcile converges one Service's load balancers in one transaction.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	svc := &corev1.Service{}
	err := r.Client.Get(ctx, req.NamespacedName, svc)
	if apierrors.IsNotFound(err) {
		return ctrl.Result{}, r.converge(ctx, req.NamespacedName, nil)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("get service: %w", err)
	}
	var slices discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &slices, client.InNamespace(svc.Namespace),
		client.MatchingFields{sliceServiceField: svc.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list endpoint slices of %s: %w", req.NamespacedName, err)
	}
	lbs, problems := serviceLoadBalancers(svc, slices.Items)
	if len(problems) > 0 {
		r.Recorder.Eventf(svc, nil, corev1.EventTypeWarning, ReasonInvalidService, "Program", "%s",
			strings.Join(problems, "; "))
	}
	if problem := r.Network.ipv6NodePortProblem(svc); problem != "" {
		r.Recorder.Eventf(svc, nil, corev1.EventTypeWarning, ReasonIPv6NodePortUnavailable, "Program", "%s", problem)
	}
	return ctrl.Result{}, r.converge(ctx, req.NamespacedName, lbs)
}

// converge makes want the Service's only load balancers: one per protocol
// is looked up by name, so the cost is that of this Service alone.
func (r *ServiceReconciler) converge(ctx context.Context, key client.ObjectKey, want []ovn.LoadBalancer) error {
	group := r.Network.serviceGroup()
	byProtocol := make(map[string]ovn.LoadBalancer, len(want))
	for _, lb := range want {
		byProtocol[lb.Protocol] = lb
	}
	var ops []ovnOp
	for _, p := range lbProtocols {
		var more []ovnOp
		var err error
		if lb, ok := byProtocol[p.lb]; ok {
			more, err = r.Network.NB.LoadBalancerOps(group, lb)
		} else {
			more, err = r.Network.NB.DeleteLoadBalancerOps(group, ovnname.ServiceLoadBalancer(key.Namespace, key.Name, p.lb))
		}
		if err != nil {
			return fmt.Errorf("service %s: %w", key, err)
		}
		ops = append(ops, more...)
	}
	if err := r.Network.NB.Transact(ctx, ops); err != nil {
		return fmt.Errorf("program service %s: %w", key, err)
	}
	return nil
}
