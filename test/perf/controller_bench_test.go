package perf

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// throughputSizesEnv lists the pod counts of the throughput benchmark,
	// comma separated; CI runs the defaults, larger runs are asked for.
	throughputSizesEnv = "OVNET_THROUGHPUT_SIZES"
	// restartPodsEnv and restartPoliciesEnv size the restart benchmark.
	restartPodsEnv     = "OVNET_RESTART_PODS"
	restartPoliciesEnv = "OVNET_RESTART_POLICIES"
	// restartRoundsEnv asks for several restarts of the one cluster, each
	// a fresh controller after the last: setting the cluster up takes
	// minutes, a restart seconds, so a median costs little more than one.
	restartRoundsEnv = "OVNET_RESTART_ROUNDS"
	// restartPods and restartPolicies are the restart benchmark's default
	// cluster: issue 12 asks for 20,000 pods, which takes two minutes more
	// to set up than CI can spare (test/perf/README.md has the figures).
	restartPods     = 10000
	restartPolicies = 2000
	// quietWindow is how long a restarted controller is watched after it
	// went idle, to catch late writes such as a deferred status update.
	quietWindow = 3 * time.Second
	// settleWindow is how long NB must hold still before the first
	// controller is stopped.
	settleWindow = time.Second
)

// defaultThroughputSizes fit CI; N=20000 takes about five minutes more.
var defaultThroughputSizes = []int{1000, 5000}

// BenchmarkControllerThroughput times N pods from the start of their
// creation until every one is annotated and has its port in NB, against
// the same client writing the same annotations itself with no controller.
func BenchmarkControllerThroughput(b *testing.B) {
	for _, n := range throughputSizes(b) {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			baseline := measureBaseline(b, n)
			ctrl := measureController(b, n, plainSubnets)
			b.StopTimer()
			reportThroughput(b, n, ctrl, baseline)
		})
	}
}

