package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// deniedTimeout is how long a probe waits for an answer: allowed
	// connections answer in milliseconds, so this is what a denied cell
	// costs a probe round.
	deniedTimeout = time.Second
	// convergeTimeout bounds how long ACLs may take to match a scenario;
	// it only catches a matrix that never does.
	convergeTimeout = 20 * time.Second
	// namespaceLabel and podLabel are the model's labels, ns=<namespace>
	// and pod=<name>, as the upstream suite and Cyclonus set them.
	namespaceLabel = "ns"
	podLabel       = "pod"
)

var (
	modelNamespaces = []string{"x", "y", "z"}
	modelPodNames   = []string{"a", "b", "c"}
)

// model is the upstream NetworkPolicy model: namespaces x, y, z, each
// with pods a, b, c serving TCP and UDP 80 and 81, spread over the nodes.
type model struct {
	e *env
	// nodes run the pods, pod i on nodes[i%len(nodes)].
	nodes []*harness.Node
	// pods are x/a, x/b, x/c, y/a ... z/c: the matrix's rows and columns.
	pods [podCount]*harness.Sandbox
	// names are "x/a" ... "z/c", in the same order.
	names [podCount]string
	// checked is the matrix checkMatrix saw last.
	checked matrix
}

// modelPod is a pod of the model: labelled pod=<name>, its container ports
// named as Cyclonus names them so that named-port policies resolve.
func modelPod(namespace, name, node string) *corev1.Pod {
	var ports []corev1.ContainerPort
	for _, port := range matrixPorts {
		ports = append(ports, corev1.ContainerPort{ContainerPort: port.number, Protocol: port.protocol,
			Name: fmt.Sprintf("serve-%d-%s", port.number, strings.ToLower(string(port.protocol)))})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{podLabel: name}},
		Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "c", Image: "local.test/tools:1", Ports: ports}}},
	}
}

// newModel creates the namespaces (with the annotations nsAnnotations
// gives, when not nil) and pods, wires the pods with the CNI plugin
// (concurrently, as kubelets would) and starts their servers. Pods go to
// the nodes in turn, so that with two nodes a policy is enforced on pairs
// on one node and on pairs across the tunnel alike.
func newModel(t *testing.T, e *env, nsAnnotations func(namespace string) map[string]string, nodes ...*harness.Node) *model {
	t.Helper()
	m := &model{e: e, nodes: nodes, checked: allAllowed()}
	var runtimes []*harness.Runtime
	for _, n := range nodes {
		runtimes = append(runtimes, n.Runtime(t))
	}
	for _, ns := range modelNamespaces {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{namespaceLabel: ns}}}
		if nsAnnotations != nil {
			obj.Annotations = nsAnnotations(ns)
		}
		if err := e.c.Create(e.ctx, obj); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}
	for i := range podCount {
		ns, name := modelNamespaces[i/len(modelPodNames)], modelPodNames[i%len(modelPodNames)]
		pod := modelPod(ns, name, nodes[i%len(nodes)].Name)
		if err := e.c.Create(e.ctx, pod); err != nil {
			t.Fatalf("create pod %s/%s: %v", ns, name, err)
		}
		m.pods[i], m.names[i] = runtimes[i%len(nodes)].NewSandbox(t, pod), ns+"/"+name
	}
	errs := make([]error, podCount)
	var wg sync.WaitGroup
	for i, s := range m.pods {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = runtimes[i%len(nodes)].Add(e.ctx, s) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ADD of %s: %v", m.names[i], err)
		}
	}
	for _, s := range m.pods {
		e.serve(s, "--tcp", "80,81", "--udp", "80,81", "--quiet")
	}
	return m
}

// index is the matrix index of "ns/name".
func (m *model) index(name string) int {
	for i, n := range m.names {
		if n == name {
			return i
		}
	}
	m.e.t.Fatalf("no pod %s in the model", name)
	return -1
}

// ip is the address of pod "ns/name".
func (m *model) ip(name string) string { return m.pods[m.index(name)].IP.String() }

