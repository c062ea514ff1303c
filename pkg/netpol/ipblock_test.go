package netpol

import (
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestIPBlockContains(t *testing.T) {
	block, err := parseIPBlock(&networkingv1.IPBlock{CIDR: "10.16.0.0/16", Except: []string{"10.16.1.0/24", "10.16.2.7/32"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip   string
		want bool
	}{
		{"10.16.0.1", true},
		{"10.16.255.255", true},
		{"10.16.1.9", false},
		{"10.16.2.7", false},
		{"10.16.2.8", true},
		{"10.17.0.1", false},
	}
	for _, tt := range tests {
		if got := block.contains(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("contains(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

// FuzzBlockMatch: any ipBlock is either refused or becomes a match that
// names only the family's field, CIDRs and OVN's operators.
func FuzzBlockMatch(f *testing.F) {
	f.Add("10.0.0.0/8", "10.1.0.0/16")
	f.Add("fd00::/64", "")
	f.Add("10.0.0.1/8", "11.0.0.0/8")
	f.Fuzz(func(t *testing.T, cidr, except string) {
		b := &networkingv1.IPBlock{CIDR: cidr}
		if except != "" {
			b.Except = []string{except}
		}
		block, err := parseIPBlock(b)
		if err != nil {
			return
		}
		m := block.match("ip4.src")
		if strings.Trim(m, "ip4.src=!{}()&, 0123456789/") != "" {
			t.Fatalf("match %q holds more than fields, CIDRs and operators", m)
		}
	})
}
