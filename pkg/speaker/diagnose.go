package speaker

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// diagnose says why the session to p may stay down, most likely cause
// first, for the warning of a session not established. gateway is the
// router the node reaches p through (invalid when p is on a network of
// the node), nodeIP the node's address the peer must expect.
func diagnose(cfg *Config, p Peer, nodeIP netip.Addr, gateway netip.Addr) string {
	ebgp := p.as(cfg) != p.AS
	if ebgp && p.EBGPMultihopTTL == 0 && gateway.IsValid() {
		return fmt.Sprintf("the peer is reached through router %s, not on a network of this node, and an eBGP session "+
			"without ebgpMultihopTTL leaves with TTL 1, which a router drops: set ebgpMultihopTTL to the number of hops "+
			"(and multihop on the peer)", gateway)
	}
	checks := []string{fmt.Sprintf("that the peer has a session for %s with AS %d", nodeIP, p.as(cfg)),
		"that it accepts connections on TCP port 179 from this node"}
	if p.Password != "" {
		checks = append(checks, "that its TCP MD5 password is the one configured here (a peer silently drops segments signed with another)")
	} else {
		checks = append(checks, "that it expects no TCP MD5 password (none is configured here)")
	}
	if ebgp && p.EBGPMultihopTTL > 0 {
		checks = append(checks, fmt.Sprintf("that it allows multihop and is at most %d hops away", p.EBGPMultihopTTL))
	}
	return "check " + strings.Join(checks, ", ")
}

// routeGateway is the router the node's routing table sends traffic to
// addr through, invalid when addr is on a network of the node or the
// lookup fails (the hint then leaves the route out).
func routeGateway(addr string) netip.Addr {
	routes, err := netlink.RouteGet(net.ParseIP(addr))
	if err != nil || len(routes) == 0 || routes[0].Gw == nil {
		return netip.Addr{}
	}
	gw, _ := netip.AddrFromSlice(routes[0].Gw)
	return gw.Unmap()
}