// views reads the pods and namespaces as the API server has them now:
// labels (kubernetes.io/metadata.name included, which the API server sets)
// and ports.
func (m *model) views(ctx context.Context) ([podCount]podView, error) {
	var views [podCount]podView
	nsLabels := map[string]map[string]string{}
	for _, name := range modelNamespaces {
		var ns corev1.Namespace
		if err := m.e.c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			return views, fmt.Errorf("get namespace %s: %w", name, err)
		}
		nsLabels[name] = ns.Labels
	}
	for i, s := range m.pods {
		var pod corev1.Pod
		if err := m.e.c.Get(ctx, client.ObjectKeyFromObject(s.Pod), &pod); err != nil {
			return views, fmt.Errorf("get pod %s: %w", m.names[i], err)
		}
		views[i] = podView{namespace: pod.Namespace, labels: pod.Labels, namespaceLabels: nsLabels[pod.Namespace],
			ip: s.IP.String(), ports: pod.Spec.Containers[0].Ports}
	}
	return views, nil
}

// policies lists the model namespaces' policies as the API server stores
// them, defaults (policyTypes, protocol) applied.
func (m *model) policies(ctx context.Context) ([]*networkingv1.NetworkPolicy, error) {
	var out []*networkingv1.NetworkPolicy
	for _, ns := range modelNamespaces {
		var list networkingv1.NetworkPolicyList
		if err := m.e.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("list policies in %s: %w", ns, err)
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// expected is the matrix the Kubernetes semantics give for the cluster's
// current objects.
func (m *model) expected(ctx context.Context) (matrix, error) {
	views, err := m.views(ctx)
	if err != nil {
		return matrix{}, err
	}
	policies, err := m.policies(ctx)
	if err != nil {
		return matrix{}, err
	}
	return expectedMatrix(policies, views), nil
}

// observe probes every pair on every port: one "probe reach" per source
// pod, all at once, so a round costs about one deniedTimeout.
func (m *model) observe() (matrix, error) {
	if err := m.freshDatapath(); err != nil {
		return matrix{}, err
	}
	var targets []string
	for _, to := range m.pods {
		for _, port := range matrixPorts {
			targets = append(targets, strings.ToLower(string(port.protocol))+"/"+netip.AddrPortFrom(to.IP, uint16(port.number)).String())
		}
	}
	var obs matrix
	errs := make([]error, podCount)
	var wg sync.WaitGroup
	for from, s := range m.pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{m.e.probe, "reach", "--timeout", deniedTimeout.String()}, targets...)
			out, err := s.Exec(args...)
			if err != nil {
				errs[from] = fmt.Errorf("%w\n%s", err, out)
				return
			}
			errs[from] = parseReach(out, targets, func(i int, ok bool) {
				obs.allowed[i%portCount][from][i/portCount] = ok
			})
		}()
	}
	wg.Wait()
	for from, err := range errs {
		if err != nil {
			return obs, fmt.Errorf("probe from %s: %w", m.names[from], err)
		}
	}
	return obs, nil
}

// parseReach reads "probe reach" output, one line per target in order.
func parseReach(out string, targets []string, record func(target int, ok bool)) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(targets) {
		return fmt.Errorf("%d result lines for %d targets:\n%s", len(lines), len(targets), out)
	}
	for i, line := range lines {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != targets[i] || (fields[1] != "ok" && fields[1] != "fail") {
			return fmt.Errorf("result line %d %q is not about %s", i, line, targets[i])
		}
		record(i, fields[1] == "ok")
	}
	return nil
}

// checkMatrix probes until the observed matrix equals the expected one,
// or fails the test after convergeTimeout with both matrices. ACLs take
// effect asynchronously, so a match only shows a change took effect if
// the change shows in the matrix; when it does not (the expected matrix
// is the one checked last), the match must hold for a second round.
func (m *model) checkMatrix(t *testing.T, stage string) {
	t.Helper()
	want, err := m.expected(m.e.ctx)
	if err != nil {
		t.Fatalf("%s: expected matrix: %v", stage, err)
	}
	needed := 1
	if want == m.checked {
		needed = 2
	}
	rounds, matches := 0, 0
	err = wait.Until(m.e.ctx, convergeTimeout, "reachability as the Kubernetes semantics allow", func() error {
		got, err := m.observe()
		if err != nil {
			return wait.Stop(err)
		}
		rounds++
		if got != want {
			matches = 0
			return fmt.Errorf("differs:\n%s", compare(m.names, want, got))
		}
		if matches++; matches < needed {
			return fmt.Errorf("the last round matched but the one before did not: reachability flaps")
		}
		return nil
	})
	if err != nil {
		t.Logf("northbound rows, for diagnosis:\n%s", m.northbound())
		t.Fatalf("%s: after %d probe rounds: %v", stage, rounds, err)
	}
	m.checked = want
	t.Logf("%s: %d allowed of %d, matched after %d probe rounds", stage, want.count(), portCount*podCount*podCount, rounds)
}

