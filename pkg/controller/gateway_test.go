package controller

import (
	"net/netip"
	"slices"
	"testing"
)

func TestNodePolicies(t *testing.T) {
	v4 := nodeFamily{join: netip.MustParseAddr("100.64.0.2"), internal: netip.MustParseAddr("192.168.50.10")}
	v6 := nodeFamily{join: netip.MustParseAddr("fd00:64::2"), internal: netip.MustParseAddr("fd00:50::10")}
	noInternal := func(f nodeFamily) nodeFamily { f.internal = netip.Addr{}; return f }
	tests := []struct {
		name     string
		families []nodeFamily
		want     []string // match of each policy, in order
	}{
		{"IPv4 join", []nodeFamily{v4}, []string{"ip4.dst == 192.168.50.10/32", `ip4 && is_chassis_resident("node-n1")`}},
		{"IPv4 join, no InternalIP", []nodeFamily{noInternal(v4)}, []string{`ip4 && is_chassis_resident("node-n1")`}},
		{"dual-stack join: each InternalIP a destination", []nodeFamily{v4, v6}, []string{"ip4.dst == 192.168.50.10/32",
			`ip4 && is_chassis_resident("node-n1")`, "ip6.dst == fd00:50::10/128", `ip6 && is_chassis_resident("node-n1")`}},
		{"dual-stack join, IPv4 InternalIP only", []nodeFamily{v4, noInternal(v6)}, []string{"ip4.dst == 192.168.50.10/32",
			`ip4 && is_chassis_resident("node-n1")`, `ip6 && is_chassis_resident("node-n1")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range nodePolicies("n1", tt.families) {
				got = append(got, p.Match)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("nodePolicies matches %q, want %q", got, tt.want)
			}
		})
	}
}
