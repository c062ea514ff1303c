package nodenat

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// State is what the table enforces on one node.
type State struct {
	// NATSubnets are the IPv4 ranges of the subnets with natOutgoing on:
	// their egress is masqueraded to the node's address and only replies
	// (and NodePort traffic) reach them from outside.
	NATSubnets []Range
	// NodePorts are the node ports of this node's Services, sorted.
	NodePorts []NodePort
	// PeerNodes are the other nodes' IPv4 InternalIPs, sorted. OVN routes
	// a pod's packets for them straight to their own node, so the reply
	// of a Local node port's endpoint to one would bypass this node's
	// DNAT: their node-port connections are masqueraded into ovn0.
	PeerNodes []netip.Addr
	// RemoteEgress are the IPv4 ranges of the subnets whose egress leaves
	// through another node (centralized there): a Local node port's
	// endpoint there answers the client through that node, past this
	// node's DNAT, so its connections are masqueraded into ovn0.
	RemoteEgress []Range
	// ServiceCIDR is the range of ClusterIPs (empty: none routed through
	// ovn0). A connection from outside to a ClusterIP (routed to this node,
	// as BGP announces them) is masqueraded into ovn0: the endpoint may
	// sit on another node, whose reply would leave there, past the load
	// balancer's reverse DNAT on this node's side of the join switch.
	ServiceCIDR []Range
}

// Range is an inclusive range of IPv4 addresses, one element of an
// interval set.
type Range struct {
	From, To netip.Addr
}

// NodePort is one port of a NodePort or LoadBalancer Service as this
// node serves it.
type NodePort struct {
	// Service names the port, namespace/name:port-name, for the rule's
	// comment and the logs.
	Service string
	// Protocol is TCP, UDP or SCTP.
	Protocol corev1.Protocol
	// Port is the node port.
	Port uint16
	// Local is externalTrafficPolicy Local: traffic goes to Endpoints on
	// this node only, keeping the client's address.
	Local bool
	// ClusterIP is the Cluster policy's target, the Service's ClusterIP
	// and port; OVN's load balancer on the join switch picks the endpoint.
	ClusterIP netip.AddrPort
	// Endpoints are the Local policy's ready endpoints on this node; with
	// none the traffic is dropped.
	Endpoints []netip.AddrPort
}

// Changes says what a Converge changed; the zero value means nothing.
type Changes struct {
	// Created is true when the table was created, or rebuilt because its
	// chains or sets were not the expected ones; Reason says which.
	Created bool
	Reason  string
	// Sets are the sets whose elements changed.
	Sets []string
	// Chains are the chains whose rules changed.
	Chains []string
}

// Empty reports that nothing changed.
func (c Changes) Empty() bool { return !c.Created && len(c.Sets) == 0 && len(c.Chains) == 0 }

// String is for the log.
func (c Changes) String() string {
	if c.Created {
		return "table created (" + c.Reason + ")"
	}
	return fmt.Sprintf("sets [%s] chains [%s]", strings.Join(c.Sets, " "), strings.Join(c.Chains, " "))
}
