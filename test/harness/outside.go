package harness

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The world outside the cluster, in documentation ranges only (RFC 5737),
// so no packet of a test could mean a real host: the external host routes
// between the underlay and the far network, whose two ranges stand for the
// internet.
var (
	// ExternalHostIP is the external host's address on the underlay, the
	// nodes' default router.
	ExternalHostIP = netip.MustParseAddr("172.18.0.254")
	// FarLinkPrefix is the link between the external host (.1) and the far
	// network's host (FarIP).
	FarLinkPrefix = netip.MustParsePrefix("198.51.100.0/24")
	// FarIP is the far host's address on that link; Serve answers on it.
	FarIP = netip.MustParseAddr("198.51.100.10")
	// FarAltPrefix is a second range behind the far host, reached through
	// it: a network that is not on any link of the external host.
	FarAltPrefix = netip.MustParsePrefix("203.0.113.0/24")
	// FarAltIP is the far host's address in FarAltPrefix; Serve answers on
	// it too.
	FarAltIP = netip.MustParseAddr("203.0.113.10")
	// farGatewayIP is the external host's end of the far link.
	farGatewayIP = netip.MustParseAddr("198.51.100.1")
	// FarGatewayIP is farGatewayIP for tests: a router in the far network
	// (BIRD) reaches the underlay through it.
	FarGatewayIP = farGatewayIP
)

const (
	// externalUplink is the external host's interface on the underlay.
	externalUplink = "eth0"
	// externalFarLink is the external host's interface towards the far host.
	externalFarLink = "far0"
	// farLink is the far host's interface towards the external host.
	farLink = "eth0"
	// serveTimeout bounds the wait for the far probe server to answer.
	serveTimeout = 10 * time.Second
	// captureTimeout bounds the wait for tcpdump to start listening.
	captureTimeout = 10 * time.Second
)

// ExternalHost is a host on the underlay outside the cluster: a network
// namespace with a veth into ul0 at ExternalHostIP, forwarding between the
// underlay and the far network. It has routes to the far network and to
// nothing of the cluster: a test adds those it needs with Route (e.g. a
// pod subnet via a node, for egress without NAT).
type ExternalHost struct {
	// NetNS is the host's network namespace.
	NetNS string
	// IP is its address on the underlay, ExternalHostIP.
	IP netip.Addr
	// Interface is its underlay interface, for tcpdump.
	Interface string
}

// newExternalHost creates the external host on u, linked to far, and
// gives far its route back.
func newExternalHost(tb T, u *Underlay, far *FarNetwork) *ExternalHost {
	tb.Helper()
	lookPath(tb, "ethtool")
	lookPath(tb, "sysctl")
	h := &ExternalHost{NetNS: UniqueName("ext"), IP: ExternalHostIP, Interface: externalUplink}
	addNetNS(tb, h.NetNS)
	// A router, and one that forwards whatever comes in: with reverse-path
	// filtering, a pod address without a route back (egress without NAT
	// before the test adds one) would be dropped here instead of showing
	// at the far host.
	for _, key := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"} {
		h.must(tb, "sysctl", "-q", "-w", key)
	}

	peer := UniqueName("ulx")
	mustIP(tb, h.NetNS, "link", "add", h.Interface, "type", "veth", "peer", "name", peer, "netns", u.NetNS)
	tb.Cleanup(func() { deleteLink(tb, h.NetNS, h.Interface) })
	mustIP(tb, u.NetNS, "link", "set", peer, "mtu", strconv.Itoa(UnderlayMTU), "master", underlayBridge, "up")
	h.configureLink(tb, h.Interface, netip.PrefixFrom(h.IP, UnderlayPrefix.Bits()))

	mustIP(tb, h.NetNS, "link", "add", externalFarLink, "type", "veth", "peer", "name", farLink, "netns", far.NetNS)
	tb.Cleanup(func() { deleteLink(tb, h.NetNS, externalFarLink) })
	h.configureLink(tb, externalFarLink, netip.PrefixFrom(farGatewayIP, FarLinkPrefix.Bits()))
	far.configure(tb)
	mustIP(tb, h.NetNS, "route", "add", FarAltPrefix.String(), "via", FarIP.String())
	return h
}

// configureLink brings up one of the host's links with its address. The
// host computes its checksums itself: the nodes' userspace datapath
// takes packets as they come off the veth and does not finish them.
func (h *ExternalHost) configureLink(tb T, link string, addr netip.Prefix) {
	tb.Helper()
	mustIP(tb, h.NetNS, "link", "set", link, "mtu", strconv.Itoa(UnderlayMTU), "up")
	mustIP(tb, h.NetNS, "addr", "add", addr.String(), "dev", link)
	h.must(tb, "ethtool", "-K", link, "tx", "off")
}

// Exec runs a command in the external host's namespace and returns its
// combined output.
func (h *ExternalHost) Exec(args ...string) (string, error) {
	return execIn(h.NetNS, args...)
}

func (h *ExternalHost) must(tb T, args ...string) {
	tb.Helper()
	if out, err := h.Exec(args...); err != nil {
		tb.Fatalf("external host: %v: %s", err, out)
	}
}

