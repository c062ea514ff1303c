package perf

import (
	"testing"

	"github.com/ovnet/ovnet/test/harness"
)

// natSeconds is each iperf3 run's length: long enough for TCP to leave
// slow start behind, short enough for a benchmark run.
const natSeconds = 5

// BenchmarkEgressNATBaseline measures a pod's egress through the node's
// nftables table alone (veth into the node, ovnet's masquerade, veth out
// to an external host; no OVS): the floor the same egress through OVN is
// compared with.
func BenchmarkEgressNATBaseline(b *testing.B) {
	path := harness.NewNATPath(b)
	var total float64
	for range b.N {
		total += path.EgressMbps(b, natSeconds)
	}
	mbps := total / float64(b.N)
	b.ReportMetric(mbps, "Mbit/s")
	b.Logf("egress through the masquerade table, no OVS: %.0f Mbit/s", mbps)
}
