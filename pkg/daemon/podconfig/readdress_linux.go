package podconfig

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// Readdress gives running pods' interfaces the prefix and default route
// of their current record, which the controller rewrites when the
// subnet's gateway moves or its CIDR widens. An interface that already
// matches is left alone, so a restarted daemon writes nothing; one whose
// namespace is gone is DEL's to remove.
func (c *Configurator) Readdress(list []attachments.Attachment, addr annotation.Address) error {
	var errs []error
	for _, a := range list {
		if a.IP != addr.IP.String() {
			continue // an earlier pod of the same name, awaiting DEL
		}
		if err := readdress(a, addr); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func readdress(a attachments.Attachment, addr annotation.Address) error {
	pod, err := nslink.OpenPod(a.Netns)
	if err != nil {
		return err
	}
	defer pod.Close()
	link, err := pod.Link.LinkByName(a.IfName)
	if err != nil {
		return fmt.Errorf("find %s in pod %s: %w", a.IfName, a.Pod(), err)
	}
	if hasAddress(pod, link, addr.Prefix()) == nil && hasDefaultRoute(pod, link, addr.Gateway) == nil {
		return nil
	}
	if err := pod.SetAddress(link, addr.Prefix()); err != nil {
		return err
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: nslink.DefaultDst(addr.Gateway), Gw: addr.Gateway.AsSlice()}
	if err := pod.Link.RouteReplace(route); err != nil {
		return fmt.Errorf("default route via %s in pod %s: %w", addr.Gateway, a.Pod(), err)
	}
	return nil
}
