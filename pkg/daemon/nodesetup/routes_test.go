package nodesetup

import (
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestSubnetPrefixes(t *testing.T) {
	subnet := func(name, cidr string) ovnetv1.Subnet {
		return ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: ovnetv1.SubnetSpec{CIDR: cidr}}
	}
	list := &ovnetv1.SubnetList{Items: []ovnetv1.Subnet{
		subnet("ovn-default", "10.16.0.0/16"), subnet("join", "100.64.0.0/16"),
		subnet("blue", "10.66.0.1/24"), subnet("broken", "10.300.0.0/16"), subnet("v6", "fd00::/64"),
		subnet("dual", "10.67.0.0/24,fd00:67::/120"),
		{ObjectMeta: metav1.ObjectMeta{Name: "physical"}, Spec: ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Provider: "physnet"}},
	}}
	join := annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("100.64.0.2")},
		Subnet: netip.MustParsePrefix("100.64.0.0/16"), Gateway: netip.MustParseAddr("100.64.0.1")}
	dualJoin := join
	dualJoin.IPv6, dualJoin.IPv6Subnet, dualJoin.IPv6Gateway = netip.MustParseAddr("fd00:64::2"),
		netip.MustParsePrefix("fd00:64::/112"), netip.MustParseAddr("fd00:64::1")
	list.Items = append(list.Items, subnet("join6", "100.64.0.0/16,fd00:64::/112"))
	tests := []struct {
		name    string
		join    *annotation.Address
		service []netip.Prefix
		want    []netip.Prefix
	}{
		{"dual-stack join: both families", &dualJoin, nil, []netip.Prefix{netip.MustParsePrefix("10.16.0.0/16"),
			netip.MustParsePrefix("10.66.0.0/24"), netip.MustParsePrefix("fd00::/64"), netip.MustParsePrefix("10.67.0.0/24"),
			netip.MustParsePrefix("fd00:67::/120")}},
		{"dual-stack join and service CIDRs: both", &dualJoin, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("fd00:96::/112")},
			[]netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("fd00:96::/112"), netip.MustParsePrefix("10.16.0.0/16"),
				netip.MustParsePrefix("10.66.0.0/24"), netip.MustParsePrefix("fd00::/64"), netip.MustParsePrefix("10.67.0.0/24"),
				netip.MustParsePrefix("fd00:67::/120")}},
		{"no service CIDR", nil, nil, []netip.Prefix{netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24"),
			netip.MustParsePrefix("10.67.0.0/24")}},
		{"service CIDR", nil, []netip.Prefix{netip.MustParsePrefix("10.96.0.1/12")}, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"),
			netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24"), netip.MustParsePrefix("10.67.0.0/24")}},
		{"service CIDR of the other family", nil, []netip.Prefix{netip.MustParsePrefix("fd00:96::/112")}, []netip.Prefix{
			netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24"), netip.MustParsePrefix("10.67.0.0/24")}},
		{"dual-stack service CIDRs: the join family's", nil, []netip.Prefix{netip.MustParsePrefix("fd00:96::/112"), netip.MustParsePrefix("10.96.0.0/12")},
			[]netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("10.16.0.0/16"), netip.MustParsePrefix("10.66.0.0/24"),
				netip.MustParsePrefix("10.67.0.0/24")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := join
			if tt.join != nil {
				j = *tt.join
			}
			if got := routePrefixes(list, j, tt.service); !slices.Equal(got, tt.want) {
				t.Fatalf("routePrefixes = %v, want %v (join, unparsable, other-family and underlay subnets left out)", got, tt.want)
			}
		})
	}
}
