package nodenat

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// TableName is the nftables table ovnet owns alone on a node, one of
// each family (ip and ip6).
const TableName = "ovnet"

// Sets and chains of the table.
const (
	// setNATSubnets holds the NAT subnets' ranges: a subnet change only
	// rewrites its elements.
	setNATSubnets = "nat-subnets"
	// setClusterTargets holds ClusterIP . protocol . port of the
	// Cluster-policy node ports: their DNATed traffic is masqueraded into
	// ovn0.
	setClusterTargets = "nodeport-cluster"
	// setPeerNodes holds the other nodes' InternalIPs: node-port traffic
	// from them is masqueraded into ovn0.
	setPeerNodes = "peer-nodes"
	// setRemoteEgress holds the ranges of the subnets centralized on
	// another node: node-port traffic to them is masqueraded into ovn0.
	setRemoteEgress = "remote-egress"
	// setServiceCIDR holds the ClusterIP range: connections from outside
	// to it are masqueraded into ovn0.
	setServiceCIDR = "service-cidr"

	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainNodePorts   = "nodeports"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
)

// maxComment keeps a rule's comment within what nft prints (128 bytes).
const maxComment = 120

// chainSpec is one chain as the table should have it.
type chainSpec struct {
	name     string
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	kind     nftables.ChainType
	// unordered chains hold rules that each match their own packets, so
	// rules are added and deleted one by one; an ordered chain is
	// rewritten whole when any of its rules changes.
	unordered bool
	rules     []ruleSpec
}

// ruleSpec is one rule: its comment identifies it, so the table is
// compared by comments and never by decoding expressions.
type ruleSpec struct {
	comment string
	// exprs makes the rule's expressions; it may add an anonymous set to
	// conn first, which must then be in the same batch as the rule.
	exprs func(conn *nftables.Conn, table *nftables.Table) ([]expr.Any, error)
}

// setSpec is one named set and its elements.
type setSpec struct {
	name     string
	keyType  nftables.SetDatatype
	interval bool
	elements []nftables.SetElement
}

// layout is the whole table.
type layout struct {
	chains []chainSpec
	sets   []setSpec
}

// buildLayout is the table of family f enforcing s, with nodePort the
// name of ovn0.
func buildLayout(s State, nodePort string, f Family) layout {
	toLocal := []ruleSpec{static("to a local address: node ports", concat(f.daddrLocal(),
		[]expr.Any{verdict(expr.VerdictJump, chainNodePorts)}))}
	return layout{
		sets: []setSpec{
			{name: setNATSubnets, keyType: f.addrType, interval: true, elements: rangeElements(s.NATSubnets)},
			{name: setClusterTargets, keyType: f.targetType(), elements: clusterTargetElements(s.NodePorts)},
			{name: setPeerNodes, keyType: f.addrType, elements: addrElements(s.PeerNodes)},
			{name: setRemoteEgress, keyType: f.addrType, interval: true, elements: rangeElements(s.RemoteEgress)},
			{name: setServiceCIDR, keyType: f.addrType, interval: true, elements: rangeElements(s.ServiceCIDR)},
		},
		chains: []chainSpec{
			{name: chainPrerouting, hook: nftables.ChainHookPrerouting, priority: nftables.ChainPriorityNATDest,
				kind: nftables.ChainTypeNAT, rules: toLocal},
			{name: chainOutput, hook: nftables.ChainHookOutput, priority: nftables.ChainPriorityNATDest,
				kind: nftables.ChainTypeNAT, rules: toLocal},
			{name: chainNodePorts, unordered: true, rules: f.nodePortRules(s.NodePorts)},
			{name: chainPostrouting, hook: nftables.ChainHookPostrouting, priority: nftables.ChainPriorityNATSource,
				kind: nftables.ChainTypeNAT, rules: f.postroutingRules(nodePort)},
			{name: chainForward, hook: nftables.ChainHookForward, priority: nftables.ChainPriorityFilter,
				kind: nftables.ChainTypeFilter, rules: f.forwardRules(nodePort)},
		},
	}
}

