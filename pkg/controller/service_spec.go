package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/servicecidr"
)

// defaultAffinityTimeout is Kubernetes' default for
// sessionAffinityConfig.clientIP.timeoutSeconds: three hours.
const defaultAffinityTimeout = 10800

// lbProtocols maps a Service port's protocol to the load balancer's; the
// order is the order the reconciler converges them in.
var lbProtocols = []struct {
	service corev1.Protocol
	lb      string
}{
	{corev1.ProtocolTCP, nbdb.LoadBalancerProtocolTCP},
	{corev1.ProtocolUDP, nbdb.LoadBalancerProtocolUDP},
	{corev1.ProtocolSCTP, nbdb.LoadBalancerProtocolSCTP},
}

func lbProtocol(p corev1.Protocol) (string, bool) {
	if p == "" {
		p = corev1.ProtocolTCP
	}
	for _, known := range lbProtocols {
		if known.service == p {
			return known.lb, true
		}
	}
	return "", false
}

// serviceLoadBalancers computes the load balancers a Service needs, one per
// protocol it serves, from the Service and its EndpointSlices. problems
// names what was left out and why (a cluster IP that is not an address, an
// unsupported protocol), for an Event; the rest is still programmed. A
// dual-stack Service's VIPs of both families share its load balancers, each
// VIP with the backends of its own family: EndpointSlices come one per
// family, and OVN cannot translate between them.
func serviceLoadBalancers(svc *corev1.Service, endpointSlices []discoveryv1.EndpointSlice) (lbs []ovn.LoadBalancer, problems []string) {
	vips, problems := clusterIPs(svc)
	if len(vips) == 0 {
		return nil, problems
	}
	owner := ovn.Owner{Kind: ovn.KindService, Namespace: svc.Namespace, Name: svc.Name}
	byProtocol := map[string]*ovn.LoadBalancer{}
	for _, sp := range svc.Spec.Ports {
		proto, ok := lbProtocol(sp.Protocol)
		if !ok {
			problems = append(problems, fmt.Sprintf("port %s: protocol %s is not supported", portLabel(sp), sp.Protocol))
			continue
		}
		lb := byProtocol[proto]
		if lb == nil {
			lb = &ovn.LoadBalancer{Name: ovnname.ServiceLoadBalancer(svc.Namespace, svc.Name, proto), Protocol: proto,
				Vips: map[string]string{}, Options: lbOptions(svc), Owner: owner}
			byProtocol[proto] = lb
		}
		for _, vip := range vips {
			backends := strings.Join(portBackends(sp, endpointSlices, addressType(vip)), ",")
			lb.Vips[netip.AddrPortFrom(vip, uint16(sp.Port)).String()] = backends
		}
	}
	for _, p := range lbProtocols {
		if lb := byProtocol[p.lb]; lb != nil {
			lbs = append(lbs, *lb)
		}
	}
	return lbs, problems
}

// clusterIPs returns the Service's cluster IPs of both families; none for a
// headless Service or one without a cluster IP (ExternalName, not yet
// allocated).
func clusterIPs(svc *corev1.Service) ([]netip.Addr, []string) {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var vips []netip.Addr
	var problems []string
	for _, s := range ips {
		if s == corev1.ClusterIPNone || s == "" {
			return nil, nil
		}
		ip, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("cluster IP %q is not an IP address", s))
		case ip.Zone() != "" || ip.Is4In6():
			problems = append(problems, fmt.Sprintf("cluster IP %s is not a plain IPv4 or IPv6 address", s))
		default:
			vips = append(vips, ip)
		}
	}
	return vips, problems
}

// lbOptions are the options of each of the Service's load balancers.
func lbOptions(svc *corev1.Service) map[string]string {
	opts := map[string]string{ovn.LBOptionReject: "true"}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		timeout := int32(defaultAffinityTimeout)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			timeout = *c.ClientIP.TimeoutSeconds
		}
		opts[ovn.LBOptionAffinityTimeout] = strconv.Itoa(int(timeout))
	}
	return opts
}

