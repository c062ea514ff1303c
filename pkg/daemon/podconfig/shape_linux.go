package podconfig

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// isNoQdisc reports the kernel's answer to deleting a root qdisc that is
// the default one.
func isNoQdisc(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL)
}

const (
	// shapeBurstSeconds sizes the token bucket at this much traffic at the
	// rate: big enough that a TCP flow fills the rate, small enough that
	// the limit holds over any second.
	shapeBurstSeconds = 0.1
	// shapeQueueSeconds is how long a packet may wait in the shaper's
	// queue before it is dropped.
	shapeQueueSeconds = 0.1
	// minBurstBytes keeps the bucket above a few full frames, which tbf
	// needs to pass anything at all at low rates.
	minBurstBytes = 16 * 1024
	bitsPerByte   = 8
)

// shapePodEgress limits what leaves the pod through ifName to bps bit/s
// with a token bucket on the pod end of its veth; 0 removes it. The
// userspace datapath does not enforce OVS ingress policing, so this is
// how traffic out of the pod is limited there.
func shapePodEgress(netnsPath, ifName string, bps uint64) error {
	pod, err := nslink.OpenPod(netnsPath)
	if err != nil {
		return err
	}
	defer pod.Close()
	link, err := pod.Link.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s in pod: %w", ifName, err)
	}
	root := netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	if bps == 0 {
		err := pod.Link.QdiscDel(&netlink.Tbf{QdiscAttrs: root})
		if err != nil && !nslink.IsNotExist(err) && !isNoQdisc(err) {
			return fmt.Errorf("remove shaper from %s: %w", ifName, err)
		}
		return nil
	}
	rate := bps / bitsPerByte
	burst := max(uint32(float64(rate)*shapeBurstSeconds), minBurstBytes)
	tbf := &netlink.Tbf{QdiscAttrs: root, Rate: rate,
		Limit: uint32(float64(rate)*shapeQueueSeconds) + burst, Buffer: netlink.Xmittime(rate, burst)}
	if err := pod.Link.QdiscReplace(tbf); err != nil {
		return fmt.Errorf("shape %s to %d bit/s: %w", ifName, bps, err)
	}
	return nil
}

// podEgressRate reads the shaper's rate back, 0 when there is none.
func podEgressRate(netnsPath, ifName string) (uint64, error) {
	pod, err := nslink.OpenPod(netnsPath)
	if err != nil {
		return 0, err
	}
	defer pod.Close()
	link, err := pod.Link.LinkByName(ifName)
	if err != nil {
		return 0, fmt.Errorf("find %s in pod: %w", ifName, err)
	}
	qdiscs, err := pod.Link.QdiscList(link)
	if err != nil {
		return 0, fmt.Errorf("list qdiscs of %s: %w", ifName, err)
	}
	for _, q := range qdiscs {
		if tbf, ok := q.(*netlink.Tbf); ok && q.Attrs().Parent == netlink.HANDLE_ROOT {
			return tbf.Rate * bitsPerByte, nil
		}
	}
	return 0, nil
}