// Route sends traffic for dst via next hop via (a node's underlay address,
// say) until tb's test ends; an existing route to dst is replaced.
func (h *ExternalHost) Route(tb T, dst netip.Prefix, via netip.Addr) {
	tb.Helper()
	mustIP(tb, h.NetNS, "route", "replace", dst.String(), "via", via.String())
	tb.Cleanup(func() {
		// Gone already if the test deleted it, or moved it elsewhere.
		out, err := ipCommand(h.NetNS, "route", "del", dst.String(), "via", via.String()).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such process") {
			tb.Errorf("external host: deleting route %s via %s: %v: %s", dst, via, err, out)
		}
	})
}

// Capture runs tcpdump on the external host's underlay interface with a
// pcap filter (e.g. "tcp port 8080") until tb's test ends.
func (h *ExternalHost) Capture(tb T, filter ...string) *Capture {
	tb.Helper()
	return startCapture(tb, h.NetNS, h.Interface, filter)
}

// FarNetwork is the network behind the external host, standing for the
// internet: one host (a network namespace) at FarIP on its link to the
// external host and at FarAltIP on its loopback, with its default route
// via the external host.
type FarNetwork struct {
	// NetNS is the far host's network namespace.
	NetNS string
	// IPs are the addresses Serve answers on: FarIP and FarAltIP.
	IPs []netip.Addr
}

// newFarNetwork creates the far host's namespace; the external host links
// it and calls configure.
func newFarNetwork(tb T) *FarNetwork {
	tb.Helper()
	f := &FarNetwork{NetNS: UniqueName("far"), IPs: []netip.Addr{FarIP, FarAltIP}}
	addNetNS(tb, f.NetNS)
	return f
}

// configure addresses the far host once its link exists.
func (f *FarNetwork) configure(tb T) {
	tb.Helper()
	mustIP(tb, f.NetNS, "link", "set", farLink, "mtu", strconv.Itoa(UnderlayMTU), "up")
	mustIP(tb, f.NetNS, "addr", "add", netip.PrefixFrom(FarIP, FarLinkPrefix.Bits()).String(), "dev", farLink)
	if out, err := f.Exec("ethtool", "-K", farLink, "tx", "off"); err != nil {
		tb.Fatalf("far host: %v: %s", err, out)
	}
	// On lo, alone (/32): not every kernel has the dummy link type, and
	// the rest of the range stays unassigned, as on the internet.
	mustIP(tb, f.NetNS, "addr", "add", netip.PrefixFrom(FarAltIP, 32).String(), "dev", "lo")
	mustIP(tb, f.NetNS, "route", "add", "default", "via", farGatewayIP.String())
}

// Exec runs a command in the far host's namespace and returns its
// combined output.
func (f *FarNetwork) Exec(args ...string) (string, error) {
	return execIn(f.NetNS, args...)
}

// Serve runs the test image's probe server (test/image/probe, built
// once) in the far host on TCP and UDP port, answering every connection
// with the client address it saw, on every address of IPs, until tb's
// test ends. It returns once the server answers on each address.
func (f *FarNetwork) Serve(tb T, port int) {
	tb.Helper()
	probe := Build(tb, "./test/image/probe", "probe")
	p := strconv.Itoa(port)
	log := filepath.Join(tb.TempDir(), "far-probe-"+p+".log")
	d := startDaemon(tb, daemonSpec{name: "probe serve in the far host", stderrFile: log,
		argv: inNetNS(f.NetNS, probe, "serve", "--tcp", p, "--udp", p)})
	for _, ip := range f.IPs {
		target := netip.AddrPortFrom(ip, uint16(port)).String()
		d.waitFor(tb, serveTimeout, "far probe server answers on "+target, func() error {
			_, err := f.Exec(probe, "connect", "tcp", target)
			return err
		})
	}
}

// Capture is a tcpdump running in a namespace, its output in a file.
type Capture struct {
	file   string
	daemon *daemon
	tb     T
}

// startCapture runs tcpdump -n -l on iface in netns and waits until it
// listens; tb.Cleanup stops it.
func startCapture(tb T, netns, iface string, filter []string) *Capture {
	tb.Helper()
	lookPath(tb, "tcpdump")
	c := &Capture{file: filepath.Join(tb.TempDir(), "tcpdump-"+iface+".txt"), tb: tb}
	argv := inNetNS(netns, append([]string{"tcpdump", "-n", "-l", "-i", iface}, filter...)...)
	c.daemon = startDaemon(tb, daemonSpec{name: "tcpdump in " + netns, argv: argv, stderrFile: c.file})
	c.daemon.waitFor(tb, captureTimeout, "tcpdump listening on "+iface, func() error {
		data, err := os.ReadFile(c.file)
		if err != nil || !strings.Contains(string(data), "listening on") {
			return fmt.Errorf("not yet listening (%v)", err)
		}
		return nil
	})
	return c
}

// Lines returns tcpdump's packet lines so far, one per packet.
func (c *Capture) Lines() []string {
	data, err := os.ReadFile(c.file)
	if err != nil {
		c.tb.Errorf("reading capture: %v", err)
		return nil
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		// tcpdump's own messages ("listening on ...", "N packets
		// captured") begin with letters; a packet line with its time.
		if line != "" && line[0] >= '0' && line[0] <= '9' {
			lines = append(lines, line)
		}
	}
	return lines
}

// execIn runs a command in a namespace and returns its combined output,
// with the command in the error.
func execIn(netns string, args ...string) (string, error) {
	argv := inNetNS(netns, args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %w", netnsLabel(netns), strings.Join(args, " "), err)
	}
	return string(out), nil
}