// addressType is the EndpointSlice address type of an address's family.
func addressType(ip netip.Addr) discoveryv1.AddressType {
	if ip.Is4() {
		return discoveryv1.AddressTypeIPv4
	}
	return discoveryv1.AddressTypeIPv6
}

// portBackends lists "IP:port" ("[IP]:port" for IPv6) of every ready
// endpoint of the family serving the Service port, sorted, each once. The port number comes from the slice:
// a named target port may resolve to different numbers on different pods.
// When no endpoint is ready, terminating endpoints that still serve take
// the traffic, as kube-proxy does, so a rolling restart of the last pods
// does not refuse connections while they drain.
func portBackends(sp corev1.ServicePort, endpointSlices []discoveryv1.EndpointSlice, family discoveryv1.AddressType) []string {
	var ready, terminating []string
	for i := range endpointSlices {
		slice := &endpointSlices[i]
		if slice.AddressType != family {
			continue
		}
		port, ok := slicePort(slice, sp)
		if !ok {
			continue
		}
		for _, ep := range slice.Endpoints {
			switch {
			case isTrue(ep.Conditions.Ready, true):
				ready = appendBackends(ready, ep.Addresses, port, family)
			case isTrue(ep.Conditions.Serving, true) && isTrue(ep.Conditions.Terminating, false):
				terminating = appendBackends(terminating, ep.Addresses, port, family)
			}
		}
	}
	backends := ready
	if len(backends) == 0 {
		backends = terminating
	}
	slices.Sort(backends)
	return slices.Compact(backends)
}

// isTrue reads an endpoint condition; unset means what the API documents
// for it (ready and serving: true, terminating: false).
func isTrue(condition *bool, unset bool) bool {
	if condition == nil {
		return unset
	}
	return *condition
}

// appendBackends adds the addresses of the slice's family; the API server
// validates them, but a slice written by hand for a selector-less Service
// is the user's, and a zone or a mapped address would make a VIP OVN
// refuses.
func appendBackends(backends, addresses []string, port uint16, family discoveryv1.AddressType) []string {
	for _, a := range addresses {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Zone() == "" && !ip.Is4In6() && addressType(ip) == family {
			backends = append(backends, netip.AddrPortFrom(ip, port).String())
		}
	}
	return backends
}

// slicePort finds the slice's number for the Service port: the slice port
// of the same name and protocol.
func slicePort(slice *discoveryv1.EndpointSlice, sp corev1.ServicePort) (uint16, bool) {
	want := sp.Protocol
	if want == "" {
		want = corev1.ProtocolTCP
	}
	for _, p := range slice.Ports {
		name, proto := "", corev1.ProtocolTCP
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == want && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

func portLabel(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}

// ReasonIPv6NodePortUnavailable is the Event reason on a NodePort or
// LoadBalancer Service with an IPv6 ClusterIP whose node ports the nodes
// cannot serve over IPv6; they still serve them over IPv4 if it has an
// IPv4 ClusterIP.
const ReasonIPv6NodePortUnavailable = "IPv6NodePortUnavailable"

// ipv6NodePortProblem says why the nodes cannot serve the Service's node
// ports over IPv6, or "" when they can or it has none. A node reaches
// IPv6 endpoints and ClusterIPs through ovn0's IPv6 join address, and
// the ClusterIP through the IPv6 service range it routes there.
func (n *Network) ipv6NodePortProblem(svc *corev1.Service) string {
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return ""
	}
	var v6 netip.Addr
	for _, ip := range svc.Spec.ClusterIPs {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
			v6 = a
		}
	}
	if !v6.IsValid() {
		return ""
	}
	joins, _ := parseCIDRs(n.Config.JoinSubnet.CIDR)
	if len(joins) < 2 {
		return fmt.Sprintf("its node ports are not served over IPv6: the join subnet %s has no IPv6 range (--join-cidr)",
			n.Config.JoinSubnet.CIDR)
	}
	local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if _, ok := servicecidr.Of(n.Config.ServiceCIDRs, v6); !ok && !local {
		return fmt.Sprintf("its node ports are not served over IPv6: no IPv6 service range (--service-cidr) routes its ClusterIP %s", v6)
	}
	return ""
}
