package controller

import (
	"testing"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

// A Subnet goes into the allocator with both halves or not at all: a
// refused half leaves each half as it was before.
func TestSetSubnetBothHalvesOrNeither(t *testing.T) {
	tests := []struct {
		name string
		// before is loaded first and held, when held is set, by one pod
		// of each of its families; "" loads nothing.
		before string
		held   bool
		// other is another subnet the change may overlap.
		other string
		cidr  string
	}{
		{name: "new, IPv4 half overlaps", other: "10.1.0.0/16", cidr: "10.1.2.0/24,fd00:1::/120"},
		{name: "new, IPv6 half overlaps", other: "fd00:1::/64", cidr: "10.1.2.0/24,fd00:1::/120"},
		{name: "dual, IPv4 half cannot shrink", before: "10.1.2.0/24,fd00:1::/120", held: true, cidr: "10.1.2.128/25,fd00:1::/112"},
		{name: "dual, IPv6 half cannot shrink", before: "10.1.2.0/24,fd00:1::/120", held: true, cidr: "10.1.0.0/16,fd00:1::80/121"},
		{name: "dual to single, IPv6 half held", before: "10.1.2.0/24,fd00:1::/120", held: true, cidr: "10.1.0.0/16"},
		{name: "single to dual, IPv6 half overlaps", before: "10.1.2.0/24", other: "fd00:1::/64", cidr: "10.1.0.0/16,fd00:1::/120"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNetwork(Config{}, nil)
			if tt.other != "" {
				n.mustLoad(t, "other", tt.other)
			}
			if tt.before != "" {
				n.mustLoad(t, "s", tt.before)
			}
			if tt.held {
				for _, half := range []string{"s", ipv6Half("s")} {
					if _, err := n.IPAM.Allocate(ipam.Request{Owner: ipam.PodOwner("ns", "p"), Subnet: half}); err != nil {
						t.Fatal(err)
					}
				}
			}
			v4, had4 := n.IPAM.Subnet("s")
			v6, had6 := n.IPAM.Subnet(ipv6Half("s"))
			cfg, err := n.ipamConfig("s", ovnetv1.SubnetSpec{CIDR: tt.cidr})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.setSubnet(cfg); err == nil {
				t.Fatalf("cidr %s accepted, want it refused", tt.cidr)
			}
			for _, h := range []struct {
				name string
				cfg  ipam.SubnetConfig
				had  bool
			}{{"s", v4, had4}, {ipv6Half("s"), v6, had6}} {
				got, has := n.IPAM.Subnet(h.name)
				if has != h.had || got.CIDR != h.cfg.CIDR {
					t.Errorf("half %s: %v (present %v), want %v (present %v)", h.name, got.CIDR, has, h.cfg.CIDR, h.had)
				}
			}
		})
	}
}

func (n *Network) mustLoad(t *testing.T, name, cidr string) {
	t.Helper()
	cfg, err := n.ipamConfig(name, ovnetv1.SubnetSpec{CIDR: cidr})
	if err == nil {
		err = n.setSubnet(cfg)
	}
	if err != nil {
		t.Fatalf("load %s %s: %v", name, cidr, err)
	}
}
