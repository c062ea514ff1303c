package perf

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// restartPods is the cluster size of the restart benchmark.
	restartPods = 10000
	// quietWindow is how long a restarted controller is watched after it
	// went idle, to catch late writes such as a deferred status update.
	quietWindow = 3 * time.Second
)

// BenchmarkControllerThroughput times N pods from the start of their
// creation until every one is annotated and has its port in NB, against
// the same client writing the same annotations itself with no controller.
func BenchmarkControllerThroughput(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			baseline := measureBaseline(b, n)
			ctrl := measureController(b, n, plainSubnets)
			b.StopTimer()
			reportThroughput(b, n, ctrl, baseline)
		})
	}
}

// reportThroughput prints and reports the controller's rate against the
// baseline's.
func reportThroughput(b *testing.B, n int, ctrl, baseline time.Duration) {
	baseRate, ctrlRate := float64(n)/baseline.Seconds(), float64(n)/ctrl.Seconds()
	b.ReportMetric(ctrlRate, "pods/s")
	b.ReportMetric(baseRate, "baseline-pods/s")
	b.ReportMetric(ctrlRate/baseRate, "ratio")
	b.Logf("N=%d  controller %.2fs (%.0f pods/s)  baseline %.2fs (%.0f pods/s)  ratio %.2f (target >= 0.8)",
		n, ctrl.Seconds(), ctrlRate, baseline.Seconds(), baseRate, ctrlRate/baseRate)
}

// measureBaseline is the floor the controller is compared with: on a
// fresh API server, each worker creates a pod and merge-patches the six
// annotations the controller writes, with no controller running.
func measureBaseline(b *testing.B, n int) time.Duration {
	b.Helper()
	cl := startCluster(b)
	keys := podKeys(makeNamespaces(b, cl, "base", cidrOnly), n)
	// The same observer as in the controller run watches here too, so both
	// runs carry the same measuring load and end on the same signal.
	watcher := watchAddressed(b, cl.cfg)
	ctx := context.Background()
	cpu := processCPU()
	start := time.Now()
	err := forEach(keys, func(i int, k podKey) error {
		if err := createPod(ctx, cl.c, k); err != nil {
			return err
		}
		return patchRecord(ctx, cl.c, i, k)
	})
	if err != nil {
		b.Fatal(err)
	}
	waitWatched(b, watcher, n)
	elapsed := time.Since(start)
	b.Logf("N=%d  baseline run: client CPU %.2fs", n, (processCPU() - cpu).Seconds())
	return elapsed
}

// patchRecord writes what the controller would record for the i-th pod.
func patchRecord(ctx context.Context, c client.Client, i int, k podKey) error {
	ns, host := i%benchNamespaces, i/benchNamespaces+2
	body := fmt.Sprintf(`{"metadata":{"annotations":{%q:"10.%d.%d.%d",%q:"0a:58:0a:%02x:%02x:%02x",%q:%q,%q:"10.%d.0.1",%q:%q,%q:"true"}}}`,
		annotation.IPAddress, 80+ns, host/256, host%256,
		annotation.MACAddress, 80+ns, host/256, host%256,
		annotation.CIDRWritten, namespaceCIDR(ns),
		annotation.GatewayWritten, 80+ns,
		annotation.LogicalSwitch, k.namespace,
		annotation.Allocated)
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = k.namespace, k.name
	if err := c.Patch(ctx, pod, client.RawPatch("application/merge-patch+json", []byte(body))); err != nil {
		return fmt.Errorf("patch pod %s/%s: %w", k.namespace, k.name, err)
	}
	return nil
}

