package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// NodeReconciler gives each node an address on the join subnet, the port
// `node-<node>` its daemon binds as ovn0, and the route on the cluster
// router that returns traffic for the node's own address through that port.
type NodeReconciler struct {
	// Client reads nodes.
	Client client.Client
	// Annotator writes the nodes' records.
	Annotator *annotator
	// Network is the shared allocator, northbound client and settings.
	Network *Network
	// Recorder emits Events on nodes that cannot be addressed.
	Recorder events.EventRecorder
	// Subnets is told when the join subnet's usage changes.
	Subnets *SubnetReconciler
}

// SetupWithManager registers the reconciler.
func (r *NodeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&corev1.Node{}).
		WatchesRawSource(r.Network.resyncs.source(resyncNode)).
		Named("node").Complete(r)
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch

// Reconcile converges one node's join address, port and route.
func (r *NodeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	node := &corev1.Node{}
	if err := r.Client.Get(ctx, req.NamespacedName, node); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.gone(ctx, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get node: %w", err)
	}
	ep := r.endpoint(node.Name)
	allocs, ok := heldAllocations(ipam.NodeOwner(node.Name), node.Annotations)
	var err error
	if ok {
		if err = r.Network.reserve(allocs); err == nil {
			err = r.Network.programPort(ctx, ep, allocs)
		}
	} else {
		allocs, err = r.Network.address(ctx, ep)
	}
	if errors.Is(err, ipam.ErrUnknownSubnet) || errors.Is(err, ovn.ErrSwitchMissing) {
		// The join subnet is not programmed yet: its reconciler is about to.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if err != nil {
		r.Recorder.Eventf(node, nil, corev1.EventTypeWarning, ReasonAddressFailed, "Allocate", "%s", err.Error())
		return ctrl.Result{}, err
	}
	if err := r.route(ctx, node, allocs); err != nil {
		return ctrl.Result{}, err
	}
	r.Subnets.NotifyUsage(r.Network.Config.JoinSubnet.Name)
	record := r.Network.recordFor(allocs)
	if record.Recorded(node.Annotations) && node.Annotations[annotation.PortName] == ep.port {
		return ctrl.Result{}, nil
	}
	keys := record.Annotations()
	keys[annotation.PortName] = ep.port
	return ctrl.Result{}, r.Annotator.patch(ctx, resourceNodes, "", node.Name, keys)
}

func (r *NodeReconciler) endpoint(node string) endpoint {
	return endpoint{
		requests: r.Network.requestsFor(ipam.Request{Owner: ipam.NodeOwner(node), Subnet: r.Network.Config.JoinSubnet.Name}, netip.Addr{}),
		port:     ovnname.NodePort(node),
		owner:    ovn.Owner{Kind: ovn.KindNode, Name: node},
		gateway:  true,
	}
}

// route sends traffic for the node's own addresses to its join address of
// their family, and the egress of its pods (of distributed subnets) out
// through it; a dual-stack join address's IPv6 half takes its pods' IPv6
// egress and its IPv6 InternalIP.
func (r *NodeReconciler) route(ctx context.Context, node *corev1.Node, allocs []ipam.Allocation) error {
	router := r.Network.Config.ClusterRouter
	owners := nodeRouteOwners(node.Name)
	var ops []ovnOp
	var families []nodeFamily
	for i, owner := range owners {
		var f nodeFamily
		if i < len(allocs) {
			f = nodeFamily{join: allocs[i].IP}
			f.internal = internalIP(node, f.join)
			families = append(families, f)
		}
		more, err := r.internalRouteOps(router, owner, f)
		if err != nil {
			return fmt.Errorf("route to node %s: %w", node.Name, err)
		}
		ops = append(ops, more...)
	}
	more, err := r.Network.NB.RouterPoliciesOps(router, owners[0], nodePolicies(node.Name, families))
	if err == nil {
		err = r.Network.transact(ctx, append(ops, more...))
	}
	if err != nil {
		return fmt.Errorf("route to node %s: %w", node.Name, err)
	}
	return nil
}

// nodeRouteOwners own a node's static routes, one per family of its join
// address: an owner holds one route, so the IPv6 one has an owner of its
// own.
func nodeRouteOwners(node string) []ovn.Owner {
	return []ovn.Owner{{Kind: ovn.KindNode, Name: node}, {Kind: ovn.KindNode, Name: ipv6Half(node)}}
}

// internalRouteOps make the route of the node's InternalIP of one family
// to its join address of that family, or remove it when the node has no
// such InternalIP or join address.
func (r *NodeReconciler) internalRouteOps(router string, owner ovn.Owner, f nodeFamily) ([]ovnOp, error) {
	if !f.internal.IsValid() {
		return r.Network.NB.DeleteStaticRoutesOps(router, owner)
	}
	return r.Network.NB.StaticRouteOps(ovn.StaticRoute{Router: router, Prefix: f.internal.String(), Nexthop: f.join.String(), Owner: owner})
}

// internalIP is the node's InternalIP of the join address's family;
// invalid when it has none.
func internalIP(node *corev1.Node, join netip.Addr) netip.Addr {
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && join.IsValid() && ip.Is4() == join.Is4() {
			return ip
		}
	}
	return netip.Addr{}
}

func (r *NodeReconciler) gone(ctx context.Context, name string) error {
	router := r.Network.Config.ClusterRouter
	owners := nodeRouteOwners(name)
	var ops []ovnOp
	var err error
	for _, owner := range owners {
		var more []ovnOp
		if more, err = r.Network.NB.DeleteStaticRoutesOps(router, owner); err != nil {
			break
		}
		ops = append(ops, more...)
	}
	if err == nil {
		var more []ovnOp
		more, err = r.Network.NB.RouterPoliciesOps(router, owners[0], nil)
		ops = append(ops, more...)
	}
	if err == nil {
		err = r.Network.transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("remove route to node %s: %w", name, err)
	}
	released, err := r.Network.unaddress(ctx, ipam.NodeOwner(name), ovnname.NodePort(name))
	if len(released) > 0 {
		r.Subnets.NotifyUsage(r.Network.Config.JoinSubnet.Name)
	}
	return err
}
