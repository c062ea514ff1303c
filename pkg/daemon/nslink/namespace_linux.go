package nslink

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNotNetNS marks a path that is no network namespace.
var ErrNotNetNS = errors.New("not a network namespace")

// Namespace is a network namespace held open, with a netlink socket
// opened inside it.
type Namespace struct {
	// NS is the namespace's file descriptor.
	NS netns.NsHandle
	// Link is the netlink handle bound to NS.
	Link *netlink.Handle
}

// Open opens the namespace at path, or the caller's own when path is
// empty.
func Open(path string) (*Namespace, error) {
	var ns netns.NsHandle
	var err error
	if path == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", path, err)
	}
	return bind(ns, path)
}

// OpenPod opens a pod's namespace by path; the error wraps ErrNotNetNS
// when the path is no network namespace at all.
func OpenPod(path string) (*Namespace, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open pod network namespace %s: %w", path, err)
	}
	if err := requireNetNS(ns); err != nil {
		ns.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bind(ns, path)
}

func bind(ns netns.NsHandle, path string) (*Namespace, error) {
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in network namespace %q: %w", path, err)
	}
	return &Namespace{NS: ns, Link: nl}, nil
}

// Close releases the netlink socket and the namespace.
func (n *Namespace) Close() {
	n.Link.Close()
	n.NS.Close()
}

// requireNetNS checks that the file is a namespace, and a network one.
func requireNetNS(ns netns.NsHandle) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		return ErrNotNetNS
	}
	kind, err := unix.IoctlRetInt(int(ns), unix.NS_GET_NSTYPE)
	if err != nil || kind != unix.CLONE_NEWNET {
		return ErrNotNetNS
	}
	return nil
}

// Run runs fn on a thread of its own that has entered the namespace, for
// the few calls netlink cannot make from outside (ethtool's ioctl). The
// thread is never handed back to the scheduler: if it could not return
// to the daemon's namespace it simply dies with its goroutine.
func (n *Namespace) Run(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(n.NS); err != nil {
			done <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// SetUp brings a link of the namespace up.
func (n *Namespace) SetUp(name string) error {
	link, err := n.Link.LinkByName(name)
	if err == nil {
		err = n.Link.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}

// UplinkMTU is the MTU of the device holding the namespace's default
// route; ok is false when there is none (an isolated test namespace).
func (n *Namespace) UplinkMTU() (mtu int, ok bool) {
	routes, err := n.Link.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, false
	}
	for _, r := range routes {
		if r.Dst != nil && PrefixLen(r.Dst) != 0 {
			continue
		}
		if link, err := n.Link.LinkByIndex(r.LinkIndex); err == nil && link.Attrs().MTU > 0 {
			return link.Attrs().MTU, true
		}
	}
	return 0, false
}
