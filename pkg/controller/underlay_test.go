package controller

import (
	"errors"
	"net/netip"
	"testing"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestInterconnectPrefix(t *testing.T) {
	tests := []struct {
		name string
		spec ovnetv1.SubnetSpec
		want string // empty: refused
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
		{"IPv6", ovnetv1.SubnetSpec{CIDR: "fd00:20::/64"}, ""},
		{"dual stack", ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24,fd00:20::/64"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := interconnectPrefix(tt.spec)
			if tt.want == "" {
				var se *specError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, %v; want a refusal of the spec", got, err)
				}
				return
			}
			if err != nil || got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestParseUnderlayInterconnect covers the refusals decided before the
// ProviderNetwork is looked up (the client is nil).
func TestParseUnderlayInterconnect(t *testing.T) {
	free := func(netip.Addr) (string, bool) { return "", false }
	heldBy := func(a netip.Addr) (string, bool) { return "pod default/p", a == netip.MustParseAddr("172.20.0.254") }
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
