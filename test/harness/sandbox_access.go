package harness

import (
	"net"
	"strconv"
	"strings"
)

// What a program that outlives its own start (the sandbox) needs of a
// KubeCluster: ways in from the host's shell, the names of what it made
// (to remove them should that program die), and what tells a changed tree.

// Forward relays a port of 127.0.0.1 to port on node n's underlay
// address until tb's cleanup, and returns the host's end (127.0.0.1:PORT):
// OVN central's databases, say, which listen in the control-plane node.
func (c *KubeCluster) Forward(tb T, n *KubeNode, port int) string {
	tb.Helper()
	return startForwarder(tb, n.NetNS, net.JoinHostPort(n.Addr.Addr().String(), strconv.Itoa(port))).Addr()
}

// Cgroup is the cgroup path, in every hierarchy, holding every process of
// every node, containers included.
func (c *KubeCluster) Cgroup() string { return string(c.cgroup) }

// PID is a process in the node's network and mount namespaces, for
// `nsenter -t PID -m -n`.
func (n *KubeNode) PID() int { return n.holder.pid() }

// TreeSum hashes the names and contents of the files under paths,
// relative to the repository root, tests excluded: OvnetImageSum's inputs,
// or a chart's directory.
func TreeSum(tb T, paths ...string) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	sum, err := hashTree(root, paths)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return sum
}

// OvnetImageSum is the hash of what OvnetImage builds the image from: it
// changes exactly when a new image would differ.
func OvnetImageSum(tb T) string {
	tb.Helper()
	return TreeSum(tb, imageInputs...)
}

// MadeBy reports whether UniqueName could have returned name in process
// pid: a prefix of one to four letters, pid in base 36 on pidDigits, then
// the counter. A program cleaning up after a process that died before it
// recorded its names (the sandbox's supervisor) finds them so.
func MadeBy(pid int, name string) bool {
	id := strconv.FormatInt(int64(pid), 36)
	if len(id) > pidDigits {
		return false
	}
	id = strings.Repeat("0", pidDigits-len(id)) + id
	for n := 1; n <= maxNamePrefix && n < len(name); n++ {
		if !isLetters(name[:n]) {
			break
		}
		rest := name[n:]
		if strings.HasPrefix(rest, id) && len(rest) > len(id) && isBase36(rest[len(id):]) {
			return true
		}
	}
	return false
}

func isLetters(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

func isBase36(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}
