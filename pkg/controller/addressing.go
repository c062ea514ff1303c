package controller

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
)

// endpoint is anything that gets an address and a logical switch port: a
// pod on its subnet, or a node on the join subnet.
type endpoint struct {
	// requests are what the allocator is asked for: one per family of
	// the subnet, the first family's first.
	requests []ipam.Request
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

// address allocates (or finds the existing allocations of) the endpoint
// and programs its port in one transaction. An allocation whose port could
// not be written is kept for the retry, which finds it again by owner; an
// owner that held nothing and gets only part of its families gets none.
func (n *Network) address(ctx context.Context, ep endpoint) ([]ipam.Allocation, error) {
	var allocs []ipam.Allocation
	held := len(n.IPAM.Holdings(ep.requests[0].Owner)) > 0
	for i, req := range ep.requests {
		if i > 0 && req.MAC == nil {
			req.MAC = allocs[0].MAC // one interface, one MAC
		}
		alloc, err := n.IPAM.Allocate(req)
		if err != nil {
			if i > 0 && !held {
				n.IPAM.Release(req.Owner)
			}
			return nil, err
		}
		allocs = append(allocs, alloc)
	}
	return allocs, n.programPort(ctx, ep, allocs)
}

// requestsFor completes the request of a subnet's first family with one
// for its IPv6 half, if it is dual stack (ipv6, when valid, asks for that
// address). The subnet unknown yet, the first request alone fails as it
// should.
func (n *Network) requestsFor(req ipam.Request, ipv6 netip.Addr) []ipam.Request {
	if _, dual := n.IPAM.Subnet(ipv6Half(req.Subnet)); !dual {
		return []ipam.Request{req}
	}
	return []ipam.Request{req, {Owner: req.Owner, Subnet: ipv6Half(req.Subnet), IP: ipv6, MAC: req.MAC}}
}

// ipsOf lists the addresses of allocations, for logs.
func ipsOf(allocs []ipam.Allocation) []string {
	out := make([]string, len(allocs))
	for i, a := range allocs {
		out[i] = a.IP.String()
	}
	return out
}

// portAddresses is a port's "MAC IP [IPv6]", as its addresses and port
// security have it.
func portAddresses(allocs []ipam.Allocation) string {
	addr := allocs[0].MAC.String()
	for _, a := range allocs {
		addr += " " + a.IP.String()
	}
	return addr
}

func (n *Network) programPort(ctx context.Context, ep endpoint, allocs []ipam.Allocation) error {
	addr := portAddresses(allocs)
	port := ovn.SwitchPort{Switch: allocs[0].Subnet, Name: ep.port, Addresses: []string{addr}, PortSecurity: []string{addr},
		Owner: ep.owner, ExternalIDs: ep.externalIDs}
	if ep.gateway {
		port.PortSecurity = nil
	}
	ops, err := n.NB.SwitchPortOps(port)
	if err == nil {
		err = n.transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("program port %s: %w", ep.port, err)
	}
	return nil
}

// unaddress removes the port and returns the addresses; both are no-ops
// when already done, so a release happens exactly once however often it is
// asked.
func (n *Network) unaddress(ctx context.Context, owner ipam.Owner, port string) ([]ipam.Allocation, error) {
	ops, err := n.NB.DeleteSwitchPortOps(port)
	if err == nil {
		err = n.transact(ctx, ops)
	}
	if err != nil {
		return nil, fmt.Errorf("remove port %s: %w", port, err)
	}
	return n.IPAM.Release(owner), nil
}

// recordFor is the record of allocations (IPv4 first) as the subnet has
// them now: the durable record a restarted controller rebuilds IPAM from,
// and what the node daemon configures. A subnet's gateway or CIDR change
// rewrites it.
func (n *Network) recordFor(allocs []ipam.Allocation) annotation.Address {
	cfg, _ := n.IPAM.Subnet(allocs[0].Subnet)
	rec := annotation.Address{
		Holding: annotation.Holding{IP: allocs[0].IP, MAC: allocs[0].MAC, LogicalSwitch: allocs[0].Subnet},
		Subnet:  cfg.CIDR,
		Gateway: cfg.Gateway,
	}
	if len(allocs) > 1 {
		cfg6, _ := n.IPAM.Subnet(allocs[1].Subnet)
		rec.IPv6, rec.IPv6Subnet, rec.IPv6Gateway = allocs[1].IP, cfg6.CIDR, cfg6.Gateway
	}
	return rec
}

// heldAllocations reads which allocations (IPv4 first) an object's record
// says it holds; ok is false when the object carries no usable record.
func heldAllocations(owner ipam.Owner, annotations map[string]string) ([]ipam.Allocation, bool) {
	h, ok, err := annotation.ParseHolding(annotations)
	if !ok || err != nil {
		return nil, false
	}
	allocs := []ipam.Allocation{{Owner: owner, Subnet: h.LogicalSwitch, IP: h.IP, MAC: h.MAC}}
	if h.IPv6.IsValid() {
		allocs = append(allocs, ipam.Allocation{Owner: owner, Subnet: ipv6Half(h.LogicalSwitch), IP: h.IPv6, MAC: h.MAC})
	}
	return allocs, true
}

// reserve records allocations read back from a record or a port.
func (n *Network) reserve(allocs []ipam.Allocation) error {
	for _, a := range allocs {
		if err := n.IPAM.Reserve(a); err != nil {
			return err
		}
	}
	return nil
}
