package nodenat

import (
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// EnableForwarding sets net.ipv4.ip_forward=1 in the node's namespace, so
// that pods' egress arriving on ovn0 leaves by the uplink and replies come
// back. It writes only when the value differs and reports whether it did.
// rp_filter is left alone: every packet it could judge (egress from
// ovn0, replies on the uplink) arrives on the interface its source is
// routed through.
func EnableForwarding(ns *nslink.Namespace) (changed bool, err error) {
	return ns.EnsureSysctl(nslink.IPv4Forwarding, "1")
}
