package perf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/ovsdb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// benchNamespaces each get a subnet of their own; pods are spread
	// evenly over them.
	benchNamespaces = 10
	// benchWorkers is the client concurrency of both the controller run and
	// the baseline, so the two differ only in who writes the annotations.
	benchWorkers = 16
	// benchLabel marks the benchmark's pods so the watch sees only them.
	benchLabel = "ovnet.io/bench"
	// convergeTimeout only catches a controller that never converges.
	convergeTimeout = 5 * time.Minute
	// pollInterval is the resolution of the convergence waits; small next
	// to the seconds being measured.
	pollInterval = 20 * time.Millisecond
)

// converge polls at a constant pollInterval, so the time a wait returns is
// within pollInterval of when the state was first reached.
var converge = wait.Every(pollInterval)

// cluster is a fresh API server and northbound database with the
// benchmark's own client.
type cluster struct {
	api  *harness.APIServer
	nb   *harness.OVSDB
	view *harness.NBView
	// c is unthrottled: the benchmark must measure the server and the
	// controller, not client-go's token bucket.
	c client.Client
	// cfg is the rest config behind c.
	cfg *rest.Config
}

func startCluster(b *testing.B) *cluster {
	b.Helper()
	cl := &cluster{api: harness.StartAPIServer(b, harness.APIServerOptions{}), nb: harness.StartNorthbound(b)}
	cl.view = harness.WatchNorthbound(b, cl.nb.Endpoint, harness.WithoutPortLists())
	cl.cfg = rest.CopyConfig(cl.api.Config)
	cl.cfg.QPS, cl.cfg.Burst = -1, 0 // negative QPS: no client-side rate limit
	c, err := client.New(cl.cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	cl.c = c
	return cl
}

// benchNetwork is the harness configuration with the command line's
// garbage collection period: the harness sweeps every 2 s so tests see
// collection quickly, which in a benchmark would only add list load.
func benchNetwork() controller.Config {
	cfg := harness.DefaultNetwork()
	cfg.GCInterval = 5 * time.Minute
	return cfg
}

// podKey names a pod.
type podKey struct{ namespace, name string }

// namespaceCIDR is the subnet of the i-th namespace: /20s from 10.80.0.0,
// clear of the default 10.16.0.0/16 and the service CIDR 10.96.0.0/12.
func namespaceCIDR(i int) string { return fmt.Sprintf("10.%d.0.0/20", 80+i) }

// namespaceAnnotations are the i-th namespace's annotations.
type namespaceAnnotations func(i int) map[string]string

// cidrOnly annotates a namespace with its CIDR alone.
func cidrOnly(i int) map[string]string { return map[string]string{annotation.CIDR: namespaceCIDR(i)} }

// makeNamespaces creates benchNamespaces namespaces with the annotations
// annotate gives them (each at least a CIDR) and returns their names.
func makeNamespaces(b *testing.B, cl *cluster, prefix string, annotate namespaceAnnotations) []string {
	b.Helper()
	var names []string
	for i := range benchNamespaces {
		name := fmt.Sprintf("%s-%d", prefix, i)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotate(i)}}
		if err := cl.c.Create(context.Background(), ns); err != nil {
			b.Fatalf("create namespace %s: %v", name, err)
		}
		names = append(names, name)
	}
	return names
}

// podKeys spreads n pods round-robin over the namespaces.
func podKeys(namespaces []string, n int) []podKey {
	keys := make([]podKey, n)
	for i := range keys {
		keys[i] = podKey{namespace: namespaces[i%len(namespaces)], name: fmt.Sprintf("p-%d", i)}
	}
	return keys
}

// forEach runs fn on every key with benchWorkers goroutines and returns
// the first error.
func forEach(keys []podKey, fn func(i int, k podKey) error) error {
	work := make(chan int)
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for i := range work {
				if err := fn(i, keys[i]); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	return firstErr
}

func createPod(ctx context.Context, c client.Client, k podKey) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.namespace, Name: k.name, Labels: map[string]string{benchLabel: "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s/%s: %w", k.namespace, k.name, err)
	}
	return nil
}

// addressWatcher counts the benchmark's pods that carry allocated=true,
// from a metadata watch: polling lists of thousands of pods would load
// the API server the controller is being measured against.
type addressWatcher struct {
	mu        sync.Mutex
	addressed map[string]bool
	count     atomic.Int64
}