// postroutingRules masquerade egress of the NAT subnets to the uplink's
// address, and NodePort traffic sent into ovn0 to ovn0's join address so
// that its replies come back through this node.
func (f Family) postroutingRules(nodePort string) []ruleSpec {
	return []ruleSpec{
		static("egress of NAT subnets: masquerade", concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, nodePort),
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, nodePort),
			f.addrInSet(f.saddrOffset, setNATSubnets),
			[]expr.Any{&expr.Masq{}})),
		static("node port, policy Cluster, into "+nodePort+": masquerade", concat(
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq),
			f.targetInSet(setClusterTargets),
			[]expr.Any{&expr.Masq{}})),
		// A pod reaching its own node's port is DNATed back into ovn0;
		// without SNAT the endpoint would answer the pod directly.
		static("node port from "+nodePort+" back into "+nodePort+": masquerade", concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, nodePort),
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq),
			[]expr.Any{&expr.Masq{}})),
		// OVN sends the endpoint's reply to another node's address straight
		// to that node, past this node's conntrack, so a Local node port
		// reached from another node gives up the client address (a node's,
		// not a client's) for a reply that comes back here.
		static("node port from another node into "+nodePort+": masquerade", concat(
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq),
			f.addrInSet(f.saddrOffset, setPeerNodes),
			[]expr.Any{&expr.Masq{}})),
		// The same for an endpoint whose subnet leaves through another
		// node: its reply to an outside client would go there.
		static("node port to a subnet centralized elsewhere, into "+nodePort+": masquerade", concat(
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq),
			f.addrInSet(f.daddrOffset, setRemoteEgress),
			[]expr.Any{&expr.Masq{}})),
		// A ClusterIP reached from outside (routed here by BGP): OVN's
		// load balancer may pick an endpoint on another node, whose reply
		// would leave by that node without the reverse DNAT, which only
		// this node's side of the join switch holds. As kube-proxy does
		// for traffic from outside the cluster to a ClusterIP.
		static("from outside to a ClusterIP, into "+nodePort+": masquerade", concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, nodePort),
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			f.addrInSet(f.daddrOffset, setServiceCIDR),
			[]expr.Any{&expr.Masq{}})),
	}
}

// forwardRules are the inbound guard: from outside, only replies and
// node-port traffic reach an address of a NAT subnet.
func (f Family) forwardRules(nodePort string) []ruleSpec {
	return []ruleSpec{
		static("inbound guard: only replies and node ports reach NAT subnets", concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, nodePort),
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, nodePort),
			f.addrInSet(f.daddrOffset, setNATSubnets),
			notReply(),
			ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpEq),
			[]expr.Any{verdict(expr.VerdictDrop, "")})),
	}
}

// nodePortRules are one rule per node port.
func (f Family) nodePortRules(ports []NodePort) []ruleSpec {
	out := make([]ruleSpec, 0, len(ports))
	for _, np := range ports {
		out = append(out, f.nodePortRule(np))
	}
	return out
}

// nodePortRule DNATs one node port: to the ClusterIP (Cluster), to a
// random local endpoint (Local), or drops it (Local, no local endpoint).
func (f Family) nodePortRule(np NodePort) ruleSpec {
	match := l4port(np.Protocol, np.Port)
	switch {
	case !np.Local:
		return static(comment(np, "cluster "+np.ClusterIP.String()), concat(match, f.dnatTo(np.ClusterIP)))
	case len(np.Endpoints) == 0:
		return static(comment(np, "local: no endpoint, drop"), concat(match, []expr.Any{verdict(expr.VerdictDrop, "")}))
	}
	targets := make([]string, len(np.Endpoints))
	for i, ep := range np.Endpoints {
		targets[i] = ep.String()
	}
	endpoints := np.Endpoints
	return ruleSpec{comment: comment(np, "local "+strings.Join(targets, ",")),
		exprs: func(conn *nftables.Conn, table *nftables.Table) ([]expr.Any, error) {
			set, elems := f.targetMap(table, endpoints)
			if err := conn.AddSet(set, elems); err != nil {
				return nil, fmt.Errorf("endpoint map: %w", err)
			}
			return concat(match, f.dnatRandom(set, len(endpoints))), nil
		}}
}

// comment names a node-port rule by everything it does, so that any
// change makes a different comment; a long one is cut and keeps a hash of
// the whole.
func comment(np NodePort, action string) string {
	c := fmt.Sprintf("node port %s/%d %s -> %s", strings.ToLower(string(np.Protocol)), np.Port, np.Service, action)
	if len(c) <= maxComment {
		return c
	}
	h := fnv.New64a()
	h.Write([]byte(c))
	suffix := fmt.Sprintf("... #%016x", h.Sum64())
	return c[:maxComment-len(suffix)] + suffix
}

// static is a rule whose expressions are fixed.
func static(comment string, exprs []expr.Any) ruleSpec {
	return ruleSpec{comment: comment, exprs: func(*nftables.Conn, *nftables.Table) ([]expr.Any, error) { return exprs, nil }}
}

// rangeElements are an interval set's elements: each range's first
// address, and the address after its last flagged as the interval's end
// (none when the range runs to the last address).
func rangeElements(ranges []Range) []nftables.SetElement {
	var out []nftables.SetElement
	for _, r := range ranges {
		out = append(out, nftables.SetElement{Key: r.From.AsSlice()})
		if end := r.To.Next(); end.IsValid() {
			out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// addrElements are a plain address set's elements.
func addrElements(addrs []netip.Addr) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, nftables.SetElement{Key: a.AsSlice()})
	}
	return out
}

// clusterTargetElements are the DNAT targets of the Cluster node ports.
func clusterTargetElements(ports []NodePort) []nftables.SetElement {
	var out []nftables.SetElement
	for _, np := range ports {
		if !np.Local {
			out = append(out, nftables.SetElement{Key: targetBytes(np.Protocol, np.ClusterIP)})
		}
	}
	return out
}

// elementKey identifies an element for comparison.
func elementKey(e nftables.SetElement) string {
	k := fmt.Sprintf("%x", e.Key)
	if e.IntervalEnd {
		k += "/end"
	}
	return k
}
