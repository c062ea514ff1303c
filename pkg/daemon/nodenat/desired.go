package nodenat

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

// Inputs are the objects the state is computed from.
type Inputs struct {
	// NodeName is this node: Local NodePorts go to its endpoints only.
	NodeName string
	// Joins are the join subnet's prefixes, one per family it has, never
	// masqueraded (they hold the nodes' own ovn0 addresses). A family
	// without one has no way into ovn0 from the node: its table serves
	// no node port.
	Joins    []netip.Prefix
	Subnets  []ovnetv1.Subnet
	Services []corev1.Service
	Slices   []discoveryv1.EndpointSlice
	// Nodes are all the cluster's Nodes, for their InternalIPs.
	Nodes []corev1.Node
	// ServiceCIDRs are the ranges of ClusterIPs routed through ovn0, at
	// most one per family; a family without one routes none.
	ServiceCIDRs []netip.Prefix
}

// Desired computes the state of the table of family f from the objects.
func Desired(in Inputs, f Family) State {
	join, joined := familyPrefix(in.Joins, f)
	service, routed := familyPrefix(in.ServiceCIDRs, f)
	s := State{NATSubnets: natRanges(in.Subnets, join, f), PeerNodes: peerNodes(in.Nodes, in.NodeName, f),
		RemoteEgress: remoteEgress(in.Subnets, in.NodeName, f)}
	if routed {
		s.ServiceCIDR = mergeRanges([]netip.Prefix{service})
	}
	if joined {
		s.NodePorts = nodePorts(in, f, routed)
	}
	return s
}

