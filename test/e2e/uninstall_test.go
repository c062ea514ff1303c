package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/test/harness"
)

// daemonNamespace holds the DaemonSet standing for the chart's ovnet-node.
const daemonNamespace = "kube-system"

// TestUninstallCleansNode: a node with pods (one with a bandwidth limit,
// so QoS rows exist), whose daemon runs as the chart runs it (its own Pod
// owned by the ovnet-node DaemonSet, managing OVN's Open_vSwitch
// settings). The DaemonSet is deleted, as helm uninstall does; the OVN
// container stops, then the daemon gets SIGTERM: it leaves nothing of
// ovnet's on the node.
func TestUninstallCleansNode(t *testing.T) {
	e := newEnv(t)
	identity := e.daemonSetPod("n1")
	n := e.node("n1", append(identity.args, "--enable-mirror", "--ovn-remote="+e.ovn.SB.Endpoint, "--encap-ip=127.0.0.1")...)
	rt := n.Runtime(t)
	a := rt.AddPod(t, e.pod("default", "a", "n1", map[string]string{"ovn.kubernetes.io/ingress_rate": "50"}))
	b := rt.AddPod(t, e.pod("default", "b", "n1", nil))
	ping(t, a, b.IP.String())
	e.eventually("every piece of ovnet on the node", func() error {
		if missing := missingFromNode(t, n, nodeLeftovers(t, n)); len(missing) > 0 {
			return fmt.Errorf("not set up yet: %v", missing)
		}
		return nil
	})

	if err := e.c.Delete(e.ctx, identity.ds); err != nil {
		t.Fatal(err)
	}
	n.Chassis.StopController(t)
	n.StopDaemon(t)
	a.Forget()
	b.Forget()
	e.eventually("nothing of ovnet left on the node", func() error {
		if left := nodeLeftovers(t, n); len(left) > 0 {
			return fmt.Errorf("left: %s", strings.Join(left, "; "))
		}
		return nil
	})
}

// TestCleanupCommand: `ovnet-daemon cleanup`, run by hand on a node whose
// daemon stopped without cleaning (no DaemonSet to tell it), removes
// everything, says so step by step, and a second run finds nothing to do.
func TestCleanupCommand(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1", "--enable-mirror", "--ovn-remote="+e.ovn.SB.Endpoint, "--encap-ip=127.0.0.1")
	a := n.Runtime(t).AddPod(t, e.pod("default", "a", "n1", map[string]string{"ovn.kubernetes.io/ingress_rate": "50"}))
	n.StopDaemon(t)
	a.Forget()
	// The socket goes with every stop; everything else stays.
	if missing := missingFromNode(t, n, nodeLeftovers(t, n)); !slices.Equal(missing, []string{"file socket"}) {
		t.Fatalf("a daemon stopped without an uninstall removed %v", missing)
	}
	n.Chassis.StopController(t)
	argv := []string{harness.Build(t, "./cmd/daemon", "ovnet-daemon"), "cleanup", "--ovs-db=" + n.Chassis.OVS.Endpoint,
		"--netns=/run/netns/" + n.Chassis.NetNS, "--socket=" + n.Socket, "--cni-bin-dir=" + n.CNIBinDir,
		"--cni-conf-dir=" + n.CNIConfDir, "--ovn-rundir=" + n.Chassis.LogDir}
	for run := 1; run <= 2; run++ {
		out, err := runTool(argv...)
		if err != nil {
			t.Fatalf("cleanup, run %d: %v\n%s", run, err, out)
		}
		t.Logf("cleanup, run %d:\n%s", run, out)
		if !strings.Contains(out, "ok   bridge br-int") || strings.Contains(out, "FAIL") {
			t.Errorf("cleanup, run %d, printed:\n%s", run, out)
		}
	}
	e.eventually("nothing of ovnet left on the node", func() error {
		if left := nodeLeftovers(t, n); len(left) > 0 {
			return fmt.Errorf("left: %s", strings.Join(left, "; "))
		}
		return nil
	})
}

// daemonIdentity is what the chart gives the daemon: its Pod, owned by
// the ovnet-node DaemonSet, named through the downward API.
type daemonIdentity struct {
	ds   *appsv1.DaemonSet
	args []string
}

