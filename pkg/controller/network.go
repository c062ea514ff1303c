package controller

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// SubnetDefaults describes a subnet the controller creates at start.
type SubnetDefaults struct {
	Name    string
	CIDR    string
	Gateway string // empty: the first address of CIDR
}

// Config holds the cluster-wide settings, from the controller's flags.
type Config struct {
	// ClusterRouter is the logical router every subnet attaches to.
	ClusterRouter string
	// DefaultSubnet receives pods of namespaces without a subnet of their own.
	DefaultSubnet SubnetDefaults
	// JoinSubnet connects nodes to the cluster router; never used for pods.
	JoinSubnet SubnetDefaults
	// ServiceCIDRs are reserved for Services, at most one per family; no
	// subnet may overlap them.
	ServiceCIDRs []netip.Prefix
	// GatewayLeaseNamespace holds the gateway nodes' heartbeat Leases.
	GatewayLeaseNamespace string
	// GCInterval is the period of the garbage collector's sweep.
	GCInterval time.Duration
	// PodWorkers is the number of pods reconciled concurrently.
	PodWorkers int
}

// Network is the state the reconcilers share: the allocator, the
// northbound client and the settings. Its IPAM is only trusted once ready is
// closed, after the bootstrap rebuilt it from the cluster's records.
type Network struct {
	Config Config
	IPAM   *ipam.IPAM
	NB     *ovn.Client
	ready  chan struct{}
	// waiters are pods to retry when their subnet frees an address or becomes ready.
	waiters *waiters
	// pending are the pods whose request failed, by subnet, for its condition.
	pending *pending
	// retries spaces out the attempts and Events of pods that keep failing.
	retries *retries
	// resyncs reach every reconciler's queue, for a rebuild of the database.
	resyncs *resyncs
	// northbound is the NB connection as last checked by NorthboundMonitor.
	northbound northbound
}

// NewNetwork returns a Network whose reconcilers wait for the bootstrap.
func NewNetwork(cfg Config, nb *ovn.Client) *Network {
	return &Network{Config: cfg, IPAM: ipam.New(), NB: nb, ready: make(chan struct{}), waiters: newWaiters(), pending: newPending(),
		retries: newRetries(), resyncs: newResyncs()}
}

// waitReady blocks a reconciler until the bootstrap has rebuilt IPAM, so
// that nothing is allocated from a half-known address space.
func (n *Network) waitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports whether the bootstrap has finished.
func (n *Network) Ready() bool {
	select {
	case <-n.ready:
		return true
	default:
		return false
	}
}

// ensureClusterRows writes the rows of the cluster as a whole, which no
// reconciler owns: the cluster router, its default route and service CIDR
// policy, the cluster's OVN options, and the load balancer group every
// Service joins and every switch carries (so it comes before any switch).
// Each transaction writes nothing when its rows are already there.
func (n *Network) ensureClusterRows(ctx context.Context) error {
	steps := []struct {
		name string
		ops  func() ([]ovnOp, error)
	}{
		{"cluster router", func() ([]ovnOp, error) {
			return n.NB.RouterOps(ovn.Router{Name: n.Config.ClusterRouter, Owner: n.clusterOwner()})
		}},
		{"cluster routing", n.clusterRoutingOps},
		{"cluster options", n.clusterOptionsOps},
		{"service load balancer group", func() ([]ovnOp, error) { return n.NB.LoadBalancerGroupOps(n.serviceGroup()) }},
	}
	for _, step := range steps {
		ops, err := step.ops()
		if err == nil {
			err = n.NB.Transact(ctx, ops)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return nil
}

// clusterOptionsOps set NB_Global's options the cluster runs OVN with,
// leaving the keys of others (ovn-northd, an operator) alone. The
// distributed router sends a reply from the chassis of the pod that
// answers, which need not be where the request came in: an underlay pod's
// request enters the router on its own chassis and the overlay pod's
// reply leaves through the localnet port's conntrack zone on another; a
// request from outside enters through any node's join port and the reply
// leaves through its own node's. Such a zone sees a reply without its
// request, which conntrack calls invalid and ovn-northd would drop (on
// every switch with load balancers, that is every switch). Kube-OVN's
// controller sets the same option at start, whatever its subnets.
func (n *Network) clusterOptionsOps() ([]ovnOp, error) {
	return n.NB.GlobalOptionsOps(map[string]string{ovn.OptionUseCtInvMatch: "false"})
}

// clusterOwner marks rows that belong to the cluster as a whole.
func (n *Network) clusterOwner() ovn.Owner {
	return ovn.Owner{Kind: ovn.KindCluster, Name: n.Config.ClusterRouter}
}

// serviceGroup names the load balancer group of every Service, attached
// to every subnet's switch.
func (n *Network) serviceGroup() string { return ovnname.ServiceGroup(n.Config.ClusterRouter) }

// ovnOp is one northbound operation.
type ovnOp = ovsdb.Operation
