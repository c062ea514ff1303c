package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/daemon"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness"
)

// IANA's ports for IPFIX and sFlow over UDP.
const (
	ipfixPort = 4739
	sflowPort = 6343
)

// sflowSampling is the test's sFlow rate: one packet in 16 gives about
// 200 samples of the transfer, enough for an estimate within a few per
// cent, and few upcalls beside IPFIX's every packet.
const sflowSampling = 16

// Each node's br-int exports IPFIX, every packet sampled, and sFlow, one
// packet in 16 and counters every second, to collectors outside the
// cluster (goflow2 on the external host). n1's IPFIX goes through its
// daemon's mediator, which adds pod names; n2's goes straight to the
// collector, as without the mediator. One TCP transfer from a pod on n1
// to a pod on n2 is checked in both.
func TestFlowExport(t *testing.T) {
	e := newEnv(t)
	ipfixAt := netip.AddrPortFrom(harness.ExternalHostIP, ipfixPort)
	sflowAt := netip.AddrPortFrom(harness.ExternalHostIP, sflowPort)
	ul := harness.NewUnderlay(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Listening before the nodes start: ovs-vswitchd sends its IPFIX
	// templates with its first records, then every 10 minutes only, and
	// records without their template cannot be decoded. The mapping is
	// the one the README gives users for ovnet's elements.
	flows := harness.StartMappedFlowCollector(t, ul.External.NetNS,
		filepath.Join(root, "yamls", "examples", "goflow2", "pod-names.yaml"), ipfixAt, sflowAt)
	o := e.nodesEach(ul, ovs.EncapGeneve, func(i int) []string {
		args := []string{
			"--ipfix-targets=" + ipfixAt.String(), "--ipfix-sampling=1", "--ipfix-cache-active-timeout=1",
			"--sflow-targets=" + sflowAt.String(), "--sflow-sampling=" + strconv.Itoa(sflowSampling), "--sflow-polling=1",
		}
		if i == 0 {
			args = append(args, "--ipfix-pod-names")
		}
		return args
	}, "n1", "n2")

	a := e.labeledPod(o.nodes[0].Runtime(t), "default", "a", "n1", nil, nil, nil)
	b := e.labeledPod(o.nodes[1].Runtime(t), "default", "b", "n2", nil, nil, nil)
	e.eventually("ping a (n1) -> b (n2)", func() error {
		_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IP.String())
		return err
	})
	// A transfer of its own: its client port names it among the records.
	// At a modest rate: every packet sampled is an upcall to ovs-vswitchd
	// on the userspace datapath, and the test measures the records, not
	// how fast OVS can sample.
	const sent, clientPort = 4 << 20, 40123
	harness.IperfRun{ClientNS: a.NetNS, ServerNS: b.NetNS, Server: b.IP, WantSource: a.IP,
		Bytes: sent, ClientPort: clientPort, RateMbps: 20}.Mbps(t)
	src, dst := netip.AddrPortFrom(a.IP, clientPort), netip.AddrPortFrom(b.IP, harness.IperfPort)
	n1 := nodeAddr(0)

	// n1's records of the 5-tuple add up to the bytes sent, not much more.
	t.Run("IPFIX", func(t *testing.T) {
		var got transfer
		until(t, fmt.Sprintf("n1's records of %s -> %s reach %d bytes", src, dst, sent), func() error {
			got = sumFlows(flows.Flows(), "IPFIX", n1, src, dst)
			if got.bytes < sent {
				return fmt.Errorf("%d bytes in %d records (%d records in all; decode errors: %v)",
					got.bytes, got.records, len(flows.Flows()), flows.Errors())
			}
			return nil
		})
		// Headers on top of the payload: 52 bytes of IP and TCP per packet
		// of up to 1348 bytes, and iperf3's own few bytes; twice as much
		// would be every packet counted twice.
		if limit := uint64(sent) * 11 / 10; got.bytes > limit {
			t.Errorf("n1 counted %d bytes for %d sent (%d packets): more than %d", got.bytes, sent, got.packets, limit)
		}
		if back := sumFlows(flows.Flows(), "IPFIX", n1, dst, src); back.records == 0 {
			t.Errorf("n1 exported no record of the replies %s -> %s", dst, src)
		}
		if n2Seen := sumFlows(flows.Flows(), "IPFIX", nodeAddr(1), src, dst); n2Seen.records == 0 {
			t.Errorf("n2 exported no record of %s -> %s", src, dst)
		}
		t.Logf("n1: %d records, %d bytes, %d packets for %d bytes sent; input port %d", got.records, got.bytes,
			got.packets, sent, got.inPort)
	})

	// n1's mediated records name both pods, each with its namespace and
	// node, in both directions; n2's, straight from ovs-vswitchd, name
	// none.
	t.Run("PodNames", func(t *testing.T) {
		podA := podNames{namespace: "default", name: "a", node: "n1"}
		podB := podNames{namespace: "default", name: "b", node: "n2"}
		for _, dir := range []struct {
			from, to netip.AddrPort
			src, dst podNames
		}{{src, dst, podA, podB}, {dst, src, podB, podA}} {
			var named, unnamed int
			for _, f := range flows.Flows() {
				if f.Type != "IPFIX" || f.Exporter != n1 || f.Src != dir.from || f.Dst != dir.to {
					continue
				}
				if got := namesOf(f); got.src == dir.src && got.dst == dir.dst {
					named++
				} else {
					unnamed++
					if unnamed == 1 {
						t.Errorf("n1's record of %s -> %s names %+v, want source %+v and destination %+v",
							dir.from, dir.to, got, dir.src, dir.dst)
					}
				}
			}
			if named == 0 || unnamed > 0 {
				t.Errorf("n1's records of %s -> %s: %d name both pods, %d do not; want all of them", dir.from, dir.to, named, unnamed)
			}
			t.Logf("n1: %d records of %s -> %s name %s/%s on %s -> %s/%s on %s", named, dir.from, dir.to,
				dir.src.namespace, dir.src.name, dir.src.node, dir.dst.namespace, dir.dst.name, dir.dst.node)
		}
		var n2Records int
		for _, f := range flows.Flows() {
			if f.Type != "IPFIX" || f.Exporter != nodeAddr(1) {
				continue
			}
			n2Records++
			if len(f.Custom) != 0 {
				t.Fatalf("n2 (no mediator) exported a record with ovnet's fields %v", f.Custom)
			}
		}
		if n2Records == 0 {
			t.Error("n2 exported no IPFIX record")
		}
	})

	// A node whose mediator port another program holds says so in an
	// Event on its Node and gives br-int no exporter, so that no record
	// goes to that program; once the port is free the mediator takes it
	// within its retry interval.
	t.Run("MediatorPortTaken", func(t *testing.T) {
		ns := harness.NewNetNS(t)
		port := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), daemon.DefaultIPFIXMediatorPort)
		release := harness.HoldUDPPort(t, ns, port)
		addr := harness.UnderlayAddr(3)
		n3 := harness.StartNode(t, harness.NodeOptions{Name: "n3", NetNS: ns, API: e.api, SB: e.ovn.SB,
			EncapIP: addr.Addr().String(), EncapType: ovs.EncapGeneve,
			DaemonArgs: []string{"--ipfix-targets=" + ipfixAt.String(), "--ipfix-pod-names"}})
		ul.Attach(t, n3, addr)
		e.eventOn(t, "n3", daemon.ReasonIPFIXMediatorFailed, "listen on "+port.String()+": listen udp "+port.String()+": bind: address already in use")
		if got := strings.TrimSpace(n3.Chassis.Vsctl(t, "get", "bridge", "br-int", "ipfix")); got != "[]" {
			t.Errorf("br-int's IPFIX is %s while the mediator's port is taken; want none", got)
		}
		release()
		e.eventOn(t, "n3", daemon.ReasonIPFIXMediatorListening, port.String())
		until(t, "br-int's IPFIX exports to the mediator", func() error {
			got := strings.TrimSpace(n3.Chassis.Vsctl(t, "--columns=targets", "--bare", "list", "ipfix"))
			if got != `"`+port.String()+`"` && got != port.String() {
				return fmt.Errorf("targets %q", got)
			}
			return nil
		})
	})

	// n1's samples name the 5-tuple, n1 as agent and a's port by its
	// ifIndex; scaled by the rate they estimate the bytes sent; and n1's
	// counters of that port count at least the bytes sent into br-int.
	t.Run("sFlow", func(t *testing.T) {
		hostEnd := attachments.HostInterfaceName(a.ContainerID, a.IfName)
		ifIndex, err := strconv.ParseUint(strings.TrimSpace(o.nodes[0].Chassis.Vsctl(t, "get", "interface", hostEnd, "ifindex")), 10, 32)
		if err != nil {
			t.Fatalf("ifindex of %s: %v", hostEnd, err)
		}
		// Samples of the replies come with the data's: the transfer is
		// over, so once n1's replies are there its data samples are too,
		// and the counters follow within a polling interval.
		var got transfer
		until(t, fmt.Sprintf("n1's sFlow samples of %s -> %s and %s -> %s", src, dst, dst, src), func() error {
			got = sumFlows(flows.Flows(), "SFLOW_5", n1, src, dst)
			back := sumFlows(flows.Flows(), "SFLOW_5", n1, dst, src)
			if got.records*sflowSampling < sent/1500/2 || back.records == 0 {
				return fmt.Errorf("%d samples of the data, %d of the replies (%d samples in all; decode errors: %v)",
					got.records, back.records, len(flows.Flows()), flows.Errors())
			}
			return nil
		})
		for _, f := range flows.Flows() {
			if f.Type != "SFLOW_5" || f.Exporter != n1 || f.Src != src || f.Dst != dst {
				continue
			}
			if f.Agent != n1 || f.SamplingRate != sflowSampling || f.InPort != uint32(ifIndex) {
				t.Fatalf("sample of %s -> %s: agent %s, rate %d, input ifIndex %d; want %s, %d and %d (%s)",
					src, dst, f.Agent, f.SamplingRate, f.InPort, n1, sflowSampling, ifIndex, hostEnd)
			}
		}
		// Sampling is random, one packet in 16 on average: about 200
		// samples, whose spread is under 10%; half or one and a half
		// times the bytes sent is far outside it.
		estimate := got.bytes * sflowSampling
		if estimate < sent/2 || estimate > sent*3/2 {
			t.Errorf("%d samples of %d bytes estimate %d bytes for %d sent", got.records, got.bytes, estimate, sent)
		}
		var in uint64
		until(t, fmt.Sprintf("n1's counters of ifIndex %d (%s) reach %d bytes in", ifIndex, hostEnd, sent), func() error {
			for _, c := range flows.Counters() {
				if c.Exporter == n1 && c.IfIndex == uint32(ifIndex) {
					in = max(in, c.InOctets)
				}
			}
			if in < sent {
				return fmt.Errorf("at most %d bytes in (%d counter samples in all)", in, len(flows.Counters()))
			}
			return nil
		})
		t.Logf("n1: %d samples of %d bytes at 1 in %d (estimate %d bytes for %d sent), ifIndex %d; counters: %d bytes in",
			got.records, got.bytes, sflowSampling, estimate, sent, ifIndex, in)
	})
}

