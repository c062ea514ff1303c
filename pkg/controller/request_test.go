package controller

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

func stsPod(name, owner string) *corev1.Pod {
	isController := true
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{
		{Kind: "StatefulSet", Name: owner, Controller: &isController}}}}
}

func TestStatefulSetOf(t *testing.T) {
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantSts     string
		wantOrdinal int
		wantOK      bool
	}{
		{"ordinal", stsPod("db-2", "db"), "db", 2, true},
		{"dashed name", stsPod("my-db-10", "my-db"), "my-db", 10, true},
		{"name not from owner", stsPod("other-1", "db"), "", 0, false},
		{"no ordinal", stsPod("db-x", "db"), "", 0, false},
		{"no owner", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0"}}, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts, ordinal, ok := statefulSetOf(tt.pod)
			if sts != tt.wantSts || ordinal != tt.wantOrdinal || ok != tt.wantOK {
				t.Fatalf("got (%q, %d, %v), want (%q, %d, %v)", sts, ordinal, ok, tt.wantSts, tt.wantOrdinal, tt.wantOK)
			}
		})
	}
}

func TestPoolRequest(t *testing.T) {
	pool := "10.0.0.5,10.0.0.6,10.0.0.7"
	dualPool := "10.0.0.5,fd00::5;10.0.0.6,fd00::6"
	tests := []struct {
		name      string
		pod       *corev1.Pod
		pool      string
		dual      bool
		wantIPs   []string // per family; "" for none
		wantPools []int
		wantErr   bool
	}{
		{"statefulset ordinal picks its entry", stsPod("db-1", "db"), pool, false, []string{"10.0.0.6"}, []int{0}, false},
		{"ordinal beyond the pool", stsPod("db-3", "db"), pool, false, nil, nil, true},
		{"plain pod gets candidates", &corev1.Pod{}, pool, false, []string{""}, []int{3}, false},
		{"malformed pool", &corev1.Pod{}, "10.0.0.5,nope", false, nil, nil, true},
		{"empty pool", &corev1.Pod{}, " , ", false, nil, nil, true},
		{"dual statefulset ordinal, each family", stsPod("db-1", "db"), dualPool, true, []string{"10.0.0.6", "fd00::6"}, []int{0, 0}, false},
		{"dual plain pod, candidates per family", &corev1.Pod{}, dualPool, true, []string{"", ""}, []int{2, 2}, false},
		{"dual pool of IPv4 only: IPv6 dynamic", stsPod("db-0", "db"), pool, true, []string{"10.0.0.5", ""}, []int{0, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := []ipam.Request{{Subnet: "s"}}
			if tt.dual {
				reqs = append(reqs, ipam.Request{Subnet: ipv6Half("s")})
			}
			err := poolRequest(reqs, tt.pod, tt.pool)
			var bad *badAnnotation
			if tt.wantErr != (err != nil) || (err != nil && !errors.As(err, &bad)) {
				t.Fatalf("err = %v, want a badAnnotation: %v", err, tt.wantErr)
			}
			for i, want := range tt.wantIPs {
				if (want == "" && reqs[i].IP.IsValid()) || (want != "" && reqs[i].IP != netip.MustParseAddr(want)) {
					t.Errorf("request %d: IP %s, want %q", i, reqs[i].IP, want)
				}
				if len(reqs[i].Pool) != tt.wantPools[i] {
					t.Errorf("request %d: pool of %d, want %d", i, len(reqs[i].Pool), tt.wantPools[i])
				}
			}
		})
	}
}

