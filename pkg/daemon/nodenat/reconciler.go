package nodenat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// Converger is what the reconciler converges: one of the node's Tables.
type Converger interface {
	Family() Family
	Converge(State) (Changes, error)
}

// Reconciler keeps the node's nftables tables in step with the Subnets,
// the Services, their EndpointSlices and this Node. It is level-based:
// every event means "the tables" and each run recomputes all of them,
// which each table then converges in place.
type Reconciler struct {
	// NodeName is this node.
	NodeName string
	// Tables are the node's tables, one per family.
	Tables []Converger
	// Cache reads the objects.
	Cache client.Reader
	// ServiceCIDRs are the ranges of ClusterIPs the node routes through
	// ovn0, at most one per family.
	ServiceCIDRs []netip.Prefix
}

// tableRequest is the one request every watched object maps to.
var tableRequest = ctrl.Request{NamespacedName: types.NamespacedName{Name: TableName}}

// Reconcile computes the desired state of each table and converges it; a
// change is logged once, a converge that changes nothing is silent. One
// table's failure does not hold back the other's.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	in, ready, err := r.inputs(ctx)
	if err != nil || !ready {
		return ctrl.Result{}, err
	}
	var errs []error
	for _, table := range r.Tables {
		f := table.Family()
		state := Desired(in, f)
		changes, err := table.Converge(state)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s %s: %w", f, TableName, err))
			continue
		}
		if !changes.Empty() {
			ctrl.LoggerFrom(ctx).Info("nftables table converged", "table", f.String()+" "+TableName, "changes", changes.String(),
				"natRanges", len(state.NATSubnets), "nodePorts", len(state.NodePorts))
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// inputs reads the objects; ready is false while the node has no join
// address (ovn0 carries no traffic yet, and the join subnet to leave out
// is not known); the node's update brings us back.
func (r *Reconciler) inputs(ctx context.Context) (in Inputs, ready bool, err error) {
	node := &corev1.Node{}
	if err := r.Cache.Get(ctx, types.NamespacedName{Name: r.NodeName}, node); err != nil {
		if apierrors.IsNotFound(err) {
			return Inputs{}, false, nil
		}
		return Inputs{}, false, err
	}
	addr, ok, err := annotation.ParseAddress(node.Annotations)
	if err != nil || !ok {
		return Inputs{}, false, err
	}
	subnets := &ovnetv1.SubnetList{}
	services := &corev1.ServiceList{}
	slices := &discoveryv1.EndpointSliceList{}
	nodes := &corev1.NodeList{}
	for _, list := range []client.ObjectList{subnets, services, slices, nodes} {
		if err := r.Cache.List(ctx, list); err != nil {
			return Inputs{}, false, err
		}
	}
	var joins []netip.Prefix
	for _, fam := range addr.Families() {
		joins = append(joins, fam.Prefix.Masked())
	}
	return Inputs{NodeName: r.NodeName, Joins: joins, Subnets: subnets.Items,
		Services: services.Items, Slices: slices.Items, Nodes: nodes.Items, ServiceCIDRs: r.ServiceCIDRs}, true, nil
}

// +kubebuilder:rbac:groups="",resources=services;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets,verbs=get;list;watch

// SetupWithManager watches every Subnet, Service and EndpointSlice, this
// node, and the other nodes' InternalIPs, all mapped to the one table
// request.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	table := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
		return []ctrl.Request{tableRequest}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("nodenat").
		Watches(&corev1.Node{}, table, builder.WithPredicates(r.nodeMatters())).
		Watches(&ovnetv1.Subnet{}, table).
		Watches(&corev1.Service{}, table).
		Watches(&discoveryv1.EndpointSlice{}, table).
		Complete(r)
}

// nodeMatters lets through every change of this node, and of another
// node only its arrival, departure or a new InternalIP: the other nodes'
// status updates (conditions, images) are frequent and change nothing
// here.
func (r *Reconciler) nodeMatters() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		oldNode, okOld := e.ObjectOld.(*corev1.Node)
		newNode, okNew := e.ObjectNew.(*corev1.Node)
		if !okOld || !okNew || newNode.Name == r.NodeName {
			return true
		}
		return !equality.Semantic.DeepEqual(internalIPs(oldNode), internalIPs(newNode))
	}}
}

// internalIPs are the node's InternalIP addresses, in order.
func internalIPs(node *corev1.Node) []string {
	var out []string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			out = append(out, a.Address)
		}
	}
	return out
}
