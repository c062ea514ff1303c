package perf

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	policyBenchNamespaces = 20
	policyBenchPods       = 2000
	policyBenchPolicies   = 500
	// policyBenchApps is the number of distinct app labels per namespace:
	// each policy selects a fifth of its namespace's pods.
	policyBenchApps = 5
)

// BenchmarkNetworkPolicies times 500 policies over 2000 addressed pods in
// 20 namespaces until every ACL they need (their own and their
// namespaces' default deny) is in NB, as an independent NB client sees
// it, three ways: the policies created through the API server with no
// controller running (the API server alone), then a controller started
// cold on them (what ovnet itself costs), then, the policies deleted and
// their rows gone, the policies created again while the controller runs
// (what a user sees, the API server included). The baseline, in the same
// run on a database of its own holding the same pods' ports, is one client
// writing exactly the same rows itself: each shared peer set in a
// transaction of its own, then one transaction per policy and per
// namespace, with the same concurrency. Then it times pods arriving: 100
// in a namespace no policy concerns, then 100 among the policies' pods,
// each until their addresses are in every address set they belong in,
// with the controller's NB transactions per pod.
func BenchmarkNetworkPolicies(b *testing.B) {
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := policyNamespaces(b, cl)
	watcher := watchAddressed(b, cl.cfg)
	keys := podKeys(namespaces, policyBenchPods)
	if err := forEach(keys, func(i int, k podKey) error { return createAppPod(cl, i, k) }); err != nil {
		b.Fatal(err)
	}
	waitAddressed(b, watcher, viewPorts(b, cl.view), policyBenchPods)
	policies := benchPolicies(policyBenchPolicies)
	want := desiredRows(b, clusterOf(b, cl), policies, namespaces)
	sets := len(want.shared)
	for _, s := range want.sets {
		sets += len(s)
	}
	b.Logf("%d policies over %d pods in %d namespaces: %d port groups, %d address sets (%d shared by selector), %d ACLs",
		len(policies), policyBenchPods, len(namespaces), len(want.groups), sets, len(want.shared), want.acls)

	direct, baselineCPU := measureDirectWrites(b, cl, want)
	baseline := direct.elapsed
	b.ResetTimer()
	ctrl.Stop(b)
	apiserverAlone := createPolicies(b, cl, policies)
	floor := measureReadFloor(b, cl, portNames)
	columns := measureReadFloor(b, cl, ovnetColumns)
	for _, f := range []readFloor{floor, columns} {
		if f.ports < policyBenchPods || f.pods < policyBenchPods || f.policies != len(policies) {
			b.Fatalf("read floor read %d ports, %d pods, %d policies", f.ports, f.pods, f.policies)
		}
	}
	cold, ready := measureColdStart(b, cl, want)
	ctrl = cold.ctrl
	removePolicies(b, cl, policies)

	cpu := processCPU()
	start := time.Now()
	created := createPolicies(b, cl, policies)
	elapsed := waitPolicyACLs(b, cl.view, want.acls).Sub(start)
	b.StopTimer()
	waitAddressSets(b, cl.view, want)
	b.ReportMetric(elapsed.Seconds(), "controller-s")
	b.ReportMetric(baseline.Seconds(), "baseline-s")
	b.ReportMetric(apiserverAlone.Seconds(), "apiserver-create-s")
	b.ReportMetric(elapsed.Seconds()/baseline.Seconds(), "ratio")
	b.ReportMetric(cold.elapsed.Seconds(), "cold-s")
	b.ReportMetric(cold.elapsed.Seconds()/baseline.Seconds(), "cold-ratio")
	floorRatio := (floor.elapsed + baseline).Seconds() / baseline.Seconds()
	columnsRatio := (columns.elapsed + baseline).Seconds() / baseline.Seconds()
	b.ReportMetric(floor.elapsed.Seconds(), "read-floor-s")
	b.ReportMetric(floorRatio, "floor-ratio")
	b.ReportMetric(columns.elapsed.Seconds(), "columns-floor-s")
	b.ReportMetric(columnsRatio, "columns-floor-ratio")
	b.ReportMetric((cold.elapsed-ready).Seconds()/baseline.Seconds(), "after-ready-ratio")
	b.Logf("API server alone, no controller: the %d policies created in %.2fs", len(policies), apiserverAlone.Seconds())
	b.Logf("controller started cold on them: ready %.2fs, all %d ACLs in NB %.2fs after its start "+
		"(%.2fs after ready; %d NB transactions, sent in %d; CPU: %s); ratio to the baseline %.2f",
		ready.Seconds(), want.acls, cold.elapsed.Seconds(), (cold.elapsed - ready).Seconds(), cold.txns, cold.commits, cold.cpu,
		cold.elapsed.Seconds()/baseline.Seconds())
	b.Logf("read floor: what any controller reads before writing (NB's %d ports by name and its policy rows, the API's %d pods, "+
		"namespaces and %d policies as protobuf), plain clients at once: %.2fs (CPU: %s); with the baseline's writes %.2fs, "+
		"%.2f times the baseline; the cold start is %.2f times that",
		floor.ports, floor.pods, floor.policies, floor.elapsed.Seconds(), floor.cpu, (floor.elapsed + baseline).Seconds(),
		floorRatio, cold.elapsed.Seconds()/(floor.elapsed+baseline).Seconds())
	b.Logf("read floor of ovnet's columns: the same with every NB table and column ovnet's client mirrors (what its controller "+
		"reads; CPU: %s): %.2fs; with the baseline's writes %.2fs, %.2f times the baseline; the controller's ready time is %.2f "+
		"times that read, its time after ready %.2f times the baseline",
		columns.cpu, columns.elapsed.Seconds(), (columns.elapsed + baseline).Seconds(), columnsRatio,
		ready.Seconds()/columns.elapsed.Seconds(), (cold.elapsed-ready).Seconds()/baseline.Seconds())
	b.Logf("controller running while the policies are created: %.2fs until all %d ACLs in NB (policies created in %.2fs, "+
		"the last ACL %.2fs after the last creation, %.2f times the baseline; client+controller CPU %.2fs); ratio %.2f",
		elapsed.Seconds(), want.acls, created.Seconds(), (elapsed - created).Seconds(), (elapsed-created).Seconds()/baseline.Seconds(),
		(processCPU() - cpu).Seconds(), elapsed.Seconds()/baseline.Seconds())
	b.Logf("baseline (same rows, one client, %d transactions, sent in %.0f): %.2fs (CPU: %s)", len(want.shared)+len(want.groups),
		direct.commits, baseline.Seconds(), baselineCPU)

	free := policyFreeNamespace(b, cl)
	alone := measureArrivals(b, cl, ctrl, watcher, policies, namespaces, arrivalKeys([]string{free}, "alone"))
	among := measureArrivals(b, cl, ctrl, watcher, policies, namespaces, arrivalKeys(namespaces, "among"))
	b.ReportMetric(among.perPod(), "arrival-txn/pod")
	b.Logf("pod arrival, %d pods at once until addressed and in every address set: in a namespace no policy concerns %.2fs, "+
		"%.1f NB transactions per pod; among the policies' pods %.2fs, %.1f NB transactions per pod",
		policyArrivals, alone.elapsed.Seconds(), alone.perPod(), among.elapsed.Seconds(), among.perPod())
}

