package harness

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// loopbackPlugin is Debian's CNI loopback plugin: containerd 1.6 runs
	// it for every pod's lo, from the node's /opt/cni/bin, besides the
	// network the conflist names.
	loopbackPlugin = "/usr/lib/cni/loopback"
	// TunnelLink is a KubeNode's second link into the underlay, for
	// tunnels only (KubeClusterOptions.TunnelLinks).
	TunnelLink = "eth2"
)

// TunnelPrefix is the subnet of the nodes' tunnel links, on the underlay's
// bridge beside UnderlayPrefix.
var TunnelPrefix = netip.MustParsePrefix("172.19.0.0/24")

// TunnelAddr is the i-th node's (from 1) tunnel link address, 172.19.0.i/24.
func TunnelAddr(i int) netip.Prefix {
	a := TunnelPrefix.Addr().As4()
	a[3] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom4(a), TunnelPrefix.Bits())
}

// KubeNode is one node of a KubeCluster, as kind makes them: a network
// namespace on the underlay and a mount namespace of its own, with its own
// /run, /etc (an overlay of the host's), /opt, /var/lib and /var/log, in
// which its containerd and kubelet run. What a DaemonSet's hostPath
// mounts (/run/openvswitch, /etc/cni/net.d, /var/lib/...) is the node's.
type KubeNode struct {
	// Name is the Node's name and the kubelet's hostname.
	Name string
	// NetNS is the node's network namespace (ip netns).
	NetNS string
	// Addr is the node's underlay address, its InternalIP.
	Addr netip.Prefix
	// TunnelAddr is the address of the node's tunnel link TunnelLink,
	// when the cluster has them (KubeClusterOptions.TunnelLinks).
	TunnelAddr netip.Prefix
	// Dir holds the node's directories: cni/net.d and cni/bin (the node's
	// /etc/cni/net.d and /opt/cni/bin), var-lib, var-log, logs.
	Dir string
	// cgroup holds every process of the node; the kubelet's cgroupRoot.
	cgroup cgroupTree
	// holder keeps the mount namespace alive; its PID is what nsenter enters.
	holder *daemon
	// daemons are the processes started in the node, holder first.
	daemons []*daemon
}

// mountScript makes the node's mount namespace (entered with its network
// namespace) look like a node of its own. sysfs is mounted anew so that
// /sys/class/net shows the node's interfaces, with the host's cgroup
// hierarchies carried over it. /etc and /opt are overlays, so mount points
// for the CNI directories exist in the node only. / ends rshared so the
// kubelet's Bidirectional mounts work; the host, which / was made private
// from, sees none of it.
const mountScript = `set -eu
D=$1
# Never on the host: nsenter into a holder that has not unshared yet would
# land here in the host's namespaces.
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ] ||
   [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
  echo "refusing to set up node mounts in the host's namespaces" >&2
  exit 1
fi
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/cgroup-host
mount --rbind /sys/fs/cgroup /run/cgroup-host
umount -l /sys
mount -t sysfs sysfs /sys
mount --rbind /run/cgroup-host /sys/fs/cgroup
umount -l /run/cgroup-host
rmdir /run/cgroup-host
for d in etc opt; do
  mkdir -p "$D/overlay/$d/upper" "$D/overlay/$d/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$D/overlay/$d/upper,workdir=$D/overlay/$d/work" "/$d"
done
mkdir -p /etc/cni/net.d /opt/cni/bin "$D/cni/net.d" "$D/cni/bin" "$D/var-lib" "$D/var-log"
mount --bind "$D/cni/net.d" /etc/cni/net.d
mount --bind "$D/cni/bin" /opt/cni/bin
mount --bind "$D/var-lib" /var/lib
mount --bind "$D/var-log" /var/log
mount --make-rshared /
`

// startKubeNode makes the node's namespaces, directories and cgroup and
// plugs it into the underlay; containerd and the kubelet come later.
func startKubeNode(tb T, c *KubeCluster, index int) *KubeNode {
	tb.Helper()
	n := &KubeNode{
		Name:   fmt.Sprintf("node-%d", index),
		NetNS:  UniqueName("kn"),
		Addr:   UnderlayAddr(index),
		Dir:    filepath.Join(c.Dir, fmt.Sprintf("node-%d", index)),
		cgroup: cgroupTree(fmt.Sprintf("%s/node-%d", c.cgroup, index)),
	}
	if err := os.MkdirAll(filepath.Join(n.Dir, "logs"), 0o755); err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	addNetNS(tb, n.NetNS)
	c.Underlay.AttachNetNS(tb, n.NetNS, n.Addr)
	if c.opts.TunnelLinks {
		n.TunnelAddr = TunnelAddr(index)
		// Deleted before the uplink: the node's cleanups run in reverse.
		c.Underlay.AttachLink(tb, n.NetNS, TunnelLink, n.TunnelAddr)
	}
	makeCgroup(tb, n.cgroup)
	makeCgroup(tb, n.cgroup+"/system")
	// unshare makes / private in the new mount namespace, so nothing
	// mounted there reaches the host.
	n.holder = startDaemon(tb, daemonSpec{
		name:       n.Name + " namespaces",
		argv:       []string{"unshare", "--mount", "--propagation", "private", "nsenter", "--net=" + filepath.Join(netnsDir, n.NetNS), "sleep", "infinity"},
		stderrFile: n.logPath("holder"),
	})
	n.daemons = append(n.daemons, n.holder)
	n.waitHolder(tb)
	if out, err := n.Command("sh", "-c", mountScript, "sh", n.Dir).CombinedOutput(); err != nil {
		tb.Fatalf("node %s: mounts: %v: %s", n.Name, err, out)
	}
	if err := copyFile(loopbackPlugin, filepath.Join(n.Dir, "cni", "bin", "loopback"), 0o755); err != nil {
		tb.Fatalf("node %s: %v (Debian package containernetworking-plugins)", n.Name, err)
	}
	return n
}

