package perf

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// natSeconds is each iperf3 run's length: long enough for TCP to leave
	// slow start behind, short enough for CI, which runs every benchmark.
	natSeconds = 3
	// egressReady bounds the wait until the pod first reaches the far
	// network: the node's reroute, masquerade and uplink must be in place.
	egressReady = time.Minute
)

// BenchmarkEgressNAT measures a pod's egress to the far network's server,
// masqueraded by its node (the default distributed gateway): pod, br-int
// on the userspace datapath, the cluster router's reroute to the node's
// ovn0, ovnet's nftables masquerade, the node's uplink on br-phy, the
// underlay and the external host. In the same run, the floor it is
// compared with: the same iperf3 through veths and the same masquerade
// table with no OVS (harness.NATPath), first as is, then with the pod
// sending as on the userspace datapath (PodMTU, no checksum or
// segmentation offload), which tells OVS's own cost from the offloads'.
func BenchmarkEgressNAT(b *testing.B) {
	pod, node := egressPod(b)
	through := harness.IperfRun{ClientNS: pod.NetNS, ServerNS: node.far, Server: harness.FarIP,
		WantSource: node.addr, Seconds: natSeconds}
	baseline, plain := harness.NewNATPath(b), harness.NewNATPath(b)
	plain.AsOnUserspaceDatapath(b)
	var ovn, base, basePlain float64
	b.ResetTimer()
	for range b.N {
		base += baseline.EgressMbps(b, natSeconds)
		basePlain += plain.EgressMbps(b, natSeconds)
		ovn += through.Mbps(b)
	}
	b.StopTimer()
	ovn, base, basePlain = ovn/float64(b.N), base/float64(b.N), basePlain/float64(b.N)
	b.ReportMetric(ovn, "Mbit/s")
	b.ReportMetric(base, "baseline-Mbit/s")
	b.ReportMetric(ovn/base, "ratio")
	b.ReportMetric(basePlain, "baseline-no-offload-Mbit/s")
	b.ReportMetric(ovn/basePlain, "ratio-no-offload")
	b.Logf("pod -> far server, NAT by its node: through OVN (userspace datapath) %.0f Mbit/s | "+
		"same masquerade over veths, no OVS: %.0f Mbit/s, ratio %.3f | "+
		"the same with the pod at MTU %d without offloads: %.0f Mbit/s, ratio %.3f (informational)",
		ovn, base, ovn/base, harness.PodMTU, basePlain, ovn/basePlain)
}

// egressNode is the benchmark's node on the underlay.
type egressNode struct {
	// addr is its underlay address, the one the far server must see.
	addr netip.Addr
	// far is the far host's network namespace, where iperf3 -s runs.
	far string
}

// egressPod starts one node attached to the underlay, as the end-to-end
// suite does, and a pod on it (ovn-default: distributed gateway, NAT),
// and waits until the pod reaches the far network.
func egressPod(b *testing.B) (*harness.Sandbox, egressNode) {
	b.Helper()
	api := harness.StartAPIServer(b, harness.APIServerOptions{})
	ovn := harness.StartOVNCentral(b)
	harness.StartController(b, api, ovn.NB, harness.DefaultNetwork())
	ul := harness.NewUnderlay(b)
	addr := harness.UnderlayAddr(1)
	node := harness.StartNode(b, harness.NodeOptions{Name: "bench", API: api, SB: ovn.SB, EncapIP: addr.Addr().String()})
	ul.Attach(b, node, addr)
	c, err := client.New(api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "iperf"},
		Spec: corev1.PodSpec{NodeName: node.Name,
			Containers: []corev1.Container{{Name: "c", Image: "local.test/tools:1"}}},
	}
	if err := c.Create(context.Background(), pod); err != nil {
		b.Fatal(err)
	}
	sandbox := node.Runtime(b).AddPod(b, pod)
	wait.For(b, egressReady, "pod reaches the far network", func() error {
		_, err := sandbox.Exec("ping", "-c", "1", "-W", "1", harness.FarIP.String())
		return err
	})
	return sandbox, egressNode{addr: addr.Addr(), far: ul.Far.NetNS}
}