// transfer sums one direction of a flow as one exporter recorded it.
type transfer struct {
	records, bytes, packets uint64
	// inPort is the input port of the last record.
	inPort uint32
}

// sumFlows adds up exporter's TCP records (or samples) of type kind from
// src to dst.
func sumFlows(flows []harness.Flow, kind string, exporter netip.Addr, src, dst netip.AddrPort) transfer {
	var t transfer
	for _, f := range flows {
		if f.Type != kind || f.Exporter != exporter || f.Src != src || f.Dst != dst || f.Proto != 6 {
			continue
		}
		t.records++
		t.bytes += f.Bytes
		t.packets += f.Packets
		t.inPort = f.InPort
	}
	return t
}

// podNames are one side of a flow as ovnet's IPFIX elements name it.
type podNames struct{ namespace, name, node string }

// namesOf reads ovnet's elements out of a record, by the names the
// goflow2 mapping file gives them.
func namesOf(f harness.Flow) (names struct{ src, dst podNames }) {
	names.src = podNames{f.Custom["src_pod_namespace"], f.Custom["src_pod_name"], f.Custom["src_node_name"]}
	names.dst = podNames{f.Custom["dst_pod_namespace"], f.Custom["dst_pod_name"], f.Custom["dst_node_name"]}
	return names
}
