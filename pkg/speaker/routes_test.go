package speaker

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// The objects of the tests: what a user annotates, as the controller
// leaves them.

func subnet(name, cidr string, nat bool, bgp string, mutate ...func(*ovnetv1.Subnet)) ovnetv1.Subnet {
	s := ovnetv1.Subnet{ObjectMeta: meta("", name, bgp), Spec: ovnetv1.SubnetSpec{CIDR: cidr, NATOutgoing: ptr.To(nat),
		GatewayType: ovnetv1.GatewayDistributed}}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

func pod(name, node, ip, sw, bgp string, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: meta("default", name, bgp), Spec: corev1.PodSpec{NodeName: node}}
	if ip != "" {
		p.Annotations[annotation.Allocated] = annotation.True
		p.Annotations[annotation.IPAddress] = ip
		p.Annotations[annotation.MACAddress] = "0a:00:00:00:00:01"
		p.Annotations[annotation.LogicalSwitch] = sw
	}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

func service(name, bgp string, ips ...string) corev1.Service {
	s := corev1.Service{ObjectMeta: meta("default", name, bgp), Spec: corev1.ServiceSpec{ClusterIPs: ips}}
	if len(ips) > 0 {
		s.Spec.ClusterIP = ips[0]
	}
	return s
}

func meta(namespace, name, bgp string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "/" + name), Annotations: map[string]string{}}
	if bgp != "" {
		m.Annotations[annotation.BGP] = bgp
	}
	return m
}

