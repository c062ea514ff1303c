package integration

import (
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// churnNamespaces × churnPodsPerNamespace pods are created.
	churnNamespaces       = 10
	churnPodsPerNamespace = 100
	// Of each namespace's pods, the first churnFixed ask for a fixed
	// address, the next churnPooled for a pool entry, the next churnStateful
	// belong to a StatefulSet with a pool; the rest are dynamic.
	churnFixed    = 10
	churnPooled   = 10
	churnStateful = 10
	// churnWorkers create pods concurrently, as a busy cluster would.
	churnWorkers = 16
	// churnKillAt is how many pods must be addressed before the controller
	// is killed: late enough that it holds state, early enough that much
	// work is left for its successor.
	churnKillAt = 400
	// churnDeleteEvery picks the pods deleted after the restart (1 in 10);
	// every churnRecreateEvery-th of those is created again under its name.
	churnDeleteEvery   = 10
	churnRecreateEvery = 2
	// churnTimeout bounds each convergence wait; the whole test needs well
	// under a minute on two cores, so this only catches a stuck controller.
	churnTimeout = 90 * time.Second
	// churnLabel marks the test's pods so they can be listed cheaply.
	churnLabel = "ovnet.io/churn"
)

// churnPod is one pod the test manages and what it must end up with.
type churnPod struct {
	namespace, name string
	annotations     map[string]string
	// statefulSet owns the pod when set.
	statefulSet *appsv1.StatefulSet
	// wantIP is the exact address the pod must get; pool lists the
	// addresses one of which it must get; both empty means any.
	wantIP netip.Addr
	pool   []netip.Addr
}

func (p *churnPod) key() string { return p.namespace + "/" + p.name }

// churn is the state of TestChurn.
type churn struct {
	*env
	bin string
	// cidrs maps each namespace to its subnet's CIDR.
	cidrs map[string]netip.Prefix
	// pods is every pod ever created; live says which exist now.
	pods []*churnPod
	// mu guards live while pods are being created.
	mu   sync.Mutex
	live map[string]bool
	// pace spaces pod creations when set, so that faults injected by
	// count of created pods land while pods still arrive.
	pace time.Duration
}

// TestChurn kills the only controller mid-churn (SIGKILL) and starts a new
// one; TestChurnLeaderFailover kills the leader of two replicas and the
// standby takes over. Either way every pod ends with the address it asked
// for, none is handed out twice, NB holds one port per live pod and none
// for deleted ones, and each subnet's usage equals its live pods.
func TestChurn(t *testing.T) { runChurn(t, churnFailover{}) }

func TestChurnLeaderFailover(t *testing.T) {
	runChurn(t, churnFailover{standby: true, args: []string{"--leader-elect=true",
		"--leader-elect-namespace=default", "--leader-elect-lease-duration=" + churnLease.String()}})
}

// churnLease is the replicas' leader Lease: a killed leader's blocks the
// standby this long at most.
const churnLease = 3 * time.Second

// churnFailover says how the controller killed mid-churn is replaced.
type churnFailover struct {
	// args are every controller's flags.
	args []string
	// standby runs a second replica from the start, which takes over when
	// the leader dies; without it a new controller is started after.
	standby bool
}

func runChurn(t *testing.T, f churnFailover) {
	start := time.Now()
	ch := newChurn(t)
	ctrl := harness.StartControllerProcess(t, ch.bin, ch.api, ch.nb, f.args...)
	var next *harness.ControllerProcess
	if f.standby {
		next = harness.LaunchControllerProcess(t, ch.bin, ch.api, ch.nb, f.args...)
	}
	ch.makeNamespaces()

	created := make(chan error, 1)
	go func() { created <- ch.createPods(ch.pods) }()
	ch.waitAddressed(churnKillAt)
	ctrl.Kill()
	killed := time.Now()
	killedAt := ch.addressedCount()
	t.Logf("killed %s with %d pods created, %d addressed", ctrl, ch.liveCount(), killedAt)
	if next == nil {
		next = harness.StartControllerProcess(t, ch.bin, ch.api, ch.nb, f.args...)
	}
	ch.waitAddressed(killedAt + 1)
	t.Logf("FIGURE churn (standby %v): the first pod addressed %s after the kill", f.standby, time.Since(killed).Round(time.Millisecond))
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	deleted, recreated := ch.deleteAndRecreate()

	ch.waitAddressed(len(ch.live))
	pods := ch.checkPods()
	ch.checkPorts(pods)
	ch.checkUsage()
	t.Logf("churn: %d pods created, controller killed at %d addressed, %d deleted, %d recreated, %d live pods checked in %d subnets, %s",
		len(ch.pods)+recreated, killedAt, deleted, recreated, len(pods), len(ch.cidrs), time.Since(start).Round(time.Millisecond))
}

