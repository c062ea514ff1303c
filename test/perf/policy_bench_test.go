package perf

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovn-org/libovsdb/ovsdb"

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
// 20 namespaces, from the start of their creation until every ACL they
// need (their own and their namespaces' default deny) is in NB, as an
// independent NB client sees it. The baseline, in the same run on a
// database of its own holding the same pods' ports, is one client writing
// exactly the same rows itself, one transaction per policy and per
// namespace, with the same concurrency.
func BenchmarkNetworkPolicies(b *testing.B) {
	cl := startCluster(b)
	harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := policyNamespaces(b, cl)
	watcher := watchAddressed(b, cl.cfg)
	keys := podKeys(namespaces, policyBenchPods)
	if err := forEach(keys, func(i int, k podKey) error { return createAppPod(cl, i, k) }); err != nil {
		b.Fatal(err)
	}
	waitAddressed(b, watcher, cl.view, policyBenchPods)
	policies := benchPolicies(policyBenchPolicies)
	want := desiredRows(b, cl, policies, namespaces)
	sets := 0
	for _, s := range want.sets {
		sets += len(s)
	}
	b.Logf("%d policies over %d pods in %d namespaces: %d port groups, %d address sets, %d ACLs",
		len(policies), policyBenchPods, len(namespaces), len(want.groups), sets, want.acls)

	baseline := measureDirectWrites(b, cl, want)
	b.ResetTimer()
	cpu := processCPU()
	start := time.Now()
	if err := forEach(make([]podKey, len(policies)), func(i int, _ podKey) error {
		return cl.c.Create(context.Background(), policies[i])
	}); err != nil {
		b.Fatal(err)
	}
	created := time.Since(start)
	elapsed := waitPolicyACLs(b, cl.view, want.acls).Sub(start)
	b.StopTimer()
	b.ReportMetric(elapsed.Seconds(), "controller-s")
	b.ReportMetric(baseline.Seconds(), "baseline-s")
	b.ReportMetric(elapsed.Seconds()/baseline.Seconds(), "ratio")
	b.Logf("controller: %.2fs until all %d ACLs in NB (policies created in %.2fs, the last ACL %.2fs after the last "+
		"creation; client+controller CPU %.2fs); baseline (same rows, one client, %d transactions): %.2fs; ratio %.2f",
		elapsed.Seconds(), want.acls, created.Seconds(), (elapsed - created).Seconds(), (processCPU() - cpu).Seconds(),
		len(want.groups), baseline.Seconds(), elapsed.Seconds()/baseline.Seconds())
}

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

// rowSet is the rows the policies need, as the controller computes them.
type rowSet struct {
	groups []ovn.PortGroup
	// sets are the address sets of each group's transaction, by group index.
	sets map[int][]ovn.AddressSet
	acls int
}

// desiredRows translates the policies against the addressed pods.
func desiredRows(b *testing.B, cl *cluster, policies []*networkingv1.NetworkPolicy, namespaces []string) rowSet {
	b.Helper()
	cluster := netpol.Cluster{Pods: map[string][]netpol.Pod{}, Namespaces: map[string]netpol.Namespace{}}
	var pods corev1.PodList
	if err := cl.c.List(context.Background(), &pods); err != nil {
		b.Fatal(err)
	}
	for _, p := range pods.Items {
		ip, err := netip.ParseAddr(p.Annotations[annotation.IPAddress])
		if err != nil {
			b.Fatalf("pod %s/%s: %v", p.Namespace, p.Name, err)
		}
		cluster.Pods[p.Namespace] = append(cluster.Pods[p.Namespace], netpol.Pod{Namespace: p.Namespace, Name: p.Name,
			Labels: p.Labels, IP: ip, Ports: p.Spec.Containers[0].Ports})
	}
	byNamespace := map[string][]*networkingv1.NetworkPolicy{}
	for i, name := range namespaces {
		cluster.Namespaces[name] = netpol.Namespace{Name: name, Labels: map[string]string{"team": fmt.Sprintf("t%d", i%4)}}
	}
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
	for _, p := range policies {
		byNamespace[p.Namespace] = append(byNamespace[p.Namespace], p)
		t := netpol.Translate(p, cluster, netpol.Logging{})
		add(t.PortGroup, ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: p.Namespace, Name: p.Name}, t.AddressSets)
	}
	node := netip.MustParsePrefix(benchNetwork().JoinSubnet.CIDR)
	for _, ns := range namespaces {
		iso := netpol.NamespaceIsolation(netpol.IsolationInput{Namespace: ns, Policies: byNamespace[ns], Cluster: cluster, NodeCIDR: node})
		owner := ovn.Owner{Kind: ovn.KindNamespace, Name: ns}
		add(iso.Ingress, owner, nil)
		add(iso.Egress, owner, nil)
	}
	return rows
}

// measureDirectWrites writes the rows with one client of its own, one
// transaction per port group (with its address sets), into a database of
// its own holding the same pods' switch ports, and waits until a view of
// it has every ACL. Not in the controller's database: rows of the same
// names written and deleted there could be in the controller's cache when
// it reconciles a policy, and it would write nothing.
func measureDirectWrites(b *testing.B, cl *cluster, rows rowSet) time.Duration {
	b.Helper()
	ctx := context.Background()
	db := harness.StartNorthbound(b)
	view := harness.WatchNorthbound(b, db.Endpoint, harness.WithoutPortLists())
	nb, err := ovn.Connect(ctx, ovn.Config{Endpoints: []string{db.Endpoint}})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	copyPodPorts(b, cl.view, nb)
	start := time.Now()
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
	return waitPolicyACLs(b, view, rows.acls).Sub(start)
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
