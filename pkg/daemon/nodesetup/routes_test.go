package nodesetup

import (
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestSubnetPrefixes(t *testing.T) {
	subnet := func(name, cidr string) ovnetv1.Subnet {
		return ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: ovnetv1.SubnetSpec{CIDR: cidr}}
	}
	list := &ovnetv1.SubnetList{Items: []ovnetv1.Subnet{
		subnet("ovn-default", "10.16.0.0/16"), subnet("join", "100.64.0.0/16"),
		subnet("blue", "10.66.0.1/24"), subnet("broken", "10.300.0.0/16"), subnet("v6", "fd00::/64"),
		{ObjectMeta: metav1.ObjectMeta{Name: "physical"}, Spec: ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Provider: "physnet"}},
	}}
	join := netip.MustParsePrefix("100.64.0.2/16")
	tests := []struct {
		name    string
		service netip.Prefix
		want    []netip.Prefix
	}{
		{"no service CIDR", netip.Prefix{}, []netip.Prefix{netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24")}},
		{"service CIDR", netip.MustParsePrefix("10.96.0.1/12"), []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"),
			netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24")}},
		{"service CIDR of the other family", netip.MustParsePrefix("fd00:96::/112"), []netip.Prefix{
			netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routePrefixes(list, join, tt.service); !slices.Equal(got, tt.want) {
				t.Fatalf("routePrefixes = %v, want %v (join, unparsable, other-family and underlay subnets left out)", got, tt.want)
			}
		})
	}
}
