package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/speaker"
	"github.com/ovnet/ovnet/test/harness"
)

// sessionWarningAfter is the speaker's --session-warning-after in
// TestBGPSessions: short, so that a session that cannot come up is
// reported while the test waits.
const sessionWarningAfter = "3s"

// TestBGPSessions: one node's speaker and two BIRD routers of AS 64500,
// one on the external host (the node's own link) and one in the far
// network, a router hop away, which passes what it learns to the first
// over iBGP. Each case restarts the speaker with another configuration:
//   - the far router with ebgpMultihopTTL: the session comes up across the
//     external host, the external host learns the Subnet and the pod from
//     the far router, and the far network reaches the pod by that route;
//     meanwhile the session to the external host, with the wrong TCP MD5
//     password, never comes up and the speaker says so (log, Warning
//     Event on the Node, ovnet_bgp_peer_up 0) without disturbing the
//     other;
//   - the far router without ebgpMultihopTTL (the likely mistake): that
//     session never comes up and the speaker names the cause, while the
//     session to the external host, with the right password, carries the
//     routes;
//   - the external host's BIRD stopping: ovnet_bgp_peer_up goes from 1 to
//     0 and a BGPSessionDown Event is recorded on the Node.
func TestBGPSessions(t *testing.T) {
	e := newEnv(t)
	o := e.underlayNodes("n1")
	n, node := o.nodes[0], nodeAddr(0)
	cidr := netip.MustParsePrefix("10.93.0.0/24")
	e.namespace("bgp", map[string]string{annotation.CIDR: cidr.String(), annotation.GatewayNAT: "false"})
	e.annotate(e.subnet(t, "bgp"), map[string]any{annotation.BGP: annotation.True})
	pod := n.Runtime(t).AddPod(t, e.pod("bgp", "web", n.Name, map[string]string{annotation.BGP: annotation.True}))
	e.serve(pod, "--tcp", fmt.Sprint(backendTCP))
	routes := map[netip.Prefix][]netip.Addr{cidr: {node}, host(pod.IP): {node}}
	podTarget := netip.AddrPortFrom(pod.IP, backendTCP).String()

	ext := harness.StartBIRD(t, harness.BIRDOptions{NetNS: o.ext.NetNS, RouterID: harness.ExternalHostIP, AS: routerAS,
		Neighbors: []harness.BIRDNeighbor{{Name: "n1", Address: node, AS: clusterAS, Password: bgpPassword},
			{Name: "far", Address: harness.FarIP, AS: routerAS, Local: harness.FarGatewayIP}}})
	far := harness.StartBIRD(t, harness.BIRDOptions{NetNS: o.far.NetNS, RouterID: harness.FarIP, AS: routerAS,
		Neighbors: []harness.BIRDNeighbor{{Name: "n1", Address: node, AS: clusterAS, Multihop: 2},
			{Name: "ext", Address: harness.FarGatewayIP, AS: routerAS, Export: true}},
		Static: []harness.BIRDStatic{{Prefix: harness.UnderlayPrefix, Via: harness.FarGatewayIP}}})
	extPeer := speaker.Peer{Address: harness.ExternalHostIP.String(), AS: routerAS, Password: bgpPassword}
	farPeer := speaker.Peer{Address: harness.FarIP.String(), AS: routerAS}
	config := func(peers ...speaker.Peer) speaker.Config { return speaker.Config{LocalAS: clusterAS, Peers: peers} }

	wrongPassword, multihop := extPeer, farPeer
	wrongPassword.Password, multihop.EBGPMultihopTTL = "not-"+bgpPassword, 2
	sp := harness.StartSpeaker(t, harness.SpeakerOptions{Node: n, API: e.api, Address: node,
		Config: config(multihop, wrongPassword), Args: []string{"--session-warning-after=" + sessionWarningAfter}})
	restart := func(t *testing.T, cfg speaker.Config) {
		sp.Stop(t)
		sp.Configure(t, cfg)
		sp.Start(t)
	}
	t.Run("multihop, and a wrong password beside it", func(t *testing.T) {
		birdEstablished(t, far, "n1")
		// Learned by the external host from the far router: the next hop
		// is still the node.
		birdHolds(t, ext, routes)
		farReaches(t, o, e.probe, podTarget, pod.IP, harness.FarIP)
		notEstablished(t, e, sp, ext, extPeer, "TCP MD5 password is the one configured here")
		speakerMetrics(t, sp, map[string]float64{peerUp(farPeer): 1, peerUp(extPeer): 0,
			`ovnet_bgp_announced_prefixes{kind="subnet"}`: 1, `ovnet_bgp_announced_prefixes{kind="pod"}`: 1,
			`ovnet_bgp_announced_prefixes{kind="service"}`: 0})
	})

	t.Run("no multihop to a router behind a router", func(t *testing.T) {
		restart(t, config(farPeer, extPeer))
		birdEstablished(t, ext, "n1")
		birdHolds(t, ext, routes)
		notEstablished(t, e, sp, far, farPeer, "reached through router "+harness.ExternalHostIP.String())
		speakerMetrics(t, sp, map[string]float64{peerUp(farPeer): 0, peerUp(extPeer): 1})
		if sent := harness.MetricValue(t, sp.MetricsAddr, `ovnet_bgp_updates_sent_total{peer="`+extPeer.Address+`"}`); sent < 1 {
			t.Errorf("%g UPDATE messages sent to %s, whose BIRD holds the routes", sent, extPeer.Address)
		}
	})

	t.Run("peer stops", func(t *testing.T) {
		ext.Stop(t)
		speakerMetrics(t, sp, map[string]float64{peerUp(extPeer): 0})
		e.eventOn(t, n.Name, speaker.ReasonBGPSessionDown, "BGP session to "+extPeer.Address)
		if out, err := healthz(sp); err != nil {
			t.Errorf("/healthz with every session down: %v: %s", err, out)
		}
	})
}

