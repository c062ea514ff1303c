package e2e

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// matrixScenario is one row of the NetworkPolicy truth table: policies,
// then optional steps; after each, the full 9x9 reachability matrix on
// tcp/80, tcp/81, udp/80 and udp/81 is probed with real connections and
// compared with what the Kubernetes semantics (Cyclonus's matcher) give.
type matrixScenario struct {
	name     string
	policies []pol
	steps    []matrixStep
}

// The upstream NetworkPolicy model (namespaces x, y, z; pods a, b, c) on
// two nodes joined by Geneve: every scenario's reachability, as a user
// would probe it, is the one the Kubernetes semantics give.
func TestNetworkPolicyMatrix(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	m := newModel(t, e, nil, e.geneveNodes("n1", "n2")...)
	t.Logf("model of %d pods up in %s", podCount, time.Since(start).Round(time.Millisecond))
	runMatrix(t, e, m, matrixScenarios(t, m))
	t.Logf("NetworkPolicy matrix suite: %s in all", time.Since(start).Round(time.Millisecond))
}

// ipv6Share is the part of the truth table the IPv6 model runs: every
// ipv6Share-th scenario, so that each kind of row is represented and
// the added run stays short.
const ipv6Share = 3

// modelIPv6CIDRs are the IPv6-only subnets of the IPv6 model's namespaces,
// inside one /108 so that the ipBlock rows have a prefix holding them all.
var modelIPv6CIDRs = map[string]string{"x": "fd00:78::/112", "y": "fd00:78::1:0/112", "z": "fd00:78::2:0/112"}

// The truth table over IPv6: the same model with IPv6-only pods (a subnet
// per namespace), a deterministic third of the scenarios, ipBlocks of
// IPv6 prefixes. Default deny must leave neighbour discovery working.
func TestNetworkPolicyMatrixIPv6(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	m := newModel(t, e, func(ns string) map[string]string {
		return map[string]string{annotation.CIDR: modelIPv6CIDRs[ns]}
	}, e.geneveNodes("n1", "n2")...)
	for i, s := range m.pods {
		if !s.IP.Is6() {
			t.Fatalf("pod %s got %s, want an IPv6 address", m.names[i], s.IP)
		}
	}
	t.Logf("IPv6 model of %d pods up in %s", podCount, time.Since(start).Round(time.Millisecond))
	var share []matrixScenario
	for i, sc := range matrixScenarios(t, m) {
		if i%ipv6Share == 0 {
			share = append(share, sc)
		}
	}
	runMatrix(t, e, m, share)
	t.Logf("NetworkPolicy matrix over IPv6, %d scenarios: %s in all", len(share), time.Since(start).Round(time.Millisecond))
}

// runMatrix runs each scenario on the model: its policies, the matrix
// checked, each step and the matrix again, then the model reset.
func runMatrix(t *testing.T, e *env, m *model, scenarios []matrixScenario) {
	for _, sc := range scenarios {
		began, ran := time.Now(), false
		t.Run(sc.name, func(t *testing.T) {
			ran = true
			for _, p := range sc.policies {
				if err := e.c.Create(e.ctx, p.object()); err != nil {
					t.Fatalf("create policy %s/%s: %v", p.namespace, p.name, err)
				}
			}
			m.checkMatrix(t, "policies created")
			for _, step := range sc.steps {
				step.do(t, m)
				m.checkMatrix(t, step.name)
			}
		})
		if !ran { // left out by -run
			continue
		}
		m.reset(t)
		t.Logf("scenario %q: %s with its reset", sc.name, time.Since(began).Round(time.Millisecond))
	}
}

// scenarioCIDRs are the ipBlocks the scenarios name, known once the
// model's pods have their addresses.
type scenarioCIDRs struct {
	// all is the smallest prefix holding every model pod.
	all string
	// host is the /32 (/128) of pod "ns/name".
	host func(name string) string
}