func TestCompute(t *testing.T) {
	deleting := metav1.Now()
	tests := []struct {
		name  string
		state State
		// want are the announced prefixes; refused the names of the
		// objects refused, with their reasons.
		want    []string
		refused map[string]string
	}{
		{name: "nothing annotated", state: State{Node: "n1",
			Subnets:  []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "")},
			Pods:     []corev1.Pod{pod("p", "n1", "10.80.0.5", "a", "")},
			Services: []corev1.Service{service("s", "", "10.96.0.20")}}},
		{name: "subnet, pod and service", state: State{Node: "n1",
			Subnets:  []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "true")},
			Pods:     []corev1.Pod{pod("p", "n1", "10.80.0.5", "a", "true")},
			Services: []corev1.Service{service("s", "true", "10.96.0.20")}},
			want: []string{"10.80.0.0/24", "10.80.0.5/32", "10.96.0.20/32"}},
		{name: "IPv6 on a node with an IPv6 address", state: State{Node: "n1", IPv6: true,
			Subnets: []ovnetv1.Subnet{subnet("v6", "fd00:10::/64", false, "true"), subnet("dual", "10.85.0.0/24,fd00:85::/64", false, "true")},
			Pods:    []corev1.Pod{pod("p", "n1", "fd00:10::5", "v6", "true")},
			Services: []corev1.Service{service("s", "true", "10.96.0.20", "fd00::20"),
				service("v6", "true", "fd00::21")}},
			want: []string{"10.85.0.0/24", "10.96.0.20/32", "fd00::20/128", "fd00::21/128", "fd00:10::/64", "fd00:10::5/128", "fd00:85::/64"}},
		{name: "IPv6 on a node without: refused, IPv4 still announced", state: State{Node: "n1",
			Subnets:  []ovnetv1.Subnet{subnet("dual", "10.85.0.0/24,fd00:85::/64", false, "true")},
			Pods:     []corev1.Pod{pod("p", "n1", "fd00:85::5", "dual", "true")},
			Services: []corev1.Service{service("s", "true", "10.96.0.20", "fd00::20")}},
			want:    []string{"10.85.0.0/24", "10.96.0.20/32"},
			refused: map[string]string{"dual": ReasonBGPNotAnnounced, "p": ReasonBGPNotAnnounced, "s": ReasonBGPNotAnnounced}},
		{name: "CIDR not a prefix", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("bad", "10.85.0.0/24,nonsense", false, "true")}},
			refused: map[string]string{"bad": ReasonBGPNotAnnounced}},
		{name: "annotation false", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "false")}}},
		{name: "bad annotation", state: State{Node: "n1",
			Subnets:  []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "yes")},
			Services: []corev1.Service{service("s", "True", "10.96.0.20")}},
			refused: map[string]string{"a": ReasonInvalidBGP, "s": ReasonInvalidBGP}},
		{name: "NAT subnet and its pods refused", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("nat", "10.81.0.0/24", true, "true"), subnet("default", "10.16.0.0/16", true, "")},
			Pods:    []corev1.Pod{pod("p", "n1", "10.16.0.5", "default", "true")}},
			refused: map[string]string{"nat": ReasonBGPNotAnnounced, "p": ReasonBGPNotAnnounced}},
		{name: "NAT unset is on", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "true", func(s *ovnetv1.Subnet) { s.Spec.NATOutgoing = nil })}},
			refused: map[string]string{"a": ReasonBGPNotAnnounced}},
		{name: "IPv6 subnet refused", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("v6", "fd00:10::/64", false, "true")}},
			refused: map[string]string{"v6": ReasonBGPNotAnnounced}},
		{name: "centralized: the active gateway announces", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{
				subnet("here", "10.82.0.0/24", false, "true", centralized("n1")),
				subnet("there", "10.83.0.0/24", false, "true", centralized("n2")),
				subnet("none", "10.84.0.0/24", false, "true", centralized(""))}},
			want: []string{"10.82.0.0/24"}},
		{name: "subnet being deleted", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "true", func(s *ovnetv1.Subnet) { s.DeletionTimestamp = &deleting })}}},
		{name: "pods: only this node's, addressed and running", state: State{Node: "n1",
			Subnets: []ovnetv1.Subnet{subnet("a", "10.80.0.0/24", false, "")},
			Pods: []corev1.Pod{
				pod("here", "n1", "10.80.0.5", "a", "true"),
				pod("there", "n2", "10.80.0.6", "a", "true"),
				pod("pending", "n1", "", "a", "true"),
				pod("unknown-subnet", "n1", "10.80.0.7", "gone", "true"),
				pod("done", "n1", "10.80.0.8", "a", "true", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				pod("deleting", "n1", "10.80.0.9", "a", "true", func(p *corev1.Pod) { p.DeletionTimestamp = &deleting }),
				pod("host", "n1", "", "", "true", func(p *corev1.Pod) { p.Spec.HostNetwork = true }),
			}},
			want: []string{"10.80.0.5/32"}, refused: map[string]string{"host": ReasonBGPNotAnnounced}},
		{name: "headless service refused", state: State{Node: "n1",
			Services: []corev1.Service{service("headless", "true", "None")}},
			refused: map[string]string{"headless": ReasonBGPNotAnnounced}},
		{name: "service with ClusterIP only", state: State{Node: "n1",
			Services: []corev1.Service{{ObjectMeta: meta("default", "old", "true"), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.30"}}}},
			want: []string{"10.96.0.30/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Compute(tt.state)
			var got []string
			for _, p := range Sorted(d.Prefixes) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("announced %v, want %v", got, tt.want)
			}
			refused := map[string]string{}
			for _, r := range d.Refusals {
				refused[r.Object.GetName()] = r.Reason
				if r.Message == "" {
					t.Errorf("refusal of %s without a message", r.Object.GetName())
				}
			}
			if len(refused) != len(tt.refused) {
				t.Errorf("refused %v, want %v", refused, tt.refused)
			}
			for name, reason := range tt.refused {
				if refused[name] != reason {
					t.Errorf("refused %v, want %s refused with %s", refused, name, reason)
				}
			}
		})
	}
}

func centralized(active string) func(*ovnetv1.Subnet) {
	return func(s *ovnetv1.Subnet) {
		s.Spec.GatewayType, s.Spec.GatewayNode, s.Status.ActiveGateway = ovnetv1.GatewayCentralized, "n1,n2", active
	}
}

func TestSorted(t *testing.T) {
	in := map[netip.Prefix]string{
		netip.MustParsePrefix("10.96.0.1/32"): "", netip.MustParsePrefix("10.16.0.0/16"): "",
		netip.MustParsePrefix("10.16.0.0/24"): "", netip.MustParsePrefix("10.16.0.5/32"): "",
	}
	want := []string{"10.16.0.0/16", "10.16.0.0/24", "10.16.0.5/32", "10.96.0.1/32"}
	var got []string
	for _, p := range Sorted(in) {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Sorted = %v, want %v", got, want)
	}
}
