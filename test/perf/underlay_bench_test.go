package perf

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// BenchmarkUnderlay measures TCP between pods on two nodes of an underlay
// subnet (br-int, the localnet patch to br-phy, the underlay bridge: no
// tunnel), and in the same run the baseline it is compared with, the same
// between two overlay pods of ovn-default (the cluster router's switch,
// Geneve between the nodes). Informational: on the userspace datapath
// both pay ovs-vswitchd's per-packet cost twice, once per node.
func BenchmarkUnderlay(b *testing.B) {
	api := harness.StartAPIServer(b, harness.APIServerOptions{})
	ovn := harness.StartOVNCentral(b)
	harness.StartController(b, api, ovn.NB, harness.DefaultNetwork())
	c, err := client.New(api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, obj := range []client.Object{
		&ovnetv1.ProviderNetwork{ObjectMeta: metav1.ObjectMeta{Name: "physnet"}, Spec: ovnetv1.ProviderNetworkSpec{Bridge: "br-phy"}},
		&ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "ul"}, Spec: ovnetv1.SubnetSpec{CIDR: "172.20.0.0/24",
			Gateway: "172.20.0.254", Provider: "physnet", NATOutgoing: ptr.To(false)}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			b.Fatal(err)
		}
	}
	ul := harness.NewUnderlay(b)
	var nodes []*harness.Node
	for i, name := range []string{"n1", "n2"} {
		addr := harness.UnderlayAddr(i + 1)
		n := harness.StartNode(b, harness.NodeOptions{Name: name, API: api, SB: ovn.SB, EncapIP: addr.Addr().String()})
		ul.Attach(b, n, addr)
		nodes = append(nodes, n)
	}
	// Until a node maps the network to br-phy, ovn-controller sends the
	// underlay subnet's packets through the Geneve tunnel, where a pod's
	// full uplink MTU does not fit: the run would measure nothing.
	for _, n := range nodes {
		wait.For(b, egressReady, n.Name+" maps physnet to br-phy", func() error {
			if m := n.Chassis.BridgeMappings(b); m != "physnet:br-phy" {
				return fmt.Errorf("ovn-bridge-mappings %q", m)
			}
			return nil
		})
	}
	pod := func(name string, n *harness.Node, subnet string) *harness.Sandbox {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
			Annotations: map[string]string{annotation.LogicalSwitch: subnet}},
			Spec: corev1.PodSpec{NodeName: n.Name, Containers: []corev1.Container{{Name: "c", Image: "local.test/tools:1"}}}}
		if err := c.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		return n.Runtime(b).AddPod(b, p)
	}
	runs := map[string]harness.IperfRun{}
	for _, subnet := range []string{"ul", "ovn-default"} {
		from, to := pod(subnet+"-a", nodes[0], subnet), pod(subnet+"-b", nodes[1], subnet)
		wait.For(b, egressReady, subnet+" pods reach each other", func() error {
			_, err := from.Exec("ping", "-c", "1", "-W", "1", to.IP.String())
			return err
		})
		runs[subnet] = harness.IperfRun{ClientNS: from.NetNS, ServerNS: to.NetNS, Server: to.IP, WantSource: from.IP, Seconds: natSeconds}
	}
	var underlay, overlay float64
	b.ResetTimer()
	for i := range b.N {
		o, u := runs["ovn-default"].Mbps(b), runs["ul"].Mbps(b)
		b.Logf("run %d: underlay %.0f Mbit/s, overlay %.0f Mbit/s", i+1, u, o)
		overlay, underlay = overlay+o, underlay+u
	}
	b.StopTimer()
	underlay, overlay = underlay/float64(b.N), overlay/float64(b.N)
	b.ReportMetric(underlay, "Mbit/s")
	b.ReportMetric(overlay, "baseline-Mbit/s")
	b.ReportMetric(underlay/overlay, "ratio")
	b.Logf("pod -> pod across two nodes: underlay (localnet, no tunnel) %.0f Mbit/s | overlay (Geneve) %.0f Mbit/s, ratio %.3f (informational, userspace datapath)",
		underlay, overlay, underlay/overlay)
}
