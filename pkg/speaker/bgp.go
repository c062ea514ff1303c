package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"
)

const (
	// noListen keeps GoBGP from listening on port 179: the speaker
	// connects to its peers, which are configured, and a node's port 179
	// may belong to something else.
	noListen = -1
	// deferralTime bounds, in seconds, how long a restarted speaker waits
	// for its peers' End-of-RIB before announcing anyway; peers send it
	// within a second of the session coming up.
	deferralTime = 10
	// connectRetry is, in seconds, how often the speaker tries to open a
	// session that is down, and how long one try waits (GoBGP's default
	// is 120 s). The speaker does not listen, so a peer that comes back
	// cannot call it: a session returns only by the speaker's next try.
	connectRetry = 5
)

// The address families the speaker announces: IPv4 always, IPv6 when the
// node has an IPv6 address for next hop. Both ride the same sessions
// (multiprotocol BGP, RFC 4760).
var (
	ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	ipv6Unicast = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// NextHops are the node's addresses, the next hops of what it announces.
type NextHops struct {
	// IPv4 is also the router ID; required.
	IPv4 netip.Addr
	// IPv6 is the next hop of IPv6 prefixes; without it none is announced.
	IPv6 netip.Addr
}

func (h NextHops) String() string {
	if h.IPv6.IsValid() {
		return h.IPv4.String() + "," + h.IPv6.String()
	}
	return h.IPv4.String()
}

// families are the address families the node announces.
func (h NextHops) families() []*api.Family {
	if h.IPv6.IsValid() {
		return []*api.Family{ipv4Unicast, ipv6Unicast}
	}
	return []*api.Family{ipv4Unicast}
}

// Announcer holds the BGP sessions of one node and the prefixes it
// announces on them, with the node's address as next hop.
type Announcer struct {
	// bgp is the GoBGP server, in process.
	bgp *server.BgpServer
	// nextHops are the node's addresses.
	nextHops NextHops
	// graceful is true when any peer has graceful restart: Stop then
	// leaves the sessions to drop without a NOTIFICATION, so the peers
	// keep the routes until the speaker is back.
	graceful bool
	log      logr.Logger

	mu sync.Mutex
	// announced are the prefixes in GoBGP's table.
	announced map[netip.Prefix]Source
}

// StartAnnouncer starts GoBGP with the node's IPv4 address as router ID,
// and adds cfg's peers.
func StartAnnouncer(ctx context.Context, cfg *Config, hops NextHops, log logr.Logger) (*Announcer, error) {
	if !hops.IPv4.Is4() {
		return nil, fmt.Errorf("node address %s: the speaker needs an IPv4 address for router ID and next hop", hops.IPv4)
	}
	if hops.IPv6.IsValid() && !hops.IPv6.Is6() {
		return nil, fmt.Errorf("node address %s given as the IPv6 next hop", hops.IPv6)
	}
	a := &Announcer{nextHops: hops, log: log, announced: map[netip.Prefix]Source{}}
	a.bgp = server.NewBgpServer(server.LoggerOption(&logger{log: log.WithName("gobgp")}))
	go a.bgp.Serve()
	global := &api.Global{Asn: cfg.LocalAS, RouterId: hops.IPv4.String(), ListenPort: noListen}
	if global.Asn == 0 {
		// Every peer names its own local AS; GoBGP needs one anyway.
		global.Asn = cfg.Peers[0].LocalAS
	}
	if err := a.bgp.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		a.bgp.Stop()
		return nil, fmt.Errorf("starting BGP: %w", err)
	}
	for _, p := range cfg.Peers {
		if err := a.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: peer(cfg, p, hops.families())}); err != nil {
			a.bgp.Stop()
			return nil, fmt.Errorf("adding BGP peer %s: %w", p.Address, err)
		}
		a.graceful = a.graceful || p.GracefulRestart
		log.Info("BGP peer", "address", p.Address, "as", p.AS, "localAS", p.as(cfg), "gracefulRestart", p.GracefulRestart,
			"ebgpMultihopTTL", p.EBGPMultihopTTL, "password", p.Password != "")
	}
	return a, nil
}

