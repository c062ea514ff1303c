package integration

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestFixedAddressAndMAC(t *testing.T) {
	e := newEnv(t)
	e.namespace("fixed", map[string]string{annotation.CIDR: "10.50.0.0/24"})
	e.condition("fixed", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	tests := []struct {
		name, ip, mac string
	}{
		{name: "ip-only", ip: "10.50.0.77"},
		{name: "mac-only", mac: "00:00:00:12:34:56"},
		{name: "both", ip: "10.50.0.200", mac: "0a:00:00:00:00:c8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ann := map[string]string{}
			if tt.ip != "" {
				ann[annotation.IPAddress] = tt.ip
			}
			if tt.mac != "" {
				ann[annotation.MACAddress] = tt.mac
			}
			e.pod("fixed", tt.name, ann)
			p := e.addressed("fixed", tt.name)
			if tt.ip != "" && p.Annotations[annotation.IPAddress] != tt.ip {
				t.Fatalf("ip_address %s, asked for %s", p.Annotations[annotation.IPAddress], tt.ip)
			}
			if tt.mac != "" && p.Annotations[annotation.MACAddress] != tt.mac {
				t.Fatalf("mac_address %s, asked for %s", p.Annotations[annotation.MACAddress], tt.mac)
			}
			e.checkPort(p)
		})
	}
}

func TestPodInNamedSwitchAndDefault(t *testing.T) {
	e := newEnv(t)
	e.namespace("plain", nil)
	e.namespace("named", map[string]string{annotation.CIDR: "10.51.0.0/24", annotation.LogicalSwitch: "named-net"})
	e.condition("named-net", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	// A Subnet made directly, listing a namespace that has no annotations.
	e.namespace("listed", nil)
	shared := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "shared"},
		Spec: ovnetv1.SubnetSpec{CIDR: "10.57.0.0/24", Namespaces: []string{"listed"}}}
	if err := e.c.Create(e.ctx, shared); err != nil {
		t.Fatal(err)
	}
	e.condition("shared", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	tests := []struct {
		namespace, name string
		annotations     map[string]string
		wantSwitch      string
	}{
		{"plain", "a", nil, "ovn-default"},
		{"named", "b", nil, "named-net"},
		{"plain", "c", map[string]string{annotation.LogicalSwitch: "named-net"}, "named-net"},
		{"listed", "d", nil, "shared"},
	}
	for _, tt := range tests {
		e.pod(tt.namespace, tt.name, tt.annotations)
		p := e.addressed(tt.namespace, tt.name)
		if got := p.Annotations[annotation.LogicalSwitch]; got != tt.wantSwitch {
			t.Errorf("pod %s/%s placed in %s, want %s", tt.namespace, tt.name, got, tt.wantSwitch)
		}
		e.checkPort(p)
	}
	host := newPod("plain", "host", nil)
	host.Spec.HostNetwork = true
	if err := e.c.Create(e.ctx, host); err != nil {
		t.Fatal(err)
	}
	e.addressed("plain", "a") // a later pod is addressed, so the host pod was seen
	e.pod("plain", "after-host", nil)
	e.addressed("plain", "after-host")
	if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(host), host); err != nil {
		t.Fatal(err)
	}
	if _, ok := host.Annotations[annotation.Allocated]; ok || e.view.SwitchPort(t, "host.plain") != nil {
		t.Fatalf("host-network pod was addressed: %v", host.Annotations)
	}
}

