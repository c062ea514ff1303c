package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/test/harness/wait"
)

// loopbackConflist is the least CNI configuration containerd accepts: it
// makes a node's network ready without any network plugin.
const loopbackConflist = `{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}`

// TestKubeCluster starts two kind-like nodes: kubectl sees them NotReady,
// with their underlay addresses, until a CNI configuration appears in a
// node's own /etc/cni/net.d; then that node turns Ready. Closing the
// cluster leaves no process, namespace, cgroup or directory behind, and the
// host's mounts never change.
func TestKubeCluster(t *testing.T) {
	r := NewRunner(testr.New(t))
	// Inside Run, failures go through r (r.Fatalf, wait.For(r, ...)): a
	// t.Fatalf would leave Run by runtime.Goexit, past the Close below;
	// this cleanup then still removes the cluster.
	t.Cleanup(func() { _ = r.Close() })
	var left leftovers
	hostMounts := mountPoints(t)
	err := r.Run(func() {
		start := time.Now()
		c := StartKubeCluster(r, KubeClusterOptions{Nodes: 2})
		t.Logf("2 nodes registered in %s", time.Since(start).Round(100*time.Millisecond))
		// The nodes' /run, /etc, /var/lib... are theirs alone.
		if now := mountPoints(t); !slices.Equal(now, hostMounts) {
			r.Errorf("the host's mounts changed with the cluster up:\nbefore %v\nnow    %v", hostMounts, now)
		}
		left = recordLeftovers(c)

		for _, n := range c.Nodes {
			node, err := c.Clientset(r).CoreV1().Nodes().Get(context.Background(), n.Name, metav1.GetOptions{})
			if err != nil {
				r.Fatalf("node %s: %v", n.Name, err)
			}
			if status, msg := nodeReady(node); status == corev1.ConditionTrue {
				r.Errorf("node %s Ready without a CNI configuration (%s)", n.Name, msg)
			}
			if got := internalIP(node); got != n.Addr.Addr().String() {
				r.Errorf("node %s InternalIP %q, want %s", n.Name, got, n.Addr.Addr())
			}
		}
		out, err := c.Kubectl("get", "nodes", "--no-headers")
		if err != nil {
			r.Fatalf("%v", err)
		}
		t.Logf("kubectl get nodes:\n%s", out)

		// The conflist in node-2's own directory readies node-2 only.
		if err := os.WriteFile(filepath.Join(c.Nodes[1].CNIConfDir(), "10-lo.conflist"), []byte(loopbackConflist), 0o644); err != nil {
			r.Fatalf("%v", err)
		}
		wait.For(r, 60*time.Second, "node-2 Ready", func() error { return c.nodeIs(c.Nodes[1].Name, corev1.ConditionTrue) })
		if err := c.nodeIs(c.Nodes[0].Name, corev1.ConditionTrue); err == nil {
			r.Errorf("node-1 Ready with a CNI configuration written for node-2 only")
		}
		t.Logf("node-2 Ready %s after start", time.Since(start).Round(100*time.Millisecond))

		// A host-network pod runs in node-2's network namespace, and the
		// API server reaches its kubelet for exec.
		if out, err := c.KubectlIn(hostPod, "create", "-f", "-"); err != nil {
			r.Fatalf("%v\n%s", err, out)
		}
		if out, err := c.Kubectl("wait", "--for=condition=Ready", "--timeout=60s", "pod/host"); err != nil {
			r.Fatalf("%v\n%s", err, out)
		}
		out, err = c.Kubectl("exec", "host", "--", "ip", "-4", "-o", "addr", "show", "eth1")
		if err != nil || !strings.Contains(out, " "+c.Nodes[1].Addr.String()+" ") {
			r.Errorf("host-network pod on node-2: eth1 %q (%v), want %s", out, err, c.Nodes[1].Addr)
		}
		t.Logf("host-network pod Running %s after start", time.Since(start).Round(100*time.Millisecond))
	})
	if err != nil {
		_ = r.Close()
		t.Fatalf("%v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	left.check(t)
	if now := mountPoints(t); !slices.Equal(now, hostMounts) {
		t.Errorf("the host's mounts changed after Close:\nbefore %v\nnow    %v", hostMounts, now)
	}
}

// hostPod runs on node-2's host network from the imported tools image.
const hostPod = `apiVersion: v1
kind: Pod
metadata:
  name: host
  namespace: default
spec:
  nodeName: node-2
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers:
  - name: sleep
    image: local.test/tools:1
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`

// leftovers is what a cluster made that Close must remove.
type leftovers struct {
	pids    []int
	netns   []string
	cgroup  cgroupTree
	dir     string
	started bool
}

func recordLeftovers(c *KubeCluster) leftovers {
	l := leftovers{cgroup: c.cgroup, dir: c.Dir, started: true}
	for _, n := range c.Nodes {
		l.pids = append(l.pids, n.PIDs()...)
		l.netns = append(l.netns, n.NetNS)
	}
	l.netns = append(l.netns, c.Underlay.NetNS)
	return l
}

func (l leftovers) check(t *testing.T) {
	t.Helper()
	if !l.started {
		t.Fatalf("the cluster never started")
	}
	for _, pid := range l.pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still there after Close", pid)
		}
	}
	for _, ns := range l.netns {
		if netnsExists(ns) {
			t.Errorf("network namespace %s still there after Close", ns)
		}
	}
	if pids, err := l.cgroup.pids(); err == nil && len(pids) > 0 {
		t.Errorf("processes %v still in cgroup %s", pids, l.cgroup)
	}
	if _, err := os.Stat(filepath.Join(cgroupFS, "pids", string(l.cgroup))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s still there after Close (%v)", l.cgroup, err)
	}
	if _, err := os.Stat(l.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there after Close (%v)", l.dir, err)
	}
}

// mountPoints lists the mount points of the test's mount namespace, the
// host's, but for named network namespaces (other tests add and remove
// them at any time).
func mountPoints(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("%v", err)
	}
	var points []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && !strings.HasPrefix(fields[4], netnsDir+"/") {
			points = append(points, fields[4])
		}
	}
	return points
}

func internalIP(node *corev1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