// waitHolder waits until the holder is in namespaces of its own: right
// after the fork it is still in the harness's, and nsenter would enter
// the host's namespaces through it.
func (n *KubeNode) waitHolder(tb T) {
	tb.Helper()
	hostMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	proc := filepath.Join("/proc", strconv.Itoa(n.holder.pid()), "ns")
	n.holder.waitFor(tb, readyTimeout, n.Name+" namespaces made", func() error {
		mnt, err := os.Readlink(filepath.Join(proc, "mnt"))
		if err != nil {
			return err
		}
		net, err := os.Readlink(filepath.Join(proc, "net"))
		if err != nil {
			return err
		}
		if mnt == hostMnt || net == hostNet {
			return fmt.Errorf("holder still in the harness's namespaces (mnt %s, net %s)", mnt, net)
		}
		return nil
	})
}

// Command is argv run in the node's network and mount namespaces.
func (n *KubeNode) Command(argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(n.holder.pid()), "-m", "-n", "--"}, argv...)...)
}

// Exec runs argv in the node and returns its combined output.
func (n *KubeNode) Exec(argv ...string) (string, error) {
	cmd := n.Command(argv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), n.Name, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// CNIConfDir is the host path of the node's /etc/cni/net.d.
func (n *KubeNode) CNIConfDir() string { return filepath.Join(n.Dir, "cni", "net.d") }

// CNIBinDir is the host path of the node's /opt/cni/bin.
func (n *KubeNode) CNIBinDir() string { return filepath.Join(n.Dir, "cni", "bin") }

// VarLib is the host path of the node's /var/lib.
func (n *KubeNode) VarLib() string { return filepath.Join(n.Dir, "var-lib") }

// logPath is where a daemon of the node writes its output.
func (n *KubeNode) logPath(name string) string { return filepath.Join(n.Dir, "logs", name+".log") }

// startProcess runs argv in the node's namespaces and its cgroup's system
// part; it is stopped, by PID, in tb.Cleanup. The shell moves itself into
// the cgroup before exec'ing, so nothing the program forks escapes it.
func (n *KubeNode) startProcess(tb T, name string, argv ...string) *daemon {
	tb.Helper()
	procs, err := (n.cgroup + "/system").procsFiles()
	if err != nil {
		tb.Fatalf("node %s: %v", n.Name, err)
	}
	const enter = `for f in $OVNET_CGROUP_PROCS; do echo $$ > "$f"; done; exec "$@"`
	full := append([]string{"sh", "-c", enter, "sh", "nsenter", "-t", strconv.Itoa(n.holder.pid()), "-m", "-n", "--"}, argv...)
	d := startDaemon(tb, daemonSpec{
		name:       name + " on " + n.Name,
		argv:       full,
		stderrFile: n.logPath(name),
		env:        []string{"OVNET_CGROUP_PROCS=" + strings.Join(procs, " ")},
	})
	n.daemons = append(n.daemons, d)
	return d
}

// PIDs are the processes the harness started in the node (not the pods').
func (n *KubeNode) PIDs() []int {
	pids := make([]int, len(n.daemons))
	for i, d := range n.daemons {
		pids[i] = d.pid()
	}
	return pids
}

// ProcessesRunning are the processes of the node, its pods' included,
// whose command line holds every one of words as an argument, so a test
// can kill one of them by PID (a pod's own PID namespace hides it from
// the kubelet's view and from kill inside the container).
func (n *KubeNode) ProcessesRunning(words ...string) ([]int, error) {
	pids, err := n.cgroup.pids()
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	var found []int
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // exited meanwhile
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if hasEvery(args, words) {
			found = append(found, pid)
		}
	}
	return found, nil
}

// hasEvery reports whether args holds every one of words.
func hasEvery(args, words []string) bool {
	for _, w := range words {
		if !slices.Contains(args, w) {
			return false
		}
	}
	return true
}

// copyFile copies src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}
