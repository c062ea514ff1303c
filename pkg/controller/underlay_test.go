package controller

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestInterconnectPrefixes(t *testing.T) {
	dual := "172.20.0.0/24,fd00:20::/64"
	tests := []struct {
		name string
		spec ovnetv1.SubnetSpec
		want string // comma separated; empty: refused
	}{
		{"default, gateway first", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24"}, "172.20.0.254/24"},
		{"default steps over a last gateway", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Gateway: "172.20.0.254"}, "172.20.0.253/24"},
		{"given", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "172.20.0.100"}, "172.20.0.100/24"},
		{"given, the gateway", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "172.20.0.1"}, ""},
		{"given, the broadcast", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "172.20.0.255"}, ""},
		{"given, the network", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "172.20.0.0"}, ""},
		{"given, outside", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "172.21.0.9"}, ""},
		{"given, not an address", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "router"}, ""},
		{"a /30 whose last host is the gateway", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/30", Gateway: "172.20.0.2"}, "172.20.0.1/30"},
		{"no room: a /31", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/31", Gateway: "172.20.0.1"}, ""},
		{"IPv6: the last address, IPv6 has no broadcast", ovnetv1.SubnetSpec{CIDR: "fd00:20::/64"}, "fd00:20::ffff:ffff:ffff:ffff/64"},
		{"IPv6 given", ovnetv1.SubnetSpec{CIDR: "fd00:20::/64", U2OInterconnectionIP: "fd00:20::fe"}, "fd00:20::fe/64"},
		{"IPv6 given, the subnet-router anycast", ovnetv1.SubnetSpec{CIDR: "fd00:20::/64", U2OInterconnectionIP: "fd00:20::"}, ""},
		{"IPv6, the gateway last", ovnetv1.SubnetSpec{CIDR: "fd00:20::/120", Gateway: "fd00:20::ff"}, "fd00:20::fe/120"},
		{"dual stack: one of each family by default", ovnetv1.SubnetSpec{CIDR: dual}, "172.20.0.254/24,fd00:20::ffff:ffff:ffff:ffff/64"},
		{"dual stack, IPv6 first in the cidr", ovnetv1.SubnetSpec{CIDR: "fd00:20::/120,172.20.0.0/24"}, "172.20.0.254/24,fd00:20::ff/120"},
		{"dual stack, both given in either order", ovnetv1.SubnetSpec{CIDR: dual, U2OInterconnectionIP: "fd00:20::fe, 172.20.0.100"},
			"172.20.0.100/24,fd00:20::fe/64"},
		{"dual stack, the IPv4 one given, IPv6 by default", ovnetv1.SubnetSpec{CIDR: dual, U2OInterconnectionIP: "172.20.0.100"},
			"172.20.0.100/24,fd00:20::ffff:ffff:ffff:ffff/64"},
		{"dual stack, two of one family", ovnetv1.SubnetSpec{CIDR: dual, U2OInterconnectionIP: "172.20.0.100,172.20.0.101"}, ""},
		{"dual stack, the IPv6 one outside", ovnetv1.SubnetSpec{CIDR: dual, U2OInterconnectionIP: "172.20.0.100,fd00:21::1"}, ""},
		{"IPv4 subnet, an IPv6 address", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", U2OInterconnectionIP: "fd00:20::fe"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := interconnectPrefixes(tt.spec)
			if tt.want == "" {
				var se *specError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, %v; want a refusal of the spec", got, err)
				}
				return
			}
			var want []netip.Prefix
			for _, p := range strings.Split(tt.want, ",") {
				want = append(want, netip.MustParsePrefix(p))
			}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestParseUnderlayInterconnect covers the refusals decided before the
// ProviderNetwork is looked up (the client is nil).
func TestParseUnderlayInterconnect(t *testing.T) {
	free := func(netip.Addr) (string, bool) { return "", false }
	heldBy := func(a netip.Addr) (string, bool) {
		return "pod default/p", a == netip.MustParseAddr("172.20.0.254") || a == netip.MustParseAddr("fd00:20::ff")
	}
	tests := []struct {
		name   string
		spec   ovnetv1.SubnetSpec
		holder func(netip.Addr) (string, bool)
		reason string
	}{
		{"on an overlay subnet", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", U2OInterconnection: true}, free, ovnetv1.ReasonInvalidSpec},
		{"an address on an overlay subnet", ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24", U2OInterconnectionIP: "10.1.0.9"}, free, ovnetv1.ReasonInvalidSpec},
		{"an address without the switch", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Provider: "physnet", U2OInterconnectionIP: "172.20.0.9"}, free, ovnetv1.ReasonInvalidSpec},
		{"a bad address", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Provider: "physnet", U2OInterconnection: true, U2OInterconnectionIP: "172.20.0.255"}, free, ovnetv1.ReasonInvalidSpec},
		{"the address held by a pod", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24", Provider: "physnet", U2OInterconnection: true}, heldBy, ovnetv1.ReasonInUse},
		{"dual stack, the default IPv6 address held by a pod", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24,fd00:20::/120", Provider: "physnet",
			U2OInterconnection: true, U2OInterconnectionIP: "172.20.0.100"}, heldBy, ovnetv1.ReasonInUse},
		{"dual stack, a bad IPv6 address", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24,fd00:20::/120", Provider: "physnet",
			U2OInterconnection: true, U2OInterconnectionIP: "172.20.0.100,fd00:20::1:0"}, free, ovnetv1.ReasonInvalidSpec},
		{"an IPv6 address without the switch", ovnetv1.SubnetSpec{CIDR: "fd00:20::/120", Provider: "physnet", U2OInterconnectionIP: "fd00:20::9"},
			free, ovnetv1.ReasonInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseUnderlay(t.Context(), nil, tt.spec, tt.holder)
			var se *specError
			if !errors.As(err, &se) || se.Reason != tt.reason {
				t.Fatalf("got %v, want a refusal with reason %s", err, tt.reason)
			}
		})
	}
}