// createPolicies creates the policies through the API server with the
// benchmark's concurrency and returns how long that took.
func createPolicies(b *testing.B, cl *cluster, policies []*networkingv1.NetworkPolicy) time.Duration {
	b.Helper()
	start := time.Now()
	if err := forEach(make([]podKey, len(policies)), func(i int, _ podKey) error {
		return cl.c.Create(context.Background(), policies[i].DeepCopy())
	}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// coldStart is a controller started on policies already in the API server.
type coldStart struct {
	ctrl *harness.Controller
	// elapsed runs from the controller's start until every ACL is in NB.
	elapsed time.Duration
	// cpu is the CPU meanwhile: the process's (the controller's, as the
	// benchmark's client is idle) and the servers'.
	cpu cpuUse
	// txns are the controller's NB transactions meanwhile, sent to the
	// server in commits.
	txns, commits uint64
}

// measureColdStart starts a controller and times it until every ACL of
// rows is in NB; ready is when it reported ready.
func measureColdStart(b *testing.B, cl *cluster, rows rowSet) (coldStart, time.Duration) {
	b.Helper()
	stop := startProfiles(b, "policies-cold")
	before := reconcilesOf(b, policyControllers)
	cpu := measureCPU()
	start := time.Now()
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	ready := time.Since(start)
	elapsed := waitPolicyACLs(b, cl.view, rows.acls).Sub(start)
	used := cpu()
	txns, commits := ctrl.NBTransactions(b), ctrl.NBCommits(b)
	stop()
	after := reconcilesOf(b, policyControllers)
	for _, name := range policyControllers {
		b.Logf("cold start: %s reconciles %.0f", name, after[name]-before[name])
	}
	waitAddressSets(b, cl.view, rows)
	return coldStart{ctrl: ctrl, elapsed: elapsed, cpu: used, txns: txns, commits: commits}, ready
}

// removePolicies deletes the policies and waits until NB holds none of
// their rows, so that they can be created again from nothing.
func removePolicies(b *testing.B, cl *cluster, policies []*networkingv1.NetworkPolicy) {
	b.Helper()
	if err := forEach(make([]podKey, len(policies)), func(i int, _ podKey) error {
		return cl.c.Delete(context.Background(), policies[i].DeepCopy())
	}); err != nil {
		b.Fatal(err)
	}
	waitPolicyACLs(b, cl.view, 0)
	converge.For(b, convergeTimeout, "no policy port groups or address sets", func() error {
		groups := harness.List(b, cl.view, func(pg *nbdb.PortGroup) bool {
			o, ok := ovn.OwnerOf(pg.ExternalIDs)
			return ok && (o.Kind == ovn.KindNetworkPolicy || o.Kind == ovn.KindNamespace)
		})
		sets := harness.List(b, cl.view, func(as *nbdb.AddressSet) bool {
			o, ok := ovn.OwnerOf(as.ExternalIDs)
			return ok && (o.Kind == ovn.KindPeerSelector || o.Kind == ovn.KindNetworkPolicy)
		})
		if len(groups)+len(sets) > 0 {
			return fmt.Errorf("%d port groups, %d address sets left", len(groups), len(sets))
		}
		return nil
	})
}

// policyArrivals is the number of pods each arrival measurement creates.
const policyArrivals = 100

// arrival is one arrival measurement.
type arrival struct {
	elapsed time.Duration
	txns    uint64
}

func (a arrival) perPod() float64 { return float64(a.txns) / policyArrivals }

// arrivalKeys names the pods of an arrival measurement, spread over namespaces.
func arrivalKeys(namespaces []string, prefix string) []podKey {
	keys := podKeys(namespaces, policyArrivals)
	for i := range keys {
		keys[i].name = fmt.Sprintf("%s-%d", prefix, i)
	}
	return keys
}

// policyFreeNamespace creates a namespace no policy selects or names.
func policyFreeNamespace(b *testing.B, cl *cluster) string {
	b.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pol-free"}}
	if err := cl.c.Create(context.Background(), ns); err != nil {
		b.Fatal(err)
	}
	return ns.Name
}

// measureArrivals creates the pods of keys at once and waits until they
// are addressed and every address set holds what the benchmark's own
// model says, counting the controller's NB transactions meanwhile.
func measureArrivals(b *testing.B, cl *cluster, ctrl *harness.Controller, watcher *addressWatcher,
	policies []*networkingv1.NetworkPolicy, namespaces []string, keys []podKey) arrival {
	b.Helper()
	before, txns := int(watcher.count.Load()), ctrl.NBTransactions(b)
	queues := map[string]reconcileQueue{}
	for _, name := range policyControllers {
		queues[name] = readQueue(b, name)
	}
	start := time.Now()
	if err := forEach(keys, func(i int, k podKey) error { return createAppPod(cl, i, k) }); err != nil {
		b.Fatal(err)
	}
	waitWatched(b, watcher, before+len(keys))
	want := desiredRows(b, clusterOf(b, cl), policies, namespaces)
	waitAddressSets(b, cl.view, want)
	elapsed := time.Since(start)
	// Count every transaction the arrivals caused, port groups and
	// default deny included, which may land after the sets.
	converge.For(b, convergeTimeout, "policy reconcilers idle", func() error {
		for name, q0 := range queues {
			if q := readQueue(b, name); q.active != q0.active || q.depth != q0.depth {
				return fmt.Errorf("%s: %+v", name, q)
			}
		}
		return nil
	})
	return arrival{elapsed: elapsed, txns: ctrl.NBTransactions(b) - txns}
}

// reconcilesOf reads the reconciles so far of each named controller.
func reconcilesOf(b *testing.B, names []string) map[string]float64 {
	b.Helper()
	out := map[string]float64{}
	for _, name := range names {
		out[name] = readQueue(b, name).reconciles
	}
	return out
}

// policyControllers are the reconcilers a pod's arrival can wake.
var policyControllers = []string{"pod", "podpolicy", "networkpolicy", "isolation"}

func policyNamespaces(b *testing.B, cl *cluster) []string {
	b.Helper()
	var names []string
	for i := range policyBenchNamespaces {
		name := fmt.Sprintf("pol-%d", i)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": fmt.Sprintf("t%d", i%4)}}}
		if err := cl.c.Create(context.Background(), ns); err != nil {
			b.Fatalf("create namespace %s: %v", name, err)
		}
		names = append(names, name)
	}
	return names
}

// createAppPod creates a pod of the default subnet with an app label and
// a container port named "http".
func createAppPod(cl *cluster, i int, k podKey) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.namespace, Name: k.name,
			Labels: map[string]string{benchLabel: "true", "app": fmt.Sprintf("a%d", (i/policyBenchNamespaces)%policyBenchApps)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	return cl.c.Create(context.Background(), pod)
}

// benchPolicies are n policies spread over the policy namespaces (25 per
// namespace for policyBenchPolicies), of mixed shapes: every one
// has an ingress rule from pods of another app to TCP 8080; some add a
// namespaceSelector peer, an ipBlock with except, or an egress rule to a
// named port.
func benchPolicies(n int) []*networkingv1.NetworkPolicy {
	app := func(n int) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("a%d", n%policyBenchApps)}}
	}
	port, named := intstr.FromInt32(8080), intstr.FromString("http")
	var out []*networkingv1.NetworkPolicy
	for i := range n {
		ns, k := i%policyBenchNamespaces, i/policyBenchNamespaces
		peers := []networkingv1.NetworkPolicyPeer{{PodSelector: app(k + 1)}}
		if k%5 == 0 {
			peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: app(k + 2),
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", ns%4)}}})
		}
		if k%4 == 1 {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "172.16.0.0/16",
				Except: []string{"172.16.1.0/24"}}})
		}
		p := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("pol-%d", ns), Name: fmt.Sprintf("np-%d", k)},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: *app(k), Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: peers, Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}},
		}
		if k%3 == 2 {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: app(k + 3)}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}
		}
		out = append(out, p)
	}
	return out
}

