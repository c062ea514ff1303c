package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// GarbageCollector releases what the reconcilers could not see go: pods,
// nodes and namespaces deleted while no controller ran, and northbound rows
// ovnet owns whose object is gone. Rows ovnet does not own are never touched.
type GarbageCollector struct {
	// Client lists the live objects from the manager's cache.
	Client client.Client
	// Network holds the allocations and the northbound client.
	Network *Network
	// Subnets is told when a release changes a subnet's usage.
	Subnets *SubnetReconciler
	// PeerSets collects the shared peer address sets no ACL names.
	PeerSets *peerSets
}

// Run sweeps every GCInterval until ctx ends.
func (g *GarbageCollector) Run(ctx context.Context) error {
	if g.Network.Config.GCInterval <= 0 {
		<-ctx.Done()
		return nil
	}
	ticker := time.NewTicker(g.Network.Config.GCInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			if err := g.Sweep(ctx); err != nil {
				log.FromContext(ctx).Error(err, "garbage collection failed; next sweep retries")
			}
		}
	}
}

// Sweep runs one collection.
func (g *GarbageCollector) Sweep(ctx context.Context) error {
	if err := g.releaseGone(ctx); err != nil {
		return err
	}
	if err := g.deleteOrphanSubnets(ctx); err != nil {
		return err
	}
	return g.deleteGarbageRows(ctx)
}

// releaseGone releases allocations whose owner no longer exists. The
// allocations are read before the objects: an allocation made after the
// read belongs to an object the lists are sure to contain. The objects
// are listed once, not looked up one by one: at 20,000 pods the lookups'
// copies were a large share of a restart's garbage collection.
func (g *GarbageCollector) releaseGone(ctx context.Context) error {
	var held []ipam.Allocation
	for _, s := range g.Network.IPAM.Subnets() {
		held = append(held, g.Network.IPAM.Allocations(s)...)
	}
	owners, err := listOwners(ctx, g.Client)
	if err != nil {
		return err
	}
	for _, a := range held {
		gone, port, err := g.ownerGone(ctx, owners, a.Owner)
		if err != nil {
			return err
		}
		if !gone {
			continue
		}
		if released, err := g.Network.unaddress(ctx, a.Owner, port); err != nil {
			return err
		} else if len(released) > 0 {
			subnet := nameOfHalf(a.Subnet)
			g.Subnets.NotifyUsage(subnet)
			g.Network.waiters.wakeAll(subnet)
			log.FromContext(ctx).Info("released address of a gone owner", "owner", a.Owner, "ips", ipsOf(released))
		}
	}
	return nil
}

// listOwners reads the pods and nodes in the cache: each owner present,
// with whether it may hold an address (a node, or a pod neither finished
// nor on the host's network).
func listOwners(ctx context.Context, c client.Reader) (map[ipam.Owner]bool, error) {
	var pods corev1.PodList
	var nodes corev1.NodeList
	for _, list := range []client.ObjectList{&pods, &nodes} {
		if err := c.List(ctx, list, readOnly); err != nil {
			return nil, fmt.Errorf("list owners of addresses: %w", err)
		}
	}
	owners := make(map[ipam.Owner]bool, len(pods.Items)+len(nodes.Items))
	for i := range pods.Items {
		p := &pods.Items[i]
		owners[ipam.PodOwner(p.Namespace, p.Name)] = !finished(p) && !p.Spec.HostNetwork
	}
	for i := range nodes.Items {
		owners[ipam.NodeOwner(nodes.Items[i].Name)] = true
	}
	return owners, nil
}

// ownerGone reports whether an allocation's owner is gone for good, and
// the port the owner had.
func (g *GarbageCollector) ownerGone(ctx context.Context, owners map[ipam.Owner]bool, owner ipam.Owner) (bool, string, error) {
	holds, present := owners[owner]
	switch owner.Kind {
	case ipam.OwnerNode:
		return !present, ovnname.NodePort(owner.Name), nil
	case ipam.OwnerPod:
		port := ovnname.PodPort(owner.Namespace, owner.Name)
		if present {
			return !holds, port, nil
		}
		kept, err := g.keptPort(ctx, port)
		return !kept, port, err
	}
	return false, "", nil
}

