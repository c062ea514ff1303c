package nodesetup

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
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// NodePort is the node's internal port on the join switch.
const NodePort = "ovn0"

// portReadyTimeout bounds the wait for ovs-vswitchd to create an
// internal port's device, which takes milliseconds.
const portReadyTimeout = 10 * time.Second

// Config is what the node set-up is told at start.
type Config struct {
	// NodeName is the Kubernetes node, OVN's chassis and node-<node>'s.
	NodeName string
	// Bridge is the integration bridge; DatapathType its datapath.
	Bridge       string
	DatapathType string
	// OVN settings written into Open_vSwitch external_ids when OVNRemote
	// is set; left to someone else otherwise.
	OVNRemote string
	EncapType string
	EncapIP   string
	// ServiceCIDR is routed through ovn0; the zero value routes none.
	ServiceCIDR netip.Prefix
	// MTU of ovn0.
	MTU int
}

// Node sets up the node's bridge and ports over OVSDB and its links and
// routes over netlink.
type Node struct {
	cfg Config
	// ovs is the Open_vSwitch database client.
	ovs *ovs.Client
	// netns is the namespace holding br-int and ovn0.
	netns *nslink.Namespace
}

// New returns the set-up of one node.
func New(cfg Config, c *ovs.Client, netns *nslink.Namespace) *Node {
	return &Node{cfg: cfg, ovs: c, netns: netns}
}

// EnsureBridge creates br-int and the Open_vSwitch settings OVN needs when
// the daemon manages them. It converges: a restart with nothing changed
// writes nothing.
func (n *Node) EnsureBridge(ctx context.Context) error {
	br := ovs.Bridge{Name: n.cfg.Bridge, DatapathType: n.cfg.DatapathType, FailMode: ovs.FailModeSecure,
		OtherConfig: map[string]string{"disable-in-band": "true"}}
	if err := n.ovs.EnsureBridge(ctx, br); err != nil {
		return err
	}
	if n.cfg.OVNRemote == "" {
		return nil
	}
	ids := map[string]string{
		"system-id":                n.cfg.NodeName,
		"hostname":                 n.cfg.NodeName,
		"ovn-remote":               n.cfg.OVNRemote,
		"ovn-encap-type":           n.cfg.EncapType,
		"ovn-encap-ip":             n.cfg.EncapIP,
		"ovn-bridge":               n.cfg.Bridge,
		"ovn-bridge-datapath-type": n.cfg.DatapathType,
	}
	return n.ovs.SetOpenvSwitchExternalIDs(ctx, ids)
}

// BringUp waits for ovs-vswitchd to create an internal port's device and
// sets it up: tcpdump on a down mirror0 sees nothing.
func (n *Node) BringUp(ctx context.Context, name string) error {
	readyCtx, cancel := context.WithTimeout(ctx, portReadyTimeout)
	defer cancel()
	if err := n.ovs.WaitInterfaceReady(readyCtx, name); err != nil {
		return err
	}
	return n.netns.SetUp(name)
}

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
	subnets := &ovnetv1.SubnetList{}
	if err := r.Cache.List(ctx, subnets); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, n.syncRoutes(NodePort, addr, routePrefixes(subnets, addr.Subnet, n.cfg.ServiceCIDR))
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
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: r.Node.cfg.NodeName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("node").
		For(&corev1.Node{}).
		Watches(&ovnetv1.Subnet{}, thisNode).
		Complete(r)
}
