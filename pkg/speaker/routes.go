package speaker

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// Reasons of the Warning Events the speaker records on objects it was
// asked to announce and does not.
const (
	// ReasonInvalidBGP: the annotation is neither "true" nor "false".
	ReasonInvalidBGP = "InvalidBGP"
	// ReasonBGPNotAnnounced: the object cannot be announced as it is.
	ReasonBGPNotAnnounced = "BGPNotAnnounced"
)

// State is what the speaker reads from the API server: the Subnets and
// Services of the cluster, the pods of its node.
type State struct {
	// Node is the node the speaker runs on.
	Node     string
	Subnets  []ovnetv1.Subnet
	Pods     []corev1.Pod
	Services []corev1.Service
}

// Refusal is an object annotated for BGP that is not announced, and why.
type Refusal struct {
	Object  client.Object
	Reason  string
	Message string
}

// Desired is what this node announces: each prefix with the object it
// comes from (for logs), and the refusals.
type Desired struct {
	Prefixes map[netip.Prefix]string
	Refusals []Refusal
}

// Compute decides what the node announces. A Subnet's CIDR is announced
// by the nodes traffic from outside may enter through and leave by: with
// a distributed gateway every node routes into the subnet through ovn0
// and OVN's router (the upstream router spreads the load over them, ECMP),
// with a centralized one only the active gateway node, which every reply
// leaves through. A pod's address is announced by its own node, where its
// replies leave. A Service's ClusterIPs are announced by every node: each
// routes the service CIDR into OVN's load balancers through ovn0. Only
// subnets without NAT are announced: with NAT on, the node's inbound guard
// drops new connections from outside, and the pods' own traffic leaves
// with the node's address, so the route would be a lie.
func Compute(s State) Desired {
	d := Desired{Prefixes: map[netip.Prefix]string{}}
	subnets := map[string]*ovnetv1.Subnet{}
	for i := range s.Subnets {
		subnets[s.Subnets[i].Name] = &s.Subnets[i]
	}
	for i := range s.Subnets {
		sub := &s.Subnets[i]
		if !d.wanted(sub) || sub.DeletionTimestamp != nil {
			continue
		}
		cidr, ok := ipv4CIDR(sub.Spec.CIDR)
		if !ok {
			d.refuse(sub, ReasonBGPNotAnnounced, fmt.Sprintf("CIDR %q has no IPv4 prefix; the speaker announces IPv4 only", sub.Spec.CIDR))
			continue
		}
		if msg := natRefusal(sub); msg != "" {
			d.refuse(sub, ReasonBGPNotAnnounced, msg)
			continue
		}
		if sub.Spec.GatewayType == ovnetv1.GatewayCentralized && sub.Status.ActiveGateway != s.Node {
			continue
		}
		d.Prefixes[cidr.Masked()] = "subnet " + sub.Name
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !d.wanted(pod) || pod.Spec.NodeName != s.Node || !running(pod) {
			continue
		}
		if pod.Spec.HostNetwork {
			d.refuse(pod, ReasonBGPNotAnnounced, "a host-network pod has its node's address")
			continue
		}
		holding, ok, err := annotation.ParseHolding(pod.Annotations)
		if !ok || err != nil {
			// Not addressed yet, or a broken record the controller
			// reports on its own: the next update brings the address.
			continue
		}
		sub := subnets[holding.LogicalSwitch]
		if sub == nil {
			continue
		}
		if msg := natRefusal(sub); msg != "" {
			d.refuse(pod, ReasonBGPNotAnnounced, msg)
			continue
		}
		if holding.IP.Is4() {
			d.Prefixes[netip.PrefixFrom(holding.IP, 32)] = "pod " + pod.Namespace + "/" + pod.Name
		}
	}
	for i := range s.Services {
		svc := &s.Services[i]
		if !d.wanted(svc) || svc.DeletionTimestamp != nil {
			continue
		}
		ips := clusterIPv4s(svc)
		if len(ips) == 0 {
			d.refuse(svc, ReasonBGPNotAnnounced, "the Service has no IPv4 ClusterIP (headless, ExternalName or IPv6 only)")
			continue
		}
		for _, ip := range ips {
			d.Prefixes[netip.PrefixFrom(ip, 32)] = "service " + svc.Namespace + "/" + svc.Name
		}
	}
	return d
}

// wanted reads obj's BGP annotation; a value other than "true" or "false"
// is refused.
func (d *Desired) wanted(obj client.Object) bool {
	switch v, ok := obj.GetAnnotations()[annotation.BGP]; {
	case !ok || v == "false":
		return false
	case v == annotation.True:
		return true
	default:
		d.refuse(obj, ReasonInvalidBGP, fmt.Sprintf("%s=%q: want \"true\" or \"false\"", annotation.BGP, v))
		return false
	}
}

func (d *Desired) refuse(obj client.Object, reason, message string) {
	d.Refusals = append(d.Refusals, Refusal{Object: obj, Reason: reason, Message: message})
}

// natRefusal says why a subnet's addresses are not announced, "" when
// they are.
func natRefusal(sub *ovnetv1.Subnet) string {
	if sub.Spec.NATOutgoing == nil || *sub.Spec.NATOutgoing {
		return fmt.Sprintf("subnet %s has natOutgoing on: connections from outside are dropped on the node; set natOutgoing false (namespace annotation %s=false) to announce it",
			sub.Name, annotation.GatewayNAT)
	}
	return ""
}

// running reports whether the pod holds its address: not finished and
// not being deleted.
func running(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// clusterIPv4s are the Service's IPv4 ClusterIPs, none for a headless one.
func clusterIPv4s(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			out = append(out, ip)
		}
	}
	return out
}

// Sorted lists prefixes in a stable order, for logs and tests.
func Sorted(prefixes map[netip.Prefix]string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for p := range prefixes {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	return out
}

// ipv4CIDR is the IPv4 prefix of a Subnet's CIDR, the only one of a
// single-stack IPv4 Subnet or the first of a dual-stack one.
func ipv4CIDR(spec string) (netip.Prefix, bool) {
	for _, s := range annotation.SplitList(spec) {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
