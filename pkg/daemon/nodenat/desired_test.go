package nodenat

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func subnet(name, cidr string, nat *bool, conditions ...metav1.Condition) ovnetv1.Subnet {
	return ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: ovnetv1.SubnetSpec{CIDR: cidr, NATOutgoing: nat}, Status: ovnetv1.SubnetStatus{Conditions: conditions}}
}

func ranges(pairs ...string) []Range {
	var out []Range
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, Range{From: netip.MustParseAddr(pairs[i]), To: netip.MustParseAddr(pairs[i+1])})
	}
	return out
}

func TestNATRanges(t *testing.T) {
	join := netip.MustParsePrefix("100.64.0.0/16")
	refused := metav1.Condition{Type: ovnetv1.ConditionValidated, Status: metav1.ConditionFalse}
	tests := []struct {
		name    string
		subnets []ovnetv1.Subnet
		join    netip.Prefix
		want    []Range
		family  Family
	}{
		{"natOutgoing unset means on", []ovnetv1.Subnet{subnet("d", "10.16.0.0/16", nil)}, join,
			ranges("10.16.0.0", "10.16.255.255"), IPv4},
		{"natOutgoing false is left out", []ovnetv1.Subnet{subnet("d", "10.16.0.0/16", ptr.To(false)),
			subnet("e", "10.66.0.0/24", ptr.To(true))}, join, ranges("10.66.0.0", "10.66.0.255"), IPv4},
		{"join, IPv6, unparsable and refused subnets are left out", []ovnetv1.Subnet{
			subnet("join", "100.64.0.0/16", nil), subnet("v6", "fd00::/64", nil), subnet("bad", "10.300.0.0/16", nil),
			subnet("refused", "10.99.0.0/16", nil, refused)}, join, nil, IPv4},
		{"an underlay subnet is left out, NAT on or not", []ovnetv1.Subnet{func() ovnetv1.Subnet {
			s := subnet("phys", "172.20.0.0/24", nil)
			s.Spec.Provider = "physnet"
			return s
		}()}, join, nil, IPv4},
		{"join unknown yet: nothing to leave out", []ovnetv1.Subnet{subnet("join", "100.64.0.0/16", nil)}, netip.Prefix{},
			ranges("100.64.0.0", "100.64.255.255"), IPv4},
		{"dual stack keeps the IPv4 part, host bits dropped", []ovnetv1.Subnet{subnet("ds", "10.16.0.1/16, fd00::/64", nil)}, join,
			ranges("10.16.0.0", "10.16.255.255"), IPv4},
		{"adjacent and nested subnets merge", []ovnetv1.Subnet{subnet("a", "10.0.1.0/24", nil), subnet("b", "10.0.0.0/24", nil),
			subnet("c", "10.0.0.128/25", nil), subnet("d", "10.0.3.0/24", nil)}, join,
			ranges("10.0.0.0", "10.0.1.255", "10.0.3.0", "10.0.3.255"), IPv4},
		{"IPv6: the IPv6 part of dual stack and IPv6 subnets, not IPv4, join or NAT off", []ovnetv1.Subnet{
			subnet("ds", "10.16.0.0/16,fd00:10:16::1/64", nil), subnet("v6", "fd00:66::/112", nil),
			subnet("join", "100.64.0.0/16,fd00:100:64::/112", nil), subnet("off", "fd00:67::/112", ptr.To(false))},
			netip.MustParsePrefix("fd00:100:64::/112"),
			ranges("fd00:10:16::", "fd00:10:16::ffff:ffff:ffff:ffff", "fd00:66::", "fd00:66::ffff"), IPv6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := natRanges(tt.subnets, tt.join, tt.family); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("natRanges = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRangeElements(t *testing.T) {
	tests := []struct {
		name   string
		ranges []Range
		want   []string
	}{
		{"a range ends one past its last address", ranges("10.16.0.0", "10.16.255.255"), []string{"0a100000", "0a110000/end"}},
		{"a range up to the last address has no end", ranges("255.0.0.0", "255.255.255.255"), []string{"ff000000"}},
		{"IPv6", []Range{rangeOf("fd00:66::/112")},
			[]string{"fd000066000000000000000000000000", "fd000066000000000000000000010000/end"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range rangeElements(tt.ranges) {
				got = append(got, elementKey(e))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("rangeElements = %v, want %v", got, tt.want)
			}
		})
	}
}

func service(name string, typ corev1.ServiceType, policy corev1.ServiceExternalTrafficPolicy, clusterIP string, ports ...corev1.ServicePort) corev1.Service {
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ExternalTrafficPolicy: policy, ClusterIP: clusterIP, Ports: ports}}
}

func endpointSlice(svc string, addrType discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
	return discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: addrType, Ports: ports, Endpoints: eps}
}

