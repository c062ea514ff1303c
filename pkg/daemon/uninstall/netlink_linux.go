package uninstall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// removePodInterfaces deletes the host end of every pod's veth, which
// takes the pod's end with it: an OVS port deleted with br-int would
// leave the pair behind, unplugged.
func (n *Node) removePodInterfaces(context.Context) (string, error) {
	names, err := n.podHostInterfaces()
	if err != nil {
		return "", err
	}
	var errs []error
	for _, name := range names {
		link, err := n.netns.Link.LinkByName(name)
		if nslink.IsNotExist(err) {
			continue
		}
		if err == nil {
			err = n.netns.Link.LinkDel(link)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
		}
	}
	if len(names) == 0 {
		return "none", errors.Join(errs...)
	}
	return fmt.Sprintf("%d deleted", len(names)-len(errs)), errors.Join(errs...)
}

// removeInternalLinks waits, bounded, for ovs-vswitchd to remove the
// named devices, then deletes those still there (a vswitchd that stopped
// before it got to them).
func (n *Node) removeInternalLinks(ctx context.Context, names []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, linksGoneTimeout)
	defer cancel()
	for len(n.presentLinks(names)) > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(ovnControllerPoll):
		}
	}
	left := n.presentLinks(names)
	var errs []error
	for _, link := range left {
		if err := n.netns.Link.LinkDel(link); err != nil && !nslink.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", link.Attrs().Name, err))
		}
	}
	if len(left) == 0 {
		return "", errors.Join(errs...)
	}
	return fmt.Sprintf("%d device(s) ovs-vswitchd left deleted", len(left)-len(errs)), errors.Join(errs...)
}

// presentLinks returns the named links that exist.
func (n *Node) presentLinks(names []string) []netlink.Link {
	var links []netlink.Link
	for _, name := range names {
		if link, err := n.netns.Link.LinkByName(name); err == nil {
			links = append(links, link)
		}
	}
	return links
}

// removeRoutes deletes every route carrying the daemon's protocol, on any
// device: those via ovn0 went with it, a route left elsewhere goes now.
func (n *Node) removeRoutes(context.Context) (string, error) {
	filter := &netlink.Route{Protocol: nodesetup.RouteProtocol, Table: unix.RT_TABLE_UNSPEC}
	routes, err := n.netns.Link.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	var errs []error
	for _, r := range routes {
		if err := n.netns.Link.RouteDel(&r); err != nil && !nslink.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
		}
	}
	return "", errors.Join(errs...)
}
