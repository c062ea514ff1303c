// Package uninstall removes what ovnet leaves once Helm has deleted its
// objects: in the API, the Leases nothing renews any more, which would keep
// a new install's controller waiting for the old leader's, and the
// finalizer on Subnets, which would hold `kubectl delete crd` forever with
// no controller to remove it; on the nodes, the directories its pods kept
// on the host (NodeDirs). It runs as the chart's post-delete hook
// (`ovnet-controller uninstall`); each node's daemon has already removed
// its network (pkg/daemon/uninstall).
package uninstall

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
)

// The hook's grants. kube-system stands for the controller's leader
// election namespace and kube-node-lease for network.gatewayLeaseNamespace:
// the chart maps them, as for the controller's own Roles.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=delete,namespace=kube-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list;delete,namespace=kube-node-lease
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets,verbs=list;patch

// Cluster says where ovnet's objects are.
type Cluster struct {
	// LeaderLease is the controller's leader election Lease.
	LeaderLease types.NamespacedName
	// GatewayLeaseNamespace holds the gateway heartbeat Leases.
	GatewayLeaseNamespace string
	// NodeDirs, when set, cleans the nodes' directories.
	NodeDirs *NodeDirs
}

// Step is one part of the clean-up and how it went.
type Step struct {
	Name string
	// Done says what was removed.
	Done string
	Err  error
}

// Clean removes the Leases and the Subnets' finalizer. Every step runs
// even when an earlier one failed; their errors are joined. Run again, it
// finds nothing to do.
func Clean(ctx context.Context, c client.Client, cl Cluster, log logr.Logger) ([]Step, error) {
	steps := []struct {
		name string
		do   func(context.Context, client.Client, Cluster) (string, error)
	}{
		{"leader Lease " + cl.LeaderLease.String(), deleteLeaderLease},
		{"gateway Leases in " + cl.GatewayLeaseNamespace, deleteGatewayLeases},
		{"Subnet finalizer " + ovnetv1.SubnetFinalizer, removeFinalizers},
		{"node directories", cleanNodeDirs},
	}
	var done []Step
	var errs []error
	for _, s := range steps {
		what, err := s.do(ctx, c, cl)
		done = append(done, Step{Name: s.name, Done: what, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			log.Error(err, "uninstall step failed", "step", s.name)
			continue
		}
		log.Info("uninstall step done", "step", s.name, "done", what)
	}
	return done, errors.Join(errs...)
}

func deleteLeaderLease(ctx context.Context, c client.Client, cl Cluster) (string, error) {
	lease := &coordinationv1.Lease{}
	lease.Namespace, lease.Name = cl.LeaderLease.Namespace, cl.LeaderLease.Name
	switch err := c.Delete(ctx, lease); {
	case apierrors.IsNotFound(err):
		return "none", nil
	case err != nil:
		return "", err
	}
	return "deleted", nil
}

// deleteGatewayLeases deletes the heartbeat Leases by their name: the
// namespace (kube-node-lease by default) also holds every kubelet's.
func deleteGatewayLeases(ctx context.Context, c client.Client, cl Cluster) (string, error) {
	var leases coordinationv1.LeaseList
	if err := c.List(ctx, &leases, client.InNamespace(cl.GatewayLeaseNamespace)); err != nil {
		return "", err
	}
	deleted := 0
	for i := range leases.Items {
		if _, ok := gatewayhealth.NodeOf(leases.Items[i].Name); !ok {
			continue
		}
		if err := client.IgnoreNotFound(c.Delete(ctx, &leases.Items[i])); err != nil {
			return "", err
		}
		deleted++
	}
	return fmt.Sprintf("%d deleted", deleted), nil
}

// removeFinalizers takes ovnet's finalizer off every Subnet. The Subnets
// stay (Helm keeps the CRD); a new install adds the finalizer again.
func removeFinalizers(ctx context.Context, c client.Client, _ Cluster) (string, error) {
	var subnets ovnetv1.SubnetList
	if err := c.List(ctx, &subnets); err != nil {
		return "", err
	}
	removed := 0
	for i := range subnets.Items {
		s := &subnets.Items[i]
		if !controllerutil.ContainsFinalizer(s, ovnetv1.SubnetFinalizer) {
			continue
		}
		patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.RemoveFinalizer(s, ovnetv1.SubnetFinalizer)
		if err := client.IgnoreNotFound(c.Patch(ctx, s, patch)); err != nil {
			return "", fmt.Errorf("subnet %s: %w", s.Name, err)
		}
		removed++
	}
	return fmt.Sprintf("removed from %d", removed), nil
}