func (g *GarbageCollector) keptPort(ctx context.Context, port string) (bool, error) {
	row, found, err := g.Network.NB.SwitchPort(port)
	if err != nil || !found || row.ExternalIDs[ExternalIDStatefulSet] == "" {
		return false, err
	}
	return statefulSetWants(ctx, g.Client, row.Owner.Namespace, row.ExternalIDs[ExternalIDStatefulSet], row.Owner.Name)
}

// deleteOrphanSubnets deletes Subnets made for namespaces that are gone.
func (g *GarbageCollector) deleteOrphanSubnets(ctx context.Context) error {
	var list ovnetv1.SubnetList
	if err := g.Client.List(ctx, &list, client.HasLabels{LabelNamespace}); err != nil {
		return err
	}
	for i := range list.Items {
		s := &list.Items[i]
		err := g.Client.Get(ctx, client.ObjectKey{Name: s.Labels[LabelNamespace]}, &corev1.Namespace{})
		if !apierrors.IsNotFound(err) {
			if err != nil {
				return err
			}
			continue
		}
		if err := g.Client.Delete(ctx, s); ignoreNotFound(err) != nil {
			return fmt.Errorf("delete subnet %s of a gone namespace: %w", s.Name, err)
		}
	}
	return nil
}

// deleteGarbageRows removes owned rows whose owner is not alive.
func (g *GarbageCollector) deleteGarbageRows(ctx context.Context) error {
	var subnets ovnetv1.SubnetList
	if err := g.Client.List(ctx, &subnets); err != nil {
		return err
	}
	subnetExists := make(map[string]bool, len(subnets.Items))
	for _, s := range subnets.Items {
		subnetExists[s.Name] = true
	}
	// Many rows share an owner (a policy's ACLs, port group and sets):
	// each owner is looked up once.
	known := map[ovn.Owner]bool{}
	alive := func(o ovn.Owner) bool {
		if v, ok := known[o]; ok {
			return v
		}
		v := g.alive(ctx, o, subnetExists)
		known[o] = v
		return v
	}
	ops, err := g.Network.NB.GarbageOps(alive)
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		log.FromContext(ctx).Info("removing northbound rows of gone objects", "ops", len(ops))
	}
	if err := g.Network.NB.Transact(ctx, ops); err != nil {
		return err
	}
	if g.PeerSets == nil {
		return nil
	}
	return g.PeerSets.collect(ctx)
}

// exists reports whether the object is in the cache; on a read error it
// says yes, so a row is never collected on a guess.
func (g *GarbageCollector) exists(ctx context.Context, obj client.Object, namespace, name string) bool {
	err := g.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj)
	return !apierrors.IsNotFound(err)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// alive reports whether the owner of a row ovnet wrote still exists.
func (g *GarbageCollector) alive(ctx context.Context, o ovn.Owner, subnetExists map[string]bool) bool {
	switch o.Kind {
	case ovn.KindPod:
		_, ok := g.Network.IPAM.Lookup(ipam.PodOwner(o.Namespace, o.Name))
		return ok
	case ovn.KindNode:
		// A node's IPv6 route is owned by its IPv6 half (nodeRouteOwners).
		_, ok := g.Network.IPAM.Lookup(ipam.NodeOwner(nameOfHalf(o.Name)))
		return ok
	case ovn.KindSubnet:
		_, ok := g.Network.IPAM.Subnet(o.Name)
		return ok || subnetExists[o.Name]
	case ovn.KindCluster:
		router := g.Network.Config.ClusterRouter
		return o.Name == router || o.Name == ipv6Half(router)
	case ovn.KindService:
		return g.exists(ctx, &corev1.Service{}, o.Namespace, o.Name)
	case ovn.KindNetworkPolicy:
		return g.exists(ctx, &networkingv1.NetworkPolicy{}, o.Namespace, o.Name)
	case ovn.KindNamespace:
		return g.exists(ctx, &corev1.Namespace{}, "", o.Name)
	case ovn.KindPeerSelector:
		return true // collected below, knowing which sets policies use
	}
	return true // a kind this version does not know: leave it alone
}