func newChurn(t *testing.T) *churn {
	ch := &churn{env: newParts(t), cidrs: map[string]netip.Prefix{}, live: map[string]bool{}}
	ch.timeout = churnTimeout
	ch.bin = harness.BuildController(t)
	return ch
}

// makeNamespaces creates the namespaces, each with its own /20 inside
// 10.80.0.0/12 (clear of the default 10.16.0.0/16 and the service CIDR
// 10.96.0.0/12), its StatefulSet, and the list of pods to create.
func (ch *churn) makeNamespaces() {
	for i := range churnNamespaces {
		name := fmt.Sprintf("churn-%d", i)
		cidr := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/20", 80+i))
		ch.cidrs[name] = cidr
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{annotation.CIDR: cidr.String()}}}
		if err := ch.c.Create(ch.ctx, ns); err != nil {
			ch.t.Fatalf("create namespace %s: %v", name, err)
		}
		sts := ch.statefulSet(name)
		ch.pods = append(ch.pods, namespacePods(name, 80+i, sts)...)
	}
	for name := range ch.cidrs {
		ch.condition(name, ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	}
}

func (ch *churn) statefulSet(namespace string) *appsv1.StatefulSet {
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(churnStateful)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
			},
		},
	}
	if err := ch.c.Create(ch.ctx, sts); err != nil {
		ch.t.Fatalf("create statefulset %s/db: %v", namespace, err)
	}
	return sts
}

// namespacePods lists a namespace's pods. Requested addresses sit in
// 10.<octet>.15.0/24, far above where dynamic allocation (sequential from
// the start of the subnet) reaches, so no dynamic pod takes one first.
func namespacePods(namespace string, octet int, sts *appsv1.StatefulSet) []*churnPod {
	addr := func(host int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.%d.15.%d", octet, host)) }
	poolOf := func(first int) ([]netip.Addr, string) {
		var pool []netip.Addr
		var s string
		for i := range churnPooled {
			pool = append(pool, addr(first+i))
			if i > 0 {
				s += ","
			}
			s += addr(first + i).String()
		}
		return pool, s
	}
	plainPool, plainPoolStr := poolOf(100)
	stsPool, stsPoolStr := poolOf(200)
	var pods []*churnPod
	for j := range churnPodsPerNamespace {
		p := &churnPod{namespace: namespace, annotations: map[string]string{}}
		switch {
		case j < churnFixed:
			p.name, p.wantIP = fmt.Sprintf("fixed-%d", j), addr(10+j)
			p.annotations[annotation.IPAddress] = p.wantIP.String()
		case j < churnFixed+churnPooled:
			p.name, p.pool = fmt.Sprintf("pooled-%d", j), plainPool
			p.annotations[annotation.IPPool] = plainPoolStr
		case j < churnFixed+churnPooled+churnStateful:
			ordinal := j - churnFixed - churnPooled
			p.name, p.statefulSet, p.wantIP = fmt.Sprintf("db-%d", ordinal), sts, stsPool[ordinal]
			p.annotations[annotation.IPPool] = stsPoolStr
		default:
			p.name = fmt.Sprintf("dyn-%d", j)
		}
		pods = append(pods, p)
	}
	return pods
}

// createPods creates pods with churnWorkers concurrent clients and marks
// them live; it returns the first error.
func (ch *churn) createPods(pods []*churnPod) error {
	work := make(chan *churnPod)
	var firstErr error
	var wg sync.WaitGroup
	for range churnWorkers {
		wg.Go(func() {
			for p := range work {
				err := ch.c.Create(ch.ctx, p.object())
				ch.mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("create pod %s: %w", p.key(), err)
				}
				if err == nil {
					ch.live[p.key()] = true
				}
				ch.mu.Unlock()
			}
		})
	}
	for _, p := range pods {
		work <- p
		time.Sleep(ch.pace)
	}
	close(work)
	wg.Wait()
	return firstErr
}

func (ch *churn) liveCount() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return len(ch.live)
}

func (p *churnPod) object() *corev1.Pod {
	pod := newPod(p.namespace, p.name, maps.Clone(p.annotations))
	pod.Labels = map[string]string{churnLabel: "true"}
	if sts := p.statefulSet; sts != nil {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet",
			Name: sts.Name, UID: sts.UID, Controller: ptr.To(true)}}
	}
	return pod
}

// deleteAndRecreate deletes every churnDeleteEvery-th pod and creates every
// churnRecreateEvery-th of those again. StatefulSet pods are always
// recreated: the controller rightly keeps the port of an ordinal its
// StatefulSet still wants, so a StatefulSet pod deleted for good would
// need a scale-down this test does not do.
func (ch *churn) deleteAndRecreate() (deleted, recreated int) {
	var again []*churnPod
	for i, p := range ch.pods {
		if i%churnDeleteEvery != 3 {
			continue
		}
		err := ch.c.Delete(ch.ctx, p.object(), client.GracePeriodSeconds(0))
		if err != nil && !apierrors.IsNotFound(err) {
			ch.t.Fatalf("delete pod %s: %v", p.key(), err)
		}
		delete(ch.live, p.key())
		deleted++
		if p.statefulSet != nil || deleted%churnRecreateEvery == 0 {
			again = append(again, p)
		}
	}
	if err := ch.createPods(again); err != nil {
		ch.t.Fatal(err)
	}
	return deleted, len(again)
}

