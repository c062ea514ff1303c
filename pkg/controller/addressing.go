package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

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
	ops, err := n.NB.SwitchPortOps(ovn.SwitchPort{
		Switch: alloc.Subnet, Name: ep.port, Addresses: []string{addr}, PortSecurity: []string{addr},
		Owner: ep.owner, ExternalIDs: ep.externalIDs,
	})
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

// recordAnnotations are the keys that record an allocation on its object;
// they are the durable record a restarted controller rebuilds IPAM from.
func (n *Network) recordAnnotations(alloc ipam.Allocation) map[string]string {
	cfg, _ := n.IPAM.Subnet(alloc.Subnet)
	return map[string]string{
		annotation.IPAddress:      alloc.IP.String(),
		annotation.MACAddress:     alloc.MAC.String(),
		annotation.CIDRWritten:    cfg.CIDR.String(),
		annotation.GatewayWritten: cfg.Gateway.String(),
		annotation.LogicalSwitch:  alloc.Subnet,
		annotation.Allocated:      annotation.True,
	}
}

// recordedAllocation reads an allocation back from an object's annotations;
// ok is false when the object carries no complete record.
func recordedAllocation(owner ipam.Owner, annotations map[string]string) (ipam.Allocation, bool) {
	if annotations[annotation.Allocated] != annotation.True {
		return ipam.Allocation{}, false
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(annotations[annotation.IPAddress]))
	if err != nil {
		return ipam.Allocation{}, false
	}
	mac, err := ipam.ParseMAC(annotations[annotation.MACAddress])
	if err != nil {
		return ipam.Allocation{}, false
	}
	subnet := annotations[annotation.LogicalSwitch]
	if subnet == "" {
		return ipam.Allocation{}, false
	}
	return ipam.Allocation{Owner: owner, Subnet: subnet, IP: ip, MAC: mac}, true
}

// recorded reports whether annotations already hold exactly this record.
func recorded(annotations, record map[string]string) bool {
	for k, v := range record {
		if annotations[k] != v {
			return false
		}
	}
	return true
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

// Owners in the allocator.
func podOwner(namespace, name string) ipam.Owner { return ipam.Owner("pod/" + namespace + "/" + name) }
func nodeOwner(name string) ipam.Owner           { return ipam.Owner("node/" + name) }

// recordFromPort builds the annotation record a port's "MAC IP" implies.
func recordFromPort(subnet, mac, ip string) map[string]string {
	return map[string]string{
		annotation.Allocated:     annotation.True,
		annotation.LogicalSwitch: subnet,
		annotation.MACAddress:    mac,
		annotation.IPAddress:     ip,
	}
}