// throughputSizes reads throughputSizesEnv.
func throughputSizes(b *testing.B) []int {
	b.Helper()
	v := os.Getenv(throughputSizesEnv)
	if v == "" {
		return defaultThroughputSizes
	}
	var sizes []int
	for _, part := range annotation.SplitList(v) {
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive numbers, comma separated", throughputSizesEnv, v)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// throughputRun is one timed run of N pods.
type throughputRun struct {
	elapsed time.Duration
	// memory is the process's peak during the run: the benchmark's client
	// and watch, plus the controller in the controller run.
	memory memoryPeak
	// cpu is what the run cost the process and the servers.
	cpu cpuUse
}

// reportThroughput prints and reports the controller's rate against the
// baseline's, and the process's memory in both runs: the difference is
// the controller's.
func reportThroughput(b *testing.B, n int, ctrl, baseline throughputRun) {
	baseRate, ctrlRate := float64(n)/baseline.elapsed.Seconds(), float64(n)/ctrl.elapsed.Seconds()
	b.ReportMetric(ctrlRate, "pods/s")
	b.ReportMetric(baseRate, "baseline-pods/s")
	b.ReportMetric(ctrlRate/baseRate, "ratio")
	b.ReportMetric(mib(ctrl.memory.rss), "peak-rss-MiB")
	b.ReportMetric(mib(baseline.memory.rss), "baseline-peak-rss-MiB")
	b.ReportMetric(perPod(ctrl.cpu.total(), n), "cpu-ms/pod")
	b.ReportMetric(perPod(baseline.cpu.total(), n), "baseline-cpu-ms/pod")
	b.Logf("N=%d  controller %.2fs (%.0f pods/s)  baseline %.2fs (%.0f pods/s)  ratio %.2f (target >= 0.9)",
		n, ctrl.elapsed.Seconds(), ctrlRate, baseline.elapsed.Seconds(), baseRate, ctrlRate/baseRate)
	b.Logf("N=%d  memory: controller run %s; baseline run (client alone) %s", n, ctrl.memory, baseline.memory)
	b.Logf("N=%d  CPU per pod: controller run %s; baseline run %s", n, ctrl.cpu.perPodString(n), baseline.cpu.perPodString(n))
}

// measureBaseline is the floor the controller is compared with: on a
// fresh API server, each worker creates a pod and merge-patches the six
// annotations the controller writes, with no controller running.
func measureBaseline(b *testing.B, n int) throughputRun {
	b.Helper()
	cl := startCluster(b)
	keys := podKeys(makeNamespaces(b, cl, "base", cidrOnly), n)
	// The same observer as in the controller run watches here too, so both
	// runs carry the same measuring load and end on the same signal.
	watcher := watchAddressed(b, cl.cfg)
	ctx := context.Background()
	stopProfile := startServerProfile(b, cl.cfg, fmt.Sprintf("baseline-N%d", n))
	memory, cpu := watchMemory(b), measureCPU()
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
	run := throughputRun{elapsed: time.Since(start), memory: memory(), cpu: cpu()}
	stopProfile()
	b.Logf("N=%d  baseline run: CPU %s", n, run.cpu)
	return run
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
func measureController(b *testing.B, n int, egress egressSetup) throughputRun {
	b.Helper()
	cl := startCluster(b)
	harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := makeNamespaces(b, cl, "ctrl", egress.prepare(b, cl))
	waitSubnets(b, cl, namespaces, -1)
	egress.wait(b, cl, namespaces)
	// Only the ports are read from NB during the run, by select.
	cl.view.Close()
	ports := newPortCounter(b, cl.nb.Endpoint)
	watcher := watchAddressed(b, cl.cfg)
	before, subnetsBefore := readPodQueue(b), readQueue(b, "subnet")
	stopProfiles := startProfiles(b, fmt.Sprintf("controller-N%d", n))
	stopServerProfile := startServerProfile(b, cl.cfg, fmt.Sprintf("controller-N%d", n))
	memory, cpu := watchMemory(b), measureCPU()
	start := time.Now()
	if err := forEach(podKeys(namespaces, n), func(_ int, k podKey) error {
		return createPod(context.Background(), cl.c, k)
	}); err != nil {
		b.Fatal(err)
	}
	created := time.Since(start)
	done := waitAddressed(b, watcher, func() int { return ports.podPorts(b) }, n)
	run := throughputRun{elapsed: done.Sub(start), memory: memory(), cpu: cpu()}
	stopProfiles()
	stopServerProfile()
	after, subnetsAfter := readPodQueue(b), readQueue(b, "subnet")
	b.Logf("N=%d  controller run: pods created in %.2fs, %.0f pod reconciles, %.0f subnet reconciles; CPU %s",
		n, created.Seconds(), after.reconciles-before.reconciles, subnetsAfter.reconciles-subnetsBefore.reconciles, run.cpu)
	return run
}

// BenchmarkControllerRestart addresses restartPods pods with one
// controller, gives them restartPolicies NetworkPolicies, stops it, and
// times a fresh one until it is ready and until every reconciler has seen
// its objects and gone idle, restartRoundsEnv times over on the same
// cluster. A restart of a converged cluster must write nothing: no NB
// row, no pod.
func BenchmarkControllerRestart(b *testing.B) {
	pods, policies := envSize(b, restartPodsEnv, restartPods), envSize(b, restartPoliciesEnv, restartPolicies)
	rounds := envSize(b, restartRoundsEnv, 1)
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := policyNamespaces(b, cl)
	watcher := watchAddressed(b, cl.cfg)
	setupStart := time.Now()
	if err := forEach(podKeys(namespaces, pods), func(i int, k podKey) error { return createAppPod(cl, i, k) }); err != nil {
		b.Fatal(err)
	}
	waitAddressed(b, watcher, viewPorts(b, cl.view), pods)
	setup := time.Since(setupStart)
	policyStart := time.Now()
	created := benchPolicies(policies)
	if err := forEach(make([]podKey, len(created)), func(i int, _ podKey) error {
		return cl.c.Create(context.Background(), created[i])
	}); err != nil {
		b.Fatal(err)
	}
	acls := waitPoliciesProgrammed(b, cl.view, created)
	policySetup := time.Since(policyStart)
	waitSubnets(b, cl, []string{benchNetwork().DefaultSubnet.Name}, int64(pods))
	settle(b, cl.view)
	b.Logf("%d pods (addressed in %.1fs, %.0f pods/s), %d policies (%d ACLs in NB after %.1fs)", pods, setup.Seconds(),
		float64(pods)/setup.Seconds(), policies, acls, policySetup.Seconds())

	b.ResetTimer()
	b.StopTimer()
	var runs []restartRun
	for i := range rounds {
		ctrl.Stop(b)
		var run restartRun
		run, ctrl = restartOnce(b, cl, pods, fmt.Sprintf("restart-N%d-%d", pods, i+1))
		b.Logf("restart %d of %d: %s", i+1, rounds, run)
		runs = append(runs, run)
	}
	reportRestarts(b, runs)
}

// restartRun is what one restart of a converged cluster took and did.
type restartRun struct {
	// ready and idle are from the start until /readyz answers 200 and
	// until every reconciler is idle.
	ready, idle time.Duration
	// nbWrites and podWrites are the NB row changes and the pods changed
	// from just before the start until quietWindow after idle.
	nbWrites, podWrites int64
	// memory is the process's from the start until idle; the controller
	// adds the difference from its start.
	memory memoryPeak
	// live is the Go heap the controller holds once idle, after a
	// collection: its cache, IPAM and NB mirror without the start's garbage.
	live uint64
	// snapshot and bootstrap are the controller's log lines of its NB
	// load and of its bootstrap steps.
	snapshot, bootstrap string
}

func (r restartRun) String() string {
	return fmt.Sprintf("ready after %.2fs (target < 15s), every reconciler idle after %.2fs; "+
		"NB row changes %d, pods changed %d (target 0, counted until %s after idle); "+
		"memory: %s, the controller adding %.0f MiB RSS at its peak and holding %.0f MiB of Go heap once idle; "+
		"controller log: %s; %s",
		r.ready.Seconds(), r.idle.Seconds(), r.nbWrites, r.podWrites, quietWindow,
		r.memory, mib(r.memory.added()), mib(r.live), r.snapshot, r.bootstrap)
}

// restartOnce starts a fresh controller on the converged cluster and
// measures it; the caller has stopped the last one. It returns the new
// controller, still running.
func restartOnce(b *testing.B, cl *cluster, pods int, profile string) (restartRun, *harness.Controller) {
	b.Helper()
	rvs := resourceVersions(b, cl)
	before, allBefore := readPodQueue(b), readQueue(b, anyController)
	cl.view.ResetChanges()
	memory := watchMemory(b)
	stopProfiles := startProfiles(b, profile)
	b.StartTimer()
	start := time.Now()
	restarted := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	run := restartRun{ready: time.Since(start)}
	stopProfiles()
	run.idle = waitIdle(b, before, allBefore, pods).Sub(start)
	b.StopTimer()
	run.memory = memory()
	live := liveHeap()
	run.live = live - min(live, run.memory.startHeap)
	time.Sleep(quietWindow) // an observation window, not synchronization
	run.nbWrites, run.podWrites = cl.view.Changes(), int64(changedPods(rvs, resourceVersions(b, cl)))
	run.snapshot, run.bootstrap = restarted.LogLine("northbound snapshot loaded"), restarted.LogLine("ready")
	return run, restarted
}

// reportRestarts reports the median ready and idle times of the runs, the
// writes of all of them and the largest memory, and logs the spread.
func reportRestarts(b *testing.B, runs []restartRun) {
	var ready, idle []time.Duration
	var nbWrites, podWrites int64
	var peak memoryPeak
	for _, r := range runs {
		ready, idle = append(ready, r.ready), append(idle, r.idle)
		nbWrites, podWrites = nbWrites+r.nbWrites, podWrites+r.podWrites
		if r.memory.rss > peak.rss {
			peak = r.memory
		}
	}
	b.ReportMetric(median(ready).Seconds(), "ready-s")
	b.ReportMetric(median(idle).Seconds(), "idle-s")
	b.ReportMetric(float64(nbWrites), "nb-writes")
	b.ReportMetric(float64(podWrites), "pod-writes")
	b.ReportMetric(mib(peak.rss), "peak-rss-MiB")
	b.ReportMetric(mib(peak.added()), "controller-rss-MiB")
	b.Logf("%d restarts: ready median %.2fs (%.2f to %.2fs), idle median %.2fs (%.2f to %.2fs); "+
		"NB row changes %d, pods changed %d in all; largest peak RSS %.0f MiB, the controller adding %.0f MiB",
		len(runs), median(ready).Seconds(), slices.Min(ready).Seconds(), slices.Max(ready).Seconds(),
		median(idle).Seconds(), slices.Min(idle).Seconds(), slices.Max(idle).Seconds(),
		nbWrites, podWrites, mib(peak.rss), mib(peak.added()))
}

// waitPoliciesProgrammed waits until every policy owns at least one ACL in
// NB, as the view sees it, and returns the ACLs policies and namespaces
// own. It reads only what a user would: which rows name which policy.
func waitPoliciesProgrammed(b *testing.B, view *harness.NBView, policies []*networkingv1.NetworkPolicy) int {
	b.Helper()
	acls := 0
	converge.For(b, convergeTimeout, fmt.Sprintf("ACLs of %d policies", len(policies)), func() error {
		owners := map[ovn.Owner]bool{}
		acls = len(harness.List(b, view, func(a *nbdb.ACL) bool {
			o, ok := ovn.OwnerOf(a.ExternalIDs)
			owners[o] = ok
			return ok && (o.Kind == ovn.KindNetworkPolicy || o.Kind == ovn.KindNamespace)
		}))
		for _, p := range policies {
			if !owners[ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: p.Namespace, Name: p.Name}] {
				return fmt.Errorf("policy %s/%s has no ACL in NB", p.Namespace, p.Name)
			}
		}
		return nil
	})
	return acls
}

// settle returns once NB has not changed for settleWindow: the
// controller has nothing left to write before it is stopped.
func settle(b *testing.B, view *harness.NBView) {
	b.Helper()
	converge.For(b, convergeTimeout, "northbound settled", func() error {
		view.ResetChanges()
		time.Sleep(settleWindow) // an observation window
		if n := view.Changes(); n > 0 {
			return fmt.Errorf("%d row changes in %s", n, settleWindow)
		}
		return nil
	})
}

// waitIdle waits until the pod reconciler has finished at least n
// reconciles since before and no reconciler (allBefore sums them all) has
// work queued or in progress.
func waitIdle(b *testing.B, before, allBefore reconcileQueue, n int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, "reconcilers idle", func() error {
		q, all := readPodQueue(b), readQueue(b, anyController)
		// The gauges are shared with earlier controllers of this process,
		// which may have left them non-zero when stopped: compare deltas.
		if q.reconciles-before.reconciles >= float64(n) && all.active == allBefore.active && all.depth == allBefore.depth {
			return nil
		}
		return fmt.Errorf("pod %+v (before %+v, want %d more reconciles), all %+v (before %+v)", q, before, n, all, allBefore)
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
