package annotation

import "strings"

// Prefix is shared with Kube-OVN so manifests written for it work unchanged.
const Prefix = "ovn.kubernetes.io/"

// Keys on namespaces, set by users.
const (
	// CIDR gives the namespace a subnet of its own, e.g. "10.66.0.0/16".
	CIDR = Prefix + "cidr"
	// LogicalSwitch names the namespace's subnet; on a pod it picks the pod's
	// subnet; written back on pods and nodes to say where they were placed.
	LogicalSwitch = Prefix + "logical_switch"
	// Gateway is the subnet's router address; default the first address.
	Gateway = Prefix + "gateway"
	// ExcludeIPs lists addresses never handed out: "a.b.c.d" or "a..b", comma separated.
	ExcludeIPs = Prefix + "exclude_ips"
	// Private isolates the subnet ("true").
	Private = Prefix + "private"
	// Allow lists CIDRs that may reach a private subnet, comma separated.
	Allow = Prefix + "allow"
	// GatewayType is "distributed" or "centralized".
	GatewayType = Prefix + "gateway_type"
	// GatewayNode names the centralized gateway node(s).
	GatewayNode = Prefix + "gateway_node"
	// GatewayNAT "false" exposes pod addresses unNATed.
	GatewayNAT = Prefix + "gateway_nat"
)

// Keys on pods, set by users.
const (
	// IPAddress asks for a fixed address; written back with the address given.
	IPAddress = Prefix + "ip_address"
	// MACAddress asks for a fixed MAC; written back with the MAC given.
	MACAddress = Prefix + "mac_address"
	// IPPool lists candidate addresses; a StatefulSet pod takes the entry of its ordinal.
	IPPool = Prefix + "ip_pool"
	// IngressRate limits traffic into the pod, Mbit/s.
	IngressRate = Prefix + "ingress_rate"
	// EgressRate limits traffic out of the pod, Mbit/s.
	EgressRate = Prefix + "egress_rate"
	// Mirror "true" copies the pod's traffic to mirror0.
	Mirror = Prefix + "mirror"
)

// BGP "true" on a Subnet, a pod or a Service asks ovnet-speaker to announce
// its CIDR, its address or its ClusterIPs to the BGP peers (Kube-OVN's key).
const BGP = Prefix + "bgp"

// Keys written by the controller on pods and nodes.
const (
	// CIDRWritten is the CIDR of the subnet the address came from (same key as CIDR).
	CIDRWritten = CIDR
	// GatewayWritten is the default gateway for the pod (same key as Gateway).
	GatewayWritten = Gateway
	// Allocated is "true" once every other written key is in place.
	Allocated = Prefix + "allocated"
	// PortName is the logical switch port of a node.
	PortName = Prefix + "port_name"
)

// True is the value of boolean annotations.
const True = "true"

// SplitList reads a comma-separated value (an annotation's, or a flag's of
// the same shape): entries trimmed, empty ones dropped.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
