package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// uninstallTimeout bounds helm uninstall to every node clean: the pods'
// grace period (60 s) is its upper end; it takes seconds.
const uninstallTimeout = 2 * time.Minute

// TestHelmUninstall installs ovnet with Helm on two kind-like nodes, runs
// a pod on each, then `helm uninstall`: once ovnet's pods are gone, no
// node holds anything of ovnet's (files, links, routes, the nftables
// table, the Open vSwitch database, br-phy), while the test pods still
// exist. It prints the time from uninstall to clean nodes. Installed
// again, the nodes turn Ready and new pods talk across them.
func TestHelmUninstall(t *testing.T) {
	c := installedCluster(t, 2, "e2e")
	pods := c.podPerNode(t, "stay")
	wait.For(t, uninstallTimeout, "stay-node-1 reaches stay-node-2", func() error {
		_, err := c.Kubectl("exec", pods[0].name, "--", "ping", "-c", "1", "-W", "1", pods[1].ip.String())
		return err
	})
	for _, n := range c.Nodes {
		if left := kubeNodeLeftovers(t, n); len(left) == 0 {
			t.Fatalf("node %s shows nothing of ovnet while installed: the check sees nothing", n.Name)
		}
	}

	if left := hostDirsLeft(t, c.Nodes[0]); !slices.Contains(left, "/var/lib/ovnet/ovn/ovnnb_db.db") {
		t.Fatalf("while installed node %s shows %v, want OVN central's database among them: the check sees nothing", c.Nodes[0].Name, left)
	}
	if left := c.apiLeftovers(t); len(left) < 2 {
		t.Fatalf("while installed the API shows %v, want the leader Lease and a Subnet finalizer: the check sees nothing", left)
	}

	logs := c.followDaemonLogs(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the daemons' exit:\n%s", logs.lines("stopping", "uninstall"))
		}
	})
	start := time.Now()
	out, err := exec.Command(harness.Helm(t), "uninstall", "ovnet", "--namespace", releaseNamespace,
		"--kubeconfig", c.API.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	wait.For(t, uninstallTimeout, "ovnet's pods gone", func() error {
		out, err := c.Kubectl("get", "pods", "--namespace", releaseNamespace, "--no-headers",
			"--selector", "app.kubernetes.io/name=ovnet", "--output", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	for _, n := range c.Nodes {
		wait.For(t, uninstallTimeout, "nothing of ovnet on "+n.Name, func() error {
			if left := kubeNodeLeftovers(t, n); len(left) > 0 {
				return fmt.Errorf("left: %s", strings.Join(left, "; "))
			}
			return nil
		})
	}
	t.Logf("FIGURE helm uninstall, 2 nodes: every node clean %s after uninstall", since(start))
	// helm uninstall returns once its post-delete Job succeeded: its node
	// pods have removed the host directories too.
	if left := c.apiLeftovers(t); len(left) > 0 {
		t.Errorf("after helm uninstall the API holds %s", strings.Join(left, "; "))
	}
	for _, n := range c.Nodes {
		if left := hostDirsLeft(t, n); len(left) > 0 {
			t.Errorf("after helm uninstall node %s keeps %s", n.Name, strings.Join(left, ", "))
		}
	}
	t.Logf("the daemons' decisions:\n%s", logs.lines("stopping"))
	if out, err := c.Kubectl("get", "pods", "--namespace", "default", "--no-headers", "--output", "name"); err != nil ||
		strings.Count(out, "pod/stay-") != 2 {
		t.Errorf("the test pods after uninstall: %v\n%s", err, out)
	}

	// Without ovnet's conflist the kubelets report their nodes NotReady,
	// as bare nodes; a fresh install makes them Ready again.
	wait.For(t, uninstallTimeout, "every node NotReady without a CNI", func() error { return c.noneReady(t) })
	c.installed = time.Now()
	c.helm(t, "install", "ovnet", chartDir(t), "--set", "image.tag=e2e")
	wait.For(t, installTimeout, "every node Ready after reinstall", func() error { return c.allReady(t) })
	t.Logf("FIGURE helm install again after uninstall, 2 nodes: every node Ready %s after install", since(c.installed))
	again := c.podPerNode(t, "again")
	wait.For(t, uninstallTimeout, "again-node-1 reaches again-node-2", func() error {
		_, err := c.Kubectl("exec", again[0].name, "--", "ping", "-c", "1", "-W", "1", again[1].ip.String())
		return err
	})
}

// apiLeftovers lists what of ovnet's the API server holds beyond the CRD
// and the Subnets: the controller's leader Lease, gateway heartbeat
// Leases, Subnets carrying ovnet's finalizer, and the uninstall hook's own
// objects.
func (c *helmCluster) apiLeftovers(t *testing.T) []string {
	t.Helper()
	queries := []struct {
		what string
		args []string
		// holds picks the lines that are ovnet's.
		holds string
	}{
		{"Lease", []string{"get", "leases", "--namespace", releaseNamespace, "--output", "name"}, "/ovnet-controller"},
		{"Lease", []string{"get", "leases", "--namespace", "kube-node-lease", "--output", "name"}, "/ovnet-gateway-"},
		{"Subnet finalizer", []string{"get", "subnets", "--output",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.finalizers}{"\n"}{end}`}, "ovnet.io/subnet"},
		{"hook", []string{"get", "jobs,serviceaccounts,roles,rolebindings", "--namespace", releaseNamespace, "--output", "name"},
			"/ovnet-uninstall"},
		{"hook", []string{"get", "clusterroles,clusterrolebindings", "--output", "name"}, "/ovnet-uninstall"},
	}
	var left []string
	for _, q := range queries {
		out, err := c.Kubectl(q.args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(q.args, " "), err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, q.holds) {
				left = append(left, q.what+" "+strings.TrimSpace(line))
			}
		}
	}
	return left
}

// noneReady returns nil once no node is Ready.
func (c *helmCluster) noneReady(t *testing.T) error {
	nodes, err := c.Clientset(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return fmt.Errorf("node %s still Ready", n.Name)
			}
		}
	}
	return nil
}

// daemonLogs collects the daemons' logs from kubectl logs --follow.
type daemonLogs struct {
	cmd  *exec.Cmd
	file string
}

// followDaemonLogs follows every ovnet-daemon container's log until the
// test ends.
func (c *helmCluster) followDaemonLogs(t *testing.T) *daemonLogs {
	t.Helper()
	l := &daemonLogs{file: filepath.Join(t.TempDir(), "daemons.log")}
	f, err := os.Create(l.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	l.cmd = exec.Command(os.Getenv("KUBEBUILDER_ASSETS")+"/kubectl", "--kubeconfig", c.API.Kubeconfig, "logs", "--follow", "--prefix",
		"--namespace", releaseNamespace, "--selector", "app.kubernetes.io/component=node", "--container", "ovnet-daemon",
		"--tail", "0")
	l.cmd.Stdout, l.cmd.Stderr = f, f
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("kubectl logs: %v", err)
	}
	t.Cleanup(func() { _ = l.cmd.Process.Kill(); _ = l.cmd.Wait() })
	return l
}

// lines are the log lines holding any of words.
func (l *daemonLogs) lines(words ...string) string {
	raw, err := os.ReadFile(l.file)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, line := range strings.Split(string(raw), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				lines = append(lines, line)
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}

// nodeCheck lists, inside a node, what of ovnet's is there, one line each:
// the files the daemon and Open vSwitch leave, the links of br-int, the
// pods' veths (host ends end in _h), and routes of ovnet's protocol.
const nodeCheck = `
for f in /etc/cni/net.d/01-ovnet.conflist /opt/cni/bin/ovnet /run/ovnet/daemon.sock \
  /run/openvswitch/db.sock /run/openvswitch/ovnet-uninstalled /run/openvswitch/ovnet-daemon-stopping \
  /var/lib/ovnet/openvswitch/conf.db; do
  [ -e "$f" ] && echo "file $f"
done
for l in br-int ovn0 mirror0 br-phy; do ip link show dev "$l" >/dev/null 2>&1 && echo "link $l"; done
ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2) } $2 ~ /_h$/ { print "pod veth " $2 }'
ip route show table all proto 0x5a | sed 's/^/route /'
true
`

// ovnetHostPaths are what the chart's pods keep on a node's host, with
// the default values: OVN central's databases (on the node that ran it)
// and the directories of the hostPath volumes.
var ovnetHostPaths = []string{"/var/lib/ovnet/ovn/ovnnb_db.db", "/var/lib/ovnet/ovn/ovnsb_db.db", "/var/lib/ovnet",
	"/run/ovnet", "/run/openvswitch", "/run/ovn"}

// hostDirsLeft lists those of ovnetHostPaths the node has.
func hostDirsLeft(t *testing.T, n *harness.KubeNode) []string {
	t.Helper()
	var left []string
	for _, p := range ovnetHostPaths {
		if _, err := n.Exec("test", "-e", p); err == nil {
			left = append(left, p)
		}
	}
	return left
}

// kubeNodeLeftovers runs nodeCheck in the node and adds ovnet's nftables
// table when the node's namespace has it, and the tunnel link's address
// when it is not back on the link (br-phy held it).
func kubeNodeLeftovers(t *testing.T, n *harness.KubeNode) []string {
	t.Helper()
	out, err := n.Exec("sh", "-c", nodeCheck)
	if err != nil {
		t.Fatalf("%v", err)
	}
	var left []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			left = append(left, l)
		}
	}
	for name, family := range natFamilies {
		if natTableIn(t, n.NetNS, family) {
			left = append(left, "nftables table "+name+" ovnet")
		}
	}
	if out, err := n.Exec("ip", "-4", "-o", "addr", "show", "dev", harness.TunnelLink); err != nil ||
		!strings.Contains(out, " "+n.TunnelAddr.String()+" ") {
		left = append(left, fmt.Sprintf("%s without its address %s: %v %s", harness.TunnelLink, n.TunnelAddr, err, out))
	}
	return left
}
