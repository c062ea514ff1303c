package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// ACL directions and actions, spelled as OVN spells them.
const (
	// ToLport ACLs see traffic into a port: a pod's ingress.
	ToLport = "to-lport"
	// FromLport ACLs see traffic out of a port: a pod's egress.
	FromLport = "from-lport"

	ActionAllowRelated = "allow-related"
	ActionAllow        = "allow"
	ActionDrop         = "drop"
)

// OptionApplyAfterLB makes a from-lport ACL see a Service's backend address
// instead of its virtual IP, so egress rules written for pods also hold
// when the pods are reached through a Service.
const OptionApplyAfterLB = "apply-after-lb"

// Pod is what translation needs to know of an addressed pod.
type Pod struct {
	Namespace string
	Name      string
	Labels    map[string]string
	// IPs are the addresses the controller recorded on the pod, at most
	// one of each family.
	IPs []netip.Addr
	// Ports are the pod's containers' ports, for resolving named ports.
	Ports []corev1.ContainerPort
}

// Namespace is what translation needs to know of a namespace.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Cluster is the part of the cluster a policy is translated against: the
// addressed pods and the namespaces, each by namespace name. Pods not yet
// addressed are left out: they have no port to put in a group.
type Cluster struct {
	Pods       map[string][]Pod
	Namespaces map[string]Namespace
}

// Logging says which ACL verdicts ovn-controller logs and at which
// severity; empty means not logged.
type Logging struct {
	Deny  string
	Allow string
}

// ACL is one desired ACL row.
type ACL struct {
	// Name appears in ovn-controller's log lines: "<namespace>/<policy>".
	Name      string
	Direction string
	Priority  int
	Match     string
	Action    string
	// Severity is set when the ACL logs; empty means it does not.
	Severity string
	Options  map[string]string
}

// PortGroup is a desired port group: its member ports (logical switch port
// names) and the ACLs that apply to them.
type PortGroup struct {
	Name string
	// Ports are logical switch port names, sorted.
	Ports []string
	ACLs  []ACL
}

// AddressSet is a desired address set.
type AddressSet struct {
	Name string
	// Addresses are IPs or CIDRs, sorted.
	Addresses []string
}
