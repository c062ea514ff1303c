package ipam

import (
	"net/netip"
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
