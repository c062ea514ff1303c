package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// everything is the one request the reconciler serves: whatever changed,
// it recomputes the node's whole announcement, which is small.
var everything = reconcile.Request{NamespacedName: types.NamespacedName{Name: "announcements"}}

// Reconciler keeps the node's announcements equal to what Compute makes of
// the cache. Level-based: it reads everything on each run.
type Reconciler struct {
	// Node is the node the speaker runs on.
	Node string
	// IPv6 says whether the node announces IPv6 prefixes (State.IPv6).
	IPv6 bool
	// Cache holds every Subnet and Service and the pods of Node.
	Cache client.Reader
	// Announcer holds the BGP sessions.
	Announcer interface {
		Sync(context.Context, map[netip.Prefix]Source) error
	}
	// Recorder records the refusals as Warning Events.
	Recorder events.EventRecorder

	mu sync.Mutex
	// reported is the last refusal recorded per object, so that an Event
	// is recorded once per reason rather than on every run.
	reported map[types.UID]string
}

// +kubebuilder:rbac:groups="",resources=pods;services,verbs=get;list;watch
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile announces what the objects ask for and withdraws the rest.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	state := State{Node: r.Node, IPv6: r.IPv6}
	var subnets ovnetv1.SubnetList
	if err := r.Cache.List(ctx, &subnets); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing subnets: %w", err)
	}
	var pods corev1.PodList
	if err := r.Cache.List(ctx, &pods); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing pods: %w", err)
	}
	var services corev1.ServiceList
	if err := r.Cache.List(ctx, &services); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing services: %w", err)
	}
	state.Subnets, state.Pods, state.Services = subnets.Items, pods.Items, services.Items
	desired := Compute(state)
	r.report(desired.Refusals)
	return reconcile.Result{}, r.Announcer.Sync(ctx, desired.Prefixes)
}

// report records each refusal not recorded before, and forgets objects
// no longer refused so that a later refusal is recorded again.
func (r *Reconciler) report(refusals []Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := map[types.UID]string{}
	for _, f := range refusals {
		uid := f.Object.GetUID()
		now[uid] = f.Message
		if r.reported[uid] != f.Message {
			r.Recorder.Eventf(f.Object, nil, corev1.EventTypeWarning, f.Reason, "Announce", "%s", f.Message)
		}
	}
	r.reported = now
}

// SetupWithManager runs Reconcile on any change of a Subnet, Service or
// pod of the cache.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{everything}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("speaker").
		Watches(&ovnetv1.Subnet{}, all).
		Watches(&corev1.Service{}, all).
		Watches(&corev1.Pod{}, all).
		Complete(r)
}