// peer is GoBGP's form of p, carrying families.
func peer(cfg *Config, p Peer, families []*api.Family) *api.Peer {
	out := &api.Peer{
		Conf:   &api.PeerConf{NeighborAddress: p.Address, PeerAsn: p.AS, LocalAsn: p.as(cfg), AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{ConnectRetry: connectRetry}},
	}
	for _, f := range families {
		out.AfiSafis = append(out.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: p.GracefulRestart}}})
	}
	if p.EBGPMultihopTTL > 0 {
		out.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.EBGPMultihopTTL)}
	}
	if p.GracefulRestart {
		// Every start may be a restart (the DaemonSet replacing the pod):
		// the Restart State and Forwarding State bits tell the peer to
		// keep the stale routes until the End-of-RIB that follows the
		// new announcements, instead of dropping them at once.
		out.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: p.restartTime(),
			DeferralTime: deferralTime, LocalRestarting: true}
	}
	return out
}

// Sync makes the announced prefixes exactly want.
func (a *Announcer) Sync(ctx context.Context, want map[netip.Prefix]Source) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range Sorted(want) {
		if _, ok := a.announced[p]; ok {
			a.announced[p] = want[p]
			continue
		}
		path, err := a.path(p)
		if err != nil {
			return fmt.Errorf("announcing %s (%s): %w", p, want[p], err)
		}
		if _, err := a.bgp.AddPath(ctx, &api.AddPathRequest{Path: path}); err != nil {
			return fmt.Errorf("announcing %s (%s): %w", p, want[p], err)
		}
		a.announced[p] = want[p]
		a.log.Info("announced", "prefix", p, "source", want[p], "nextHop", a.nextHop(p))
	}
	for p := range a.announced {
		if _, ok := want[p]; ok {
			continue
		}
		path, err := a.path(p)
		if err == nil {
			err = a.bgp.DeletePath(ctx, &api.DeletePathRequest{Path: path})
		}
		if err != nil {
			return fmt.Errorf("withdrawing %s: %w", p, err)
		}
		delete(a.announced, p)
		a.log.Info("withdrawn", "prefix", p)
	}
	return nil
}

// Announced counts the prefixes in GoBGP's table by kind.
func (a *Announcer) Announced() map[Kind]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[Kind]int{}
	for _, src := range a.announced {
		out[src.Kind]++
	}
	return out
}

// nextHop is the node's address of p's family.
func (a *Announcer) nextHop(p netip.Prefix) netip.Addr {
	if p.Addr().Is4() {
		return a.nextHops.IPv4
	}
	return a.nextHops.IPv6
}

