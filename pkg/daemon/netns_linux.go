package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nodeNetwork does the daemon's link and route work inside the node's
// network namespace, through a netlink handle bound to it, so the
// daemon's own threads never switch namespaces.
type nodeNetwork struct {
	// ns is the node's namespace, kept open for the daemon's lifetime.
	ns netns.NsHandle
	// nl is a netlink socket opened inside ns.
	nl *netlink.Handle
}

// openNodeNetwork opens the namespace at path, or the daemon's own when
// path is empty.
func openNodeNetwork(path string) (*nodeNetwork, error) {
	var ns netns.NsHandle
	var err error
	if path == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open node network namespace %q: %w", path, err)
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in node namespace %q: %w", path, err)
	}
	return &nodeNetwork{ns: ns, nl: nl}, nil
}

func (n *nodeNetwork) Close() {
	n.nl.Close()
	n.ns.Close()
}

// podNetwork is a netlink handle inside one pod's namespace.
type podNetwork struct {
	ns netns.NsHandle
	nl *netlink.Handle
}

// openPodNetwork opens a pod's namespace by path; the error says whether
// the path is no network namespace at all.
func openPodNetwork(path string) (*podNetwork, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open pod network namespace %s: %w", path, err)
	}
	if err := requireNetNS(ns); err != nil {
		ns.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in pod namespace %s: %w", path, err)
	}
	return &podNetwork{ns: ns, nl: nl}, nil
}

func (p *podNetwork) Close() {
	p.nl.Close()
	p.ns.Close()
}

// errNotNetNS marks a path that is no network namespace.
var errNotNetNS = errors.New("not a network namespace")

// requireNetNS checks that the file is a namespace, and a network one.
func requireNetNS(ns netns.NsHandle) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		return errNotNetNS
	}
	kind, err := unix.IoctlRetInt(int(ns), unix.NS_GET_NSTYPE)
	if err != nil || kind != unix.CLONE_NEWNET {
		return errNotNetNS
	}
	return nil
}

// ipNet converts a prefix to netlink's form.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// setAddress gives link exactly the address want among those of its
// family that are global: stale ones (a previous allocation) go.
func setAddress(nl *netlink.Handle, link netlink.Link, want netip.Prefix) error {
	family := netlink.FAMILY_V4
	if want.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	have, err := nl.AddrList(link, family)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		p, ok := prefixOf(a.IPNet)
		if ok && p == want {
			found = true
			continue
		}
		if err := nl.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, link.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	addr := &netlink.Addr{IPNet: ipNet(want)}
	if want.Addr().Is6() {
		// Duplicate address detection would hold the address back for a
		// second or more; OVN's port security already guarantees it.
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := nl.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %s to %s: %w", want, link.Attrs().Name, err)
	}
	return nil
}

// prefixOf converts netlink's address form back.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// isNotExist reports a missing link, address or namespace.
func isNotExist(err error) bool {
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) || errors.Is(err, os.ErrNotExist) ||
		errors.Is(err, unix.ENOENT)
}

// isNoQdisc reports the kernel's answer to deleting a root qdisc that is
// the default one.
func isNoQdisc(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL)
}

// uplinkMTU is the MTU of the device holding the node's default route,
// or fallbackMTU plus the tunnel overhead when there is none (an isolated
// test namespace).
func (n *nodeNetwork) uplinkMTU() int {
	routes, err := n.nl.RouteList(nil, netlink.FAMILY_V4)
	if err == nil {
		for _, r := range routes {
			if r.Dst != nil && prefixLen(r.Dst) != 0 {
				continue
			}
			if link, err := n.nl.LinkByIndex(r.LinkIndex); err == nil && link.Attrs().MTU > 0 {
				return link.Attrs().MTU
			}
		}
	}
	return fallbackMTU + tunnelOverhead
}
