package speaker

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// route is a path of GoBGP's table as it goes on the wire: its family,
// prefix, the attribute carrying the next hop, and that next hop.
type route struct {
	family, prefix, nextHopAttr, nextHop string
}

// table reads GoBGP's global table of every family the speaker uses.
func table(t *testing.T, a *Announcer) []route {
	t.Helper()
	var out []route
	for _, f := range []*api.Family{ipv4Unicast, ipv6Unicast} {
		err := a.bgp.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: f},
			func(d *api.Destination) {
				for _, p := range d.Paths {
					attrs, err := apiutil.GetNativePathAttributes(p)
					if err != nil {
						t.Fatalf("%s: %v", d.Prefix, err)
					}
					r := route{family: bgp.AfiSafiToRouteFamily(uint16(p.Family.Afi), uint8(p.Family.Safi)).String(), prefix: d.Prefix}
					for _, attr := range attrs {
						switch a := attr.(type) {
						case *bgp.PathAttributeNextHop:
							r.nextHopAttr, r.nextHop = "NEXT_HOP", a.Value.String()
						case *bgp.PathAttributeMpReachNLRI:
							r.nextHopAttr, r.nextHop = "MP_REACH_NLRI "+bgp.AfiSafiToRouteFamily(a.AFI, a.SAFI).String(), a.Nexthop.String()
						}
					}
					out = append(out, r)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestAnnouncerFamilies runs GoBGP in process (no peer, no listening
// socket) and reads back from its table the paths the announcer made:
// IPv4 prefixes with the node's IPv4 address in NEXT_HOP, IPv6 ones in
// the IPv6 unicast family with the node's IPv6 address in MP_REACH_NLRI.
func TestAnnouncerFamilies(t *testing.T) {
	v4, v6 := netip.MustParseAddr("172.18.0.1"), netip.MustParseAddr("fd00:18::1")
	tests := []struct {
		name    string
		hops    NextHops
		want    map[netip.Prefix]Source
		routes  []route
		wantErr bool
	}{
		{name: "IPv4 node", hops: NextHops{IPv4: v4},
			want:   map[netip.Prefix]Source{netip.MustParsePrefix("10.90.0.0/24"): {KindSubnet, "a"}},
			routes: []route{{"ipv4-unicast", "10.90.0.0/24", "NEXT_HOP", "172.18.0.1"}}},
		{name: "dual-stack node", hops: NextHops{IPv4: v4, IPv6: v6},
			want: map[netip.Prefix]Source{netip.MustParsePrefix("10.90.0.0/24"): {KindSubnet, "a"},
				netip.MustParsePrefix("fd00:90::/64"): {KindSubnet, "a"}, netip.MustParsePrefix("fd00:96::20/128"): {KindService, "default/s"}},
			routes: []route{{"ipv4-unicast", "10.90.0.0/24", "NEXT_HOP", "172.18.0.1"},
				{"ipv6-unicast", "fd00:90::/64", "MP_REACH_NLRI ipv6-unicast", "fd00:18::1"},
				{"ipv6-unicast", "fd00:96::20/128", "MP_REACH_NLRI ipv6-unicast", "fd00:18::1"}}},
		{name: "IPv6 prefix on an IPv4 node", hops: NextHops{IPv4: v4},
			want: map[netip.Prefix]Source{netip.MustParsePrefix("fd00:90::/64"): {KindSubnet, "a"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := StartAnnouncer(context.Background(), &Config{LocalAS: 64512}, tt.hops, logr.Discard())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Stop(context.Background())
			err = a.Sync(context.Background(), tt.want)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Sync: %v, want error %v", err, tt.wantErr)
			}
			got := table(t, a)
			slices.SortFunc(got, func(x, y route) int { return strings.Compare(x.prefix, y.prefix) })
			if !slices.Equal(got, tt.routes) {
				t.Errorf("GoBGP's table holds %v, want %v", got, tt.routes)
			}
			if err == nil && len(tt.want) > 0 {
				// Withdrawn as announced: the table empties.
				if err := a.Sync(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				if left := table(t, a); len(left) != 0 {
					t.Errorf("after withdrawing everything GoBGP's table holds %v", left)
				}
			}
		})
	}
}

// TestPeerFamilies: every session carries IPv4 unicast, and IPv6 unicast
// too when the node has an IPv6 next hop, each with graceful restart as
// configured; the speaker retries a session that is down every
// connectRetry seconds.
func TestPeerFamilies(t *testing.T) {
	cfg := &Config{LocalAS: 64512}
	p := Peer{Address: "172.18.0.254", AS: 64500, GracefulRestart: true}
	tests := []struct {
		name string
		hops NextHops
		want []string
	}{
		{"IPv4 node", NextHops{IPv4: netip.MustParseAddr("172.18.0.1")}, []string{"ipv4-unicast"}},
		{"dual-stack node", NextHops{IPv4: netip.MustParseAddr("172.18.0.1"), IPv6: netip.MustParseAddr("fd00::1")},
			[]string{"ipv4-unicast", "ipv6-unicast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := peer(cfg, p, tt.hops.families())
			var got []string
			for _, af := range out.AfiSafis {
				f := af.Config.Family
				got = append(got, bgp.AfiSafiToRouteFamily(uint16(f.Afi), uint8(f.Safi)).String())
				if !af.Config.Enabled || !af.MpGracefulRestart.Config.Enabled {
					t.Errorf("%v: enabled %v, graceful restart %v", f, af.Config.Enabled, af.MpGracefulRestart.Config.Enabled)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("families %v, want %v", got, tt.want)
			}
			if out.Timers.Config.ConnectRetry != connectRetry {
				t.Errorf("connect retry %d s, want %d", out.Timers.Config.ConnectRetry, connectRetry)
			}
		})
	}
}

func TestParseNextHops(t *testing.T) {
	tests := []struct {
		in      string
		want    NextHops
		wantErr bool
	}{
		{in: "172.18.0.1", want: NextHops{IPv4: netip.MustParseAddr("172.18.0.1")}},
		{in: "172.18.0.1,fd00::1", want: NextHops{IPv4: netip.MustParseAddr("172.18.0.1"), IPv6: netip.MustParseAddr("fd00::1")}},
		{in: "fd00::1, 172.18.0.1", want: NextHops{IPv4: netip.MustParseAddr("172.18.0.1"), IPv6: netip.MustParseAddr("fd00::1")}},
		{in: "fd00::1", wantErr: true},
		{in: "172.18.0.1,172.18.0.2", wantErr: true},
		{in: "", wantErr: true},
		{in: "node-1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNextHops(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseNextHops(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
