package harness

import (
	"maps"
	"net/netip"
	"slices"
	"testing"
)

func TestParseBIRDRoutes(t *testing.T) {
	// BIRD 2.0's "show route": a second path of a prefix (ECMP, or the
	// same prefix from two neighbours) starts with blanks.
	out := "BIRD 2.0.12 ready.\nTable master4:\n" +
		"10.90.0.0/24         unicast [n1 08:20:01.123] * (100) [AS64512i]\n" +
		"\tvia 172.18.0.1 on eth0\n" +
		"                     unicast [n2 08:20:01.200] (100) [AS64512i]\n" +
		"\tvia 172.18.0.2 on eth0\n" +
		"10.96.0.5/32         unicast [n1 08:20:01.123] * (100) [AS64512i]\n" +
		"\tvia 172.18.0.1 on eth0\n"
	got, err := parseBIRDRoutes(out)
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := netip.MustParseAddr("172.18.0.1"), netip.MustParseAddr("172.18.0.2")
	want := map[netip.Prefix][]netip.Addr{
		netip.MustParsePrefix("10.90.0.0/24"): {n1, n2},
		netip.MustParsePrefix("10.96.0.5/32"): {n1},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("parseBIRDRoutes = %v, want %v", got, want)
	}
	// With an IPv6 channel, the IPv6 table follows the IPv4 one.
	out += "\nTable master6:\n" +
		"fd00:10:94::/120     unicast [n1 08:20:01.123] * (100) [AS64512i]\n" +
		"\tvia 2001:db8:18::1 on eth0\n"
	if got, err = parseBIRDRoutes(out); err != nil {
		t.Fatal(err)
	}
	want[netip.MustParsePrefix("fd00:10:94::/120")] = []netip.Addr{netip.MustParseAddr("2001:db8:18::1")}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("parseBIRDRoutes with IPv6 = %v, want %v", got, want)
	}
	if got, err := parseBIRDRoutes("BIRD 2.0.12 ready.\nTable master4:\n"); err != nil || len(got) != 0 {
		t.Errorf("empty table: %v, %v", got, err)
	}
	if _, err := parseBIRDRoutes("10.90.0.0/24 unicast [n1]\n\tvia nonsense on eth0\n"); err == nil {
		t.Error("a next hop that is no address: no error")
	}
}
