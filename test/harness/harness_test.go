package harness

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// TestStartAll starts every part, checks each answers, and then checks that
// the cleanups left none of their processes behind.
func TestStartAll(t *testing.T) {
	before := childProcesses(t)
	var started map[int]string
	running := t.Run("running", func(t *testing.T) {
		api := StartAPIServer(t, APIServerOptions{})
		nb := StartNorthbound(t)
		sb := StartSouthbound(t)
		northd := StartNorthd(t, nb, sb)

		started = newProcesses(before, childProcesses(t))
		t.Logf("started %v", started)
		for _, pid := range []int{nb.PID, sb.PID, northd.PID} {
			if started[pid] == "" {
				t.Errorf("PID %d is not a child of the test", pid)
			}
		}
		if want := []string{"etcd", "kube-apiserver", "ovsdb-server", "ovn-northd"}; !containsAll(started, want) {
			t.Errorf("children %v, want %v among them", started, want)
		}

		checkAPIServer(t, api)
		checkNorthbound(t, nb)
		checkNorthd(t, nb, sb)
	})
	if !running {
		return
	}
	for pid, comm := range started {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after cleanup (kill -0: %v)", comm, pid, err)
		}
	}
}

func containsAll(processes map[int]string, names []string) bool {
	seen := map[string]bool{}
	for _, comm := range processes {
		seen[comm] = true
	}
	for _, name := range names {
		if !seen[name] {
			return false
		}
	}
	return true
}

func checkAPIServer(t *testing.T, api *APIServer) {
	t.Helper()
	if api.Config.QPS != defaultQPS || api.Config.Burst != defaultBurst {
		t.Errorf("QPS/Burst = %v/%v, want %v/%v", api.Config.QPS, api.Config.Burst, defaultQPS, defaultBurst)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(api.Config)
	if err != nil {
		t.Fatal(err)
	}
	version, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	t.Logf("kube-apiserver %s", version.GitVersion)
	resources, err := dc.ServerResourcesForGroupVersion(ovnetv1.GroupVersion.String())
	if err != nil {
		t.Fatalf("discovery of %s: %v", ovnetv1.GroupVersion, err)
	}
	var found bool
	for _, r := range resources.APIResources {
		if r.Name == "subnets" {
			found = true
			if r.Kind != "Subnet" || r.Namespaced {
				t.Errorf("subnets served as kind %q namespaced=%v, want cluster-scoped Subnet", r.Kind, r.Namespaced)
			}
		}
	}
	if !found {
		t.Fatalf("subnets not served in %s: %+v", ovnetv1.GroupVersion, resources.APIResources)
	}

	scheme := runtime.NewScheme()
	if err := ovnetv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(api.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	subnet := &ovnetv1.Subnet{
		ObjectMeta: metav1.ObjectMeta{Name: "harness"},
		Spec:       ovnetv1.SubnetSpec{CIDR: "10.16.0.0/16"},
	}
	if err := c.Create(context.Background(), subnet); err != nil {
		t.Fatalf("creating Subnet: %v", err)
	}

	// kubectl stands in for a controller run as a subprocess: it reaches the
	// server through the kubeconfig file alone, and shows the printer columns.
	assets, _ := KubeAssetsDir()
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "--kubeconfig", api.Kubeconfig,
		"get", "subnets").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get subnets: %v: %s", err, out)
	}
	header := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	if want := []string{"NAME", "CIDR", "GATEWAY", "EGRESS", "USED", "AVAILABLE", "READY"}; strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("kubectl get subnets columns = %v, want %v", header, want)
	}
}

func checkNorthbound(t *testing.T, nb *OVSDB) {
	t.Helper()
	if !strings.HasPrefix(nb.Endpoint, "unix:/") {
		t.Errorf("Endpoint = %q, want unix:/...", nb.Endpoint)
	}
	out, err := exec.Command("ovsdb-client", "list-dbs", nb.Endpoint).CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client list-dbs: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "OVN_Northbound") {
		t.Fatalf("ovsdb-client list-dbs %s = %q, want OVN_Northbound", nb.Endpoint, out)
	}
}

// checkNorthd adds a logical switch to NB and waits for ovn-northd to give
// it a datapath in SB.
func checkNorthd(t *testing.T, nb, sb *OVSDB) {
	t.Helper()
	run(t, "ovn-nbctl", "--db="+nb.Endpoint, "--timeout=10", "ls-add", "harness-ls")
	run(t, "ovn-nbctl", "--db="+nb.Endpoint, "--timeout=10", "--wait=sb", "sync")
	out := run(t, "ovn-sbctl", "--db="+sb.Endpoint, "--timeout=10", "--bare", "--columns=external_ids",
		"list", "Datapath_Binding")
	if !strings.Contains(out, "name=harness-ls") {
		t.Fatalf("SB Datapath_Binding external_ids = %q, want name=harness-ls", out)
	}
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// childProcesses maps the PIDs of the test process's live children to
// their command names.
func childProcesses(t *testing.T) map[int]string {
	t.Helper()
	kids, err := children()
	if err != nil {
		t.Fatal(err)
	}
	return kids
}

// newProcesses returns the entries of after that are not in before.
func newProcesses(before, after map[int]string) map[int]string {
	added := map[int]string{}
	for pid, comm := range after {
		if _, ok := before[pid]; !ok {
			added[pid] = comm
		}
	}
	return added
}

// An API server stopped and restarted keeps its objects and its address:
// a client made before the stop is refused while it is down and reads
// what it wrote once it is back; no process of the first run is left.
func TestAPIServerStopRestart(t *testing.T) {
	api := StartAPIServer(t, APIServerOptions{})
	c, err := client.New(api.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	before := childProcesses(t)
	api.Stop(t)
	if left := newProcesses(childProcesses(t), before); len(left) != 2 {
		t.Errorf("stopped %v, want etcd and kube-apiserver", left)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ns), ns); err == nil {
		t.Fatal("the API server answered while stopped")
	}
	api.Restart(t)
	if err := c.Get(ctx, client.ObjectKeyFromObject(ns), ns); err != nil {
		t.Fatalf("the namespace made before the stop, read after the restart with the same client: %v", err)
	}
}
