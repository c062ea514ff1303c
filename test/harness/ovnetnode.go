package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// nodeReadyTimeout bounds the daemon's start: node set-up, informer sync
// and the CNI install take well under a second.
const nodeReadyTimeout = 30 * time.Second

// NodeOptions says how to start a node.
type NodeOptions struct {
	// Name is the Kubernetes node and the chassis.
	Name string
	API  *APIServer
	SB   *OVSDB
	// EncapIP is the chassis's tunnel endpoint (default 127.0.0.1).
	EncapIP string
	// EncapType is the tunnel between nodes, ovs.EncapGeneve (when empty)
	// or ovs.EncapVXLAN. A Geneve node's pods get PodMTU, as the suites
	// always gave them; any other type's daemon derives the MTU itself,
	// as the chart's does, from the tunnel's overhead.
	EncapType string
	// NetNS is the node's network namespace; a fresh one when empty.
	NetNS string
	// DaemonArgs are extra ovnet-daemon flags.
	DaemonArgs []string
}

// Node is a Kubernetes node object, a chassis in its own network
// namespace (ovs-vswitchd on the userspace datapath, ovn-controller) and
// the ovnet-daemon built from this repository, running as a process in the
// host namespace that works in the node's through --netns, as the sandbox
// runs it. The daemon installs the plugin and conflist into CNIBinDir and
// CNIConfDir, where Runtime finds them.
type Node struct {
	Name    string
	Chassis *Chassis
	// Socket is the daemon's CNI socket.
	Socket     string
	CNIBinDir  string
	CNIConfDir string
	// MetricsAddr and ProbeAddr are the daemon's HTTP endpoints.
	MetricsAddr string
	ProbeAddr   string
	// LogFile collects every run of the daemon.
	LogFile string
	// api is the API server holding the Node object.
	api    *APIServer
	args   []string
	daemon *daemon
}

// StartNode registers the node in the API server, starts its chassis and
// its daemon, and waits until the daemon is ready and has installed the
// CNI plugin. tb.Cleanup stops the daemon, then the chassis.
func StartNode(tb T, opts NodeOptions) *Node {
	tb.Helper()
	createNodeObject(tb, opts.API, opts.Name)
	if opts.NetNS == "" {
		opts.NetNS = UniqueName("node")
	}
	if opts.EncapType == "" {
		opts.EncapType = ovs.EncapGeneve
	}
	ch := StartChassis(tb, ChassisOptions{Name: opts.Name, SB: opts.SB, NetNS: opts.NetNS,
		EncapIP: opts.EncapIP, EncapType: opts.EncapType})
	n := &Node{Name: opts.Name, Chassis: ch, api: opts.API}
	dir := socketDir(tb)
	n.Socket, n.CNIBinDir, n.CNIConfDir = filepath.Join(dir, "daemon.sock"), filepath.Join(dir, "bin"), filepath.Join(dir, "net.d")
	n.MetricsAddr, n.ProbeAddr, n.LogFile = FreeAddr(tb), FreeAddr(tb), filepath.Join(ch.LogDir, "ovnet-daemon.log")
	n.args = []string{Build(tb, "./cmd/daemon", "ovnet-daemon"),
		"--kubeconfig=" + opts.API.Kubeconfig, "--node-name=" + opts.Name,
		"--ovs-db=" + ch.OVS.Endpoint, "--netns=" + filepath.Join(netnsDir, opts.NetNS),
		"--datapath-type=netdev", "--encap-type=" + opts.EncapType, "--socket=" + n.Socket,
		"--cni-plugin=" + Build(tb, "./cmd/cni", "ovnet"), "--cni-bin-dir=" + n.CNIBinDir, "--cni-conf-dir=" + n.CNIConfDir,
		"--metrics-address=" + n.MetricsAddr, "--health-probe-address=" + n.ProbeAddr,
		"--address-timeout=20s", "--ovn-timeout=20s", "--ovn-rundir=" + ch.LogDir,
		// Both of the API server's ranges, as the chart passes them.
		"--service-cidr=" + DefaultServiceCIDR + "," + DefaultServiceCIDRv6}
	if opts.EncapType == ovs.EncapGeneve {
		n.args = append(n.args, "--mtu="+strconv.Itoa(PodMTU))
	}
	// Last, so that a test's flags win.
	n.args = append(n.args, opts.DaemonArgs...)
	n.StartDaemon(tb)
	n.waitNodePort(tb)
	tb.Cleanup(func() {
		n.StopDaemon(tb)
		if tb.Failed() {
			tb.Logf("ovnet-daemon of %s, errors:\n%s", n.Name, errorLines(n.LogFile, 10))
		}
	})
	return n
}

// PodMTU is the MTU the suites give pods: Geneve between nodes needs
// room under the 1500 of the namespaces' links.
const PodMTU = 1400

// StartDaemon starts the daemon (again) and waits until it is ready.
func (n *Node) StartDaemon(tb T) {
	tb.Helper()
	n.daemon = spawn(tb, daemonSpec{name: "ovnet-daemon", argv: n.args, logFile: n.LogFile, stderrFile: n.LogFile})
	n.daemon.waitFor(tb, nodeReadyTimeout, "ovnet-daemon of "+n.Name+" ready", func() error {
		if _, err := os.Stat(filepath.Join(n.CNIConfDir, "01-ovnet.conflist")); err != nil {
			return err
		}
		return probe("http://" + n.ProbeAddr + "/readyz")
	})
}

// waitNodePort waits until the daemon has given ovn0 the node's join
// address, which needs the controller to have addressed the node: from
// then on the node's own set-up is complete and stays as it is.
func (n *Node) waitNodePort(tb T) {
	tb.Helper()
	what := "join address on ovn0 of " + n.Name + " (is the controller running?)"
	n.daemon.waitFor(tb, nodeReadyTimeout, what, func() error {
		out, err := ipCommand(n.Chassis.NetNS, "-4", "-o", "addr", "show", "dev", "ovn0").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if !strings.Contains(string(out), " inet ") {
			return fmt.Errorf("no IPv4 address: %q", out)
		}
		return nil
	})
}

// StopDaemon stops the daemon with SIGTERM, as a DaemonSet update does;
// pods keep running. A second call does nothing.
func (n *Node) StopDaemon(tb T) {
	tb.Helper()
	if n.daemon == nil {
		return
	}
	n.daemon.stop(tb)
	n.daemon = nil
}

// KillDaemon kills the daemon with SIGKILL, as a crash or an OOM kill
// would: nothing of its own shutdown runs. StartDaemon starts it again.
func (n *Node) KillDaemon(tb T) {
	tb.Helper()
	if n.daemon == nil {
		tb.Fatalf("ovnet-daemon of %s is not running", n.Name)
	}
	n.daemon.kill()
	n.daemon = nil
}

// DaemonPID is the running daemon's process ID.
func (n *Node) DaemonPID() int { return n.daemon.pid() }

// probeClient bounds each readiness probe, so a server that accepts and
// never answers cannot hold a wait past its timeout.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// probe returns nil when url answers 200 OK.
func probe(url string) error {
	resp, err := probeClient.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// createNodeObject registers a node the way a kubelet would, minus the
// kubelet: the controller addresses it, the daemon reads the address.
func createNodeObject(tb T, api *APIServer, name string) {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		tb.Fatalf("create node %s: %v", name, err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("create node %s: %v", name, err)
	}
}
