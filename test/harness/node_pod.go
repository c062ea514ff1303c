package harness

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

const (
	// podInterface is the pod end of the veth, as a CNI plugin names it.
	podInterface = "eth0"
	// hostSuffix turns a pod's namespace name into its host veth's name.
	hostSuffix = "_h"
)

// PodSpec describes a test pod: a network namespace plugged into br-int.
type PodSpec struct {
	// Name is the logical switch port the pod binds to (iface-id).
	Name string
	// IP is the pod's address with prefix length, e.g. 10.16.0.2/16.
	IP string
	// MAC is eth0's address; it must match the port's addresses in NB.
	MAC string
	// Gateway, if set, is the default route's next hop.
	Gateway string
	// MTU, if non-zero, is set on both ends of the veth.
	MTU int
}

// TestPod is a pod made by AddTestPod.
type TestPod struct {
	// Name is the logical switch port name.
	Name string
	// NetNS is the pod's network namespace.
	NetNS string
	// HostInterface is the veth end on br-int, in the chassis's namespace.
	HostInterface string
	// IP is the pod's address, without the prefix length.
	IP netip.Addr
}

// AddTestPod creates a network namespace with eth0 whose veth peer is a
// port of the chassis's br-int bound to spec.Name, as the CNI plugin will.
// The logical switch port itself is the test's to create. tb.Cleanup
// removes the port, the veth and the namespace.
func AddTestPod(tb T, ch *Chassis, spec PodSpec) *TestPod {
	tb.Helper()
	prefix, err := netip.ParsePrefix(spec.IP)
	if err != nil || spec.Name == "" || spec.MAC == "" {
		tb.Fatalf("AddTestPod: need Name, MAC and IP in CIDR form, got %+v (%v)", spec, err)
	}
	lookPath(tb, "ethtool")
	netns := UniqueName("pod")
	p := &TestPod{Name: spec.Name, NetNS: netns, HostInterface: netns + hostSuffix, IP: prefix.Addr()}

	addNetNS(tb, netns)
	mustIP(tb, ch.NetNS, "link", "add", p.HostInterface, "type", "veth",
		"peer", "name", podInterface, "netns", netns)
	// Deleting one end deletes both; done explicitly rather than left to
	// the namespace's deletion, which the kernel finishes asynchronously.
	tb.Cleanup(func() {
		if out, err := ipCommand(ch.NetNS, "link", "del", p.HostInterface).CombinedOutput(); err != nil {
			tb.Errorf("deleting veth %s: %v: %s", p.HostInterface, err, out)
		}
	})

	if spec.MTU > 0 {
		mtu := strconv.Itoa(spec.MTU)
		mustIP(tb, ch.NetNS, "link", "set", p.HostInterface, "mtu", mtu)
		mustIP(tb, netns, "link", "set", podInterface, "mtu", mtu)
	}
	mustIP(tb, netns, "link", "set", podInterface, "address", spec.MAC)
	mustIP(tb, netns, "addr", "add", spec.IP, "dev", podInterface)
	mustIP(tb, netns, "link", "set", podInterface, "up")
	if spec.Gateway != "" {
		mustIP(tb, netns, "route", "add", "default", "via", spec.Gateway, "dev", podInterface)
	}
	// The userspace datapath takes packets from an AF_PACKET socket with
	// checksums still left to the NIC and forwards them as they are: UDP
	// and TCP would arrive with bad checksums unless the pod computes them.
	if out, err := p.Exec("ethtool", "-K", podInterface, "tx", "off"); err != nil {
		tb.Fatalf("pod %s: %v: %s", spec.Name, err, out)
	}
	mustIP(tb, ch.NetNS, "link", "set", p.HostInterface, "up")

	ch.Vsctl(tb, "add-port", IntegrationBridge, p.HostInterface,
		"--", "set", "Interface", p.HostInterface, "external_ids:iface-id="+spec.Name)
	tb.Cleanup(func() {
		if _, err := toolOutput("ovs-vsctl", "--db="+ch.OVS.Endpoint, toolTimeout,
			"--if-exists", "del-port", IntegrationBridge, p.HostInterface); err != nil {
			tb.Errorf("removing pod %s from %s: %v", spec.Name, IntegrationBridge, err)
		}
	})
	return p
}

// Exec runs a command inside the pod's network namespace and returns its
// combined output.
func (p *TestPod) Exec(args ...string) (string, error) {
	argv := inNetNS(p.NetNS, args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in pod %s: %s: %w", p.Name, strings.Join(args, " "), err)
	}
	return string(out), nil
}