// daemonSetPod creates a DaemonSet and, as its controller would, the
// daemon's Pod on node (host network: the controller addresses no such
// pod); the returned flags tell the daemon which Pod it is.
func (e *env) daemonSetPod(node string) daemonIdentity {
	e.t.Helper()
	labels := map[string]string{"app": "ovnet-node"}
	container := corev1.Container{Name: "ovnet-daemon", Image: "local.test/ovnet:1"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: daemonNamespace, Name: "ovnet-node-" + node},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{container}}}}}
	if err := e.c.Create(e.ctx, ds); err != nil {
		e.t.Fatal(err)
	}
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: daemonNamespace, Name: ds.Name + "-x1", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID,
			Controller: &yes}}},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{container}}}
	if err := e.c.Create(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
	return daemonIdentity{ds: ds, args: []string{"--pod-name=" + pod.Name, "--pod-namespace=" + pod.Namespace}}
}

// Kinds of what ovnet leaves on a node, as nodeLeftovers names them.
var leftoverKinds = []string{"file conflist", "file plugin", "file socket", "link br-int", "link ovn0", "link mirror0",
	"pod veth", "route", "bridge", "qos", "queue", "mirror", "external_ids", "nftables table"}

// missingFromNode returns the kinds of leftovers absent from left: on a
// node where ovnet runs, every kind is there.
func missingFromNode(t *testing.T, n *harness.Node, left []string) []string {
	t.Helper()
	var missing []string
	for _, kind := range leftoverKinds {
		found := false
		for _, l := range left {
			found = found || strings.HasPrefix(l, kind)
		}
		if !found {
			missing = append(missing, kind)
		}
	}
	return missing
}

// nodeLeftovers lists what of ovnet's is on the node, found as a user
// would look: files, ip link and ip route in the node's namespace,
// ovs-vsctl, and the node's nftables tables.
func nodeLeftovers(t *testing.T, n *harness.Node) []string {
	t.Helper()
	var left []string
	files := map[string]string{"conflist": filepath.Join(n.CNIConfDir, "01-ovnet.conflist"),
		"plugin": filepath.Join(n.CNIBinDir, "ovnet"), "socket": n.Socket}
	for kind, path := range files {
		if _, err := os.Stat(path); err == nil {
			left = append(left, "file "+kind+" "+path)
		}
	}
	for _, name := range []string{"br-int", "ovn0", "mirror0"} {
		if _, err := nodeExec(n, "ip", "link", "show", "dev", name); err == nil {
			left = append(left, "link "+name)
		}
	}
	for _, v := range hostVeths(t, n) {
		left = append(left, "pod veth "+v)
	}
	routes, err := nodeExec(n, "ip", "route", "show", "table", "all", "proto", "0x5a")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range strings.Split(strings.TrimSpace(routes), "\n") {
		if r != "" {
			left = append(left, "route "+r)
		}
	}
	left = append(left, ovsLeftovers(t, n)...)
	for name, family := range natFamilies {
		if natTableIn(t, n.Chassis.NetNS, family) {
			left = append(left, "nftables table "+name+" "+nodenat.TableName)
		}
	}
	return left
}

// ovsLeftovers lists bridges, QoS, queue, mirror and SSL rows, and ovnet's
// keys in the Open_vSwitch row's external_ids.
func ovsLeftovers(t *testing.T, n *harness.Node) []string {
	t.Helper()
	var left []string
	for _, br := range strings.Fields(n.Chassis.Vsctl(t, "list-br")) {
		left = append(left, "bridge "+br)
	}
	// SSL is ovnet's only with TLS (TestTLS); other tests have none.
	for _, table := range []string{"qos", "queue", "mirror", "ssl"} {
		for _, uuid := range strings.Fields(n.Chassis.Vsctl(t, "--bare", "--columns=_uuid", "list", table)) {
			left = append(left, table+" "+uuid)
		}
	}
	ids := n.Chassis.Vsctl(t, "get", "Open_vSwitch", ".", "external_ids")
	for _, kv := range strings.Split(strings.Trim(ids, "{}"), ", ") {
		if strings.HasPrefix(kv, "ovn-") || strings.HasPrefix(kv, "ovnet.io/") || strings.HasPrefix(kv, `"ovnet.io/`) ||
			strings.HasPrefix(kv, "system-id=") {
			left = append(left, "external_ids "+kv)
		}
	}
	return left
}

// natFamilies are the families of ovnet's tables, by nft's names.
var natFamilies = map[string]nftables.TableFamily{"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6}

// natTableIn reports whether the network namespace (ip netns name) has
// ovnet's table of the family.
func natTableIn(t *testing.T, netnsName string, family nftables.TableFamily) bool {
	t.Helper()
	ns, err := netns.GetFromName(netnsName)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.ListTableOfFamily(nodenat.TableName, family)
	if errors.Is(err, unix.ENOENT) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
