package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// Addresses of the NAT path: the pod in ovnet's default subnet, the node's
// join address on ovn0, and the uplink in TEST-NET-1.
var (
	natPathSubnet   = netip.MustParsePrefix("10.16.0.0/16")
	natPathPod      = netip.MustParseAddr("10.16.0.5")
	natPathJoin     = netip.MustParseAddr("100.64.0.2")
	natPathNode     = netip.MustParseAddr("192.0.2.2")
	natPathExternal = netip.MustParseAddr("192.0.2.100")
)

// iperfStart bounds the client's retries while the iperf3 server is not
// listening yet; it starts in milliseconds.
const iperfStart = 10 * time.Second

// NATPath is the kernel half of a pod's egress with no OVS at all: a pod
// namespace whose veth ends in the node's namespace as ovn0, the node with
// ovnet's own nftables table (pkg/daemon/nodenat, the pod's subnet
// masqueraded) and forwarding on, and an uplink veth to an external host.
// Measured against the same egress through OVN, it says what OVN costs.
type NATPath struct {
	PodNS, NodeNS, ExternalNS string
	Pod, Node, External       netip.Addr
}

// NewNATPath builds the namespaces and converges the table; tb.Cleanup
// removes them (and the table with the node's namespace).
func NewNATPath(tb T) *NATPath {
	tb.Helper()
	p := &NATPath{PodNS: UniqueName("natp"), NodeNS: UniqueName("natn"), ExternalNS: UniqueName("natx"),
		Pod: natPathPod, Node: natPathNode, External: natPathExternal}
	for _, ns := range []string{p.PodNS, p.NodeNS, p.ExternalNS} {
		addNetNS(tb, ns)
	}
	mustIP(tb, p.NodeNS, "link", "add", "ovn0", "type", "veth", "peer", "name", "eth0", "netns", p.PodNS)
	mustIP(tb, p.NodeNS, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", p.ExternalNS)
	for ns, dev := range map[string]string{p.NodeNS: "ovn0", p.PodNS: "eth0", p.ExternalNS: "eth0"} {
		mustIP(tb, ns, "link", "set", dev, "up")
	}
	mustIP(tb, p.NodeNS, "link", "set", "eth1", "up")
	mustIP(tb, p.NodeNS, "addr", "add", natPathJoin.String()+"/16", "dev", "ovn0")
	mustIP(tb, p.NodeNS, "addr", "add", p.Node.String()+"/24", "dev", "eth1")
	mustIP(tb, p.NodeNS, "route", "add", natPathSubnet.String(), "dev", "ovn0")
	mustIP(tb, p.PodNS, "addr", "add", p.Pod.String()+"/32", "dev", "eth0")
	mustIP(tb, p.PodNS, "route", "add", natPathJoin.String(), "dev", "eth0")
	mustIP(tb, p.PodNS, "route", "add", "default", "via", natPathJoin.String())
	mustIP(tb, p.ExternalNS, "addr", "add", p.External.String()+"/24", "dev", "eth0")
	p.convergeTable(tb)
	return p
}

// convergeTable turns forwarding on and converges ovnet's table in the
// node's namespace, as the daemon does.
func (p *NATPath) convergeTable(tb T) {
	tb.Helper()
	ns, err := nslink.Open(netnsDir + "/" + p.NodeNS)
	if err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
	defer ns.Close()
	if _, err := nodenat.EnableForwarding(ns); err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
	to := nodenat.Range{From: natPathSubnet.Addr(), To: netip.MustParseAddr("10.16.255.255")}
	if _, err := nodenat.NewTable(int(ns.NS), "ovn0").Converge(nodenat.State{NATSubnets: []nodenat.Range{to}}); err != nil {
		tb.Fatalf("NAT path: %v", err)
	}
}

// iperfResult is the part of iperf3's JSON report read here.
type iperfResult struct {
	Error string `json:"error"`
	Start struct {
		Connected []struct {
			RemoteHost string `json:"remote_host"`
		} `json:"connected"`
	} `json:"start"`
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// EgressMbps runs iperf3 (TCP) from the pod to the external host for the
// given seconds and returns what the external host received, in Mbit/s.
// It fails unless the external host saw the node's address: the traffic
// went through the masquerade.
func (p *NATPath) EgressMbps(tb T, seconds int) float64 {
	tb.Helper()
	server := exec.Command("ip", "netns", "exec", p.ExternalNS, "iperf3", "-s", "-1", "-J", "-B", p.External.String())
	var serverOut strings.Builder
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		tb.Fatalf("iperf3 server: %v", err)
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	var report iperfResult
	err := wait.Until(context.Background(), iperfStart, "iperf3 pod -> external host", func() error {
		report = iperfResult{}
		out, err := exec.Command("ip", "netns", "exec", p.PodNS, "iperf3", "-c", p.External.String(),
			"-t", strconv.Itoa(seconds), "-J").CombinedOutput()
		if jsonErr := json.Unmarshal(out, &report); jsonErr != nil && err == nil {
			err = jsonErr
		}
		// iperf3 exits 0 with the error in its report when the server is
		// not listening yet.
		if err != nil || report.Error != "" {
			return fmt.Errorf("%v %s\n%s", err, report.Error, out)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	_ = server.Wait()
	var seen iperfResult
	if err := json.Unmarshal([]byte(serverOut.String()), &seen); err != nil || len(seen.Start.Connected) == 0 {
		tb.Fatalf("iperf3 server report: %v\n%s", err, serverOut.String())
	}
	if got := seen.Start.Connected[0].RemoteHost; got != p.Node.String() {
		tb.Fatalf("external host saw %s, want the node's %s: the egress was not masqueraded", got, p.Node)
	}
	return report.End.SumReceived.BitsPerSecond / 1e6
}

// NATBaseline builds a NATPath and measures its egress once.
func NATBaseline(tb T, seconds int) float64 {
	tb.Helper()
	return NewNATPath(tb).EgressMbps(tb, seconds)
}