// path is the route to p via the node: an IPv4 prefix with the NEXT_HOP
// attribute, an IPv6 one in the IPv6 unicast family with the node's IPv6
// address in MP_REACH_NLRI (RFC 4760), as BGP carries them.
func (a *Announcer) path(p netip.Prefix) (*api.Path, error) {
	hop := a.nextHop(p)
	if !hop.IsValid() {
		return nil, fmt.Errorf("node has no IPv6 address for next hop")
	}
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	if err != nil {
		return nil, err
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP: originated here
	if err != nil {
		return nil, err
	}
	family := ipv4Unicast
	var nextHop *anypb.Any
	if p.Addr().Is4() {
		nextHop, err = anypb.New(&api.NextHopAttribute{NextHop: hop.String()})
	} else {
		family = ipv6Unicast
		nextHop, err = anypb.New(&api.MpReachNLRIAttribute{Family: family, NextHops: []string{hop.String()}, Nlris: []*anypb.Any{nlri}})
	}
	if err != nil {
		return nil, err
	}
	return &api.Path{Family: family, Nlri: nlri, Pattrs: []*anypb.Any{origin, nextHop}}, nil
}

// PeerStatus is a session as GoBGP last saw it.
type PeerStatus struct {
	// Address is the peer's, as configured.
	Address string
	// State is the BGP state, lower case: idle, connect, active, opensent,
	// openconfirm or established.
	State string
	// UpdatesSent and UpdatesReceived count UPDATE messages since start.
	UpdatesSent, UpdatesReceived uint64
}

// Established says whether the session is up.
func (s PeerStatus) Established() bool { return s.State == stateEstablished }

// stateEstablished is an open session in PeerStatus.State.
const stateEstablished = "established"

// Peers reads every session's state from GoBGP.
func (a *Announcer) Peers(ctx context.Context) ([]PeerStatus, error) {
	var out []PeerStatus
	err := a.bgp.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := PeerStatus{Address: p.GetConf().GetNeighborAddress(), State: "idle"}
		if state := p.GetState(); state != nil {
			st.State = strings.ToLower(state.GetSessionState().String())
			st.UpdatesSent = state.GetMessages().GetSent().GetUpdate()
			st.UpdatesReceived = state.GetMessages().GetReceived().GetUpdate()
		}
		out = append(out, st)
	})
	if err != nil {
		return nil, fmt.Errorf("listing BGP peers: %w", err)
	}
	return out, nil
}

// Stop ends the sessions. Without graceful restart the peers are told
// (a Cease NOTIFICATION) and withdraw the routes at once; with it the
// connections just close, which peers take for a restart.
func (a *Announcer) Stop(ctx context.Context) {
	if a.graceful {
		a.log.Info("leaving the BGP sessions without NOTIFICATION: peers keep the routes (graceful restart)")
		return
	}
	if err := a.bgp.StopBgp(ctx, &api.StopBgpRequest{}); err != nil {
		a.log.Error(err, "stopping BGP")
	}
	a.bgp.Stop()
}

// logger hands GoBGP's log lines to logr.
type logger struct {
	log   logr.Logger
	level gobgplog.LogLevel
}

func (l *logger) Panic(msg string, fields gobgplog.Fields) { l.log.Error(nil, msg, flatten(fields)...) }
func (l *logger) Fatal(msg string, fields gobgplog.Fields) { l.log.Error(nil, msg, flatten(fields)...) }
func (l *logger) Error(msg string, fields gobgplog.Fields) { l.log.Error(nil, msg, flatten(fields)...) }
func (l *logger) Warn(msg string, fields gobgplog.Fields)  { l.log.Info(msg, flatten(fields)...) }
func (l *logger) Info(msg string, fields gobgplog.Fields)  { l.log.Info(msg, flatten(fields)...) }
func (l *logger) Debug(msg string, fields gobgplog.Fields) { l.log.V(1).Info(msg, flatten(fields)...) }
func (l *logger) SetLevel(level gobgplog.LogLevel)         { l.level = level }
func (l *logger) GetLevel() gobgplog.LogLevel {
	// Debug lines are cheap to drop in logr; GoBGP checks the level
	// before building some of them.
	return gobgplog.DebugLevel
}

func flatten(fields gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		out = append(out, k, v)
	}
	return out
}

// ParseNextHops reads the node's addresses as the chart passes them
// (status.hostIPs): one IPv4 address, optionally an IPv6 one, in either
// order, separated by a comma.
func ParseNextHops(list string) (NextHops, error) {
	var h NextHops
	for _, s := range strings.Split(list, ",") {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return NextHops{}, fmt.Errorf("node address %q: %w", s, err)
		}
		slot := &h.IPv4
		if addr.Is6() && !addr.Is4In6() {
			slot = &h.IPv6
		}
		if slot.IsValid() {
			return NextHops{}, fmt.Errorf("node addresses %q: two of the same family", list)
		}
		*slot = addr.Unmap()
	}
	if !h.IPv4.IsValid() {
		return NextHops{}, fmt.Errorf("node addresses %q: no IPv4 address, which the speaker needs for router ID", list)
	}
	return h, nil
}
