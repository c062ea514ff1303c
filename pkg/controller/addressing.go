package controller

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
)

// endpoint is anything that gets an address and a logical switch port: a
// pod on its subnet, or a node on the join subnet.
type endpoint struct {
	// request is what the allocator is asked for.
	request ipam.Request
	// port is the logical switch port's name.
	port string
	// owner marks the port's row.
	owner ovn.Owner
	// externalIDs are extra keys recorded on the port.
	externalIDs map[string]string
	// gateway marks a node's port: it carries traffic rerouted to and
	// from outside the cluster, whose addresses are not the node's, so
	// it gets no port security.
	gateway bool
}

// address allocates (or finds the existing allocation of) the endpoint and
// programs its port in one transaction. An allocation whose port could not
// be written is kept for the retry, which finds it again by owner.
func (n *Network) address(ctx context.Context, ep endpoint) (ipam.Allocation, error) {
	alloc, err := n.IPAM.Allocate(ep.request)
	if err != nil {
		return ipam.Allocation{}, err
	}
	return alloc, n.programPort(ctx, ep, alloc)
}

func (n *Network) programPort(ctx context.Context, ep endpoint, alloc ipam.Allocation) error {
	addr := alloc.MAC.String() + " " + alloc.IP.String()
	port := ovn.SwitchPort{Switch: alloc.Subnet, Name: ep.port, Addresses: []string{addr}, PortSecurity: []string{addr},
		Owner: ep.owner, ExternalIDs: ep.externalIDs}
	if ep.gateway {
		port.PortSecurity = nil
	}
	ops, err := n.NB.SwitchPortOps(port)
	if err == nil {
		err = n.NB.Transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("program port %s: %w", ep.port, err)
	}
	return nil
}

// unaddress removes the port and returns the address; both are no-ops when
// already done, so a release happens exactly once however often it is asked.
func (n *Network) unaddress(ctx context.Context, owner ipam.Owner, port string) (ipam.Allocation, bool, error) {
	ops, err := n.NB.DeleteSwitchPortOps(port)
	if err == nil {
		err = n.NB.Transact(ctx, ops)
	}
	if err != nil {
		return ipam.Allocation{}, false, fmt.Errorf("remove port %s: %w", port, err)
	}
	alloc, released := n.IPAM.Release(owner)
	return alloc, released, nil
}

// recordFor is the record of an allocation as the subnet has it now: the
// durable record a restarted controller rebuilds IPAM from, and what the
// node daemon configures. A subnet's gateway or CIDR change rewrites it.
func (n *Network) recordFor(alloc ipam.Allocation) annotation.Address {
	cfg, _ := n.IPAM.Subnet(alloc.Subnet)
	return annotation.Address{
		Holding: annotation.Holding{IP: alloc.IP, MAC: alloc.MAC, LogicalSwitch: alloc.Subnet},
		Subnet:  cfg.CIDR,
		Gateway: cfg.Gateway,
	}
}

// heldAllocation reads which allocation an object's record says it holds;
// ok is false when the object carries no usable record.
func heldAllocation(owner ipam.Owner, annotations map[string]string) (ipam.Allocation, bool) {
	h, ok, err := annotation.ParseHolding(annotations)
	if !ok || err != nil {
		return ipam.Allocation{}, false
	}
	return ipam.Allocation{Owner: owner, Subnet: h.LogicalSwitch, IP: h.IP, MAC: h.MAC}, true
}

// patchAnnotations merges keys into obj's annotations with one merge patch.
func patchAnnotations(ctx context.Context, c client.Client, obj client.Object, keys map[string]string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": keys}})
	if err != nil {
		return fmt.Errorf("encode annotations: %w", err)
	}
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("annotate %s: %w", obj.GetName(), err)
	}
	return nil
}