func TestFixedRequest(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		dual    bool
		wantIPs []string
		wantErr bool
	}{
		{"one address", "10.0.0.9", false, []string{"10.0.0.9"}, false},
		{"dual, Kube-OVN's order", "10.0.0.9,fd00::9", true, []string{"10.0.0.9", "fd00::9"}, false},
		{"dual, IPv6 first", "fd00::9, 10.0.0.9", true, []string{"10.0.0.9", "fd00::9"}, false},
		{"dual, IPv4 only: IPv6 dynamic", "10.0.0.9", true, []string{"10.0.0.9", ""}, false},
		{"two addresses, single stack", "10.0.0.9,fd00::9", false, nil, true},
		{"two of one family", "10.0.0.9,10.0.0.10", true, nil, true},
		{"not an address", "10.0.0.9,x", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := []ipam.Request{{Subnet: "s"}}
			if tt.dual {
				reqs = append(reqs, ipam.Request{Subnet: ipv6Half("s")})
			}
			err := fixedRequest(reqs, tt.value)
			var bad *badAnnotation
			if tt.wantErr != (err != nil) || (err != nil && (!errors.As(err, &bad) || bad.Key != annotation.IPAddress)) {
				t.Fatalf("err = %v, want an ip_address badAnnotation: %v", err, tt.wantErr)
			}
			for i, want := range tt.wantIPs {
				if (want == "" && reqs[i].IP.IsValid()) || (want != "" && reqs[i].IP != netip.MustParseAddr(want)) {
					t.Errorf("request %d: IP %s, want %q", i, reqs[i].IP, want)
				}
			}
		})
	}
}

