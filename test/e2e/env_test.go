package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// waitTimeout bounds every wait for the system to converge; it only
// catches a system that never does.
const waitTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveBuilds()
	os.Exit(code)
}

// env is one test's cluster: API server, OVN central, the controller in
// process, and nodes added by the test.
type env struct {
	t    *testing.T
	ctx  context.Context
	api  *harness.APIServer
	ovn  *harness.OVNCentral
	c    client.Client
	ctrl *harness.Controller
	// probe is the test image's traffic tool, run inside pod namespaces.
	probe string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, harness.DefaultNetwork())
}

// dualStackJoin is the default network with a dual-stack join subnet:
// nodes then reach IPv6 pods through ovn0, and IPv6 leaves the cluster.
func dualStackJoin() controller.Config {
	network := harness.DefaultNetwork()
	network.JoinSubnet.CIDR = "100.64.0.0/16,fd00:100:64::/112"
	return network
}

// newEnvWith is newEnv with the controller configured by network.
func newEnvWith(t *testing.T, network controller.Config) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background()}
	e.api = harness.StartAPIServer(t, harness.APIServerOptions{})
	e.ovn = harness.StartOVNCentral(t)
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.ctrl = harness.StartController(t, e.api, e.ovn.NB, network)
	e.probe = harness.Build(t, "./test/image/probe", "probe")
	return e
}

// node starts a node with a daemon; extra flags go to the daemon.
func (e *env) node(name string, daemonArgs ...string) *harness.Node {
	e.t.Helper()
	return harness.StartNode(e.t, harness.NodeOptions{Name: name, API: e.api, SB: e.ovn.SB, DaemonArgs: daemonArgs})
}

// podObject is a pod that exists only in the test, not in the API server.
func (e *env) podObject(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "local.test/tools:1"}}},
	}
}