// rowSet is the rows the policies need, computed by the benchmark.
type rowSet struct {
	groups []ovn.PortGroup
	// sets are the address sets of each group's transaction (a policy's
	// named ports), by group index.
	sets map[int][]ovn.AddressSet
	// shared are the address sets of the distinct selector peers.
	shared []ovn.AddressSet
	acls   int
}

// clusterOf reads the addressed pods and the namespaces from the API.
func clusterOf(b *testing.B, cl *cluster) netpol.Cluster {
	b.Helper()
	c := netpol.Cluster{Pods: map[string][]netpol.Pod{}, Namespaces: map[string]netpol.Namespace{}}
	var pods corev1.PodList
	if err := cl.c.List(context.Background(), &pods); err != nil {
		b.Fatal(err)
	}
	for _, p := range pods.Items {
		ip, err := netip.ParseAddr(p.Annotations[annotation.IPAddress])
		if err != nil {
			b.Fatalf("pod %s/%s: %v", p.Namespace, p.Name, err)
		}
		c.Pods[p.Namespace] = append(c.Pods[p.Namespace], netpol.Pod{Namespace: p.Namespace, Name: p.Name,
			Labels: p.Labels, IPs: []netip.Addr{ip}, Ports: p.Spec.Containers[0].Ports})
	}
	var list corev1.NamespaceList
	if err := cl.c.List(context.Background(), &list); err != nil {
		b.Fatal(err)
	}
	for _, ns := range list.Items {
		c.Namespaces[ns.Name] = netpol.Namespace{Name: ns.Name, Labels: ns.Labels}
	}
	return c
}