// listPods returns the test's pods by namespace/name, metadata only.
func (ch *churn) listPods() (map[string]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := ch.c.List(ch.ctx, list, client.HasLabels{churnLabel}); err != nil {
		return nil, err
	}
	pods := make(map[string]metav1.PartialObjectMetadata, len(list.Items))
	for _, p := range list.Items {
		pods[p.Namespace+"/"+p.Name] = p
	}
	return pods, nil
}

// waitAddressed waits until at least n of the test's pods carry
// allocated=true and returns how many do.
func (ch *churn) waitAddressed(n int) int {
	var addressed int
	ch.eventually(fmt.Sprintf("%d pods addressed", n), func() error {
		var waiting []string
		var all int
		var err error
		addressed, all, waiting, err = ch.addressed()
		if err != nil {
			return err
		}
		if addressed < n {
			return fmt.Errorf("%d of %d pods addressed; waiting: %v", addressed, all, waiting)
		}
		return nil
	})
	return addressed
}

// addressedCount is the number of pods addressed now.
func (ch *churn) addressedCount() int {
	n, _, _, err := ch.addressed()
	if err != nil {
		ch.t.Fatal(err)
	}
	return n
}

// addressed counts the addressed pods among all, naming a few waiting.
func (ch *churn) addressed() (addressed, all int, waiting []string, err error) {
	pods, err := ch.listPods()
	if err != nil {
		return 0, 0, nil, err
	}
	for key, p := range pods {
		if p.Annotations[annotation.Allocated] == annotation.True {
			addressed++
		} else if len(waiting) < 5 {
			waiting = append(waiting, key)
		}
	}
	return addressed, len(pods), waiting, nil
}

// checkPods checks every live pod's address against its request and its
// subnet, and that no two pods share one; it returns the pods by key.
func (ch *churn) checkPods() map[string]metav1.PartialObjectMetadata {
	t := ch.t
	pods, err := ch.listPods()
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != len(ch.live) {
		t.Fatalf("%d pods exist, want %d", len(pods), len(ch.live))
	}
	owners := map[netip.Addr]string{}
	for _, want := range ch.pods {
		if !ch.live[want.key()] {
			continue
		}
		a := pods[want.key()].Annotations
		ip, err := netip.ParseAddr(a[annotation.IPAddress])
		if err != nil {
			t.Fatalf("pod %s: ip_address %q: %v", want.key(), a[annotation.IPAddress], err)
		}
		if other, dup := owners[ip]; dup {
			t.Errorf("pods %s and %s both have %s", other, want.key(), ip)
		}
		owners[ip] = want.key()
		if a[annotation.LogicalSwitch] != want.namespace || !ch.cidrs[want.namespace].Contains(ip) {
			t.Errorf("pod %s: %s on %q, want inside %s on %s", want.key(), ip, a[annotation.LogicalSwitch],
				ch.cidrs[want.namespace], want.namespace)
		}
		if want.wantIP.IsValid() && ip != want.wantIP {
			t.Errorf("pod %s got %s, asked for %s", want.key(), ip, want.wantIP)
		}
		if len(want.pool) > 0 && !contains(addrStrings(want.pool), ip.String()) {
			t.Errorf("pod %s got %s, outside its pool %v", want.key(), ip, want.pool)
		}
	}
	return pods
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// checkPorts waits until NB holds exactly one ovnet pod port per live pod,
// with the pod's recorded "MAC IP", and none for a deleted pod; the
// controller deletes ports asynchronously, so this polls.
func (ch *churn) checkPorts(pods map[string]metav1.PartialObjectMetadata) {
	ch.eventually("one port per live pod", func() error { return harness.PodPortsMatch(ch.t, ch.view, pods) })
}

// checkUsage waits until each subnet's status counts its live pods; usage
// writes are rate-limited, so the last one may trail by a second.
func (ch *churn) checkUsage() {
	want := map[string]int{}
	for _, p := range ch.pods {
		if ch.live[p.key()] {
			want[p.namespace]++
		}
	}
	for name := range ch.cidrs {
		ch.eventually("usage of subnet "+name, func() error {
			s := &ovnetv1.Subnet{}
			if err := ch.c.Get(ch.ctx, client.ObjectKey{Name: name}, s); err != nil {
				return err
			}
			if int(s.Status.UsedIPs) != want[name] {
				return fmt.Errorf("usedIPs %d, want %d", s.Status.UsedIPs, want[name])
			}
			return nil
		})
	}
}
