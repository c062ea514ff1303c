package e2e

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/test/harness"
)

// portPeerScenarios are the truth table's rows that cross the kinds of
// port (named, endPort range, bare protocol) with the kinds of peer
// (podSelector, namespaceSelector, both in one peer, ipBlock with and
// without except, none) in both directions: a translation that handles a
// port kind for one peer kind only shows here. Rules without peers and
// with named ports, ranges or bare protocols on ingress are in the main
// table; each row here adds combinations no other row has.
func portPeerScenarios(cidrs scenarioCIDRs) []matrixScenario {
	all, host := cidrs.all, cidrs.host
	tcpProto, udpProto := protocolPtr(corev1.ProtocolTCP), protocolPtr(corev1.ProtocolUDP)
	return []matrixScenario{
		// Issue 9, defect 10, in its minimal form: the named port resolves
		// on every pod the block holds.
		{name: "egress named port to an ipBlock of the pod CIDR", policies: []pol{
			{namespace: "z", name: "to-cidr-named", pods: podIs("b"), types: egressOnly,
				egress: []rule{{peers: peers(fromCIDR(harness.DefaultNetwork().DefaultSubnet.CIDR)),
					ports: ports(namedPort("serve-80-tcp", tcpProto))}}}}},
		{name: "egress named port to an ipBlock with except beside a pod selector", policies: []pol{
			{namespace: "x", name: "to-cidr-or-c", pods: podIs("a"), types: egressOnly,
				egress: []rule{{peers: peers(fromPods(podIs("c")), fromCIDR(all, host("x/c"), host("y/b"))),
					ports: ports(namedPort("serve-81-udp", udpProto))}}}}},
		{name: "egress named and numbered ports to ipBlocks of single pods", policies: []pol{
			{namespace: "x", name: "to-hosts-named", pods: podIs("b"), types: egressOnly,
				egress: []rule{{peers: peers(fromCIDR(host("y/a")), fromCIDR(host("z/b"))),
					ports: ports(namedPort("serve-80-udp", udpProto), tcp(81))}}}}},
		{name: "egress named port to a namespace", policies: []pol{
			{namespace: "y", name: "to-x-named", pods: podIs("a"), types: egressOnly,
				egress: []rule{{peers: peers(fromNamespaces(nsIs("x"))), ports: ports(namedPort("serve-81-tcp", nil))}}}}},
		{name: "egress named port to pods of a namespace, both selectors", policies: []pol{
			{namespace: "y", name: "to-z-a-named", pods: podIs("c"), types: egressOnly,
				egress: []rule{{peers: peers(fromPodsIn(podIs("a"), nsIs("z"))), ports: ports(namedPort("serve-80-udp", udpProto))}}}}},
		{name: "egress port range and a bare protocol to an ipBlock with except", policies: []pol{
			{namespace: "x", name: "to-cidr-ranges", pods: podIs("c"), types: egressOnly,
				egress: []rule{{peers: peers(fromCIDR(all, host("y/c"))),
					ports: ports(portRange(corev1.ProtocolUDP, 79, 80), anyPortOf(corev1.ProtocolTCP))}}}}},
		{name: "egress port range to a pod selector and a namespace", policies: []pol{
			{namespace: "y", name: "to-y-or-z-range", pods: podIs("b"), types: egressOnly,
				egress: []rule{{peers: peers(fromPods(everything), fromNamespaces(nsIs("z"))),
					ports: ports(portRange(corev1.ProtocolTCP, 81, 90))}}}}},
		{name: "egress bare protocol to pods of every namespace, both selectors", policies: []pol{
			{namespace: "z", name: "to-any-a-udp", pods: podIs("c"), types: egressOnly,
				egress: []rule{{peers: peers(fromPodsIn(podIs("a"), everything)), ports: ports(anyPortOf(corev1.ProtocolUDP))}}}}},
		{name: "egress range of one port and a bare protocol, any peer", policies: []pol{
			{namespace: "x", name: "to-any-81", pods: podIs("a"), types: egressOnly,
				egress: []rule{{ports: ports(portRange(corev1.ProtocolTCP, 81, 81), anyPortOf(corev1.ProtocolUDP))}}}}},
		{name: "ingress named port from an ipBlock with except", policies: []pol{
			{namespace: "x", name: "from-cidr-named", pods: podIs("a"),
				ingress: []rule{{peers: peers(fromCIDR(all, host("y/b"))), ports: ports(namedPort("serve-80-tcp", nil))}}}}},
		{name: "ingress named UDP port from a pod selector and an ipBlock", policies: []pol{
			{namespace: "y", name: "from-c-or-host-named", pods: podIs("a"),
				ingress: []rule{{peers: peers(fromPods(podIs("c")), fromCIDR(host("x/b"))),
					ports: ports(namedPort("serve-81-udp", udpProto))}}}}},
		{name: "ingress named port from a namespace", policies: []pol{
			{namespace: "z", name: "from-x-named", pods: podIs("b"),
				ingress: []rule{{peers: peers(fromNamespaces(nsIs("x"))), ports: ports(namedPort("serve-81-tcp", nil))}}}}},
		{name: "ingress named ports from pods of every namespace, both selectors", policies: []pol{
			{namespace: "x", name: "from-any-b-named", pods: podIs("c"),
				ingress: []rule{{peers: peers(fromPodsIn(podIs("b"), everything)),
					ports: ports(namedPort("serve-80-udp", udpProto), namedPort("serve-81-tcp", tcpProto))}}}}},
		{name: "ingress port range from ipBlocks without except and a pod selector", policies: []pol{
			{namespace: "x", name: "from-hosts-range", pods: podIs("a"),
				ingress: []rule{{peers: peers(fromCIDR(host("z/c")), fromCIDR(host("y/a")), fromPods(podIs("c"))),
					ports: ports(portRange(corev1.ProtocolUDP, 81, 85))}}}}},
		{name: "ingress port range from a namespace and pods of a namespace", policies: []pol{
			{namespace: "y", name: "from-z-or-x-a-range", pods: podIs("c"),
				ingress: []rule{{peers: peers(fromNamespaces(nsIs("z")), fromPodsIn(podIs("a"), nsIs("x"))),
					ports: ports(portRange(corev1.ProtocolTCP, 79, 80))}}}}},
		{name: "ingress bare protocol from an ipBlock with except and pods of a namespace", policies: []pol{
			{namespace: "z", name: "from-cidr-tcp", pods: podIs("a"),
				ingress: []rule{{peers: peers(fromCIDR(all, host("x/a"), host("y/a")), fromPodsIn(podIs("a"), nsIs("x"))),
					ports: ports(anyPortOf(corev1.ProtocolTCP))}}}}},
	}
}
