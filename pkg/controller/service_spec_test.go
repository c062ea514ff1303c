package controller

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testService(clusterIPs []string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIPs[0], ClusterIPs: clusterIPs, Ports: ports},
	}
}

func servicePort(name string, proto corev1.Protocol, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: port, TargetPort: target}
}

type sliceEndpoint struct {
	ip                          string
	ready, serving, terminating *bool
}

func testSlice(family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...sliceEndpoint) discoveryv1.EndpointSlice {
	s := discoveryv1.EndpointSlice{AddressType: family, Ports: ports}
	for _, ep := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ep.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ep.ready, Serving: ep.serving, Terminating: ep.terminating}})
	}
	return s
}

func slicePortOf(name string, proto corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(proto), Port: ptr.To(port)}
}

func TestServiceLoadBalancers(t *testing.T) {
	rejectOnly := map[string]string{"reject": "true"}
	tcpHTTP := []discoveryv1.EndpointPort{slicePortOf("http", corev1.ProtocolTCP, 8080)}
	tests := []struct {
		name     string
		svc      *corev1.Service
		slices   []discoveryv1.EndpointSlice
		want     map[string]map[string]string // protocol -> vips
		options  map[string]string
		problems []string
	}{
		{
			name: "ready filter: nil counts as ready, false is left out",
			svc:  testService([]string{"10.96.0.10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP,
				sliceEndpoint{ip: "10.16.0.5"}, sliceEndpoint{ip: "10.16.0.6", ready: ptr.To(true)},
				sliceEndpoint{ip: "10.16.0.7", ready: ptr.To(false)},
				sliceEndpoint{ip: "10.16.0.8", ready: ptr.To(false), serving: ptr.To(true), terminating: ptr.To(true)})},
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": "10.16.0.5:8080,10.16.0.6:8080"}},
			options: rejectOnly,
		},
		{
			name: "no ready endpoint: terminating ones that still serve take the traffic",
			svc:  testService([]string{"10.96.0.10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP,
				sliceEndpoint{ip: "10.16.0.7", ready: ptr.To(false)},
				sliceEndpoint{ip: "10.16.0.8", ready: ptr.To(false), serving: ptr.To(true), terminating: ptr.To(true)},
				sliceEndpoint{ip: "10.16.0.9", ready: ptr.To(false), serving: ptr.To(false), terminating: ptr.To(true)})},
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": "10.16.0.8:8080"}},
			options: rejectOnly,
		},
		{
			name: "named target port resolves per slice",
			svc:  testService([]string{"10.96.0.10"}, servicePort("http", "TCP", 80, intstr.FromString("web"))),
			slices: []discoveryv1.EndpointSlice{
				testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP, sliceEndpoint{ip: "10.16.0.5"}),
				testSlice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePortOf("http", corev1.ProtocolTCP, 9090)},
					sliceEndpoint{ip: "10.16.0.6"}),
			},
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": "10.16.0.5:8080,10.16.0.6:9090"}},
			options: rejectOnly,
		},
		{
			name: "multi-port and multi-protocol: one load balancer per protocol, one VIP per port",
			svc: testService([]string{"10.96.0.10"},
				servicePort("http", "TCP", 80, intstr.FromInt32(8080)),
				servicePort("admin", "TCP", 81, intstr.FromInt32(8081)),
				servicePort("dns", "UDP", 53, intstr.FromInt32(5353)),
				servicePort("sig", "SCTP", 99, intstr.FromInt32(99))),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{
				slicePortOf("http", corev1.ProtocolTCP, 8080), slicePortOf("admin", corev1.ProtocolTCP, 8081),
				slicePortOf("dns", corev1.ProtocolUDP, 5353), slicePortOf("sig", corev1.ProtocolSCTP, 99),
			}, sliceEndpoint{ip: "10.16.0.5"})},
			want: map[string]map[string]string{
				"tcp":  {"10.96.0.10:80": "10.16.0.5:8080", "10.96.0.10:81": "10.16.0.5:8081"},
				"udp":  {"10.96.0.10:53": "10.16.0.5:5353"},
				"sctp": {"10.96.0.10:99": "10.16.0.5:99"},
			},
			options: rejectOnly,
		},
		{
			name:    "no endpoints: the VIP stays, with no backend, and refuses",
			svc:     testService([]string{"10.96.0.10"}, servicePort("", "", 80, intstr.FromInt32(80))),
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": ""}},
			options: rejectOnly,
		},
		{
			name: "duplicate endpoints across slices and IPv6 slices",
			svc:  testService([]string{"10.96.0.10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{
				testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP, sliceEndpoint{ip: "10.16.0.5"}),
				testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP, sliceEndpoint{ip: "10.16.0.5"}),
				testSlice(discoveryv1.AddressTypeIPv6, tcpHTTP, sliceEndpoint{ip: "fd00::5"}),
			},
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": "10.16.0.5:8080"}},
			options: rejectOnly,
		},
		{
			name: "client IP affinity with the default timeout",
			svc: func() *corev1.Service {
				s := testService([]string{"10.96.0.10"}, servicePort("", "TCP", 80, intstr.FromInt32(80)))
				s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				return s
			}(),
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": ""}},
			options: map[string]string{"reject": "true", "affinity_timeout": "10800"},
		},
		{
			name: "client IP affinity with a timeout",
			svc: func() *corev1.Service {
				s := testService([]string{"10.96.0.10"}, servicePort("", "TCP", 80, intstr.FromInt32(80)))
				s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
				return s
			}(),
			want:    map[string]map[string]string{"tcp": {"10.96.0.10:80": ""}},
			options: map[string]string{"reject": "true", "affinity_timeout": "60"},
		},
		{
			name: "headless: nothing",
			svc:  testService([]string{"None"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP,
				sliceEndpoint{ip: "10.16.0.5"})},
		},
		{
			name: "IPv6 cluster IP: bracketed VIP, IPv6 backends only",
			svc:  testService([]string{"fd00:96::10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{
				testSlice(discoveryv1.AddressTypeIPv4, tcpHTTP, sliceEndpoint{ip: "10.16.0.5"}),
				testSlice(discoveryv1.AddressTypeIPv6, tcpHTTP, sliceEndpoint{ip: "fd00:16::6"}, sliceEndpoint{ip: "fd00:16::5"}),
			},
			want:    map[string]map[string]string{"tcp": {"[fd00:96::10]:80": "[fd00:16::5]:8080,[fd00:16::6]:8080"}},
			options: rejectOnly,
		},
		{
			name: "dual stack: one load balancer per protocol, each VIP with the backends of its family",
			svc: testService([]string{"10.96.0.10", "fd00:96::10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080)),
				servicePort("dns", "UDP", 53, intstr.FromInt32(53))),
			slices: []discoveryv1.EndpointSlice{
				testSlice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePortOf("http", corev1.ProtocolTCP, 8080),
					slicePortOf("dns", corev1.ProtocolUDP, 53)}, sliceEndpoint{ip: "10.16.0.5"}),
				testSlice(discoveryv1.AddressTypeIPv6, tcpHTTP, sliceEndpoint{ip: "fd00:16::5"}),
			},
			want: map[string]map[string]string{
				"tcp": {"10.96.0.10:80": "10.16.0.5:8080", "[fd00:96::10]:80": "[fd00:16::5]:8080"},
				"udp": {"10.96.0.10:53": "10.16.0.5:53", "[fd00:96::10]:53": ""},
			},
			options: rejectOnly,
		},
		{
			name: "IPv6 primary with client IP affinity",
			svc: func() *corev1.Service {
				s := testService([]string{"fd00:96::10", "10.96.0.10"}, servicePort("", "TCP", 80, intstr.FromInt32(80)))
				s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				return s
			}(),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv6,
				[]discoveryv1.EndpointPort{slicePortOf("", corev1.ProtocolTCP, 80)}, sliceEndpoint{ip: "fd00:16::5"})},
			want:    map[string]map[string]string{"tcp": {"[fd00:96::10]:80": "[fd00:16::5]:80", "10.96.0.10:80": ""}},
			options: map[string]string{"reject": "true", "affinity_timeout": "10800"},
		},
		{
			name: "addresses of the other family or with a zone in a hand-written slice are left out",
			svc:  testService([]string{"fd00:96::10"}, servicePort("http", "TCP", 80, intstr.FromInt32(8080))),
			slices: []discoveryv1.EndpointSlice{testSlice(discoveryv1.AddressTypeIPv6, tcpHTTP,
				sliceEndpoint{ip: "10.16.0.5"}, sliceEndpoint{ip: "fe80::1%eth0"}, sliceEndpoint{ip: "::ffff:10.16.0.6"},
				sliceEndpoint{ip: "fd00:16::5"})},
			want:    map[string]map[string]string{"tcp": {"[fd00:96::10]:80": "[fd00:16::5]:8080"}},
			options: rejectOnly,
		},
		{
			name: "a cluster IP that is not an address: an event, the rest programmed",
			svc:  testService([]string{"10.96.0.10", "fd00:96::zz"}, servicePort("", "TCP", 80, intstr.FromInt32(80))),
			want: map[string]map[string]string{"tcp": {"10.96.0.10:80": ""}}, options: rejectOnly,
			problems: []string{`cluster IP "fd00:96::zz" is not an IP address`},
		},
		{
			name: "unsupported protocol: that port is left out",
			svc: testService([]string{"10.96.0.10"}, servicePort("a", "TCP", 80, intstr.FromInt32(80)),
				servicePort("b", "ICMP", 81, intstr.FromInt32(81))),
			want: map[string]map[string]string{"tcp": {"10.96.0.10:80": ""}}, options: rejectOnly,
			problems: []string{"port b: protocol ICMP is not supported"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lbs, problems := serviceLoadBalancers(tt.svc, tt.slices)
			got := map[string]map[string]string{}
			for _, lb := range lbs {
				got[lb.Protocol] = lb.Vips
				if want := "Service_ns/web_" + lb.Protocol; lb.Name != want {
					t.Errorf("name %q, want %q", lb.Name, want)
				}
				if !reflect.DeepEqual(lb.Options, tt.options) {
					t.Errorf("%s options %v, want %v", lb.Protocol, lb.Options, tt.options)
				}
				if lb.Owner.Kind != "Service" || lb.Owner.Namespace != "ns" || lb.Owner.Name != "web" {
					t.Errorf("owner %+v", lb.Owner)
				}
			}
			if tt.want == nil {
				tt.want = map[string]map[string]string{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("vips %v, want %v", got, tt.want)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems %q, want %q", problems, tt.problems)
			}
			for i, p := range tt.problems {
				if !strings.Contains(problems[i], p) {
					t.Errorf("problem %q, want it to mention %q", problems[i], p)
				}
			}
		})
	}
}
