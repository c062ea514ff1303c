package perf

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// cniPods is how many pods each round attaches and detaches.
	cniPods = 200
	// cniParallel is the concurrent round's width, as a kubelet starting
	// a burst of pods runs several sandboxes at once.
	cniParallel = 8
	// referencePlugins is where Debian's containernetworking-plugins live.
	referencePlugins = "/usr/lib/cni"
)

// BenchmarkCNI times ADD and DEL of 200 pods through libcni, one at a
// time and 8 at a time: ovnet (plugin, daemon, OVS, waiting for
// ovn-controller to install the port) against the reference bridge +
// host-local plugins on the same machine in the same run. The pods are
// addressed by the controller before the clock starts, so ADD measures
// the node's work, as on a node where the controller kept up.
func BenchmarkCNI(b *testing.B) {
	api := harness.StartAPIServer(b, harness.APIServerOptions{})
	ovn := harness.StartOVNCentral(b)
	harness.StartController(b, api, ovn.NB, harness.DefaultNetwork())
	// Debug level: the daemon logs each ADD's steps, which the benchmark
	// reads to say where the time goes.
	node := harness.StartNode(b, harness.NodeOptions{Name: "bench", API: api, SB: ovn.SB,
		DaemonArgs: []string{"--zap-log-level=debug"}})
	c, err := client.New(api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	pods := addressedPods(b, c, "bench")
	ovnet := node.Runtime(b)
	bridge := harness.NewRuntime(b, referencePlugins, bridgeConflist(b))
	sandboxes := make([]*harness.Sandbox, len(pods))
	for i, pod := range pods {
		sandboxes[i] = ovnet.NewSandbox(b, pod)
	}
	b.ResetTimer()
	for _, width := range []int{1, cniParallel} {
		base := runRound(b, bridge, sandboxes, width)
		own := runRound(b, ovnet, sandboxes, width)
		report(b, width, own, base)
		if width == 1 {
			reportSteps(b, readAddSteps(b, node.LogFile), own.add, base.add)
		}
	}
}

// bridgeConflist is the reference: a Linux bridge of its own (no gateway,
// no masquerade, so the host's routing is untouched) and host-local IPAM.
func bridgeConflist(b *testing.B) []byte {
	name := harness.UniqueName("cnib")
	b.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	return fmt.Appendf(nil, `{"cniVersion": "1.0.0", "name": "bench-bridge", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": false, "ipMasq": false, "mtu": %d,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.250.0.0/16"}]], "dataDir": %q}}]}`,
		name, harness.PodMTU, b.TempDir())
}

// addressedPods creates the pods on the node and waits until the
// controller addressed all of them.
func addressedPods(b *testing.B, c client.Client, node string) []*corev1.Pod {
	ctx := context.Background()
	pods := make([]*corev1.Pod, cniPods)
	for i := range pods {
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cni-%d", i)},
			Spec: corev1.PodSpec{NodeName: node,
				Containers: []corev1.Container{{Name: "c", Image: "local.test/tools:1"}}},
		}
		if err := c.Create(ctx, pods[i]); err != nil {
			b.Fatal(err)
		}
	}
	wait.For(b, time.Minute, fmt.Sprintf("%d pods addressed", cniPods), func() error {
		list := &corev1.PodList{}
		if err := c.List(ctx, list, client.InNamespace("default")); err != nil {
			return err
		}
		addressed := 0
		for _, p := range list.Items {
			if p.Annotations[annotation.Allocated] == annotation.True {
				addressed++
			}
		}
		if addressed != cniPods {
			return fmt.Errorf("%d addressed", addressed)
		}
		return nil
	})
	return pods
}

// latencies of one round.
type latencies struct{ add, del []time.Duration }

// runRound ADDs every sandbox, then DELs every one, width at a time.
func runRound(b *testing.B, rt *harness.Runtime, sandboxes []*harness.Sandbox, width int) latencies {
	var l latencies
	l.add = timeEach(b, sandboxes, width, func(s *harness.Sandbox) error { return rt.Add(context.Background(), s) })
	l.del = timeEach(b, sandboxes, width, func(s *harness.Sandbox) error { return rt.Del(context.Background(), s) })
	return l
}

// timeEach runs op on every sandbox with width workers and returns each
// call's duration.
func timeEach(b *testing.B, sandboxes []*harness.Sandbox, width int, op func(*harness.Sandbox) error) []time.Duration {
	durations := make([]time.Duration, len(sandboxes))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range width {
		wg.Go(func() {
			for i := range work {
				start := time.Now()
				err := op(sandboxes[i])
				durations[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range sandboxes {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return durations
}

func percentile(d []time.Duration, p float64) time.Duration {
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func report(b *testing.B, width int, own, base latencies) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ratio := float64(percentile(own.add, 0.5)) / float64(percentile(base.add, 0.5))
	b.Logf("%d pods, %d at a time: ovnet ADD p50 %.1f ms p99 %.1f ms, DEL p50 %.1f ms p99 %.1f ms | "+
		"bridge+host-local ADD p50 %.1f ms p99 %.1f ms, DEL p50 %.1f ms p99 %.1f ms | ADD p50 ratio %.2f (target <= 1.5)",
		cniPods, width, ms(percentile(own.add, 0.5)), ms(percentile(own.add, 0.99)),
		ms(percentile(own.del, 0.5)), ms(percentile(own.del, 0.99)),
		ms(percentile(base.add, 0.5)), ms(percentile(base.add, 0.99)),
		ms(percentile(base.del, 0.5)), ms(percentile(base.del, 0.99)), ratio)
	// The kubelet runs at most 110 pods on a node by default; the userspace
	// datapath's time to add a port grows with the ports already on the
	// bridge, so the first 100 ADDs are the figure for a node within that.
	firstRatio := float64(percentile(own.add[:100], 0.5)) / float64(percentile(base.add[:100], 0.5))
	b.Logf("%d pods, %d at a time, first 100 (a node within the kubelet's default 110 pods): ovnet ADD p50 %.1f ms, "+
		"bridge+host-local %.1f ms, ratio %.2f", cniPods, width, ms(percentile(own.add[:100], 0.5)),
		ms(percentile(base.add[:100], 0.5)), firstRatio)
	suffix := fmt.Sprintf("-x%d", width)
	b.ReportMetric(ms(percentile(own.add, 0.5)), "add-p50-ms"+suffix)
	b.ReportMetric(ms(percentile(base.add, 0.5)), "bridge-add-p50-ms"+suffix)
	b.ReportMetric(ratio, "add-ratio"+suffix)
}
