package e2e

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/test/harness"
)

// TestCentralizedEgressIPv6: a dual-stack Subnet written as for Kube-OVN
// (`gatewayType: centralized`, `gatewayNode: n1`, `natOutgoing: true`), on
// a cluster with a dual-stack join whose nodes have an address of each
// family on the underlay. A pod on n2 reaches the far host over TCP on
// IPv6 and on IPv4, and the far host sees n1's underlay address of that
// family, not n2's: each family is rerouted to n1's join address of the
// family and masqueraded there. A pod of a distributed dual-stack Subnet
// on n2, beside it, is seen as n2: what the centralized one shows is the
// gateway, not where traffic happens to leave.
func TestCentralizedEgressIPv6(t *testing.T) {
	e := newEnvWith(t, dualStackJoin())
	o := e.outsideNodes("n1", "n2")
	o.addIPv6(t)
	e.namespace("central6", nil)
	e.createSubnet("central6", ovnetv1.SubnetSpec{CIDR: "10.84.0.0/24,fd00:10:84::/120",
		Namespaces: []string{"central6"}, GatewayType: ovnetv1.GatewayCentralized, GatewayNode: "n1",
		NATOutgoing: ptr.To(true)})
	e.activeGateway(t, "central6", "n1", "")
	if err := e.subnetCondition("central6", ovnetv1.ConditionIgnoredFields, metav1.ConditionTrue, ""); err == nil {
		t.Errorf("subnet central6 ignores part of its spec: %v", e.subnet(t, "central6").Status.Conditions)
	}
	e.namespace("distributed6", nil)
	e.createSubnet("distributed6", ovnetv1.SubnetSpec{CIDR: "10.85.0.0/24,fd00:10:85::/120",
		Namespaces: []string{"distributed6"}})

	n2 := o.nodes[1].Runtime(t)
	central := n2.AddPod(t, e.pod("central6", "client", "n2", nil))
	distributed := n2.AddPod(t, e.pod("distributed6", "client", "n2", nil))
	for _, c := range []struct {
		name    string
		pod     *harness.Sandbox
		through int
	}{
		{"centralized on n1", central, 0},
		{"distributed", distributed, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			addrOf(t, c.pod, true) // a dual-stack pod, or the IPv6 check below means nothing
			e.farSeesPodAt(t, c.pod, harness.FarIPv6, nodeAddrIPv6(c.through))
			e.farSeesPodAt(t, c.pod, harness.FarIP, nodeAddr(c.through))
		})
	}
}
