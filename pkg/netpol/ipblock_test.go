package netpol

import (
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestIPBlockContainsIPv6(t *testing.T) {
	block, err := parseIPBlock(&networkingv1.IPBlock{CIDR: "fd00:10::/48", Except: []string{"fd00:10:0:1::/64"}})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"fd00:10::5": true, "fd00:10:0:1::5": false, "fd00:11::5": false, "10.16.0.5": false} {
		if got := block.contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("contains(%s) = %v, want %v", ip, got, want)
		}
	}
}

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
	f.Add("fd00::/48", "fd00:0:0:1::/64")
	f.Add("::/0", "10.0.0.0/8")
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
		fam := familyOfPrefix(block.cidr)
		m := block.match(fam.field("src"))
		if strings.Trim(strings.ReplaceAll(m, fam.field("src"), ""), "=!{}()&, 0123456789abcdef:./") != "" {
			t.Fatalf("match %q holds more than its family's field, CIDRs and operators", m)
		}
		for _, ex := range block.except {
			if familyOfPrefix(ex) != fam {
				t.Fatalf("block %s kept except %s of the other family", block.cidr, ex)
			}
		}
	})
}