func TestSubnetFromNamespace(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		wantOK      bool
		wantName    string
		check       func(*testing.T, ovnetv1.SubnetSpec)
	}{
		{"no cidr", map[string]string{annotation.LogicalSwitch: "x"}, false, "", nil},
		{"named after the namespace", map[string]string{annotation.CIDR: " 10.1.0.0/24 "}, true, "ns1",
			func(t *testing.T, s ovnetv1.SubnetSpec) {
				if s.CIDR != "10.1.0.0/24" || s.GatewayType != ovnetv1.GatewayDistributed || !*s.NATOutgoing {
					t.Fatalf("spec %+v", s)
				}
			}},
		{"every key", map[string]string{
			annotation.CIDR: "10.1.0.0/24", annotation.LogicalSwitch: "net", annotation.Gateway: "10.1.0.254",
			annotation.ExcludeIPs: "10.1.0.2, 10.1.0.5..10.1.0.9", annotation.Private: "true", annotation.Allow: "10.2.0.0/16",
			annotation.GatewayType: "centralized", annotation.GatewayNode: "n1", annotation.GatewayNAT: "false"}, true, "net",
			func(t *testing.T, s ovnetv1.SubnetSpec) {
				if s.Gateway != "10.1.0.254" || len(s.ExcludeIPs) != 2 || !s.Private || len(s.Allow) != 1 ||
					s.GatewayType != ovnetv1.GatewayCentralized || s.GatewayNode != "n1" || *s.NATOutgoing ||
					len(s.Namespaces) != 1 || s.Namespaces[0] != "ns1" {
					t.Fatalf("spec %+v", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1", Annotations: tt.annotations}}
			s, ok := subnetFromNamespace(ns)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if s.Name != tt.wantName || s.Labels[LabelNamespace] != "ns1" {
				t.Fatalf("subnet %s labels %v", s.Name, s.Labels)
			}
			tt.check(t, s.Spec)
		})
	}
}

func TestIPAMConfig(t *testing.T) {
	n := &Network{Config: Config{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}}
	tests := []struct {
		name       string
		spec       ovnetv1.SubnetSpec
		wantReason string
		wantGW     string
	}{
		{"default gateway", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24"}, "", "10.1.0.1"},
		{"ipv6", ovnetv1.SubnetSpec{CIDR: "fd00:10::/64"}, "", "fd00:10::1"},
		{"given gateway", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", Gateway: "10.1.0.254"}, "", "10.1.0.254"},
		{"gateway outside", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", Gateway: "10.2.0.1"}, ovnetv1.ReasonInvalidSpec, ""},
		{"bad cidr", ovnetv1.SubnetSpec{CIDR: "10.1.0.0"}, ovnetv1.ReasonInvalidSpec, ""},
		{"service overlap", ovnetv1.SubnetSpec{CIDR: "10.100.0.0/16"}, ovnetv1.ReasonOverlap, ""},
		{"bad exclude", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", ExcludeIPs: []string{"x"}}, ovnetv1.ReasonInvalidSpec, ""},
		{"bad allow", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", Allow: []string{"10.0.0.0"}}, ovnetv1.ReasonInvalidSpec, ""},
		{"dual stack, default gateways", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64"}, "", "10.1.0.1,fd00:10::1"},
		{"dual stack, IPv6 first", ovnetv1.SubnetSpec{CIDR: "fd00:10::/64, 10.1.0.0/24"}, "", "10.1.0.1,fd00:10::1"},
		{"dual stack, given gateways", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64", Gateway: "fd00:10::fe,10.1.0.254"}, "", "10.1.0.254,fd00:10::fe"},
		{"dual stack, one gateway given", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64", Gateway: "10.1.0.254"}, "", "10.1.0.254,fd00:10::1"},
		{"two IPv4 CIDRs", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,10.2.0.0/24"}, ovnetv1.ReasonInvalidSpec, ""},
		{"three CIDRs", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64,fd00:11::/64"}, ovnetv1.ReasonInvalidSpec, ""},
		{"IPv6 gateway, IPv4 subnet", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", Gateway: "fd00:10::1"}, ovnetv1.ReasonInvalidSpec, ""},
		{"two IPv4 gateways", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64", Gateway: "10.1.0.1,10.1.0.2"}, ovnetv1.ReasonInvalidSpec, ""},
		{"IPv6 gateway outside", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24,fd00:10::/64", Gateway: "10.1.0.1,fd00:11::1"}, ovnetv1.ReasonInvalidSpec, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := n.ipamConfig("s", tt.spec)
			var se *specError
			if tt.wantReason == "" {
				var gws []string
				for _, half := range cfg.halves() {
					gws = append(gws, half.Gateway.String())
				}
				if err != nil || strings.Join(gws, ",") != tt.wantGW {
					t.Fatalf("cfg %+v err %v, want gateway %s", cfg, err, tt.wantGW)
				}
				return
			}
			if !errors.As(err, &se) || se.Reason != tt.wantReason {
				t.Fatalf("err %v, want reason %s", err, tt.wantReason)
			}
		})
	}
}

func TestRouterPortMACIsStableAndUnicast(t *testing.T) {
	a, b := routerPortMAC("ovn-cluster-x"), routerPortMAC("ovn-cluster-x")
	if a != b {
		t.Fatalf("MAC not stable: %s %s", a, b)
	}
	if _, err := ipam.ParseMAC(a); err != nil {
		t.Fatalf("router port MAC %s: %v", a, err)
	}
	if routerPortMAC("ovn-cluster-y") == a {
		t.Fatal("two ports share a MAC")
	}
}

func TestPodUpdateMatters(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annotation.IPAddress: "10.0.0.5"}}}
	}
	tests := []struct {
		name   string
		change func(*corev1.Pod)
		want   bool
	}{
		{"status only", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, false},
		{"finished", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true},
		{"terminating", func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }, true},
		{"own record lands", func(p *corev1.Pod) { p.Annotations[annotation.Allocated] = "true" }, false},
		{"user annotation", func(p *corev1.Pod) { p.Annotations[annotation.IPPool] = "10.0.0.6" }, true},
		{"record removed", func(p *corev1.Pod) { delete(p.Annotations, annotation.IPAddress) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldPod, newPod := base(), base()
			tt.change(newPod)
			if got := podUpdateMatters(oldPod, newPod); got != tt.want {
				t.Fatalf("podUpdateMatters = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPendingSummary(t *testing.T) {
	p := newPending()
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }
	if n, _ := p.summary("s"); n != 0 {
		t.Fatalf("empty: %d pending", n)
	}
	for _, name := range []string{"d", "b", "a", "c"} {
		if !p.set("s", key(name), "why "+name) {
			t.Fatalf("first set of %s reported no change", name)
		}
	}
	if p.set("s", key("a"), "why a") {
		t.Fatal("same reason again reported a change")
	}
	n, msg := p.summary("s")
	want := "4 pods wait for an address: ns/a: why a; ns/b: why b; ns/c: why c; and 1 more"
	if n != 4 || msg != want {
		t.Fatalf("summary (%d, %q), want (4, %q)", n, msg, want)
	}
	p.set("t", key("a"), "moved") // a pod waits on one subnet at a time
	if subnet, had := p.clear(key("a")); !had || subnet != "t" {
		t.Fatalf("clear a: (%q, %v)", subnet, had)
	}
	if n, _ := p.summary("s"); n != 3 {
		t.Fatalf("after moving a away, %d pending on s, want 3", n)
	}
}
