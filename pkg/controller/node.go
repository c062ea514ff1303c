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
	// Client reads and annotates nodes.
	Client client.Client
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
	return ctrl.Result{}, patchAnnotations(ctx, r.Client, node, keys)
}

func (r *NodeReconciler) endpoint(node string) endpoint {
	return endpoint{
		requests: r.Network.requestsFor(ipam.Request{Owner: ipam.NodeOwner(node), Subnet: r.Network.Config.JoinSubnet.Name}, netip.Addr{}),
		port:     ovnname.NodePort(node),
		owner:    ovn.Owner{Kind: ovn.KindNode, Name: node},
		gateway:  true,
	}
}

// route sends traffic for the node's own address to its join address,
// and the egress of its pods (of distributed subnets) out through it; a
// dual-stack join address's IPv6 half takes its pods' IPv6 egress.
func (r *NodeReconciler) route(ctx context.Context, node *corev1.Node, allocs []ipam.Allocation) error {
	alloc := allocs[0]
	owner := ovn.Owner{Kind: ovn.KindNode, Name: node.Name}
	router := r.Network.Config.ClusterRouter
	ip, hasInternal := internalIP(node, alloc.IP)
	var ops []ovnOp
	var err error
	if hasInternal {
		ops, err = r.Network.NB.StaticRouteOps(ovn.StaticRoute{Router: router, Prefix: ip.String(), Nexthop: alloc.IP.String(), Owner: owner})
	} else {
		ops, err = r.Network.NB.DeleteStaticRoutesOps(router, owner)
	}
	if err == nil {
		var more []ovnOp
		policies := nodePolicies(node.Name, alloc.IP, ip, hasInternal)
		if len(allocs) > 1 {
			policies = append(policies, distributedPolicy(node.Name, allocs[1].IP))
		}
		more, err = r.Network.NB.RouterPoliciesOps(router, owner, policies)
		ops = append(ops, more...)
	}
	if err == nil {
		err = r.Network.transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("route to node %s: %w", node.Name, err)
	}
	return nil
}

// internalIP is the node's InternalIP of the join address's family.
func internalIP(node *corev1.Node, join netip.Addr) (netip.Addr, bool) {
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() == join.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func (r *NodeReconciler) gone(ctx context.Context, name string) error {
	owner := ovn.Owner{Kind: ovn.KindNode, Name: name}
	ops, err := r.Network.NB.DeleteStaticRoutesOps(r.Network.Config.ClusterRouter, owner)
	if err == nil {
		var more []ovnOp
		more, err = r.Network.NB.RouterPoliciesOps(r.Network.Config.ClusterRouter, owner, nil)
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
