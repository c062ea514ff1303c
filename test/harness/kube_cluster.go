package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// apiServerPort is kube-apiserver's port on the control-plane node.
	apiServerPort = 6443
	// controlPlaneLabel marks node-1 as kubeadm and kind do, so what
	// selects control-plane nodes (OVN central) lands there.
	controlPlaneLabel = "node-role.kubernetes.io/control-plane"
	// apiReadyTimeout bounds the control plane's start.
	apiReadyTimeout = 60 * time.Second
)

// KubeClusterOptions says what cluster to start.
type KubeClusterOptions struct {
	// Nodes is the number of nodes, 1 when zero; node-1 also runs the
	// control plane.
	Nodes int
	// Underlay connects the nodes; a new one when nil.
	Underlay *Underlay
	// TunnelLinks gives every node a second link into the underlay,
	// TunnelLink with TunnelAddr(i), for a network plugin's tunnels: on the
	// userspace datapath they must leave by an OVS bridge, which the
	// kubelet's link must not depend on.
	TunnelLinks bool
	// Images are image archives imported into every node's containerd
	// besides the test images (pause and local.test/tools:1, TestImages).
	Images []string
}

// KubeCluster is a Kubernetes cluster made like kind's: every node a
// network and mount namespace of its own on the underlay, running its own
// containerd and kubelet; etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler run on node-1. Nodes start bare: no CNI
// configuration, so NotReady until a network plugin installs one.
type KubeCluster struct {
	// API reaches the API server from the host, through a forwarder on
	// 127.0.0.1, as system:masters.
	API *APIServer
	// Nodes are node-1 (the control plane) to node-N.
	Nodes []*KubeNode
	// Underlay connects the nodes.
	Underlay *Underlay
	// Dir holds the PKI, the node directories and the control plane's data.
	Dir string

	opts      KubeClusterOptions
	pki       *kubePKI
	cgroup    cgroupTree
	clientset *kubernetes.Clientset
	assets    string
}

// StartKubeCluster starts the cluster and returns when every node is
// registered; tb.Cleanup removes everything it made.
func StartKubeCluster(tb T, opts KubeClusterOptions) *KubeCluster {
	tb.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	c := &KubeCluster{opts: opts, Underlay: opts.Underlay, Dir: tb.TempDir(), cgroup: cgroupTree("/" + UniqueName("ovkc"))}
	assets, err := KubeAssetsDir()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	c.assets = assets
	images := append(TestImages(tb), opts.Images...)
	if c.Underlay == nil {
		c.Underlay = NewUnderlay(tb)
	}
	pkiDir := filepath.Join(c.Dir, "pki")
	if err := os.Mkdir(pkiDir, 0o755); err != nil {
		tb.Fatalf("%v", err)
	}
	if c.pki, err = newKubePKI(pkiDir); err != nil {
		tb.Fatalf("cluster PKI: %v", err)
	}
	makeCgroup(tb, c.cgroup)
	for i := 1; i <= opts.Nodes; i++ {
		c.Nodes = append(c.Nodes, startKubeNode(tb, c, i))
	}
	c.startControlPlane(tb, c.Nodes[0])
	c.eachNode(tb, func(tb T, n *KubeNode) {
		n.startContainerd(tb)
		n.ImportImages(tb, images...)
		n.startKubelet(tb, c)
	})
	c.labelControlPlane(tb)
	c.waitServiceAccounts(tb)
	return c
}

// waitServiceAccounts waits for kube-controller-manager to create the
// "default" ServiceAccounts, without which pods are refused (kind waits
// for the same before it calls a cluster ready).
func (c *KubeCluster) waitServiceAccounts(tb T) {
	tb.Helper()
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem} {
		err := wait.Until(context.Background(), apiReadyTimeout, "ServiceAccount "+ns+"/default", func() error {
			_, err := c.Clientset(tb).CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
			return err
		})
		if err != nil {
			tb.Fatalf("%v (see %s)", err, c.Nodes[0].logPath("kube-controller-manager"))
		}
	}
}

// eachNode runs step for every node at once (image imports dominate a
// start) and fails tb with the first failure.
func (c *KubeCluster) eachNode(tb T, step func(T, *KubeNode)) {
	tb.Helper()
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &stepT{T: tb}
			errs[i] = r.run(func() { step(r, n) })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatalf("%v", err)
		}
	}
}

// innerServer is the API server's URL as nodes reach it over the underlay.
func (c *KubeCluster) innerServer() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(c.Nodes[0].Addr.Addr().String(), fmt.Sprint(apiServerPort)))
}

// APIServerHost and APIServerPort are where pods on the host network reach
// the API server without a Service (no kube-proxy runs here): the values
// a chart's apiServer.host and apiServer.port take.
func (c *KubeCluster) APIServerHost() string { return c.Nodes[0].Addr.Addr().String() }

// APIServerPort is kube-apiserver's port on node-1.
func (c *KubeCluster) APIServerPort() int { return apiServerPort }

// kubeBinary is the path of a Kubernetes program, failing when it is missing.
func (c *KubeCluster) kubeBinary(tb T, name string) string {
	tb.Helper()
	path := filepath.Join(c.assets, name)
	if !isExecutable(path) {
		tb.Fatalf("%s missing in %s: run `make tools`", name, c.assets)
	}
	return path
}

// Clientset is a client of the API server as system:masters.
func (c *KubeCluster) Clientset(tb T) *kubernetes.Clientset {
	tb.Helper()
	if c.clientset == nil {
		tb.Fatalf("client: the API server has not started")
	}
	return c.clientset
}

// Kubectl runs kubectl against the cluster and returns its combined output.
func (c *KubeCluster) Kubectl(args ...string) (string, error) {
	return c.KubectlIn("", args...)
}

// KubectlIn is Kubectl with stdin, e.g. a manifest for "create -f -".
func (c *KubeCluster) KubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.assets, "kubectl"), append([]string{"--kubeconfig", c.API.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// labelControlPlane labels node-1 as a control-plane node, as kubeadm does
// after the kubelet registered (a kubelet may not set this label itself).
func (c *KubeCluster) labelControlPlane(tb T) {
	tb.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:""}}}`, controlPlaneLabel)
	if _, err := c.Clientset(tb).CoreV1().Nodes().Patch(context.Background(), c.Nodes[0].Name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		tb.Fatalf("labelling %s: %v", c.Nodes[0].Name, err)
	}
}

// writeAdminKubeconfig writes the host's kubeconfig and client config.
func (c *KubeCluster) writeAdminKubeconfig(tb T, server string) {
	tb.Helper()
	path := filepath.Join(c.Dir, "kubeconfig")
	if err := c.pki.kubeconfig(path, server, "admin"); err != nil {
		tb.Fatalf("%v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	cfg.QPS, cfg.Burst = defaultQPS, defaultBurst
	if c.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		tb.Fatalf("client: %v", err)
	}
	c.API = &APIServer{Config: cfg, Kubeconfig: path, LogDir: filepath.Join(c.Nodes[0].Dir, "logs")}
}

// nodeIs returns nil when the Node's Ready condition has status want.
func (c *KubeCluster) nodeIs(name string, want corev1.ConditionStatus) error {
	node, err := c.clientset.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if status, msg := nodeReady(node); status != want {
		return fmt.Errorf("node %s Ready=%s (%s)", name, status, msg)
	}
	return nil
}
