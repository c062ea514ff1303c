package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// helmNodesEnv adds a subtest with that many nodes (e.g. 3).
	helmNodesEnv = "OVNET_HELM_NODES"
	// releaseNamespace is where the release and ovnet's pods live.
	releaseNamespace = "kube-system"
	// installTimeout bounds helm install to every node Ready.
	installTimeout = 3 * time.Minute
	// podsTimeout bounds the test pods' start once the nodes are Ready.
	podsTimeout = 2 * time.Minute
	// firstContact bounds a pod's first answered ping to another.
	firstContact = 20 * time.Second
)

// defaultPodCIDR is the chart's network.defaultSubnet.cidr.
var defaultPodCIDR = netip.MustParsePrefix("10.16.0.0/16")

// TestHelmInstall installs ovnet the way users do, `helm install ovnet
// charts/ovnet`, on bare kind-like nodes (NotReady, no CNI): every node
// turns Ready, a pod on every node runs with an address of the default
// subnet, and the pods ping each other across nodes. It prints the times
// from install to Ready and to Running (issue 11 §6).
func TestHelmInstall(t *testing.T) {
	counts := []int{1, 2}
	if n, err := strconv.Atoi(os.Getenv(helmNodesEnv)); err == nil && n > 2 {
		counts = append(counts, n)
	}
	for _, nodes := range counts {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			c := installedCluster(t, nodes, "e2e")
			pods := c.podPerNode(t, "ping")
			for _, from := range pods {
				for _, to := range pods {
					if from != to {
						c.ping(t, from, to)
					}
				}
			}
		})
	}
}

// helmCluster is a KubeCluster with ovnet installed by Helm.
type helmCluster struct {
	*harness.KubeCluster
	// installed is when helm install started.
	installed time.Time
	// nbRemote is where the test reads NB once the release runs it as a
	// Raft cluster (every member); empty: node-1, where it runs standalone.
	nbRemote string
	// tls, when set, are the files of the CA and a certificate it issued
	// that the release's Secret holds: OVN's databases take ssl: alone.
	tls *ovntls.Files
}

// installedCluster starts bare nodes with the image tag (and the images
// tagged more, for upgrades) imported and installs the chart with tag; it
// returns once every node is Ready.
func installedCluster(t *testing.T, nodes int, tag string, more ...string) *helmCluster {
	t.Helper()
	c := bareCluster(t, nodes, tag, more...)
	c.install(t, tag)
	return c
}

// bareCluster starts bare nodes with the images tagged tag and more
// imported, ready for install.
func bareCluster(t *testing.T, nodes int, tag string, more ...string) *helmCluster {
	t.Helper()
	var images []string
	for _, tg := range append([]string{tag}, more...) {
		images = append(images, harness.OvnetImage(t, tg))
	}
	harness.Helm(t) // built before the clock starts
	start := time.Now()
	kc := harness.StartKubeCluster(t, harness.KubeClusterOptions{Nodes: nodes, TunnelLinks: true, Images: images})
	t.Logf("%d bare nodes up in %s", nodes, since(start))
	return &helmCluster{KubeCluster: kc}
}

// install installs the chart with tag and waits until every node is Ready.
func (c *helmCluster) install(t *testing.T, tag string) {
	t.Helper()
	c.installed = time.Now()
	c.helm(t, "install", "ovnet", chartDir(t), "--set", "image.tag="+tag)
	wait.For(t, installTimeout, "every node Ready", func() error { return c.allReady(t) })
	t.Logf("FIGURE helm install, %d nodes: every node Ready %s after install", len(c.Nodes), since(c.installed))
}

// useTLS makes a CA, issues the certificate every part of OVN and ovnet
// will present (OVS checks no name, so one serves every node), puts
// them into the Secret the chart's ovn.tls.secretName names, and makes
// every later install or upgrade turn ovn.tls on.
func (c *helmCluster) useTLS(t *testing.T) {
	t.Helper()
	files := harness.NewOVNPKI(t).Issue(t, "ovn")
	if out, err := c.Kubectl("-n", releaseNamespace, "create", "secret", "generic", ovnTLSSecret,
		"--from-file=ca.crt="+files.CACert, "--from-file=tls.crt="+files.Certificate,
		"--from-file=tls.key="+files.PrivateKey); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c.tls = &files
}

// ovnTLSSecret is the Secret useTLS makes.
const ovnTLSSecret = "ovn-tls"

// ovnScheme is how the release's OVN databases are reached: ssl: with
// TLS, else tcp:.
func (c *helmCluster) ovnScheme() string {
	if c.tls != nil {
		return "ssl:"
	}
	return "tcp:"
}

// ovnTLSArgs are the TLS flags of OVS's and OVN's tools (ovn-nbctl,
// ovsdb-client) for the files useTLS made; none without TLS.
func (c *helmCluster) ovnTLSArgs() []string {
	if c.tls == nil {
		return nil
	}
	return []string{"--private-key=" + c.tls.PrivateKey, "--certificate=" + c.tls.Certificate, "--ca-cert=" + c.tls.CACert}
}