// birdEstablished waits until BIRD's session to the named neighbour is up.
func birdEstablished(t *testing.T, bird *harness.BIRD, name string) {
	t.Helper()
	until(t, "BIRD's session "+name+" established", func() error {
		if up, err := bird.Established(name); err != nil || !up {
			return fmt.Errorf("established %v: %v", up, err)
		}
		return nil
	})
}

// notEstablished waits for the speaker's warning that its session to p
// stays down, with hint in it, as a Warning Event on the Node and in its
// log; BIRD's session to the node (n1) is down meanwhile.
func notEstablished(t *testing.T, e *env, sp *harness.Speaker, bird *harness.BIRD, p speaker.Peer, hint string) {
	t.Helper()
	what := fmt.Sprintf("BGP session to %s (AS %d) not established", p.Address, p.AS)
	e.eventOn(t, "n1", speaker.ReasonBGPSessionNotEstablished, what)
	e.eventOn(t, "n1", speaker.ReasonBGPSessionNotEstablished, hint)
	if log := readFile(t, sp.LogFile); !strings.Contains(log, what) || !strings.Contains(log, hint) {
		t.Errorf("the speaker's log has no line %q with %q", what, hint)
	}
	if up, err := bird.Established("n1"); err != nil || up {
		t.Errorf("BIRD's session to n1: established %v (%v), want down", up, err)
	}
}

// peerUp is the series of ovnet_bgp_peer_up for p.
func peerUp(p speaker.Peer) string { return `ovnet_bgp_peer_up{peer="` + p.Address + `"}` }

// speakerMetrics waits until the speaker's /metrics has every series with
// its value.
func speakerMetrics(t *testing.T, sp *harness.Speaker, want map[string]float64) {
	t.Helper()
	until(t, fmt.Sprintf("speaker metrics %v", want), func() error {
		body, err := harness.FetchMetrics(sp.MetricsAddr)
		if err != nil {
			return err
		}
		for series, value := range want {
			got, ok := harness.SeriesValue(body, series)
			if !ok || got != value {
				return fmt.Errorf("%s = %g (present %v), want %g", series, got, ok, value)
			}
		}
		return nil
	})
}

// healthz asks the speaker's /healthz.
func healthz(sp *harness.Speaker) (string, error) {
	return harness.HTTPGet("http://" + sp.HealthAddr + "/healthz")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