// measureController creates n pods with a controller running in-process
// and waits until all are addressed, annotations and ports both. The
// namespaces are set up by egress before the clock starts.
func measureController(b *testing.B, n int, egress egressSetup) time.Duration {
	b.Helper()
	cl := startCluster(b)
	harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := makeNamespaces(b, cl, "ctrl", egress.prepare(b, cl))
	waitSubnets(b, cl, namespaces, -1)
	egress.wait(b, cl, namespaces)
	watcher := watchAddressed(b, cl.cfg)
	before, subnetsBefore := readPodQueue(b), readQueue(b, "subnet")
	stopProfiles := startProfiles(b, fmt.Sprintf("controller-N%d", n))
	cpu := processCPU()
	start := time.Now()
	if err := forEach(podKeys(namespaces, n), func(_ int, k podKey) error {
		return createPod(context.Background(), cl.c, k)
	}); err != nil {
		b.Fatal(err)
	}
	created := time.Since(start)
	done := waitAddressed(b, watcher, cl.view, n)
	stopProfiles()
	after, subnetsAfter := readPodQueue(b), readQueue(b, "subnet")
	b.Logf("N=%d  controller run: pods created in %.2fs, %.0f pod reconciles, %.0f subnet reconciles, client+controller CPU %.2fs",
		n, created.Seconds(), after.reconciles-before.reconciles, subnetsAfter.reconciles-subnetsBefore.reconciles,
		(processCPU() - cpu).Seconds())
	return done.Sub(start)
}

// BenchmarkControllerRestart addresses restartPods pods with one
// controller, stops it, and times a fresh one until it is ready and until
// its pod reconciler has seen every pod and gone idle. A restart of a
// converged cluster must write nothing: no NB row, no pod.
func BenchmarkControllerRestart(b *testing.B) {
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := makeNamespaces(b, cl, "restart", cidrOnly)
	waitSubnets(b, cl, namespaces, -1)
	watcher := watchAddressed(b, cl.cfg)
	setupStart := time.Now()
	if err := forEach(podKeys(namespaces, restartPods), func(_ int, k podKey) error {
		return createPod(context.Background(), cl.c, k)
	}); err != nil {
		b.Fatal(err)
	}
	waitAddressed(b, watcher, cl.view, restartPods)
	setup := time.Since(setupStart)
	waitSubnets(b, cl, namespaces, restartPods/benchNamespaces)
	ctrl.Stop(b)

	rvs := resourceVersions(b, cl)
	before := readPodQueue(b)
	cl.view.ResetChanges()
	b.ResetTimer()
	start := time.Now()
	harness.StartController(b, cl.api, cl.nb, benchNetwork())
	ready := time.Since(start)
	idle := waitIdle(b, before, restartPods).Sub(start)
	b.StopTimer()
	time.Sleep(quietWindow) // an observation window, not synchronization
	nbWrites, podWrites := cl.view.Changes(), changedPods(rvs, resourceVersions(b, cl))

	b.ReportMetric(ready.Seconds(), "ready-s")
	b.ReportMetric(idle.Seconds(), "idle-s")
	b.ReportMetric(float64(nbWrites), "nb-writes")
	b.ReportMetric(float64(podWrites), "pod-writes")
	b.Logf("%d pods (addressed in %.1fs, %.0f pods/s): ready after %.2fs, pod reconciler idle after %.2fs (target < 10s); "+
		"NB row changes %d, pods changed %d (target 0, counted until %s after idle)",
		restartPods, setup.Seconds(), restartPods/setup.Seconds(), ready.Seconds(), idle.Seconds(), nbWrites, podWrites, quietWindow)
}

// waitIdle waits until the pod reconciler has finished at least n
// reconciles since before and has neither work queued nor in progress.
func waitIdle(b *testing.B, before reconcileQueue, n int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, "pod reconciler idle", func() error {
		q := readPodQueue(b)
		// The gauges are shared with earlier controllers of this process,
		// which may have left them non-zero when stopped: compare deltas.
		if q.reconciles-before.reconciles >= float64(n) && q.active == before.active && q.depth == before.depth {
			return nil
		}
		return fmt.Errorf("%+v (before %+v, want %d more reconciles)", q, before, n)
	})
	return time.Now()
}

// changedPods counts pods whose resourceVersion differs or that vanished.
func changedPods(before, after map[string]string) int {
	changed := 0
	for key, rv := range before {
		if after[key] != rv {
			changed++
		}
	}
	return changed
}
