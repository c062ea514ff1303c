package daemon

import (
	"context"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// nodePortReadyTimeout bounds the wait for ovs-vswitchd to create ovn0.
const nodePortReadyTimeout = 10 * time.Second

// setUpNode creates br-int, the Open_vSwitch settings OVN needs when the
// daemon manages them, and mirror0. All of it converges: a restart with
// nothing changed writes nothing.
func (d *Daemon) setUpNode(ctx context.Context) error {
	br := ovs.Bridge{Name: d.cfg.Bridge, DatapathType: d.cfg.DatapathType, FailMode: ovs.FailModeSecure,
		OtherConfig: map[string]string{"disable-in-band": "true"}}
	if err := d.ovs.EnsureBridge(ctx, br); err != nil {
		return err
	}
	if d.cfg.OVNRemote != "" {
		ids := map[string]string{
			"system-id":                d.cfg.NodeName,
			"hostname":                 d.cfg.NodeName,
			"ovn-remote":               d.cfg.OVNRemote,
			"ovn-encap-type":           d.cfg.EncapType,
			"ovn-encap-ip":             d.cfg.EncapIP,
			"ovn-bridge":               d.cfg.Bridge,
			"ovn-bridge-datapath-type": d.cfg.DatapathType,
		}
		if err := d.ovs.SetOpenvSwitchExternalIDs(ctx, ids); err != nil {
			return err
		}
	}
	if err := d.syncMirror(ctx); err != nil {
		return err
	}
	return d.bringUp(ctx, DefaultMirror)
}

// bringUp waits for ovs-vswitchd to create an internal port's device and
// sets it up: tcpdump on a down mirror0 sees nothing.
func (d *Daemon) bringUp(ctx context.Context, name string) error {
	readyCtx, cancel := context.WithTimeout(ctx, nodePortReadyTimeout)
	defer cancel()
	if err := d.ovs.WaitInterfaceReady(readyCtx, name); err != nil {
		return err
	}
	return d.node.setUp(name)
}

// NodeReconciler keeps ovn0, the node's port on the join switch, bound
// to node-<node> with the node's join address, and one route per subnet
// through it, following the node's annotations and the Subnets.
type NodeReconciler struct {
	daemon *Daemon
}

// Reconcile converges ovn0 and the subnet routes; every request means
// "this node".
func (r *NodeReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	d := r.daemon
	node := &corev1.Node{}
	if err := d.cache.Get(ctx, types.NamespacedName{Name: d.cfg.NodeName}, node); err != nil {
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
	if err := d.plugNodePort(ctx, addr); err != nil {
		return ctrl.Result{}, err
	}
	subnets := &ovnetv1.SubnetList{}
	if err := d.cache.List(ctx, subnets); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, d.node.syncRoutes(DefaultNodePort, addr, routePrefixes(subnets, addr.Subnet, d.cfg.ServiceCIDR))
}

// plugNodePort makes ovn0 an internal port bound to node-<node>, then
// gives its device the node's join MAC and address.
func (d *Daemon) plugNodePort(ctx context.Context, addr annotation.Address) error {
	name := DefaultNodePort
	mtu := d.mtu
	port := ovs.Port{Bridge: d.cfg.Bridge, Name: name, Type: ovs.PortTypeInternal, MTURequest: &mtu,
		ExternalIDs: map[string]string{keyIfaceID: ovnname.NodePort(d.cfg.NodeName), keyAttachedMAC: addr.MAC.String()}}
	if err := d.ovs.EnsurePort(ctx, port); err != nil {
		return err
	}
	if err := d.bringUp(ctx, name); err != nil {
		return err
	}
	return d.node.configureNodePort(name, addr, mtu)
}

// routePrefixes are the CIDRs the node routes through ovn0: every
// Subnet's but the join subnet's, which is on-link, and the service CIDR,
// whose load balancers the join switch applies to the node's traffic.
func routePrefixes(subnets *ovnetv1.SubnetList, join, service netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	if service.IsValid() && service.Addr().Is4() == join.Addr().Is4() {
		out = append(out, service.Masked())
	}
	for _, s := range subnets.Items {
		p, err := netip.ParsePrefix(s.Spec.CIDR)
		if err != nil || p.Masked() == join.Masked() || p.Addr().Is4() != join.Addr().Is4() {
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

// SetupWithManager watches this node and every Subnet.
func (r *NodeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	thisNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: r.daemon.cfg.NodeName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("node").
		For(&corev1.Node{}).
		Watches(&ovnetv1.Subnet{}, thisNode).
		Complete(r)
}
