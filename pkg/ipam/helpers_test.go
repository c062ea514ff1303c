package ipam

import (
	"net/netip"
	"strings"
	"testing"
)

// subnetConfig builds a config from text, failing the test on bad input.
func subnetConfig(t testing.TB, name, cidr, gateway, excludes string) SubnetConfig {
	t.Helper()
	prefix, err := ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := ParseExcludes(excludes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SubnetConfig{Name: name, CIDR: prefix, Excludes: ranges}
	if gateway != "" {
		cfg.Gateway = netip.MustParseAddr(gateway)
	}
	return cfg
}

// newIPAM returns an IPAM holding the given subnets.
func newIPAM(t testing.TB, cfgs ...SubnetConfig) *IPAM {
	t.Helper()
	m := New()
	for _, cfg := range cfgs {
		if err := m.SetSubnet(cfg); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = addr(s)
	}
	return out
}

// testOwner writes a holder as tests name it: "kind/namespace/name",
// "kind/name", or a bare name for a pod.
func testOwner(s string) Owner {
	parts := strings.SplitN(s, "/", 3)
	switch len(parts) {
	case 3:
		return Owner{Kind: OwnerKind(parts[0]), Namespace: parts[1], Name: parts[2]}
	case 2:
		return Owner{Kind: OwnerKind(parts[0]), Name: parts[1]}
	}
	return Owner{Kind: OwnerPod, Name: s}
}
