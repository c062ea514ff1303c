package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovnet/ovnet/pkg/annotation"
)

const (
	// hostSuffix ends every host-side veth name, as in Kube-OVN, so an
	// operator can tell pod ports at a glance.
	hostSuffix = "_h"
	// hostHashLen hex digits of the hash keep the name at 14 bytes, under
	// IFNAMSIZ's 15.
	hostHashLen = 12
)

// hostInterfaceName derives the host end of a pod's veth from the
// attachment, so DEL and GC find it without any state: a hash rather than
// a prefix of the container ID, since runtimes other than containerd use
// IDs that share prefixes, and one container may have several interfaces.
func hostInterfaceName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "\x00" + ifName))
	return hex.EncodeToString(sum[:])[:hostHashLen] + hostSuffix
}

// podInterface is the desired state of one pod's veth pair.
type podInterface struct {
	// HostName is the end left in the node namespace and plugged into OVS.
	HostName string
	// Netns is the pod's namespace and IfName the interface in it.
	Netns  string
	IfName string
	// Address is what the controller allocated.
	Address annotation.Address
	MTU     int
	// TxChecksumOff makes the pod compute its own checksums: the
	// userspace datapath forwards packets as they come, so offloaded
	// checksums would arrive unfilled.
	TxChecksumOff bool
}

// createVeth creates the veth pair, the pod end already in the pod's
// namespace with its final name and MAC, and brings the host end up. A
// host end left from an earlier attempt of the same attachment is
// replaced. The pod end is configured by configurePod, so that OVS and
// ovn-controller can work on the host end meanwhile.
func (n *nodeNetwork) createVeth(p podInterface) (hostMAC net.HardwareAddr, err error) {
	pod, err := openPodNetwork(p.Netns)
	if err != nil {
		return nil, err
	}
	defer pod.Close()
	if err := n.unplug(p.HostName); err != nil {
		return nil, err
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.HostName, MTU: p.MTU},
		PeerName:         p.IfName,
		PeerHardwareAddr: p.Address.MAC,
		PeerMTU:          uint32(p.MTU),
		PeerNamespace:    netlink.NsFd(int(pod.ns)),
	}
	if err := n.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s/%s: %w", p.HostName, p.IfName, err)
	}
	host, err := n.nl.LinkByName(p.HostName)
	if err == nil {
		err = n.nl.LinkSetUp(host)
	}
	if err != nil {
		return nil, fmt.Errorf("bring up %s: %w", p.HostName, err)
	}
	return host.Attrs().HardwareAddr, nil
}

// configurePod gives the pod end its address and default route.
func configurePod(p podInterface) error {
	pod, err := openPodNetwork(p.Netns)
	if err != nil {
		return err
	}
	defer pod.Close()
	return configurePodSide(pod, p)
}

// configurePodSide gives the pod end its address and default route.
func configurePodSide(pod *podNetwork, p podInterface) error {
	link, err := pod.nl.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("find %s in pod: %w", p.IfName, err)
	}
	if p.TxChecksumOff {
		if err := disableTxChecksum(pod.ns, p.IfName); err != nil {
			return err
		}
	}
	if err := setAddress(pod.nl, link, p.Address.Prefix()); err != nil {
		return err
	}
	if err := pod.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %s in pod: %w", p.IfName, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: defaultDst(p.Address.Gateway),
		Gw: p.Address.Gateway.AsSlice()}
	if err := pod.nl.RouteReplace(route); err != nil {
		return fmt.Errorf("default route via %s in pod: %w", p.Address.Gateway, err)
	}
	return nil
}

// defaultDst is the default route's destination in gw's family.
func defaultDst(gw netip.Addr) *net.IPNet {
	if gw.Is4() {
		return ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
	return ipNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
}

// unplug deletes the host end, which takes the pod end with it; a link
// already gone is no error.
func (n *nodeNetwork) unplug(hostName string) error {
	link, err := n.nl.LinkByName(hostName)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", hostName, err)
	}
	if err := n.nl.LinkDel(link); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete %s: %w", hostName, err)
	}
	return nil
}

// errPodInterface marks a CHECK finding: the pod's interface is not as
// ADD left it.
var errPodInterface = errors.New("pod interface differs from its allocation")

// checkPod verifies that the pod end carries the allocation (MAC,
// address, default route) and that the host end exists; the pod end
// first, since that is what the pod's owner sees.
func (n *nodeNetwork) checkPod(p podInterface) error {
	pod, err := openPodNetwork(p.Netns)
	if err != nil {
		return fmt.Errorf("%w: %v", errPodInterface, err)
	}
	defer pod.Close()
	link, err := pod.nl.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("%w: %s in pod: %v", errPodInterface, p.IfName, err)
	}
	if got := link.Attrs().HardwareAddr.String(); got != p.Address.MAC.String() {
		return fmt.Errorf("%w: %s has MAC %s, allocated %s", errPodInterface, p.IfName, got, p.Address.MAC)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%w: %s is down", errPodInterface, p.IfName)
	}
	if err := hasAddress(pod, link, p.Address.Prefix()); err != nil {
		return err
	}
	if err := hasDefaultRoute(pod, link, p.Address.Gateway); err != nil {
		return err
	}
	if _, err := n.nl.LinkByName(p.HostName); err != nil {
		return fmt.Errorf("%w: host end %s: %v", errPodInterface, p.HostName, err)
	}
	return nil
}

func hasAddress(pod *podNetwork, link netlink.Link, want netip.Prefix) error {
	addrs, err := pod.nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && p == want {
			return nil
		}
	}
	return fmt.Errorf("%w: %s lacks address %s", errPodInterface, link.Attrs().Name, want)
}

func hasDefaultRoute(pod *podNetwork, link netlink.Link, gw netip.Addr) error {
	family := netlink.FAMILY_V4
	if gw.Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := pod.nl.RouteList(link, family)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		isDefault := r.Dst == nil || (r.Dst.IP.IsUnspecified() && prefixLen(r.Dst) == 0)
		if g, ok := netip.AddrFromSlice(r.Gw); isDefault && ok && g.Unmap() == gw {
			return nil
		}
	}
	return fmt.Errorf("%w: no default route via %s on %s", errPodInterface, gw, link.Attrs().Name)
}

func prefixLen(n *net.IPNet) int {
	ones, _ := n.Mask.Size()
	return ones
}

// ethtoolValue is struct ethtool_value from linux/ethtool.h.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// disableTxChecksum is "ethtool -K <ifName> tx off" inside the pod: the
// kernel then also turns off the offloads that depend on it (TSO).
func disableTxChecksum(ns netns.NsHandle, ifName string) error {
	return inNamespace(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket for ethtool: %w", err)
		}
		defer unix.Close(fd)
		value := ethtoolValue{cmd: unix.ETHTOOL_STXCSUM}
		if err := ethtoolIoctl(fd, ifName, &value); err != nil {
			return fmt.Errorf("turn off tx checksum offload of %s: %w", ifName, err)
		}
		return nil
	})
}