func watchAddressed(b *testing.B, cfg *rest.Config) *addressWatcher {
	b.Helper()
	w := &addressWatcher{addressed: map[string]bool{}}
	factory := metadatainformer.NewFilteredSharedInformerFactory(metadata.NewForConfigOrDie(cfg), 0, metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.LabelSelector = benchLabel })
	informer := factory.ForResource(corev1.SchemeGroupVersion.WithResource("pods")).Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.observe,
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop); factory.Shutdown() })
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return w
}

func (w *addressWatcher) observe(obj any) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || m.Annotations[annotation.Allocated] != annotation.True {
		return
	}
	key := m.Namespace + "/" + m.Name
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.addressed[key] {
		w.addressed[key] = true
		w.count.Add(1)
	}
}

// podPorts counts the logical switch ports ovnet owns for pods.
func podPorts(b *testing.B, view *harness.NBView) int {
	return len(harness.List(b, view, func(p *nbdb.LogicalSwitchPort) bool {
		owner, owned := ovn.OwnerOf(p.ExternalIDs)
		return owned && owner.Kind == ovn.KindPod
	}))
}

// portCounter counts ovnet's pod ports by asking the server, one select
// per call, without mirroring NB. The throughput runs count with it: a
// monitoring view decodes every port the controller writes, the
// benchmark's own CPU, which the baseline run (no NB writes) never spends.
type portCounter struct{ db *ovsdbtxn.Client }

func newPortCounter(b *testing.B, endpoint string) *portCounter {
	b.Helper()
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		b.Fatal(err)
	}
	// A client must monitor something; NB_Global is one row.
	db, err := ovsdbtxn.Connect(context.Background(), ovsdbtxn.Config{Name: "northbound", MetricPrefix: "bench",
		Endpoints: ovn.ParseEndpoints(endpoint), Model: dbModel, Tables: []ovsdbtxn.Table{{Model: &nbdb.NBGlobal{}}},
		Logger: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	return &portCounter{db: db}
}

// podPorts is the number of pod ports in NB now.
func (c *portCounter) podPorts(b *testing.B) int {
	b.Helper()
	owned := ovsdb.OvsMap{GoMap: map[any]any{ovn.ExternalIDOwner: ovn.OwnerValue, ovn.ExternalIDKind: ovn.KindPod}}
	rows, err := c.db.Select(context.Background(), nbdb.LogicalSwitchPortTable,
		[]ovsdb.Condition{ovsdb.NewCondition("external_ids", ovsdb.ConditionIncludes, owned)}, "_uuid")
	if err != nil {
		b.Fatal(err)
	}
	return len(rows)
}

// waitAddressed waits until n pods are annotated and ports counts n pod
// ports in NB, and returns when that was first seen. The controller writes
// the port before the annotations, so NB is only read once the pods are
// done.
func waitAddressed(b *testing.B, w *addressWatcher, ports func() int, n int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, fmt.Sprintf("%d pods addressed with their ports", n), func() error {
		if seen := int(w.count.Load()); seen < n {
			return fmt.Errorf("%d pods seen annotated", seen)
		}
		if have := ports(); have < n {
			return fmt.Errorf("%d pod ports in NB", have)
		}
		return nil
	})
	return time.Now()
}

// viewPorts counts pod ports through the view, for waitAddressed.
func viewPorts(b *testing.B, view *harness.NBView) func() int {
	return func() int { return podPorts(b, view) }
}

// waitWatched waits until the watcher has seen n pods annotated.
func waitWatched(b *testing.B, w *addressWatcher, n int) {
	b.Helper()
	converge.For(b, convergeTimeout, fmt.Sprintf("%d pods seen annotated", n), func() error {
		if seen := int(w.count.Load()); seen < n {
			return fmt.Errorf("%d seen", seen)
		}
		return nil
	})
}

// waitSubnets waits until each namespace's Subnet is Ready and, when
// used >= 0, reports that many used addresses.
func waitSubnets(b *testing.B, cl *cluster, namespaces []string, used int64) {
	b.Helper()
	converged := 0 // namespaces[:converged] are done and stay so
	converge.For(b, convergeTimeout, "subnets converged", func() error {
		for ; converged < len(namespaces); converged++ {
			name := namespaces[converged]
			s := &ovnetv1.Subnet{}
			if err := cl.c.Get(context.Background(), client.ObjectKey{Name: name}, s); err != nil {
				return err
			}
			if !subnetReady(s) || (used >= 0 && s.Status.UsedIPs != used) {
				return fmt.Errorf("subnet %s: ready %v, used %d, want %d", name, subnetReady(s), s.Status.UsedIPs, used)
			}
		}
		return nil
	})
}