// pod creates a pod bound to node, as the scheduler would leave it.
func (e *env) pod(namespace, name, node string, annotations map[string]string) *corev1.Pod {
	e.t.Helper()
	pod := e.podObject(namespace, name)
	pod.Annotations, pod.Spec.NodeName = annotations, node
	if err := e.c.Create(e.ctx, pod); err != nil {
		e.t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	return pod
}

// namespace creates a namespace with annotations.
func (e *env) namespace(name string, annotations map[string]string) {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := e.c.Create(e.ctx, ns); err != nil {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
}

// eventually retries check until it returns nil or waitTimeout passes.
func (e *env) eventually(what string, check func() error) {
	e.t.Helper()
	until(e.t, what, check)
}

// until retries check until it returns nil or waitTimeout passes, failing
// t: a subtest passes its own t, so a failure ends the subtest only.
func until(t *testing.T, what string, check func() error) {
	t.Helper()
	wait.For(t, waitTimeout, what, check)
}

// geneveNodes starts one node per name, node i with encap address
// 172.18.0.<i+1> on a shared underlay, so pods on different nodes talk
// through Geneve.
func (e *env) geneveNodes(names ...string) []*harness.Node {
	e.t.Helper()
	return e.underlayNodes(names...).nodes
}

// farPort is the port of the far network's probe server, TCP and UDP.
const farPort = 8080

// outside is a cluster's nodes on an underlay, with the world outside the
// cluster: the external host on the underlay and the far network behind
// it, whose probe server answers on farPort at harness.FarIP and
// harness.FarAltIP with the client address it saw.
type outside struct {
	nodes []*harness.Node
	ul    *harness.Underlay
	ext   *harness.ExternalHost
	far   *harness.FarNetwork
}

// outsideNodes starts one node per name as underlayNodes does, and the far
// probe server.
func (e *env) outsideNodes(names ...string) *outside {
	e.t.Helper()
	o := e.underlayNodes(names...)
	o.far.Serve(e.t, farPort)
	return o
}

// underlayNodes starts one node per name, node i at harness.UnderlayAddr(i+1)
// (its encap address and InternalIP) on a fresh underlay with an external
// host and the far network, joined by Geneve.
func (e *env) underlayNodes(names ...string) *outside {
	e.t.Helper()
	return e.tunnelNodes(ovs.EncapGeneve, names...)
}

// tunnelNodes is underlayNodes with the tunnel type encap between nodes.
func (e *env) tunnelNodes(encap string, names ...string) *outside {
	e.t.Helper()
	return e.nodesOn(harness.NewUnderlay(e.t), encap, nil, names...)
}

// nodesOn is tunnelNodes on an underlay the test made, with extra flags
// for every daemon.
func (e *env) nodesOn(ul *harness.Underlay, encap string, daemonArgs []string, names ...string) *outside {
	e.t.Helper()
	return e.nodesEach(ul, encap, func(int) []string { return daemonArgs }, names...)
}

// nodesEach is nodesOn with daemon flags of each node's own: argsOf(i)
// for node i (from 0).
func (e *env) nodesEach(ul *harness.Underlay, encap string, argsOf func(i int) []string, names ...string) *outside {
	e.t.Helper()
	o := &outside{nodes: make([]*harness.Node, len(names)), ul: ul, ext: ul.External, far: ul.Far}
	for i, name := range names {
		addr := harness.UnderlayAddr(i + 1)
		o.nodes[i] = harness.StartNode(e.t, harness.NodeOptions{Name: name, API: e.api, SB: e.ovn.SB,
			EncapIP: addr.Addr().String(), EncapType: encap, DaemonArgs: argsOf(i)})
		ul.Attach(e.t, o.nodes[i], addr)
	}
	return o
}

// nodeAddr is the underlay address of node i of outsideNodes (from 0).
func nodeAddr(i int) netip.Addr { return harness.UnderlayAddr(i + 1).Addr() }

// nodeAddrIPv6 is the IPv6 underlay address of node i of outsideNodes
// (from 0), once addIPv6 gave it one.
func nodeAddrIPv6(i int) netip.Addr { return harness.UnderlayAddrIPv6(i + 1).Addr() }

// addIPv6 puts the outside world on IPv6 as well: the external and far
// hosts get their IPv6 addresses, and node i the underlay address
// nodeAddrIPv6(i) with an IPv6 default route via the external host.
func (o *outside) addIPv6(t *testing.T) {
	t.Helper()
	o.ul.AddIPv6Outside(t)
	for i, n := range o.nodes {
		o.ul.AttachIPv6(t, n.Chassis, harness.UnderlayAddrIPv6(i+1))
	}
}

// farTarget is the far probe server at ip, as "probe connect" takes it.
func farTarget(ip netip.Addr) string { return netip.AddrPortFrom(ip, farPort).String() }

// clientSeen is the client address in a probe server's answer
// ("... client=IP:PORT").
func clientSeen(answer string) (netip.Addr, error) { return harness.ClientSeen(answer) }

// serve runs the probe server in the sandbox until the test ends.
func (e *env) serve(s *harness.Sandbox, args ...string) {
	e.t.Helper()
	argv := append([]string{"ip", "netns", "exec", s.NetNS, e.probe, "serve"}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("probe serve in %s: %v", s.Pod.Name, err)
	}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// connect runs one probe connection from the sandbox.
func (e *env) connect(from *harness.Sandbox, proto, target string) (string, error) {
	return from.Exec(e.probe, "connect", proto, target, "--timeout", "2s")
}

// ping sends count pings from the sandbox and fails the test on loss.
func ping(t *testing.T, from *harness.Sandbox, to string) {
	t.Helper()
	out, err := from.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", to)
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", to, from.Pod.Name, err, out)
	}
	if !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping %s from %s lost packets:\n%s", to, from.Pod.Name, out)
	}
}

// nodeExec runs a command in a node's network namespace.
func nodeExec(n *harness.Node, args ...string) (string, error) {
	argv := append([]string{"ip", "netns", "exec", n.Chassis.NetNS}, args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}

// runTool runs a command on the host and returns its combined output.
func runTool(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