// desiredRows translates the policies against the cluster. The ACLs and
// set names are netpol's; the shared sets' content is worked out here from
// the peers' label selectors, apart from the controller's bookkeeping.
func desiredRows(b *testing.B, cluster netpol.Cluster, policies []*networkingv1.NetworkPolicy, namespaces []string) rowSet {
	b.Helper()
	byNamespace := map[string][]*networkingv1.NetworkPolicy{}
	rows := rowSet{sets: map[int][]ovn.AddressSet{}}
	add := func(pg netpol.PortGroup, owner ovn.Owner, sets []netpol.AddressSet) {
		g := ovn.PortGroup{Name: pg.Name, Owner: owner, Ports: pg.Ports}
		for _, a := range pg.ACLs {
			g.ACLs = append(g.ACLs, ovn.ACL{Name: a.Name, Direction: a.Direction, Priority: a.Priority, Match: a.Match,
				Action: a.Action, Severity: a.Severity, Options: a.Options})
		}
		for _, s := range sets {
			rows.sets[len(rows.groups)] = append(rows.sets[len(rows.groups)], ovn.AddressSet{Name: s.Name, Owner: owner, Addresses: s.Addresses})
		}
		rows.groups = append(rows.groups, g)
		rows.acls += len(g.ACLs)
	}
	shared := map[string]ovn.AddressSet{}
	for _, p := range policies {
		byNamespace[p.Namespace] = append(byNamespace[p.Namespace], p)
		t := netpol.Translate(p, cluster, netpol.Logging{})
		add(t.PortGroup, ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: p.Namespace, Name: p.Name}, t.AddressSets)
		for _, peer := range t.Peers {
			if _, done := shared[peer.Name]; !done {
				shared[peer.Name] = ovn.AddressSet{Name: peer.Name, Owner: ovn.Owner{Kind: ovn.KindPeerSelector, Name: peer.Name},
					ExternalIDs: map[string]string{ovn.ExternalIDSelector: peer.Key}, Addresses: peerAddresses(b, p, peer, cluster)}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shared)) {
		rows.shared = append(rows.shared, shared[name])
	}
	node := netip.MustParsePrefix(benchNetwork().JoinSubnet.CIDR)
	for _, ns := range namespaces {
		iso := netpol.NamespaceIsolation(netpol.IsolationInput{Namespace: ns, Policies: byNamespace[ns], Cluster: cluster, NodeCIDRs: []netip.Prefix{node}})
		owner := ovn.Owner{Kind: ovn.KindNamespace, Name: ns}
		add(iso.Ingress, owner, nil)
		add(iso.Egress, owner, nil)
	}
	return rows
}

