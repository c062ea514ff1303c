package heartbeat

import (
	"context"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
)

// Heartbeat renews the node's gateway Lease while any centralized Subnet
// lists the node; other nodes write nothing. It runs on every daemon, not
// only a leader's.
type Heartbeat struct {
	// Node is this node's name.
	Node string
	// Namespace holds the Lease.
	Namespace string
	// Cache reads this node and the Subnets; Client writes the Lease and
	// API reads it back when a write finds it changed.
	Cache  client.Reader
	Client client.Client
	API    client.Reader
	// Checker looks at the data path.
	Checker *Checker
	Logger  logr.Logger
	// last is the last report written, to log changes once.
	last *gatewayhealth.Report
	// lease is the Lease as last written.
	lease *coordinationv1.Lease
}

// NeedLeaderElection is false: every node reports for itself.
func (h *Heartbeat) NeedLeaderElection() bool { return false }

// The node's Lease: gatewayhealth.Renew updates it, reads it back through
// the API reader on a conflict and creates it when missing. kube-node-lease
// stands for --gateway-lease-namespace: the chart puts this Role in
// network.gatewayLeaseNamespace.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kube-node-lease

// Start checks and renews every RenewInterval until ctx ends.
func (h *Heartbeat) Start(ctx context.Context) error {
	tick := time.NewTicker(gatewayhealth.RenewInterval)
	defer tick.Stop()
	for {
		h.beat(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (h *Heartbeat) beat(ctx context.Context) {
	listed, err := h.listed(ctx)
	if err != nil || !listed {
		return
	}
	report := h.Checker.Check(h.nodeIP(ctx))
	lease, err := gatewayhealth.Renew(ctx, gatewayhealth.Writer{Client: h.Client, API: h.API, Namespace: h.Namespace},
		h.lease, h.Node, report, time.Now())
	h.lease = lease
	if err != nil {
		if ctx.Err() == nil {
			h.Logger.Error(err, "gateway heartbeat not written")
		}
		return
	}
	if h.last == nil || *h.last != report {
		h.Logger.Info("gateway data path", "ready", report.Ready, "reason", report.Reason)
		h.last = &report
	}
}

// listed reports whether a centralized Subnet names this node.
func (h *Heartbeat) listed(ctx context.Context) (bool, error) {
	var subnets ovnetv1.SubnetList
	if err := h.Cache.List(ctx, &subnets); err != nil {
		return false, err
	}
	for _, s := range subnets.Items {
		if s.Spec.ListsGatewayNode(h.Node) {
			return true, nil
		}
	}
	return false, nil
}

// nodeIP is the node's first InternalIP, invalid when it has none.
func (h *Heartbeat) nodeIP(ctx context.Context) netip.Addr {
	node := &corev1.Node{}
	if err := h.Cache.Get(ctx, client.ObjectKey{Name: h.Node}, node); err != nil {
		return netip.Addr{}
	}
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			return ip
		}
	}
	return netip.Addr{}
}
