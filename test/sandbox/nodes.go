package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/ovnet/ovnet/test/harness"
)

// Ways into a node from the host's shell, named after the node so that
// `kubectl ovnet tcpdump` finds a pod's node by its name ({node}).

// nodeNetNSAlias is the name under which the host's `ip netns` knows
// node's network namespace: sbx<6 hex digits of Dir>-<node>, so two
// sandboxes never share one.
func (s *Sandbox) nodeNetNSAlias(node string) string {
	sum := sha256.Sum256([]byte(s.cfg.Dir))
	return "sbx" + hex.EncodeToString(sum[:3]) + "-" + node
}

// nodeOVSDir is a symlink to the node's /run/openvswitch, reached through
// a process of the node (/proc/PID/root): its Open_vSwitch database socket.
func (s *Sandbox) nodeOVSDir(node string) string {
	return filepath.Join(s.cfg.Dir, "nodes", node, "ovs")
}

// tcpdumpFlags are the flags `kubectl ovnet tcpdump` needs here.
func (s *Sandbox) tcpdumpFlags() string {
	return fmt.Sprintf("--node-netns=%s --node-ovsdb=unix:%s/db.sock",
		s.nodeNetNSAlias("{node}"), s.nodeOVSDir("{node}"))
}

// exposeNode names node's network namespace for `ip netns` and links its
// Open vSwitch run directory, until tb's cleanup.
func (s *Sandbox) exposeNode(tb harness.T, n *harness.KubeNode) string {
	tb.Helper()
	alias := s.nodeNetNSAlias(n.Name)
	if out, err := exec.Command("ip", "netns", "attach", alias, strconv.Itoa(n.PID())).CombinedOutput(); err != nil {
		tb.Fatalf("sandbox: naming %s's network namespace %s: %v: %s", n.Name, alias, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", alias).CombinedOutput(); err != nil {
			tb.Errorf("sandbox: ip netns delete %s: %v: %s", alias, err, out)
		}
	})
	link := s.nodeOVSDir(n.Name)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	if err := os.Symlink(fmt.Sprintf("/proc/%d/root/run/openvswitch", n.PID()), link); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	return alias
}