// peerAddresses finds the peer of p whose shared set is set's and returns
// the sorted addresses of set's family of the pods its selectors take
// (for an egress named port's set, those whose port resolves to its number).
func peerAddresses(b *testing.B, p *networkingv1.NetworkPolicy, set netpol.PeerSelector, c netpol.Cluster) []string {
	b.Helper()
	var peers []networkingv1.NetworkPolicyPeer
	for _, r := range p.Spec.Ingress {
		peers = append(peers, r.From...)
	}
	for _, r := range p.Spec.Egress {
		peers = append(peers, r.To...)
	}
	port, protocol, number, named := set.NamedPort()
	for _, peer := range peers {
		sel, err := netpol.NewPeerSelector(p.Namespace, peer)
		if named && err == nil {
			sel = sel.Resolving(port, protocol, number)
		}
		if peer.IPBlock != nil || err != nil || sel.InFamily(set.Family).Name != set.Name {
			continue
		}
		podSel := labels.Everything()
		if peer.PodSelector != nil {
			podSel = mustSelector(b, peer.PodSelector)
		}
		inNamespace := func(ns string) bool { return ns == p.Namespace }
		if peer.NamespaceSelector != nil {
			nsSel := mustSelector(b, peer.NamespaceSelector)
			inNamespace = func(ns string) bool { return nsSel.Matches(labels.Set(c.Namespaces[ns].Labels)) }
		}
		var addrs []string
		for ns, pods := range c.Pods {
			if !inNamespace(ns) {
				continue
			}
			for _, pod := range pods {
				if ip, ok := pod.AddrOf(set.Family); ok && podSel.Matches(labels.Set(pod.Labels)) && (!named || hasPort(pod, port, number)) {
					addrs = append(addrs, ip.String())
				}
			}
		}
		slices.Sort(addrs)
		return addrs
	}
	b.Fatalf("policy %s/%s has no peer whose set is %s", p.Namespace, p.Name, set.Name)
	return nil
}

