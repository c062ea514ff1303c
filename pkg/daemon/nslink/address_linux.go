package nslink

import (
	"errors"
	"fmt"
	"os"

	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetAddress gives link exactly the address want among those of its
// family that are global: stale ones (a previous allocation) go.
func (n *Namespace) SetAddress(link netlink.Link, want netip.Prefix) error {
	family := netlink.FAMILY_V4
	if want.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	have, err := n.Link.AddrList(link, family)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		p, ok := PrefixOf(a.IPNet)
		if ok && p == want {
			found = true
			continue
		}
		if err := n.Link.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, link.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	addr := &netlink.Addr{IPNet: IPNet(want)}
	if want.Addr().Is6() {
		// Duplicate address detection would hold the address back for a
		// second or more; OVN's port security already guarantees it.
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := n.Link.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %s to %s: %w", want, link.Attrs().Name, err)
	}
	return nil
}

// IsNotExist reports a missing link, address or namespace.
func IsNotExist(err error) bool {
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) || errors.Is(err, os.ErrNotExist) ||
		errors.Is(err, unix.ENOENT)
}