func TestIPPool(t *testing.T) {
	e := newEnv(t)
	e.namespace("pool", map[string]string{annotation.CIDR: "10.52.0.0/24"})
	e.condition("pool", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	pool := "10.52.0.101,10.52.0.102,10.52.0.103"
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "pool", Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
			},
		},
	}
	if err := e.c.Create(e.ctx, sts); err != nil {
		t.Fatal(err)
	}
	stsPod := func(ordinal int) *corev1.Pod {
		p := newPod("pool", fmt.Sprintf("db-%d", ordinal), map[string]string{annotation.IPPool: pool})
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(sts, appsv1.SchemeGroupVersion.WithKind("StatefulSet"))}
		return p
	}
	// Created out of order: each takes the entry of its ordinal.
	for _, ordinal := range []int{2, 0, 1} {
		if err := e.c.Create(e.ctx, stsPod(ordinal)); err != nil {
			t.Fatal(err)
		}
	}
	for ordinal, want := range []string{"10.52.0.101", "10.52.0.102", "10.52.0.103"} {
		if got := e.addressed("pool", fmt.Sprintf("db-%d", ordinal)).Annotations[annotation.IPAddress]; got != want {
			t.Errorf("db-%d got %s, want pool entry %d %s", ordinal, got, ordinal, want)
		}
	}

	// A recreated StatefulSet pod gets its address back; its port is kept meanwhile.
	e.deletePod("pool", "db-1")
	e.pod("pool", "squatter", map[string]string{annotation.IPPool: "10.52.0.102,10.52.0.110"})
	if got := e.addressed("pool", "squatter").Annotations[annotation.IPAddress]; got != "10.52.0.110" {
		t.Fatalf("a pool pod took %s while db-1 was being recreated; want 10.52.0.110", got)
	}
	if err := e.c.Create(e.ctx, stsPod(1)); err != nil {
		t.Fatal(err)
	}
	if got := e.addressed("pool", "db-1").Annotations[annotation.IPAddress]; got != "10.52.0.102" {
		t.Fatalf("recreated db-1 got %s, want 10.52.0.102", got)
	}

	// Scaled down: the address of the ordinal no longer wanted is released.
	if err := e.c.Patch(e.ctx, sts, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":2}}`))); err != nil {
		t.Fatal(err)
	}
	e.deletePod("pool", "db-2")
	e.eventually("db-2's port removed after scale-down", func() error {
		if e.view.SwitchPort(t, "db-2.pool") != nil {
			return fmt.Errorf("port db-2.pool still there")
		}
		return nil
	})
	// Plain pods sharing a pool take free entries in order.
	e.pod("pool", "first", map[string]string{annotation.IPPool: "10.52.0.103,10.52.0.104"})
	if got := e.addressed("pool", "first").Annotations[annotation.IPAddress]; got != "10.52.0.103" {
		t.Fatalf("pool pod got %s, want the released 10.52.0.103", got)
	}
}

