package nslink

import (
	"net/netip"
	"testing"
)

func TestPrefixRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
	}{
		{"IPv4 host in a subnet", "10.16.0.5/16"},
		{"IPv4 default", "0.0.0.0/0"},
		{"IPv6", "fd00::5/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := netip.MustParsePrefix(tt.prefix)
			n := IPNet(want)
			got, ok := PrefixOf(n)
			if !ok || got != want || PrefixLen(n) != want.Bits() {
				t.Fatalf("PrefixOf(IPNet(%s)) = %s, %v (len %d)", want, got, ok, PrefixLen(n))
			}
		})
	}
}

func TestDefaultDst(t *testing.T) {
	tests := []struct {
		gw   string
		want string
	}{
		{"10.16.0.1", "0.0.0.0/0"},
		{"fd00::1", "::/0"},
	}
	for _, tt := range tests {
		if got := DefaultDst(netip.MustParseAddr(tt.gw)).String(); got != tt.want {
			t.Errorf("DefaultDst(%s) = %s, want %s", tt.gw, got, tt.want)
		}
	}
}
