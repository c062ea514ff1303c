package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness"
)

// ipfixPort is IANA's port for IPFIX over UDP.
const ipfixPort = 4739

// Each node's br-int exports IPFIX, every packet sampled, to a collector
// outside the cluster (goflow2 on the external host): a TCP transfer from
// a pod on n1 to a pod on n2 shows up in n1's records with the pods'
// addresses and ports, at least the bytes sent and not much more.
func TestIPFIXExport(t *testing.T) {
	e := newEnv(t)
	collector := netip.AddrPortFrom(harness.ExternalHostIP, ipfixPort)
	ul := harness.NewUnderlay(t)
	// Listening before the nodes start: ovs-vswitchd sends its templates
	// with its first records, then every 10 minutes only, and records
	// without their template cannot be decoded.
	flows := harness.StartFlowCollector(t, ul.External.NetNS, collector)
	o := e.nodesOn(ul, ovs.EncapGeneve, []string{"--ipfix-targets=" + collector.String(),
		"--ipfix-sampling=1", "--ipfix-cache-active-timeout=1"}, "n1", "n2")

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
	exporter := nodeAddr(0)
	var got transfer
	e.eventually(fmt.Sprintf("n1's records of %s -> %s reach %d bytes", src, dst, sent), func() error {
		got = sumFlows(flows.Flows(), exporter, src, dst)
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
	if back := sumFlows(flows.Flows(), exporter, dst, src); back.records == 0 {
		t.Errorf("n1 exported no record of the replies %s -> %s", dst, src)
	}
	if n2Seen := sumFlows(flows.Flows(), nodeAddr(1), src, dst); n2Seen.records == 0 {
		t.Errorf("n2 exported no record of %s -> %s", src, dst)
	}

	t.Logf("n1: %d records, %d bytes, %d packets for %d bytes sent; input port %d", got.records, got.bytes,
		got.packets, sent, got.inPort)
}

// transfer sums one direction of a flow as one exporter recorded it.
type transfer struct {
	records, bytes, packets uint64
	// inPort is the input port of the last record (a datapath port number).
	inPort uint32
}

// sumFlows adds up exporter's TCP records from src to dst.
func sumFlows(flows []harness.Flow, exporter netip.Addr, src, dst netip.AddrPort) transfer {
	var t transfer
	for _, f := range flows {
		if f.Exporter != exporter || f.Src != src || f.Dst != dst || f.Proto != 6 {
			continue
		}
		t.records++
		t.bytes += f.Bytes
		t.packets += f.Packets
		t.inPort = f.InPort
	}
	return t
}
