package netpol

import (
	"net/netip"
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

func TestNamespaceIsolation(t *testing.T) {
	named := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		p := policy(spec)
		p.Name = name
		return p
	}
	tests := []struct {
		name       string
		policies   []*networkingv1.NetworkPolicy
		wantIn     []string
		wantEgress []string
	}{
		{name: "no policy isolates nothing"},
		{name: "ingress policy on web", policies: []*networkingv1.NetworkPolicy{named("p1", networkingv1.NetworkPolicySpec{PodSelector: webOnly})},
			wantIn: []string{"web.a"}},
		{name: "union of two policies, egress by type", policies: []*networkingv1.NetworkPolicy{
			named("p1", networkingv1.NetworkPolicySpec{PodSelector: webOnly}),
			named("p2", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly}),
			named("p3", networkingv1.NetworkPolicySpec{PodSelector: webOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{}}}),
		}, wantIn: []string{"web.a"}, wantEgress: []string{"db.a", "web.a"}},
		{name: "selector matching nothing", policies: []*networkingv1.NetworkPolicy{named("p1",
			networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}})}},
	}
	node := netip.MustParsePrefix("100.64.0.0/16")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NamespaceIsolation(IsolationInput{Namespace: "a", Policies: tt.policies, Cluster: testCluster(), NodeCIDRs: []netip.Prefix{node}})
			if len(got.Ingress.Ports)+len(tt.wantIn) > 0 && !reflect.DeepEqual(got.Ingress.Ports, tt.wantIn) {
				t.Errorf("ingress isolated %v, want %v", got.Ingress.Ports, tt.wantIn)
			}
			if len(got.Egress.Ports)+len(tt.wantEgress) > 0 && !reflect.DeepEqual(got.Egress.Ports, tt.wantEgress) {
				t.Errorf("egress isolated %v, want %v", got.Egress.Ports, tt.wantEgress)
			}
		})
	}
}

func TestDenyGroupACLs(t *testing.T) {
	got := NamespaceIsolation(IsolationInput{Namespace: "a", Cluster: testCluster(), Log: Logging{Deny: "alert", Allow: "info"},
		NodeCIDRs: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16")}})
	in, out := ovnname.DenyPortGroup("a", Ingress), ovnname.DenyPortGroup("a", Egress)
	type row struct {
		dir, match, action, severity string
		prio                         int
	}
	var rows []row
	for _, pg := range []PortGroup{got.Ingress, got.Egress} {
		for _, a := range pg.ACLs {
			rows = append(rows, row{a.Direction, a.Match, a.Action, a.Severity, a.Priority})
			if a.Direction == ToLport && a.Options[OptionApplyAfterLB] != "" || a.Direction == FromLport && a.Options[OptionApplyAfterLB] != "true" {
				t.Errorf("acl %+v: apply-after-lb must be set exactly on from-lport ACLs", a)
			}
		}
	}
	want := []row{
		{ToLport, "outport == @" + in, ActionDrop, "alert", PriorityDefaultDeny},
		{ToLport, "outport == @" + in + " && (arp || nd)", ActionAllow, "", PriorityIsolatedAllow},
		{ToLport, "outport == @" + in + " && ip4.src == 100.64.0.0/16", ActionAllowRelated, "", PriorityIsolatedAllow},
		{FromLport, "inport == @" + out, ActionDrop, "alert", PriorityDefaultDeny},
		{FromLport, "inport == @" + out + " && (arp || nd)", ActionAllow, "", PriorityIsolatedAllow},
		// Makes the switch track connections, so replies of an
		// egress-isolated pod pass.
		{ToLport, "outport == @" + out + " && ip4.src == 100.64.0.0/16", ActionAllowRelated, "", PriorityIsolatedAllow},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("acls\n got %+v\nwant %+v", rows, want)
	}
	if got.Ingress.ACLs[0].Name != "a/ingressDefaultDeny" || got.Egress.ACLs[0].Name != "a/egressDefaultDeny" {
		t.Errorf("deny ACL names %q, %q", got.Ingress.ACLs[0].Name, got.Egress.ACLs[0].Name)
	}
}

// A dual-stack join network lets the nodes of both families reach
// isolated pods, each range matched by its own family's field.
func TestDenyGroupNodeAllowsBothFamilies(t *testing.T) {
	got := NamespaceIsolation(IsolationInput{Namespace: "a", Cluster: testCluster(),
		NodeCIDRs: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16"), netip.MustParsePrefix("fd00:100:64::/64")}})
	in := ovnname.DenyPortGroup("a", Ingress)
	var matches []string
	for _, a := range got.Ingress.ACLs {
		matches = append(matches, a.Match)
	}
	want := []string{"outport == @" + in, "outport == @" + in + " && (arp || nd)",
		"outport == @" + in + " && ip4.src == 100.64.0.0/16", "outport == @" + in + " && ip6.src == fd00:100:64::/64"}
	if !reflect.DeepEqual(matches, want) {
		t.Errorf("ingress matches\n got %q\nwant %q", matches, want)
	}
}

func TestPrivateACLs(t *testing.T) {
	got := PrivateACLs(PrivateSubnet{Name: "s", CIDR: netip.MustParsePrefix("10.66.0.0/16"),
		Allow:    []netip.Prefix{netip.MustParsePrefix("10.16.0.5/32"), netip.MustParsePrefix("fd00::/64")},
		NodeCIDR: netip.MustParsePrefix("100.64.0.0/16")})
	if len(got) != 2 {
		t.Fatalf("acls %+v", got)
	}
	drop := got[0]
	if drop.Action != ActionDrop || drop.Direction != ToLport || drop.Priority != PriorityPrivateDrop ||
		drop.Match != "ip4.dst == 10.66.0.0/16 && ip4.src != {10.66.0.0/16, 10.16.0.5/32, 100.64.0.0/16}" {
		t.Errorf("drop %+v", drop)
	}
	if track := got[1]; track.Action != ActionAllowRelated || track.Priority >= PriorityDefaultDeny {
		t.Errorf("track %+v must be allow-related below the default deny", track)
	}
}