// matrixScenarios is the truth table; the ipBlock rows need the pods'
// addresses, known once the model is up.
func matrixScenarios(t *testing.T, m *model) []matrixScenario {
	cidrs := scenarioCIDRs{
		all: commonPrefix(t, m.ip("x/a"), m.ip("x/b"), m.ip("x/c"), m.ip("y/a"), m.ip("y/b"), m.ip("y/c"),
			m.ip("z/a"), m.ip("z/b"), m.ip("z/c")),
		host: func(name string) string {
			ip := netip.MustParseAddr(m.ip(name))
			return netip.PrefixFrom(ip, ip.BitLen()).String()
		},
	}
	return append(selectorScenarios(cidrs), portPeerScenarios(cidrs)...)
}

// selectorScenarios are the table's first rows: isolation, each kind of
// selector and peer, ports on their own, policy types, and changes made
// while policies hold.
func selectorScenarios(cidrs scenarioCIDRs) []matrixScenario {
	all, host := cidrs.all, cidrs.host
	xa := podIs("a")
	denyIngressX := pol{namespace: "x", name: "deny-ingress", pods: everything, types: ingressOnly}
	return []matrixScenario{
		{name: "no policies"},
		{name: "deny all ingress", policies: []pol{denyIngressX}},
		{name: "deny all egress", policies: []pol{{namespace: "x", name: "deny-egress", pods: everything, types: egressOnly}}},
		{name: "deny all ingress and egress", policies: []pol{{namespace: "x", name: "deny-all", pods: everything, types: bothTypes}}},
		{name: "allow all ingress over a deny", policies: []pol{denyIngressX,
			{namespace: "x", name: "allow-all", pods: everything, types: ingressOnly, ingress: []rule{allowAll}}}},
		{name: "allow from a namespace", policies: []pol{
			{namespace: "x", name: "from-y", pods: xa, ingress: []rule{{peers: peers(fromNamespaces(nsIs("y")))}}}}},
		{name: "allow from a pod of the same namespace", policies: []pol{
			{namespace: "x", name: "from-b", pods: xa, ingress: []rule{{peers: peers(fromPods(podIs("b")))}}}}},
		{name: "allow from a pod of a namespace, both selectors in one peer", policies: []pol{
			{namespace: "x", name: "from-y-b", pods: xa, ingress: []rule{{peers: peers(fromPodsIn(podIs("b"), nsIs("y")))}}}}},
		{name: "pod and namespace selectors as two peers are a union", policies: []pol{
			{namespace: "x", name: "from-b-or-y", pods: xa,
				ingress: []rule{{peers: peers(fromPods(podIs("b")), fromNamespaces(nsIs("y")))}}}}},
		{name: "ipBlock with except", policies: []pol{
			{namespace: "x", name: "from-cidr", pods: xa,
				ingress: []rule{{peers: peers(fromCIDR(all, host("y/b"), host("z/c")))}}}}},
		{name: "ipBlock of single pods, egress, one port", policies: []pol{
			{namespace: "x", name: "to-hosts", pods: podIs("b"), types: egressOnly,
				egress: []rule{{peers: peers(fromCIDR(host("z/a")), fromCIDR(host("y/c"))), ports: ports(udp(80))}}}}},
		{name: "named ports, TCP and UDP", policies: []pol{
			{namespace: "x", name: "named", pods: xa, ingress: []rule{{ports: ports(
				namedPort("serve-81-tcp", nil), namedPort("serve-80-udp", protocolPtr(corev1.ProtocolUDP)))}}}}},
		{name: "named port whose protocol does not match selects nothing", policies: []pol{
			{namespace: "x", name: "named-wrong-protocol", pods: xa, ingress: []rule{{ports: ports(
				namedPort("serve-81-udp", nil))}}}}},
		{name: "port ranges with endPort", policies: []pol{
			{namespace: "x", name: "ranges", pods: xa, ingress: []rule{{ports: ports(
				portRange(corev1.ProtocolTCP, 81, 82), portRange(corev1.ProtocolUDP, 70, 80))}}}}},
		{name: "one UDP port only", policies: []pol{
			{namespace: "x", name: "udp-81", pods: xa, ingress: []rule{{ports: ports(udp(81))}}}}},
		{name: "a protocol without a port", policies: []pol{
			{namespace: "x", name: "any-udp", pods: xa, ingress: []rule{{ports: ports(anyPortOf(corev1.ProtocolUDP))}}}}},
		{name: "egress to one port", policies: []pol{
			{namespace: "x", name: "to-tcp-80", pods: xa, types: egressOnly, egress: []rule{{ports: ports(tcp(80))}}}}},
		{name: "egress to a namespace", policies: []pol{
			{namespace: "x", name: "to-y", pods: xa, types: egressOnly, egress: []rule{{peers: peers(fromNamespaces(nsIs("y")))}}}}},
		{name: "egress to a named UDP port", policies: []pol{
			{namespace: "x", name: "to-named-udp", pods: podIs("c"), types: egressOnly,
				egress: []rule{{ports: ports(namedPort("serve-80-udp", protocolPtr(corev1.ProtocolUDP)))}}}}},
		{name: "ingress and egress in one policy", policies: []pol{
			{namespace: "x", name: "both", pods: xa, types: bothTypes,
				ingress: []rule{{peers: peers(fromPods(podIs("b")))}},
				egress:  []rule{{peers: peers(fromNamespaces(nsIs("z")))}}}}},
		{name: "policyTypes Egress only ignores ingress rules", policies: []pol{
			{namespace: "y", name: "egress-only", pods: podIs("b"), types: egressOnly,
				ingress: []rule{{peers: peers(fromNamespaces(nsIs("z")))}}}}},
		{name: "policyTypes defaulted from egress rules isolates ingress too", policies: []pol{
			{namespace: "y", name: "defaulted", pods: podIs("b"), egress: []rule{{peers: peers(fromNamespaces(nsIs("z")))}}}}},
		{name: "several policies on one pod add up", policies: []pol{
			{namespace: "x", name: "from-y", pods: xa, ingress: []rule{{peers: peers(fromNamespaces(nsIs("y")))}}},
			{namespace: "x", name: "from-z-tcp-80", pods: xa,
				ingress: []rule{{peers: peers(fromNamespaces(nsIs("z"))), ports: ports(tcp(80))}}}}},
		{name: "policies in three namespaces", policies: []pol{
			{namespace: "x", name: "deny-a", pods: xa, types: ingressOnly},
			{namespace: "y", name: "from-x", pods: everything, ingress: []rule{{peers: peers(fromNamespaces(nsIs("x")))}}},
			{namespace: "z", name: "c-no-egress", pods: podIs("c"), types: egressOnly}}},
		{name: "each namespace isolated, open inside", policies: []pol{
			{namespace: "x", name: "same-ns", pods: everything, ingress: []rule{{peers: peers(fromPods(everything))}}},
			{namespace: "y", name: "same-ns", pods: everything, ingress: []rule{{peers: peers(fromPods(everything))}}},
			{namespace: "z", name: "same-ns", pods: everything, ingress: []rule{{peers: peers(fromPods(everything))}}}}},
		{name: "empty podSelector in a peer is the policy's namespace", policies: []pol{
			{namespace: "x", name: "from-x", pods: xa, ingress: []rule{{peers: peers(fromPods(everything))}}}}},
		{name: "empty namespaceSelector with a podSelector is every namespace", policies: []pol{
			{namespace: "x", name: "from-any-c", pods: xa, ingress: []rule{{peers: peers(fromPodsIn(podIs("c"), everything))}}}}},
		{name: "empty namespaceSelector alone, one port", policies: []pol{
			{namespace: "x", name: "from-all-tcp-81", pods: xa,
				ingress: []rule{{peers: peers(fromNamespaces(everything)), ports: ports(tcp(81))}}}}},
		{name: "matchExpressions In", policies: []pol{
			{namespace: "x", name: "from-y-z", pods: xa, ingress: []rule{{peers: peers(fromNamespaces(
				expressions(requirement(namespaceLabel, metav1.LabelSelectorOpIn, "y", "z"))))}}}}},
		{name: "matchExpressions NotIn and Exists", policies: []pol{
			{namespace: "x", name: "not-a", pods: expressions(requirement(podLabel, metav1.LabelSelectorOpIn, "a", "b")),
				ingress: []rule{{peers: peers(fromPodsIn(
					expressions(requirement(podLabel, metav1.LabelSelectorOpNotIn, "a")),
					expressions(requirement(corev1.LabelMetadataName, metav1.LabelSelectorOpExists))))}}}}},
		{name: "matchExpressions DoesNotExist as a pod's label changes",
			policies: []pol{{namespace: "z", name: "unmarked", pods: everything, ingress: []rule{{peers: peers(fromPodsIn(
				expressions(requirement("role", metav1.LabelSelectorOpDoesNotExist)), everything))}}}},
			steps: []matrixStep{relabelPod("y/b", map[string]string{podLabel: "b", "role": "marked"})}},
		{name: "a pod enters and leaves a policy's selection",
			policies: []pol{{namespace: "x", name: "isolate", pods: labels("role", "isolated"), types: bothTypes}},
			steps: []matrixStep{
				relabelPod("x/b", map[string]string{podLabel: "b", "role": "isolated"}),
				relabelPod("x/b", map[string]string{podLabel: "b"}),
			}},
		{name: "a pod enters and leaves a peer's selection",
			policies: []pol{{namespace: "x", name: "from-friends", pods: xa,
				ingress: []rule{{peers: peers(fromPodsIn(labels("role", "friend"), everything))}}}},
			steps: []matrixStep{
				relabelPod("y/c", map[string]string{podLabel: "c", "role": "friend"}),
				relabelPod("x/b", map[string]string{podLabel: "b", "role": "friend"}),
				relabelPod("y/c", map[string]string{podLabel: "c"}),
			}},
		{name: "a namespace's label change",
			policies: []pol{{namespace: "x", name: "from-blue", pods: xa,
				ingress: []rule{{peers: peers(fromNamespaces(labels("team", "blue")))}}}},
			steps: []matrixStep{
				relabelNamespace("z", map[string]string{namespaceLabel: "z", "team": "blue"}),
				relabelNamespace("y", map[string]string{namespaceLabel: "y", "team": "blue"}),
				relabelNamespace("z", map[string]string{namespaceLabel: "z"}),
			}},
		{name: "deleting policies restores reachability",
			policies: []pol{
				{namespace: "x", name: "deny-all", pods: everything, types: bothTypes},
				{namespace: "x", name: "from-y", pods: everything, ingress: []rule{{peers: peers(fromNamespaces(nsIs("y")))}}}},
			steps: []matrixStep{deletePolicy("x", "from-y"), deletePolicy("x", "deny-all")}},
		{name: "updating a policy in place",
			policies: []pol{{namespace: "x", name: "from", pods: xa, ingress: []rule{{peers: peers(fromNamespaces(nsIs("y")))}}}},
			steps: []matrixStep{
				updatePolicy(pol{namespace: "x", name: "from", pods: xa,
					ingress: []rule{{peers: peers(fromNamespaces(nsIs("z"))), ports: ports(anyPortOf(corev1.ProtocolUDP))}}}),
				updatePolicy(pol{namespace: "x", name: "from", pods: podIs("b"), types: egressOnly,
					egress: []rule{{peers: peers(fromPods(podIs("c")))}}}),
			}},
	}
}