// familyPrefix is the (masked) prefix of family f among prefixes.
func familyPrefix(prefixes []netip.Prefix, f Family) (netip.Prefix, bool) {
	for _, p := range prefixes {
		if p.IsValid() && f.Has(p.Addr()) {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// remoteEgress are the merged IPv4 ranges of the subnets whose egress is
// in force on another node: the Subnet's status names that node. None
// in IPv6: a centralized subnet's IPv6 half leaves through each pod's own
// node (the controller's centralized reroute is IPv4's), so the reply of
// a local endpoint comes back through this node.
func remoteEgress(subnets []ovnetv1.Subnet, self string, f Family) []Range {
	if !f.Is4() {
		return nil
	}
	var prefixes []netip.Prefix
	for _, s := range subnets {
		if gw := s.Status.ActiveGateway; gw == "" || gw == self {
			continue
		}
		for _, cidr := range strings.Split(s.Spec.CIDR, ",") {
			if p, err := netip.ParsePrefix(strings.TrimSpace(cidr)); err == nil && p.Addr().Is4() {
				prefixes = append(prefixes, p.Masked())
			}
		}
	}
	return mergeRanges(prefixes)
}

// peerNodes are the InternalIPs of family f of the nodes other than this
// one, sorted, without duplicates: the addresses the controller routes
// to their node's join address.
func peerNodes(nodes []corev1.Node, self string, f Family) []netip.Addr {
	var out []netip.Addr
	for i := range nodes {
		if nodes[i].Name == self {
			continue
		}
		for _, a := range nodes[i].Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); a.Type == corev1.NodeInternalIP && err == nil && f.Has(ip) {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// natRanges are the merged ranges of family f of the subnets with
// natOutgoing on (unset means on, as in Kube-OVN). A subnet the
// controller refused (Validated=False) is left out: it carries no pods
// we should answer for.
func natRanges(subnets []ovnetv1.Subnet, join netip.Prefix, f Family) []Range {
	var prefixes []netip.Prefix
	for _, s := range subnets {
		if (s.Spec.NATOutgoing != nil && !*s.Spec.NATOutgoing) || s.Spec.Underlay() {
			// An underlay subnet's egress never enters the node.
			continue
		}
		if meta.IsStatusConditionFalse(s.Status.Conditions, ovnetv1.ConditionValidated) {
			continue
		}
		for _, cidr := range strings.Split(s.Spec.CIDR, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
			if err != nil || !f.Has(p.Addr()) || (join.IsValid() && p.Overlaps(join)) {
				continue
			}
			prefixes = append(prefixes, p.Masked())
		}
	}
	return mergeRanges(prefixes)
}

// mergeRanges turns prefixes into sorted, disjoint, non-adjacent ranges,
// the only form an interval set accepts without overlap errors.
func mergeRanges(prefixes []netip.Prefix) []Range {
	ranges := make([]Range, 0, len(prefixes))
	for _, p := range prefixes {
		ranges = append(ranges, Range{From: p.Addr(), To: ipam.LastAddr(p)})
	}
	slices.SortFunc(ranges, func(a, b Range) int { return a.From.Compare(b.From) })
	var out []Range
	for _, r := range ranges {
		if n := len(out); n > 0 && (r.From.Compare(out[n-1].To) <= 0 || r.From == out[n-1].To.Next()) {
			if r.To.Compare(out[n-1].To) > 0 {
				out[n-1].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// nodePorts lists every node port of family f of the NodePort and
// LoadBalancer Services, sorted by protocol and port: those of the
// Services with a ClusterIP of f. routed says that the family's service
// range goes through ovn0: without it a Cluster node port has no way to
// its ClusterIP and is left out, as are the Services of another family
// (no listener: refused, as kube-proxy leaves them).
func nodePorts(in Inputs, f Family, routed bool) []NodePort {
	local := localEndpoints(in.Slices, in.NodeName, f)
	var out []NodePort
	for i := range in.Services {
		out = append(out, serviceNodePorts(&in.Services[i], local, f, routed)...)
	}
	slices.SortFunc(out, func(a, b NodePort) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// serviceNodePorts are one Service's node ports of family f.
func serviceNodePorts(svc *corev1.Service, local map[portKey][]netip.AddrPort, f Family, routed bool) []NodePort {
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	isLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	clusterIP, ok := familyClusterIP(svc, f)
	if !ok || (!isLocal && !routed) {
		return nil
	}
	var out []NodePort
	for _, port := range svc.Spec.Ports {
		if port.NodePort <= 0 || port.NodePort > 65535 {
			continue
		}
		protocol := cmp.Or(port.Protocol, corev1.ProtocolTCP)
		np := NodePort{Service: portName(svc, port), Protocol: protocol, Port: uint16(port.NodePort), Local: isLocal}
		if isLocal {
			np.Endpoints = local[portKey{svc.Namespace, svc.Name, port.Name, protocol}]
		} else {
			np.ClusterIP = netip.AddrPortFrom(clusterIP, uint16(port.Port))
		}
		out = append(out, np)
	}
	return out
}

// familyClusterIP is the Service's ClusterIP of family f, primary or
// secondary.
func familyClusterIP(svc *corev1.Service, f Family) (netip.Addr, bool) {
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if a, err := netip.ParseAddr(ip); err == nil && f.Has(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// portName is namespace/name:port, the port's name or else its number.
func portName(svc *corev1.Service, port corev1.ServicePort) string {
	name := port.Name
	if name == "" {
		name = strconv.Itoa(int(port.Port))
	}
	return svc.Namespace + "/" + svc.Name + ":" + name
}

// portKey names one port of one Service, as EndpointSlices name it.
type portKey struct {
	namespace, service, port string
	protocol                 corev1.Protocol
}

// localEndpoints indexes the ready endpoints of family f on node by
// Service port, each list sorted and without duplicates.
func localEndpoints(eps []discoveryv1.EndpointSlice, node string, f Family) map[portKey][]netip.AddrPort {
	addressType := discoveryv1.AddressTypeIPv4
	if !f.Is4() {
		addressType = discoveryv1.AddressTypeIPv6
	}
	out := map[portKey][]netip.AddrPort{}
	for i := range eps {
		slice := &eps[i]
		service := slice.Labels[discoveryv1.LabelServiceName]
		if service == "" || slice.AddressType != addressType {
			continue
		}
		addrs := localReadyAddrs(slice.Endpoints, node, f)
		for _, p := range slice.Ports {
			if p.Port == nil || len(addrs) == 0 {
				continue
			}
			key := portKey{slice.Namespace, service, deref(p.Name, ""), deref(p.Protocol, corev1.ProtocolTCP)}
			for _, a := range addrs {
				out[key] = append(out[key], netip.AddrPortFrom(a, uint16(*p.Port)))
			}
		}
	}
	for k, v := range out {
		slices.SortFunc(v, func(a, b netip.AddrPort) int { return a.Compare(b) })
		out[k] = slices.Compact(v)
	}
	return out
}

// localReadyAddrs are the addresses of family f of the ready endpoints
// on node (a nil Ready means ready, as the EndpointSlice API says); when
// none is ready, those still serving while terminating, as kube-proxy
// does.
func localReadyAddrs(endpoints []discoveryv1.Endpoint, node string, f Family) []netip.Addr {
	var ready, terminating []netip.Addr
	for _, ep := range endpoints {
		if deref(ep.NodeName, "") != node {
			continue
		}
		c := ep.Conditions
		for _, s := range ep.Addresses {
			a, err := netip.ParseAddr(s)
			switch {
			case err != nil || !f.Has(a):
			case deref(c.Ready, true):
				ready = append(ready, a)
			case deref(c.Serving, false) && deref(c.Terminating, false):
				terminating = append(terminating, a)
			}
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
