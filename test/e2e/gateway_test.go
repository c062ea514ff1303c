package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// TestDistributedEgress: with no gateway configured, a pod reaches the far
// network through its own node, masqueraded to that node's address; with
// NAT off the far server sees the pod's own address and, with a route on
// the external host back to the subnet, a TCP exchange completes.
func TestDistributedEgress(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	e.namespace("plain", map[string]string{annotation.CIDR: "10.80.0.0/24", annotation.GatewayNAT: "false"})
	for i, n := range o.nodes {
		nat := n.Runtime(t).AddPod(t, e.pod("default", "nat-"+n.Name, n.Name, nil))
		plain := n.Runtime(t).AddPod(t, e.pod("plain", "plain-"+n.Name, n.Name, nil))
		for _, far := range o.far.IPs {
			until(t, fmt.Sprintf("pod on %s to %s, masqueraded to the node", n.Name, far), func() error {
				return farSees(e.connect(nat, "tcp", farTarget(far)))(nodeAddr(i))
			})
		}
		o.ext.Route(t, netip.MustParsePrefix("10.80.0.0/24"), nodeAddr(i))
		until(t, fmt.Sprintf("pod on %s with NAT off keeps its address", n.Name), func() error {
			return farSees(e.connect(plain, "tcp", farTarget(harness.FarIP)))(plain.IP)
		})
	}
}