func TestDeleteAndFinishRelease(t *testing.T) {
	e := newEnv(t)
	e.namespace("rel", map[string]string{annotation.CIDR: "10.53.0.0/29"}) // 5 usable addresses besides the gateway
	e.condition("rel", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	for i := range 5 {
		e.pod("rel", fmt.Sprintf("p%d", i), nil)
		e.addressed("rel", fmt.Sprintf("p%d", i))
	}
	e.pod("rel", "waiting", nil)
	e.event("Pod", "rel", "waiting", "AddressAllocationFailed", "full")

	// A deleted pod's address and port go away, and the waiting pod gets the address.
	freed := e.addressed("rel", "p0").Annotations[annotation.IPAddress]
	e.deletePod("rel", "p0")
	if got := e.addressed("rel", "waiting").Annotations[annotation.IPAddress]; got != freed {
		t.Fatalf("waiting pod got %s, want the freed %s", got, freed)
	}
	if e.view.SwitchPort(t, "p0.rel") != nil {
		t.Fatal("deleted pod's port still in northbound")
	}

	// A finished pod releases its address and port while its object remains.
	p1 := e.addressed("rel", "p1")
	patch := client.MergeFrom(p1.DeepCopy())
	p1.Status.Phase = corev1.PodSucceeded
	if err := e.c.Status().Patch(e.ctx, p1, patch); err != nil {
		t.Fatal(err)
	}
	e.eventually("finished pod's port removed", func() error {
		if e.view.SwitchPort(t, "p1.rel") != nil {
			return fmt.Errorf("port p1.rel still there")
		}
		return nil
	})
	e.pod("rel", "next", nil)
	if got := e.addressed("rel", "next").Annotations[annotation.IPAddress]; got != p1.Annotations[annotation.IPAddress] {
		t.Fatalf("next pod got %s, want the finished pod's %s", got, p1.Annotations[annotation.IPAddress])
	}
	e.eventually("usage", func() error {
		if s := e.subnet("rel"); s.Status.UsedIPs != 5 || s.Status.AvailableIPs != 0 {
			return fmt.Errorf("used %d available %d, want 5 and 0", s.Status.UsedIPs, s.Status.AvailableIPs)
		}
		return nil
	})
}

// Nothing assumes 32 bits: an IPv6 subnet works end to end.
func TestIPv6Subnet(t *testing.T) {
	e := newEnv(t)
	e.namespace("six", map[string]string{annotation.CIDR: "fd00:10:66::/120", annotation.ExcludeIPs: "fd00:10:66::2..fd00:10:66::9"})
	e.condition("six", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.checkSubnetRows("six", "fd00:10:66::/120", "fd00:10:66::1/120")
	seen := map[string]bool{}
	for i := range 5 {
		p := e.addressed(e.pod("six", fmt.Sprintf("p%d", i), nil).Namespace, fmt.Sprintf("p%d", i))
		ip := podIP(t, p)
		if !ip.Is6() || !netip.MustParsePrefix("fd00:10:66::/120").Contains(ip) || seen[ip.String()] {
			t.Fatalf("pod %s got %s: not a fresh address of fd00:10:66::/120", p.Name, ip)
		}
		if ip.Compare(netip.MustParseAddr("fd00:10:66::9")) <= 0 {
			t.Fatalf("pod %s got %s: the gateway, the router anycast or excluded", p.Name, ip)
		}
		seen[ip.String()] = true
		if p.Annotations[annotation.Gateway] != "fd00:10:66::1" {
			t.Fatalf("gateway annotation %q", p.Annotations[annotation.Gateway])
		}
		e.checkPort(p)
	}
	e.pod("six", "fixed", map[string]string{annotation.IPAddress: "fd00:10:66::ff"})
	if got := e.addressed("six", "fixed").Annotations[annotation.IPAddress]; got != "fd00:10:66::ff" {
		t.Fatalf("fixed IPv6 pod got %s", got)
	}
}

// TestPodBeforeItsSubnet: pods created before the Subnet they are placed
// in (applied together, as one file of manifests is) wait for it and are
// addressed as asked once it loads: a dual-stack pod's two fixed addresses
// and its pool of both families are not refused as two of one family
// while the Subnet's families are still unknown, and a pod refused in the
// default subnet is retried when a Subnet or its namespace's annotation
// gives it another.
func TestPodBeforeItsSubnet(t *testing.T) {
	e := newEnv(t)
	e.namespace("early", nil)
	pods := []struct {
		name        string
		annotations map[string]string
		want        string // ip_address once addressed; "" for any pair
	}{
		{"dynamic", nil, ""},
		{"fixed", map[string]string{annotation.IPAddress: "10.72.0.200,fd00:10:72::c8"}, "10.72.0.200,fd00:10:72::c8"},
		{"pooled", map[string]string{annotation.IPPool: "10.72.0.50,fd00:10:72::32"}, "10.72.0.50,fd00:10:72::32"},
	}
	for _, p := range pods {
		annotations := map[string]string{annotation.LogicalSwitch: "later"}
		for k, v := range p.annotations {
			annotations[k] = v
		}
		e.pod("early", p.name, annotations)
		e.event("Pod", "early", p.name, "AddressAllocationFailed", `unknown subnet: "later"`)
	}
	// No Subnet takes namespace early yet: the default subnet refuses it.
	e.pod("early", "by-namespace", map[string]string{annotation.IPAddress: "10.73.0.50"})
	e.event("Pod", "early", "by-namespace", "AddressAllocationFailed", "10.73.0.50")

	for _, s := range []*ovnetv1.Subnet{
		{ObjectMeta: metav1.ObjectMeta{Name: "later"}, Spec: ovnetv1.SubnetSpec{CIDR: "10.72.0.0/24,fd00:10:72::/120"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "takes-early"}, Spec: ovnetv1.SubnetSpec{CIDR: "10.73.0.0/24", Namespaces: []string{"early"}}},
	} {
		if err := e.c.Create(e.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		got := e.addressed("early", p.name)
		ips := got.Annotations[annotation.IPAddress]
		if p.want != "" && ips != p.want {
			t.Errorf("pod %s: ip_address %q, want %q", p.name, ips, p.want)
		}
		if v4, v6, ok := strings.Cut(ips, ","); !ok || !netip.MustParseAddr(v4).Is4() || !netip.MustParseAddr(v6).Is6() {
			t.Errorf("pod %s: ip_address %q, want an address of each family", p.name, ips)
		}
		e.checkPort(got)
	}
	got := e.addressed("early", "by-namespace")
	if sw, ips := got.Annotations[annotation.LogicalSwitch], got.Annotations[annotation.IPAddress]; sw != "takes-early" || ips != "10.73.0.50" {
		t.Errorf("pod by-namespace: %s in %s, want 10.73.0.50 in takes-early", ips, sw)
	}
	e.checkPort(got)

	// A namespace annotated afterwards with the subnet its pod asked for.
	e.namespace("joins-later", nil)
	e.pod("joins-later", "waiting", map[string]string{annotation.IPAddress: "10.73.0.60"})
	e.event("Pod", "joins-later", "waiting", "AddressAllocationFailed", "10.73.0.60")
	e.annotateNamespace("joins-later", map[string]string{annotation.LogicalSwitch: "takes-early"})
	got = e.addressed("joins-later", "waiting")
	if sw, ips := got.Annotations[annotation.LogicalSwitch], got.Annotations[annotation.IPAddress]; sw != "takes-early" || ips != "10.73.0.60" {
		t.Errorf("pod waiting: %s in %s, want 10.73.0.60 in takes-early", ips, sw)
	}
}