// hasPort reports whether one of the pod's container ports is named name
// with number.
func hasPort(pod netpol.Pod, name string, number int32) bool {
	for _, cp := range pod.Ports {
		if cp.Name == name && cp.ContainerPort == number {
			return true
		}
	}
	return false
}

func mustSelector(b *testing.B, s *metav1.LabelSelector) labels.Selector {
	b.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		b.Fatal(err)
	}
	return sel
}

// waitAddressSets waits until NB's policy address sets, shared and
// per policy, hold exactly what rows say.
func waitAddressSets(b *testing.B, view *harness.NBView, rows rowSet) {
	b.Helper()
	want := map[string][]string{}
	for _, s := range rows.shared {
		want[s.Name] = slices.Sorted(slices.Values(s.Addresses))
	}
	for _, sets := range rows.sets {
		for _, s := range sets {
			want[s.Name] = slices.Sorted(slices.Values(s.Addresses))
		}
	}
	converge.For(b, convergeTimeout, fmt.Sprintf("%d address sets as computed", len(want)), func() error {
		have := harness.List(b, view, func(as *nbdb.AddressSet) bool {
			o, ok := ovn.OwnerOf(as.ExternalIDs)
			return ok && (o.Kind == ovn.KindPeerSelector || o.Kind == ovn.KindNetworkPolicy)
		})
		if len(have) != len(want) {
			return fmt.Errorf("%d address sets in NB, want %d", len(have), len(want))
		}
		for _, as := range have {
			addrs := slices.Sorted(slices.Values(as.Addresses))
			if w, ok := want[as.Name]; !ok || !slices.Equal(addrs, w) && len(addrs)+len(w) > 0 {
				return fmt.Errorf("address set %s holds %d addresses, want %d", as.Name, len(addrs), len(w))
			}
		}
		return nil
	})
}