func subnetReady(s *ovnetv1.Subnet) bool {
	for _, c := range s.Status.Conditions {
		if c.Type == ovnetv1.ConditionReady && c.Status == metav1.ConditionTrue {
			return true
		}
	}
	return false
}

// reconcileQueue is a reconciler's state from controller-runtime's
// process-wide metrics; several controllers in one process share the
// series, so callers compare reconciles against an earlier reading.
type reconcileQueue struct {
	reconciles, active, depth float64
}

func readPodQueue(b *testing.B) reconcileQueue {
	b.Helper()
	return readQueue(b, "pod")
}

// anyController makes readQueue sum every controller's series.
const anyController = ""

// readQueue is readPodQueue for the named controller, or for all.
func readQueue(b *testing.B, controller string) reconcileQueue {
	b.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var q reconcileQueue
	for _, f := range families {
		var into *float64
		switch f.GetName() {
		case "controller_runtime_reconcile_total":
			into = &q.reconciles
		case "controller_runtime_active_workers":
			into = &q.active
		case "workqueue_depth":
			into = &q.depth
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && (controller == anyController || l.GetValue() == controller) {
					*into += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return q
}

// resourceVersions maps each benchmark pod to its resourceVersion.
func resourceVersions(b *testing.B, cl *cluster) map[string]string {
	b.Helper()
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := cl.c.List(context.Background(), list, client.HasLabels{benchLabel}); err != nil {
		b.Fatal(err)
	}
	rvs := make(map[string]string, len(list.Items))
	for _, p := range list.Items {
		rvs[p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	return rvs
}

// processCPU is the CPU time this test process has used: the benchmark's
// client and, when it runs in-process, the controller. On a two-core
// machine shared with etcd and kube-apiserver it is time they did not get.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTicks = 100

// serverCPU is the CPU time used so far by this process's children (the
// API server, etcd, ovsdb-server), by command name. Together with
// processCPU it shows where a run's CPU went.
func serverCPU() map[string]time.Duration {
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	cpu := map[string]time.Duration{}
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces; the
		// fields after it are space separated: state, ppid, ... utime (12th
		// after the name), stime (13th).
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 13 || fields[1] != self {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		cpu[s[open+1:closing]] += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return cpu
}

// cpuUse is the CPU time a run cost: this process (the benchmark's client
// and, when it runs in-process, the controller) and each server child
// (kube-apiserver, etcd, ovsdb-server) by command name. While the runs
// saturate the cores, a run's time follows this sum: the CPU per pod is
// the figure that holds on a noisy machine, where the times swing.
type cpuUse struct {
	process time.Duration
	servers map[string]time.Duration
}

// measureCPU starts counting; the returned function returns the use since.
func measureCPU() func() cpuUse {
	process, servers := processCPU(), serverCPU()
	return func() cpuUse {
		use := cpuUse{process: processCPU() - process, servers: map[string]time.Duration{}}
		for name, t := range serverCPU() {
			use.servers[name] = t - servers[name]
		}
		return use
	}
}

// total is the CPU of the process and every server.
func (u cpuUse) total() time.Duration {
	t := u.process
	for _, s := range u.servers {
		t += s
	}
	return t
}

// perPod is d per pod of n, in milliseconds.
func perPod(d time.Duration, n int) float64 { return d.Seconds() * 1000 / float64(n) }

// perPodString formats the use per pod of n, the total first.
func (u cpuUse) perPodString(n int) string {
	return fmt.Sprintf("total %.2f ms, ", perPod(u.total(), n)) +
		u.format(func(d time.Duration) string { return fmt.Sprintf("%.2f ms", perPod(d, n)) })
}

// String formats the use in seconds.
func (u cpuUse) String() string {
	return u.format(func(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) })
}

// format lists the process and then the servers by name, each amount
// formatted by unit.
func (u cpuUse) format(unit func(time.Duration) string) string {
	var servers []string
	for name, t := range u.servers {
		servers = append(servers, name+" "+unit(t))
	}
	slices.Sort(servers)
	return strings.Join(append([]string{"test process " + unit(u.process)}, servers...), ", ")
}
