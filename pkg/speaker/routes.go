package speaker

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

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

// Kind is what an announced prefix stands for.
type Kind string

// The kinds of announced prefixes, also the values of the metric label
// kind.
const (
	KindSubnet  Kind = "subnet"
	KindPod     Kind = "pod"
	KindService Kind = "service"
)

// Source is the object a prefix is announced for.
type Source struct {
	Kind Kind
	// Name is the object's name, namespace/name for pods and Services.
	Name string
}

func (s Source) String() string { return string(s.Kind) + " " + s.Name }

// State is what the speaker reads from the API server: the Subnets and
// Services of the cluster, the pods of its node.
type State struct {
	// Node is the node the speaker runs on.
	Node string
	// IPv6 says whether the node has an IPv6 address to be the next hop
	// of IPv6 prefixes; without one they are refused.
	IPv6     bool
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
	Prefixes map[netip.Prefix]Source
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
// with the node's address, so the route would be a lie. IPv6 prefixes are
// announced, in their own address family, only by a node with an IPv6
// address.
func Compute(s State) Desired {
	d := Desired{Prefixes: map[netip.Prefix]Source{}}
	subnets := map[string]*ovnetv1.Subnet{}
	for i := range s.Subnets {
		subnets[s.Subnets[i].Name] = &s.Subnets[i]
	}
	for i := range s.Subnets {
		sub := &s.Subnets[i]
		if !d.wanted(sub) || sub.DeletionTimestamp != nil {
			continue
		}
		cidrs, err := parseCIDRs(sub.Spec.CIDR)
		if err != nil {
			d.refuse(sub, ReasonBGPNotAnnounced, err.Error())
			continue
		}
		if msg := natRefusal(sub); msg != "" {
			d.refuse(sub, ReasonBGPNotAnnounced, msg)
			continue
		}
		if sub.Spec.GatewayType == ovnetv1.GatewayCentralized && sub.Status.ActiveGateway != s.Node {
			continue
		}
		d.announce(s, sub, Source{KindSubnet, sub.Name}, cidrs...)
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
		d.announce(s, pod, Source{KindPod, pod.Namespace + "/" + pod.Name}, netip.PrefixFrom(holding.IP, holding.IP.BitLen()))
	}
	for i := range s.Services {
		svc := &s.Services[i]
		if !d.wanted(svc) || svc.DeletionTimestamp != nil {
			continue
		}
		ips := clusterIPs(svc)
		if len(ips) == 0 {
			d.refuse(svc, ReasonBGPNotAnnounced, "the Service has no ClusterIP (headless or ExternalName)")
			continue
		}
		d.announce(s, svc, Source{KindService, svc.Namespace + "/" + svc.Name}, ips...)
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

// announce adds obj's prefixes, and refuses its IPv6 ones on a node
// without an IPv6 next hop (the IPv4 ones are still announced).
func (d *Desired) announce(s State, obj client.Object, src Source, prefixes ...netip.Prefix) {
	var left []string
	for _, p := range prefixes {
		if p.Addr().Is6() && !s.IPv6 {
			left = append(left, p.String())
			continue
		}
		d.Prefixes[p.Masked()] = src
	}
	if len(left) > 0 {
		d.refuse(obj, ReasonBGPNotAnnounced, fmt.Sprintf("%s not announced: node %s has no IPv6 address for a next hop (the speaker's --node-ip)",
			strings.Join(left, ", "), s.Node))
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

// clusterIPs are the host prefixes of the Service's ClusterIPs, of both
// families, none for a headless one.
func clusterIPs(svc *corev1.Service) []netip.Prefix {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Prefix
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}

// parseCIDRs reads a Subnet's CIDR: one prefix, or one per family
// separated by a comma as Kube-OVN writes a dual-stack subnet.
func parseCIDRs(field string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(field, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("CIDR %q is not a prefix or a comma-separated pair of prefixes", field)
		}
		out = append(out, p)
	}
	return out, nil
}

// Sorted lists prefixes in a stable order, for logs and tests.
func Sorted[V any](prefixes map[netip.Prefix]V) []netip.Prefix {
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
