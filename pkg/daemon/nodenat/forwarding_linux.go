package nodenat

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// ipForward is read and written from a thread inside the node's
// namespace: /proc/sys/net shows the namespace of whoever opens it.
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// EnableForwarding sets net.ipv4.ip_forward=1 in the node's namespace, so
// that pods' egress arriving on ovn0 leaves by the uplink and replies come
// back. It writes only when the value differs and reports whether it did.
// rp_filter is left alone: every packet it could judge (egress from
// ovn0, replies on the uplink) arrives on the interface its source is
// routed through.
func EnableForwarding(ns *nslink.Namespace) (changed bool, err error) {
	err = ns.Run(func() error {
		have, err := os.ReadFile(ipForward)
		if err != nil {
			return err
		}
		if string(bytes.TrimSpace(have)) == "1" {
			return nil
		}
		changed = true
		return os.WriteFile(ipForward, []byte("1\n"), 0o644)
	})
	if err != nil {
		return false, fmt.Errorf("net.ipv4.ip_forward=1: %w", err)
	}
	return changed, nil
}
