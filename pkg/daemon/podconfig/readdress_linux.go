package podconfig

import (
	"errors"
	"fmt"
	"os"

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
	if hasFamilies(pod, link, addr) == nil {
		return nil
	}
	for _, fam := range addr.Families() {
		if err := pod.SetAddress(link, fam.Prefix); err != nil {
			return err
		}
	}
	if err := setDefaultRoutes(pod, link, addr); err != nil {
		return fmt.Errorf("pod %s: %w", a.Pod(), err)
	}
	return nil
}
