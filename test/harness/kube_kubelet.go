package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// containerdSocket is containerd's default socket, in the node's own /run.
	containerdSocket = "/run/containerd/containerd.sock"
	// registerTimeout bounds a kubelet's start up to its Node object.
	registerTimeout = 60 * time.Second
)

// containerdConfig is the node's containerd: the default root, state and
// socket (which the node's mounts make its own), runc with cgroupfs like
// the kubelet, and the pause image the harness imports.
const containerdConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  enable_selinux = false
  # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`

// kubeletConfig is the node's KubeletConfiguration; %s are the cgroup
// root and the CA file. Swap, cgroup v1 and small disks are allowed
// because test machines have them; local storage isolation is off since
// the node's /var/lib is a directory of the host's disk. Cluster DNS is
// the kube-dns Service of yamls/coredns.yaml, as kind sets it: pods get
// it in resolv.conf whether or not CoreDNS runs yet.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
containerRuntimeEndpoint: unix://` + containerdSocket + `
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
localStorageCapacityIsolation: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
podPidsLimit: -1
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
registerNode: true
clusterDNS: [` + ClusterDNSIP + `]
clusterDomain: ` + ClusterDomain + `
`

// startContainerd starts the node's containerd and waits for its socket.
func (n *KubeNode) startContainerd(tb T) {
	tb.Helper()
	conf := filepath.Join(n.Dir, "containerd.toml")
	if err := os.WriteFile(conf, []byte(containerdConfig), 0o644); err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	d := n.startProcess(tb, "containerd", "containerd", "--config", conf)
	d.waitFor(tb, 30*time.Second, "containerd on "+n.Name+" answers", func() error {
		_, err := n.Exec("ctr", "--address", containerdSocket, "version")
		return err
	})
}

// ImportImages imports image archives (docker-archive or OCI tars) into
// the node's containerd, where the kubelet finds them (namespace k8s.io).
func (n *KubeNode) ImportImages(tb T, archives ...string) {
	tb.Helper()
	for _, tar := range archives {
		if _, err := n.Exec("ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "import", tar); err != nil {
			tb.Fatalf("importing %s: %v", tar, err)
		}
	}
}

// startKubelet writes the kubelet's configuration and credentials and
// starts it with the node's address; it returns once the Node exists.
func (n *KubeNode) startKubelet(tb T, c *KubeCluster) {
	tb.Helper()
	user := "kubelet-" + n.Name
	if err := c.pki.issue(certRequest{name: user, commonName: "system:node:" + n.Name,
		organization: []string{"system:nodes"}}); err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	kubeconfig := filepath.Join(n.Dir, "kubelet.kubeconfig")
	if err := c.pki.kubeconfig(kubeconfig, c.innerServer(), user); err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	conf := filepath.Join(n.Dir, "kubelet.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(kubeletConfig, n.cgroup, c.pki.path("ca.crt"))), 0o644); err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	args := []string{c.kubeBinary(tb, "kubelet"), "--config=" + conf, "--kubeconfig=" + kubeconfig,
		"--hostname-override=" + n.Name, "--node-ip=" + n.Addr.Addr().String(), "--v=2"}
	d := n.startProcess(tb, "kubelet", args...)
	d.waitFor(tb, registerTimeout, "node "+n.Name+" registers", func() error {
		_, err := c.Clientset(tb).CoreV1().Nodes().Get(context.Background(), n.Name, metav1.GetOptions{})
		return err
	})
}

// nodeReady is the status of the Node's Ready condition and its message.
func nodeReady(node *corev1.Node) (corev1.ConditionStatus, string) {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status, cond.Message
		}
	}
	return corev1.ConditionUnknown, "no Ready condition"
}