// helm runs helm against the cluster with the values bare kind-like nodes
// need: the userspace datapath with tunnels on the nodes' tunnel links
// (the kubelet's stay off Open vSwitch), the API server and OVN central reached at
// node-1's address (no kube-proxy), the imported image.
func (c *helmCluster) helm(t *testing.T, verb, release, chart string, extra ...string) {
	t.Helper()
	if out, err := c.tryHelm(t, verb, release, chart, extra...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// tryHelm is helm returning helm's output and error.
func (c *helmCluster) tryHelm(t *testing.T, verb, release, chart string, extra ...string) (string, error) {
	t.Helper()
	host := c.APIServerHost()
	args := []string{verb, release, chart, "--namespace", releaseNamespace,
		"--kubeconfig", c.API.Kubeconfig,
		"--set", "image.pullPolicy=Never",
		"--set", "node.datapathType=netdev",
		"--set", "node.tunnelInterface=" + harness.TunnelLink,
		"--set", "apiServer.host=" + host,
		"--set", "apiServer.port=" + strconv.Itoa(c.APIServerPort()),
		"--set", "ovn.nbAddress=" + c.ovnScheme() + host + ":6641",
		"--set", "ovn.sbAddress=" + c.ovnScheme() + host + ":6642",
	}
	if c.tls != nil {
		args = append(args, "--set", "ovn.tls.enabled=true", "--set", "ovn.tls.secretName="+ovnTLSSecret)
	}
	args = append(args, extra...)
	out, err := exec.Command(harness.Helm(t), args...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("helm %s: %w", strings.Join(args, " "), err)
	}
	return string(out), err
}

// allReady returns nil once every node is Ready.
func (c *helmCluster) allReady(t *testing.T) error {
	nodes, err := c.Clientset(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
				return fmt.Errorf("node %s not Ready: %s", n.Name, cond.Message)
			}
		}
	}
	return nil
}

// testPod is a pod the test created on a node and its ovnet address.
type testPod struct {
	name, node string
	ip         netip.Addr
}

// podPerNode creates a pod on every node, waits until all run, checks
// their addresses are of the default subnet and as annotated, and prints
// the time from install to Running.
func (c *helmCluster) podPerNode(t *testing.T, prefix string) []testPod {
	t.Helper()
	var manifest strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata:
  name: %s-%s
  namespace: default
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 0
  containers:
  - name: tools
    image: local.test/tools:1
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`, prefix, n.Name, n.Name)
	}
	if out, err := c.KubectlIn(manifest.String(), "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var pods []testPod
	for _, n := range c.Nodes {
		pods = append(pods, testPod{name: prefix + "-" + n.Name, node: n.Name})
	}
	for i := range pods {
		if out, err := c.Kubectl("wait", "--for=condition=Ready", "--timeout="+podsTimeout.String(), "pod/"+pods[i].name); err != nil {
			describe, _ := c.Kubectl("describe", "pod", pods[i].name)
			t.Fatalf("%v\n%s\n%s", err, out, describe)
		}
		pods[i].ip = c.podAddress(t, pods[i].name)
	}
	t.Logf("FIGURE helm install, %d nodes: a pod on every node Running %s after install", len(c.Nodes), since(c.installed))
	return pods
}

// podAddress checks the pod's IP is its ovnet record's, in the default
// subnet, and returns it.
func (c *helmCluster) podAddress(t *testing.T, name string) netip.Addr {
	t.Helper()
	pod, err := c.Clientset(t).CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%v", err)
	}
	ip, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil || !defaultPodCIDR.Contains(ip) {
		t.Fatalf("pod %s IP %q, want one of %s", name, pod.Status.PodIP, defaultPodCIDR)
	}
	if rec := pod.Annotations[annotation.IPAddress]; rec != ip.String() {
		t.Errorf("pod %s IP %s, its ovnet record says %q", name, ip, rec)
	}
	return ip
}

// ping asserts from reaches to's address: a first answer within
// firstContact (the userspace datapath drops the packet that makes it
// resolve the tunnel peer's MAC address), then three of three answered.
func (c *helmCluster) ping(t *testing.T, from, to testPod) {
	t.Helper()
	err := wait.Until(context.Background(), firstContact, from.name+" reaches "+to.name, func() error {
		out, err := c.Kubectl("exec", from.name, "--", "ping", "-c", "1", "-W", "1", to.ip.String())
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s (%s) ping %s (%s on %s): %v", from.name, from.node, to.ip, to.name, to.node, err)
		return
	}
	out, err := c.Kubectl("exec", from.name, "--", "ping", "-c", "3", "-W", "2", to.ip.String())
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Errorf("%s (%s) ping %s (%s on %s): %v\n%s", from.name, from.node, to.ip, to.name, to.node, err, out)
	}
}

// chartDir is charts/ovnet of this tree.
func chartDir(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return root + "/charts/ovnet"
}

// since is the time since start, rounded for printing.
func since(start time.Time) time.Duration {
	return time.Since(start).Round(100 * time.Millisecond)
}