// count is the number of allowed cells.
func (m matrix) count() int {
	n := 0
	for p := range portCount {
		for from := range podCount {
			for to := range podCount {
				if m.allowed[p][from][to] {
					n++
				}
			}
		}
	}
	return n
}

// reset deletes every policy and gives pods and namespaces back their
// model labels, then waits for the everything-allowed matrix.
func (m *model) reset(t *testing.T) {
	t.Helper()
	for _, ns := range modelNamespaces {
		if err := m.e.c.DeleteAllOf(m.e.ctx, &networkingv1.NetworkPolicy{}, client.InNamespace(ns)); err != nil {
			t.Fatalf("delete policies in %s: %v", ns, err)
		}
		m.setNamespaceLabels(t, ns, map[string]string{namespaceLabel: ns})
	}
	for i, s := range m.pods {
		m.setPodLabels(t, m.names[i], map[string]string{podLabel: s.Pod.Name})
	}
	if want, err := m.expected(m.e.ctx); err != nil || want != allAllowed() {
		t.Fatalf("after reset the semantics still deny something (%v): the reset is incomplete", err)
	}
	m.checkMatrix(t, "reset")
}

// setPodLabels replaces the labels of pod "ns/name".
func (m *model) setPodLabels(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	var pod corev1.Pod
	if err := m.e.c.Get(m.e.ctx, client.ObjectKeyFromObject(m.pods[m.index(name)].Pod), &pod); err != nil {
		t.Fatal(err)
	}
	pod.Labels = labels
	if err := m.e.c.Update(m.e.ctx, &pod); err != nil {
		t.Fatalf("relabel pod %s: %v", name, err)
	}
}

// setNamespaceLabels replaces a namespace's labels; the API server keeps
// kubernetes.io/metadata.name whatever we send.
func (m *model) setNamespaceLabels(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	var ns corev1.Namespace
	if err := m.e.c.Get(m.e.ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels = labels
	if err := m.e.c.Update(m.e.ctx, &ns); err != nil {
		t.Fatalf("relabel namespace %s: %v", name, err)
	}
}

// freshDatapath empties the nodes' connection trackers and datapath flow
// caches before every probe round, so a round's connections are all new
// and are judged by the OpenFlow tables ovn-controller holds now. Debian's
// OVS 3.1.0 on the userspace datapath needs both here: without the flush,
// its conntrack aborted one to two minutes into every run (conntrack.c:1063:
// assertion conn->conn_type == CT_CONN_TYPE_DEFAULT failed in
// conn_update_state); without the purge, a datapath flow of an earlier
// verdict survived revalidation now and then and kept one pair's allowed
// ports closed for the whole 20 s, while the OpenFlow tables (and, after a
// purge, the packets) said open. The policy semantics are about new
// connections, which is what rounds probe.
func (m *model) freshDatapath() error {
	for _, n := range m.nodes {
		for _, cmd := range []string{"dpctl/flush-conntrack", "revalidator/purge"} {
			if out, err := runTool("ovs-appctl", "-t", n.Chassis.VswitchdControl, cmd); err != nil {
				return fmt.Errorf("%s on %s: %w\n%s", cmd, n.Name, err, out)
			}
		}
	}
	return nil
}

// northbound lists the ACLs and address sets in NB, to tell a mismatch's
// cause; never used for the expected matrix.
func (m *model) northbound() string {
	var b strings.Builder
	for _, table := range []struct{ name, columns string }{
		{"ACL", "name,direction,priority,match,action"},
		{"Address_Set", "name,addresses"},
	} {
		out, err := runTool("ovn-nbctl", "--db="+m.e.ovn.NB.Endpoint, "--format=csv", "--columns="+table.columns, "list", table.name)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", table.name, err)
		}
		fmt.Fprintf(&b, "%s:\n%s", table.name, out)
	}
	return b.String()
}
