package nodesetup

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// NodeReconciler keeps ovn0, the node's port on the join switch, bound
// to node-<node> with the node's join address, and one route per subnet
// through it, following the node's annotations and the Subnets.
type NodeReconciler struct {
	// Node does the work.
	Node *Node
	// Cache reads this node and the Subnets.
	Cache client.Reader
}

// Reconcile converges ovn0 and the subnet routes; every request means
// "this node".
func (r *NodeReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	n := r.Node
	node := &corev1.Node{}
	if err := r.Cache.Get(ctx, types.NamespacedName{Name: n.cfg.NodeName}, node); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // registered later; its creation brings us back.
		}
		return ctrl.Result{}, err
	}
	addr, ok, err := annotation.ParseAddress(node.Annotations)
	if err != nil || !ok {
		// Not addressed yet (the node's update brings us back), or a
		// record only the controller can repair.
		return ctrl.Result{}, err
	}
	if err := n.plugNodePort(ctx, addr); err != nil {
		return ctrl.Result{}, err
	}
	if err := n.forwardIPv6(ctx, addr); err != nil {
		return ctrl.Result{}, err
	}
	subnets := &ovnetv1.SubnetList{}
	if err := r.Cache.List(ctx, subnets); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, n.syncRoutes(NodePort, addr, routePrefixes(subnets, addr, n.cfg.ServiceCIDRs))
}

// plugNodePort makes ovn0 an internal port bound to node-<node>, then
// gives its device the node's join MAC and address.
func (n *Node) plugNodePort(ctx context.Context, addr annotation.Address) error {
	name := NodePort
	mtu := n.cfg.MTU
	ids := map[string]string{attachments.KeyIfaceID: ovnname.NodePort(n.cfg.NodeName), attachments.KeyAttachedMAC: addr.MAC.String()}
	port := ovs.Port{Bridge: n.cfg.Bridge, Name: name, Type: ovs.PortTypeInternal, MTURequest: &mtu, ExternalIDs: ids}
	if err := n.ovs.EnsurePort(ctx, port); err != nil {
		return err
	}
	if err := n.BringUp(ctx, name); err != nil {
		return err
	}
	return n.configureNodePort(name, addr, mtu)
}

// forwardIPv6 turns IPv6 forwarding on once ovn0 has an IPv6 join
// address: the node then routes IPv6 subnets through ovn0, and a packet
// from outside to an IPv6 pod (a route announced over BGP) crosses it
// from the uplink. Never turned on otherwise, as a forwarding host
// ignores router advertisements on links whose accept_ra is 1.
func (n *Node) forwardIPv6(ctx context.Context, addr annotation.Address) error {
	if !addr.IPv6.IsValid() {
		return nil
	}
	changed, err := n.netns.EnsureSysctl(nslink.IPv6Forwarding, "1")
	if changed {
		ctrl.LoggerFrom(ctx).Info("enabled IPv6 forwarding in the node's namespace", "sysctl", nslink.IPv6Forwarding)
	}
	return err
}

// routePrefixes are the CIDRs the node routes through ovn0, in the
// families its join address has: every overlay Subnet's (both of a
// dual-stack one) but the join subnet's, which are on-link, and the service CIDRs,
// whose load balancers the join switch applies to the node's traffic.
func routePrefixes(subnets *ovnetv1.SubnetList, join annotation.Address, services []netip.Prefix) []netip.Prefix {
	joined := map[bool]netip.Prefix{} // the join prefix by "is IPv4"
	for _, fam := range join.Families() {
		joined[fam.Prefix.Addr().Is4()] = fam.Prefix.Masked()
	}
	routed := func(p netip.Prefix) bool {
		j, ok := joined[p.Addr().Is4()]
		return ok && p.Masked() != j
	}
	var out []netip.Prefix
	for _, service := range services {
		if service.IsValid() && routed(service) {
			out = append(out, service.Masked())
		}
	}
	for _, s := range subnets.Items {
		if s.Spec.Underlay() {
			// On the physical network, reached through the node's uplink:
			// a route through ovn0 would send it to the cluster router,
			// which has no port on it.
			continue
		}
		for _, cidr := range annotation.SplitList(s.Spec.CIDR) {
			if p, err := netip.ParsePrefix(cidr); err == nil && routed(p) {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}

// SetupWithManager watches this node and every Subnet.
func (r *NodeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	thisNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: r.Node.cfg.NodeName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("node").
		For(&corev1.Node{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() == r.Node.cfg.NodeName // the cache holds every Node
		}))).
		Watches(&ovnetv1.Subnet{}, thisNode).
		Complete(r)
}
