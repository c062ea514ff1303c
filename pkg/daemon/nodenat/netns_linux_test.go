package nodenat

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

// Exported for the reconciler test, which is in package nodenat_test
// because it imports test/harness, itself an importer of this package.
var (
	NewTestNS       = newNS
	DumpTable       = dump
	DumpTableFamily = dumpFamily
)

// FD is the namespace's file descriptor.
func (n *testNS) FD() int { return int(n.fd) }

// nsCounter makes namespace names unique within the test binary; the PID
// makes them unique across binaries.
var nsCounter atomic.Uint64

// testNS is a network namespace the test created and deletes.
type testNS struct {
	name string
	fd   netns.NsHandle
}

// requireRoot fails the test loudly: these tests need root for netns and
// nftables, and a skipped test would hide that nothing was tested.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates network namespaces and nftables tables: run it as root")
	}
}

// newNS creates a namespace with lo up; t.Cleanup deletes it.
func newNS(t *testing.T, role string) *testNS {
	t.Helper()
	requireRoot(t)
	name := fmt.Sprintf("nat%s%s%s", role, strconv.FormatInt(int64(os.Getpid()), 36), strconv.FormatUint(nsCounter.Add(1), 36))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	fd, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		fd.Close()
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	n := &testNS{name: name, fd: fd}
	n.ip(t, "link", "set", "lo", "up")
	return n
}

// ip runs "ip -n NS args..." and fails the test on error.
func (n *testNS) ip(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"-n", n.name}, args...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sysctl writes a sysctl of the namespace.
func (n *testNS) sysctl(t *testing.T, key, value string) {
	t.Helper()
	if out, err := n.command("sysctl", "-qw", key+"="+value).CombinedOutput(); err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v: %s", key, value, n.name, err, out)
	}
}

// command is argv run inside the namespace.
func (n *testNS) command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name}, argv...)...)
}

// veth links a (name aName) and b (name bName) and brings both ends up.
func veth(t *testing.T, a *testNS, aName string, b *testNS, bName string) {
	t.Helper()
	a.ip(t, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.name)
	a.ip(t, "link", "set", aName, "up")
	b.ip(t, "link", "set", bName, "up")
}
