package speaker

import (
	"context"
	"fmt"
	"net/netip"
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
)

// ipv4Unicast is the only address family the speaker announces.
var ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

// Announcer holds the BGP sessions of one node and the prefixes it
// announces on them, with the node's address as next hop.
type Announcer struct {
	// bgp is the GoBGP server, in process.
	bgp *server.BgpServer
	// nextHop is the node's address.
	nextHop netip.Addr
	// graceful is true when any peer has graceful restart: Stop then
	// leaves the sessions to drop without a NOTIFICATION, so the peers
	// keep the routes until the speaker is back.
	graceful bool
	log      logr.Logger

	mu sync.Mutex
	// announced are the prefixes in GoBGP's table.
	announced map[netip.Prefix]bool
}

// StartAnnouncer starts GoBGP with the node's address as router ID and
// next hop, and adds cfg's peers.
func StartAnnouncer(ctx context.Context, cfg *Config, nodeIP netip.Addr, log logr.Logger) (*Announcer, error) {
	if !nodeIP.Is4() {
		return nil, fmt.Errorf("node address %s: the speaker needs an IPv4 address for router ID and next hop", nodeIP)
	}
	a := &Announcer{nextHop: nodeIP, log: log, announced: map[netip.Prefix]bool{}}
	a.bgp = server.NewBgpServer(server.LoggerOption(&logger{log: log.WithName("gobgp")}))
	go a.bgp.Serve()
	global := &api.Global{Asn: cfg.LocalAS, RouterId: nodeIP.String(), ListenPort: noListen}
	if global.Asn == 0 {
		// Every peer names its own local AS; GoBGP needs one anyway.
		global.Asn = cfg.Peers[0].LocalAS
	}
	if err := a.bgp.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		a.bgp.Stop()
		return nil, fmt.Errorf("starting BGP: %w", err)
	}
	for _, p := range cfg.Peers {
		if err := a.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: peer(cfg, p)}); err != nil {
			a.bgp.Stop()
			return nil, fmt.Errorf("adding BGP peer %s: %w", p.Address, err)
		}
		a.graceful = a.graceful || p.GracefulRestart
		log.Info("BGP peer", "address", p.Address, "as", p.AS, "localAS", p.as(cfg), "gracefulRestart", p.GracefulRestart,
			"ebgpMultihopTTL", p.EBGPMultihopTTL, "password", p.Password != "")
	}
	return a, nil
}

// peer is GoBGP's form of p.
func peer(cfg *Config, p Peer) *api.Peer {
	out := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address, PeerAsn: p.AS, LocalAsn: p.as(cfg), AuthPassword: p.Password},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: p.GracefulRestart}}}},
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
func (a *Announcer) Sync(ctx context.Context, want map[netip.Prefix]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range Sorted(want) {
		if a.announced[p] {
			continue
		}
		if _, err := a.bgp.AddPath(ctx, &api.AddPathRequest{Path: a.path(p)}); err != nil {
			return fmt.Errorf("announcing %s (%s): %w", p, want[p], err)
		}
		a.announced[p] = true
		a.log.Info("announced", "prefix", p, "source", want[p], "nextHop", a.nextHop)
	}
	for p := range a.announced {
		if _, ok := want[p]; ok {
			continue
		}
		if err := a.bgp.DeletePath(ctx, &api.DeletePathRequest{Path: a.path(p)}); err != nil {
			return fmt.Errorf("withdrawing %s: %w", p, err)
		}
		delete(a.announced, p)
		a.log.Info("withdrawn", "prefix", p)
	}
	return nil
}

// path is the route to p via the node.
func (a *Announcer) path(p netip.Prefix) *api.Path {
	nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP: originated here
	nextHop, _ := anypb.New(&api.NextHopAttribute{NextHop: a.nextHop.String()})
	return &api.Path{Family: ipv4Unicast, Nlri: nlri, Pattrs: []*anypb.Any{origin, nextHop}}
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