func endpoint(addr, node string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func TestNodePorts(t *testing.T) {
	http := corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}
	dns := corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053}
	httpSlice := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}
	const local = corev1.ServiceExternalTrafficPolicyLocal
	tests := []struct {
		name     string
		services []corev1.Service
		slices   []discoveryv1.EndpointSlice
		want     []NodePort
	}{
		{"Cluster goes to the ClusterIP", []corev1.Service{service("web", corev1.ServiceTypeNodePort, "", "10.96.0.10", http, dns)}, nil,
			[]NodePort{
				{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, ClusterIP: netip.MustParseAddrPort("10.96.0.10:80")},
				{Service: "ns/web:dns", Protocol: corev1.ProtocolUDP, Port: 30053, ClusterIP: netip.MustParseAddrPort("10.96.0.10:53")},
			}},
		{"ClusterIP, headless, IPv6 and portless services have no node port", []corev1.Service{
			service("a", corev1.ServiceTypeClusterIP, "", "10.96.0.1", http),
			service("b", corev1.ServiceTypeNodePort, "", "None", http),
			service("c", corev1.ServiceTypeNodePort, "", "fd00::1", http),
			service("d", corev1.ServiceTypeLoadBalancer, "", "10.96.0.4", corev1.ServicePort{Name: "x", Port: 80}),
		}, nil, nil},
		{"LoadBalancer has its node ports; protocol defaults to TCP, the name to the port", []corev1.Service{
			service("lb", corev1.ServiceTypeLoadBalancer, "", "10.96.0.5", corev1.ServicePort{Port: 443, NodePort: 30443})}, nil,
			[]NodePort{{Service: "ns/lb:443", Protocol: corev1.ProtocolTCP, Port: 30443, ClusterIP: netip.MustParseAddrPort("10.96.0.5:443")}}},
		{"Local keeps this node's ready endpoints only", []corev1.Service{service("web", corev1.ServiceTypeNodePort, local, "10.96.0.10", http)},
			[]discoveryv1.EndpointSlice{
				endpointSlice("web", discoveryv1.AddressTypeIPv4, httpSlice,
					endpoint("10.16.0.9", "n1", nil), endpoint("10.16.0.5", "n1", ptr.To(true)),
					endpoint("10.16.0.6", "n1", ptr.To(false)), endpoint("10.16.0.7", "n2", ptr.To(true))),
				endpointSlice("web", discoveryv1.AddressTypeIPv6, httpSlice, endpoint("fd00::5", "n1", nil)),
				endpointSlice("other", discoveryv1.AddressTypeIPv4, httpSlice, endpoint("10.16.0.8", "n1", nil)),
			},
			[]NodePort{{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true, Endpoints: []netip.AddrPort{
				netip.MustParseAddrPort("10.16.0.5:8080"), netip.MustParseAddrPort("10.16.0.9:8080")}}}},
		{"Local falls back to serving terminating endpoints when none is ready", []corev1.Service{service("web", corev1.ServiceTypeNodePort, local, "10.96.0.10", http)},
			[]discoveryv1.EndpointSlice{endpointSlice("web", discoveryv1.AddressTypeIPv4, httpSlice,
				endpoint("10.16.0.5", "n1", ptr.To(false)),
				discoveryv1.Endpoint{Addresses: []string{"10.16.0.6"}, NodeName: ptr.To("n1"), Conditions: discoveryv1.EndpointConditions{
					Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}})},
			[]NodePort{{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true, Endpoints: []netip.AddrPort{
				netip.MustParseAddrPort("10.16.0.6:8080")}}}},
		{"dual stack with an IPv6 primary DNATs to the IPv4 ClusterIP", []corev1.Service{func() corev1.Service {
			s := service("ds", corev1.ServiceTypeNodePort, "", "fd00::10", http)
			s.Spec.ClusterIPs = []string{"fd00::10", "10.96.0.11"}
			return s
		}()}, nil,
			[]NodePort{{Service: "ns/ds:http", Protocol: corev1.ProtocolTCP, Port: 30080, ClusterIP: netip.MustParseAddrPort("10.96.0.11:80")}}},
		{"Local without a local endpoint has none (dropped)", []corev1.Service{service("web", corev1.ServiceTypeNodePort, local, "10.96.0.10", http)},
			[]discoveryv1.EndpointSlice{endpointSlice("web", discoveryv1.AddressTypeIPv4, httpSlice, endpoint("10.16.0.7", "n2", nil))},
			[]NodePort{{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true}}},
		{"Local matches the slice port by name and protocol", []corev1.Service{service("web", corev1.ServiceTypeNodePort, local, "10.96.0.10", http, dns)},
			[]discoveryv1.EndpointSlice{endpointSlice("web", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{
				{Name: ptr.To("http"), Port: ptr.To[int32](8080)},
				{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](5353)}},
				endpoint("10.16.0.5", "n1", nil))},
			[]NodePort{
				{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.16.0.5:8080")}},
				{Service: "ns/web:dns", Protocol: corev1.ProtocolUDP, Port: 30053, Local: true, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.16.0.5:5353")}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(Inputs{NodeName: "n1", Joins: dualJoin, ServiceCIDRs: dualServices, Services: tt.services,
				Slices: tt.slices}, IPv4).NodePorts
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("node ports:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A dual-stack join and service ranges, as a dual-stack cluster has them.
var (
	dualJoin     = []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16"), netip.MustParsePrefix("fd00:100:64::/112")}
	dualServices = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("fd00:96::/112")}
)

func TestNodePortsIPv6(t *testing.T) {
	http := corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}
	httpSlice := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}
	dual := func(policy corev1.ServiceExternalTrafficPolicy) corev1.Service {
		s := service("ds", corev1.ServiceTypeNodePort, policy, "10.96.0.11", http)
		s.Spec.ClusterIPs = []string{"10.96.0.11", "fd00:96::11"}
		return s
	}
	slices := []discoveryv1.EndpointSlice{
		endpointSlice("ds", discoveryv1.AddressTypeIPv4, httpSlice, endpoint("10.16.0.5", "n1", nil)),
		endpointSlice("ds", discoveryv1.AddressTypeIPv6, httpSlice, endpoint("fd00:10:16::5", "n1", nil),
			endpoint("fd00:10:16::6", "n2", nil)),
	}
	cluster6 := []NodePort{{Service: "ns/ds:http", Protocol: corev1.ProtocolTCP, Port: 30080,
		ClusterIP: netip.MustParseAddrPort("[fd00:96::11]:80")}}
	local6 := []NodePort{{Service: "ns/ds:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("[fd00:10:16::5]:8080")}}}
	tests := []struct {
		name     string
		services []corev1.Service
		joins    []netip.Prefix
		ranges   []netip.Prefix
		want     []NodePort
	}{
		{"dual stack, Cluster: to the IPv6 ClusterIP", []corev1.Service{dual("")}, dualJoin, dualServices, cluster6},
		{"dual stack, Local: to this node's IPv6 endpoints", []corev1.Service{dual(corev1.ServiceExternalTrafficPolicyLocal)},
			dualJoin, dualServices, local6},
		{"IPv6 only", []corev1.Service{service("ds", corev1.ServiceTypeNodePort, "", "fd00:96::11", http)},
			dualJoin, dualServices, cluster6},
		{"an IPv4-only Service has no IPv6 node port, Cluster or Local", []corev1.Service{
			service("a", corev1.ServiceTypeNodePort, "", "10.96.0.1", http),
			service("b", corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal, "10.96.0.2", http)},
			dualJoin, dualServices, nil},
		{"no IPv6 join: ovn0 has no IPv6, no node port", []corev1.Service{dual("")}, dualJoin[:1], dualServices, nil},
		{"no IPv6 service range: Cluster has no route to its ClusterIP", []corev1.Service{dual("")}, dualJoin, dualServices[:1], nil},
		{"no IPv6 service range: Local needs none", []corev1.Service{dual(corev1.ServiceExternalTrafficPolicyLocal)},
			dualJoin, dualServices[:1], local6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(Inputs{NodeName: "n1", Joins: tt.joins, ServiceCIDRs: tt.ranges, Services: tt.services,
				Slices: slices}, IPv6).NodePorts
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("node ports:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCommentIsBoundedAndDistinct(t *testing.T) {
	many := NodePort{Service: "ns/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, Local: true}
	for i := range 40 {
		many.Endpoints = append(many.Endpoints, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 16, 0, byte(i)}), 8080))
	}
	fewer := many
	fewer.Endpoints = many.Endpoints[:39]
	a, b := IPv4.nodePortRule(many).comment, IPv4.nodePortRule(fewer).comment
	if len(a) > maxComment || len(b) > maxComment || a == b {
		t.Fatalf("comments %q (%d) and %q (%d): want both within %d bytes and different", a, len(a), b, len(b), maxComment)
	}
}

func TestPeerNodes(t *testing.T) {
	node := func(name string, addrs ...corev1.NodeAddress) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	internal := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
	}
	tests := []struct {
		name   string
		nodes  []corev1.Node
		family Family
		want   []netip.Addr
	}{
		{"the other nodes' InternalIPs, sorted, without this node's", []corev1.Node{
			node("n3", internal("172.18.0.3")), node("n1", internal("172.18.0.1")), node("n2", internal("172.18.0.2"))}, IPv4,
			[]netip.Addr{netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("172.18.0.3")}},
		{"external addresses, IPv6, unparsable and duplicates are left out", []corev1.Node{
			node("n2", internal("172.18.0.2"), internal("fd00::2"), corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.2"}),
			node("n3", internal("nonsense"), internal("172.18.0.2"))}, IPv4,
			[]netip.Addr{netip.MustParseAddr("172.18.0.2")}},
		{"IPv6: the IPv6 InternalIPs", []corev1.Node{
			node("n1", internal("fd00::1")), node("n2", internal("172.18.0.2"), internal("fd00::2"))}, IPv6,
			[]netip.Addr{netip.MustParseAddr("fd00::2")}},
		{"alone", []corev1.Node{node("n1", internal("172.18.0.1"))}, IPv4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := peerNodes(tt.nodes, "n1", tt.family); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("peerNodes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRemoteEgress(t *testing.T) {
	central := func(name, cidr, active string) ovnetv1.Subnet {
		s := subnet(name, cidr, nil)
		s.Spec.GatewayType, s.Status.ActiveGateway = ovnetv1.GatewayCentralized, active
		return s
	}
	tests := []struct {
		name    string
		subnets []ovnetv1.Subnet
		want    []Range
	}{
		{"centralized on another node, NAT or not", []ovnetv1.Subnet{central("a", "10.84.0.0/24", "n2"),
			subnet("d", "10.16.0.0/16", nil), central("b", "10.85.0.0/24, fd00::/64", "n3")},
			ranges("10.84.0.0", "10.84.0.255", "10.85.0.0", "10.85.0.255")},
		{"centralized here, or with no gateway in force, is not remote", []ovnetv1.Subnet{
			central("a", "10.84.0.0/24", "n1"), central("b", "10.85.0.0/24", "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := remoteEgress(tt.subnets, "n1", IPv4); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("remoteEgress = %v, want %v", got, tt.want)
			}
			// The IPv6 half of a centralized subnet leaves through each
			// pod's own node: nothing is remote.
			if got := remoteEgress(tt.subnets, "n1", IPv6); got != nil {
				t.Fatalf("remoteEgress in IPv6 = %v, want none", got)
			}
		})
	}
}
