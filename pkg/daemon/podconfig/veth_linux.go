package podconfig

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

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
func (c *Configurator) createVeth(p podInterface) (hostMAC net.HardwareAddr, err error) {
	pod, err := nslink.OpenPod(p.Netns)
	if err != nil {
		return nil, err
	}
	defer pod.Close()
	if err := c.unplugLink(p.HostName); err != nil {
		return nil, err
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.HostName, MTU: p.MTU},
		PeerName:         p.IfName,
		PeerHardwareAddr: p.Address.MAC,
		PeerMTU:          uint32(p.MTU),
		PeerNamespace:    netlink.NsFd(int(pod.NS)),
	}
	if err := c.node.Link.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s/%s: %w", p.HostName, p.IfName, err)
	}
	host, err := c.node.Link.LinkByName(p.HostName)
	if err == nil {
		err = c.node.Link.LinkSetUp(host)
	}
	if err != nil {
		return nil, fmt.Errorf("bring up %s: %w", p.HostName, err)
	}
	return host.Attrs().HardwareAddr, nil
}

// configurePod gives the pod end its address and default route.
func configurePod(p podInterface) error {
	pod, err := nslink.OpenPod(p.Netns)
	if err != nil {
		return err
	}
	defer pod.Close()
	return configurePodSide(pod, p)
}

// configurePodSide gives the pod end its address and default route.
func configurePodSide(pod *nslink.Namespace, p podInterface) error {
	link, err := pod.Link.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("find %s in pod: %w", p.IfName, err)
	}
	if p.TxChecksumOff {
		if err := disableTxChecksum(pod, p.IfName); err != nil {
			return err
		}
	}
	for _, fam := range p.Address.Families() {
		if err := pod.SetAddress(link, fam.Prefix); err != nil {
			return err
		}
	}
	if err := pod.Link.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %s in pod: %w", p.IfName, err)
	}
	return setDefaultRoutes(pod, link, p.Address)
}

// setDefaultRoutes points the pod's default route of each family at its
// gateway.
func setDefaultRoutes(pod *nslink.Namespace, link netlink.Link, addr annotation.Address) error {
	for _, fam := range addr.Families() {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: nslink.DefaultDst(fam.Gateway), Gw: fam.Gateway.AsSlice()}
		if err := pod.Link.RouteReplace(route); err != nil {
			return fmt.Errorf("default route via %s on %s: %w", fam.Gateway, link.Attrs().Name, err)
		}
	}
	return nil
}

// hasFamilies checks the link carries every family's address and default
// route.
func hasFamilies(pod *nslink.Namespace, link netlink.Link, addr annotation.Address) error {
	for _, fam := range addr.Families() {
		if err := hasAddress(pod, link, fam.Prefix); err != nil {
			return err
		}
		if err := hasDefaultRoute(pod, link, fam.Gateway); err != nil {
			return err
		}
	}
	return nil
}

// unplugLink deletes the host end, which takes the pod end with it; a
// link already gone is no error.
func (c *Configurator) unplugLink(hostName string) error {
	link, err := c.node.Link.LinkByName(hostName)
	if nslink.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", hostName, err)
	}
	if err := c.node.Link.LinkDel(link); err != nil && !nslink.IsNotExist(err) {
		return fmt.Errorf("delete %s: %w", hostName, err)
	}
	return nil
}

// checkPod verifies that the pod end carries the allocation (MAC,
// address, default route) and that the host end exists; the pod end
// first, since that is what the pod's owner sees.
func (c *Configurator) checkPod(p podInterface) error {
	pod, err := nslink.OpenPod(p.Netns)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInterfaceMismatch, err)
	}
	defer pod.Close()
	link, err := pod.Link.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("%w: %s in pod: %v", ErrInterfaceMismatch, p.IfName, err)
	}
	if got := link.Attrs().HardwareAddr.String(); got != p.Address.MAC.String() {
		return fmt.Errorf("%w: %s has MAC %s, allocated %s", ErrInterfaceMismatch, p.IfName, got, p.Address.MAC)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%w: %s is down", ErrInterfaceMismatch, p.IfName)
	}
	if err := hasFamilies(pod, link, p.Address); err != nil {
		return err
	}
	if _, err := c.node.Link.LinkByName(p.HostName); err != nil {
		return fmt.Errorf("%w: host end %s: %v", ErrInterfaceMismatch, p.HostName, err)
	}
	return nil
}

func hasAddress(pod *nslink.Namespace, link netlink.Link, want netip.Prefix) error {
	addrs, err := pod.Link.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := nslink.PrefixOf(a.IPNet); ok && p == want {
			return nil
		}
	}
	return fmt.Errorf("%w: %s lacks address %s", ErrInterfaceMismatch, link.Attrs().Name, want)
}

func hasDefaultRoute(pod *nslink.Namespace, link netlink.Link, gw netip.Addr) error {
	family := netlink.FAMILY_V4
	if gw.Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := pod.Link.RouteList(link, family)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		isDefault := r.Dst == nil || (r.Dst.IP.IsUnspecified() && nslink.PrefixLen(r.Dst) == 0)
		if g, ok := netip.AddrFromSlice(r.Gw); isDefault && ok && g.Unmap() == gw {
			return nil
		}
	}
	return fmt.Errorf("%w: no default route via %s on %s", ErrInterfaceMismatch, gw, link.Attrs().Name)
}

// ethtoolValue is struct ethtool_value from linux/ethtool.h.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// disableTxChecksum is "ethtool -K <ifName> tx off" inside the pod: the
// kernel then also turns off the offloads that depend on it (TSO).
func disableTxChecksum(pod *nslink.Namespace, ifName string) error {
	return pod.Run(func() error {
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