// measureDirectWrites writes the rows with one client of its own, one
// transaction per shared set, then one per port group (with its address
// sets), into a database of
// its own holding the same pods' switch ports, and waits until a view of
// it has every ACL. Not in the controller's database: rows of the same
// names written and deleted there could be in the controller's cache when
// it reconciles a policy, and it would write nothing.
func measureDirectWrites(b *testing.B, cl *cluster, rows rowSet) (directWrites, cpuUse) {
	b.Helper()
	ctx := context.Background()
	db := harness.StartNorthbound(b)
	view := harness.WatchNorthbound(b, db.Endpoint, harness.WithoutPortLists())
	reg := prometheus.NewRegistry()
	nb, err := ovn.Connect(ctx, ovn.Config{Endpoints: []string{db.Endpoint}, Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	copyPodPorts(b, cl.view, nb)
	stop := startProfiles(b, "policies-baseline")
	defer stop()
	commits := counterOf(b, reg, "ovnet_nb_commits_total")
	cpu := measureCPU()
	start := time.Now()
	// The shared sets first, as the controller writes them before any ACL
	// names them.
	if err := forEach(make([]podKey, len(rows.shared)), func(i int, _ podKey) error {
		ops, err := nb.AddressSetOps(rows.shared[i])
		if err != nil {
			return err
		}
		return nb.Transact(ctx, ops)
	}); err != nil {
		b.Fatal(err)
	}
	if err := forEach(make([]podKey, len(rows.groups)), func(i int, _ podKey) error {
		var ops []ovsdb.Operation
		for _, s := range rows.sets[i] {
			more, err := nb.AddressSetOps(s)
			if err != nil {
				return err
			}
			ops = append(ops, more...)
		}
		more, err := nb.PortGroupOps(rows.groups[i])
		if err != nil {
			return err
		}
		return nb.Transact(ctx, append(ops, more...))
	}); err != nil {
		b.Fatal(err)
	}
	elapsed := waitPolicyACLs(b, view, rows.acls).Sub(start)
	return directWrites{elapsed: elapsed, commits: counterOf(b, reg, "ovnet_nb_commits_total") - commits}, cpu()
}

// directWrites is the baseline's run: how long it took, and in how many
// transactions of the server's its own were sent.
type directWrites struct {
	elapsed time.Duration
	commits float64
}

// counterOf is the value of the counter name in reg.
func counterOf(b *testing.B, reg *prometheus.Registry, name string) float64 {
	b.Helper()
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	b.Fatalf("no counter %s", name)
	return 0
}

// copyPodPorts writes the pods' switch ports, which the port groups list,
// from the controller's database into nb, on one switch.
func copyPodPorts(b *testing.B, from *harness.NBView, nb *ovn.Client) {
	b.Helper()
	const sw = "baseline"
	ops, err := nb.SwitchOps(ovn.Switch{Name: sw})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range harness.List(b, from, func(p *nbdb.LogicalSwitchPort) bool { return p.Type == "" }) {
		more, err := nb.SwitchPortOps(ovn.SwitchPort{Switch: sw, Name: p.Name, Addresses: p.Addresses, SwitchInTransaction: true})
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, more...)
	}
	if err := nb.Transact(context.Background(), ops); err != nil {
		b.Fatalf("copy the pods' ports: %v", err)
	}
}

// waitPolicyACLs waits until the view holds exactly n ACLs of policies
// and namespaces, and returns when it first did.
func waitPolicyACLs(b *testing.B, view *harness.NBView, n int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, fmt.Sprintf("%d policy ACLs", n), func() error {
		got := len(harness.List(b, view, func(a *nbdb.ACL) bool {
			o, ok := ovn.OwnerOf(a.ExternalIDs)
			return ok && (o.Kind == ovn.KindNetworkPolicy || o.Kind == ovn.KindNamespace)
		}))
		if got != n {
			return fmt.Errorf("%d in NB", got)
		}
		return nil
	})
	return time.Now()
}
