package netpol

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

// Policy is what a NetworkPolicy needs in OVN: a port group of the pods it
// selects, holding its allow ACLs, the address sets of its own those name
// (named ports), and the shared sets of its selector peers.
type Policy struct {
	PortGroup   PortGroup
	AddressSets []AddressSet
	// Peers are the distinct selector peers whose shared address sets the
	// ACLs name; their content is the controller's to keep.
	Peers []PeerSelector
	// Problems are parts of the policy that cannot be enforced and were
	// left out; each leaves the policy allowing less, never more.
	Problems []string
}

// Translate computes what policy p needs in OVN against cluster c; log says
// which of its ACLs log (the namespace's acl-logging annotation).
func Translate(p *networkingv1.NetworkPolicy, c Cluster, log Logging) Policy {
	t := translator{policy: p, cluster: c, log: log, pg: ovnname.PolicyPortGroup(p.Namespace, p.Name)}
	selected, err := SelectedPods(p, c)
	if err != nil {
		t.problem("%v: the policy selects no pod", err)
	}
	t.selected = selected
	out := Policy{PortGroup: PortGroup{Name: t.pg, Ports: portNames(selected)}}
	ingress, egress := PolicyTypes(p)
	if ingress {
		for i, rule := range p.Spec.Ingress {
			t.rule(Ingress, i, rule.From, rule.Ports)
		}
	}
	if egress {
		for i, rule := range p.Spec.Egress {
			t.rule(Egress, i, rule.To, rule.Ports)
		}
	}
	out.PortGroup.ACLs = t.acls
	out.AddressSets = t.sets
	out.Peers = t.peerSels
	out.Problems = t.problems
	return out
}

// translator accumulates one policy's rows.
type translator struct {
	policy   *networkingv1.NetworkPolicy
	cluster  Cluster
	log      Logging
	pg       string
	selected []Pod
	acls     []ACL
	sets     []AddressSet
	peerSels []PeerSelector
	problems []string
}

func (t *translator) problem(format string, args ...any) {
	t.problems = append(t.problems, fmt.Sprintf(format, args...))
}

// addressSets records the address sets of ips, one per family that has
// some, and returns the match of side ("src" or "dst") against them. The
// IPv4 set keeps the key's name, so that a cluster of one family names
// its sets as before.
func (t *translator) addressSets(key, side string, ips []netip.Addr) string {
	var terms []string
	for _, f := range families {
		of := addresses(filterFamily(ips, f))
		if len(of) == 0 {
			continue
		}
		setKey := key
		if f != IPv4 {
			setKey += "/" + string(f)
		}
		name := ovnname.PolicyAddressSet(t.policy.Namespace, t.policy.Name, setKey)
		t.sets = append(t.sets, AddressSet{Name: name, Addresses: of})
		terms = append(terms, f.field(side)+" == $"+name)
	}
	return or(terms)
}

// fields names the match fields of a direction: the selected pods' port,
// and the side of the IP header ("src" or "dst") of the peer and of the
// selected pod.
type fields struct{ port, peerSide, ownSide string }

func fieldsOf(dir Direction) fields {
	if dir == Ingress {
		return fields{port: "outport", peerSide: "src", ownSide: "dst"}
	}
	return fields{port: "inport", peerSide: "dst", ownSide: "src"}
}

// rule adds the ACLs of one ingress or egress rule: one for its numeric
// ports (or all ports), one per resolved number of each named port.
func (t *translator) rule(dir Direction, index int, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) {
	f := fieldsOf(dir)
	key := fmt.Sprintf("%s/%d", strings.ToLower(string(dir)), index)
	peer, ok := t.peers(dir, key, peers)
	if !ok {
		return // every peer was left out: the rule allows nothing
	}
	numeric, named := splitPorts(ports)
	if len(ports) == 0 || len(numeric) > 0 {
		t.usePeers(peer.selectors)
		t.allow(dir, and(f.port+" == @"+t.pg, peer.match, or(numeric)))
	}
	for _, np := range named {
		t.namedPort(dir, key, np, peer)
	}
}

// peerSet is what a rule's peers stand for.
type peerSet struct {
	// match restricts the peer's address; "" when the rule names no peer.
	match string
	// any is set when the rule names no peer: every address.
	any bool
	// selectors are the selector peers kept.
	selectors []PeerSelector
	// blocks are the ipBlock peers kept.
	blocks []ipBlock
}

// podsAmong returns the pods of c the peers hold: those the selectors
// select, with all their addresses, and those with an address an ipBlock
// holds, with those addresses only. An egress rule's named
// port resolves on these; an address of no pod resolves no name.
func (s peerSet) podsAmong(c Cluster) []Pod {
	if s.any {
		return allPods(c)
	}
	var out []Pod
	for _, sel := range s.selectors {
		if sel.Family != IPv4 {
			continue // the twin selects the same pods
		}
		out = append(out, sel.PodsIn(c)...)
	}
	if len(s.blocks) == 0 {
		return out
	}
	for _, pod := range allPods(c) {
		if held := s.blockAddresses(pod); len(held) > 0 {
			// Only the addresses a block holds: a dual-stack pod whose
			// IPv4 address is in an IPv4 block is not a peer by its IPv6 one.
			pod.IPs = held
			out = append(out, pod)
		}
	}
	return out
}

// blockAddresses are the pod's addresses some ipBlock holds.
func (s peerSet) blockAddresses(pod Pod) []netip.Addr {
	var held []netip.Addr
	for _, ip := range pod.IPs {
		for _, b := range s.blocks {
			if b.contains(ip) {
				held = append(held, ip)
				break
			}
		}
	}
	return held
}

// peers returns what a rule's peers stand for; ok is false when the rule
// has peers but none could be kept.
func (t *translator) peers(dir Direction, key string, peers []networkingv1.NetworkPolicyPeer) (peerSet, bool) {
	if len(peers) == 0 {
		return peerSet{any: true}, true
	}
	f := fieldsOf(dir)
	var set peerSet
	var terms []string
	for i, peer := range peers {
		if peer.IPBlock != nil {
			block, err := parseIPBlock(peer.IPBlock)
			if err != nil {
				t.problem("%s rule %s peer %d: %v: peer left out", dir, indexOf(key), i, err)
				continue
			}
			set.blocks = append(set.blocks, block)
			terms = append(terms, block.match(familyOfPrefix(block.cidr).field(f.peerSide)))
			continue
		}
		sel, err := NewPeerSelector(t.policy.Namespace, peer)
		if err != nil {
			t.problem("%s rule %s peer %d: %v: peer left out", dir, indexOf(key), i, err)
			continue
		}
		// A set per family: a pod's addresses of both families are
		// the peer, each matched by the field of its family.
		for _, fam := range families {
			if s := sel.InFamily(fam); !containsSelector(set.selectors, s) {
				set.selectors = append(set.selectors, s)
			}
		}
	}
	if len(set.selectors) > 0 {
		terms = append([]string{peerMatch(f.peerSide, set.selectors)}, terms...)
	}
	if len(terms) == 0 {
		return peerSet{}, false
	}
	set.match = or(terms)
	return set, true
}

// usePeers records the shared sets an ACL of the policy names.
func (t *translator) usePeers(sels []PeerSelector) {
	for _, s := range sels {
		if !containsSelector(t.peerSels, s) {
			t.peerSels = append(t.peerSels, s)
		}
	}
}

func containsSelector(sels []PeerSelector, s PeerSelector) bool {
	for _, have := range sels {
		if have.Name == s.Name {
			return true
		}
	}
	return false
}

func indexOf(key string) string { return key[strings.IndexByte(key, '/')+1:] }

// namedPortRef is a named port of a rule, with its protocol.
type namedPortRef struct {
	name     string
	protocol corev1.Protocol
}

// splitPorts separates a rule's ports into the matches of numeric ports
// (or bare protocols) and the named ports, which resolve per pod.
func splitPorts(ports []networkingv1.NetworkPolicyPort) ([]string, []namedPortRef) {
	var numeric []string
	var named []namedPortRef
	seen := map[namedPortRef]bool{}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		l4 := strings.ToLower(string(proto))
		switch {
		case p.Port == nil:
			numeric = append(numeric, l4)
		case p.Port.Type == intstr.String:
			ref := namedPortRef{name: p.Port.StrVal, protocol: proto}
			if !seen[ref] {
				seen[ref] = true
				named = append(named, ref)
			}
		case p.EndPort != nil && *p.EndPort > p.Port.IntVal:
			numeric = append(numeric, fmt.Sprintf("(%s.dst >= %d && %s.dst <= %d)", l4, p.Port.IntVal, l4, *p.EndPort))
		default:
			numeric = append(numeric, fmt.Sprintf("%s.dst == %d", l4, p.Port.IntVal))
		}
	}
	return numeric, named
}

// namedPort adds the ACLs of one named port. The name resolves on the
// destination: for an ingress rule the selected pods, for an egress rule
// each pod among the peers. Each number it resolves to gets an address set
// of the pods that resolve it so; pods without the name contribute nothing.
func (t *translator) namedPort(dir Direction, key string, np namedPortRef, peer peerSet) {
	f := fieldsOf(dir)
	l4 := strings.ToLower(string(np.protocol))
	if dir == Egress && peer.selectorsOnly() {
		t.namedPortOfSelectors(np, peer)
		return
	}
	resolveOn, side, peerMatch := t.selected, f.ownSide, peer.match
	if dir == Egress {
		// The set of the resolving peer pods is itself the peer match.
		resolveOn, side, peerMatch = peer.podsAmong(t.cluster), f.peerSide, ""
	}
	byNumber := map[int32][]netip.Addr{}
	for _, pod := range resolveOn {
		if n, ok := namedPort(pod, np.name, np.protocol); ok {
			byNumber[n] = append(byNumber[n], pod.IPs...)
		}
	}
	numbers := make([]int32, 0, len(byNumber))
	for n := range byNumber {
		numbers = append(numbers, n)
	}
	sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
	if dir == Ingress && len(numbers) > 0 {
		t.usePeers(peer.selectors)
	}
	for _, n := range numbers {
		resolved := t.addressSets(fmt.Sprintf("%s/%s/%s/%d", key, l4, np.name, n), side, byNumber[n])
		t.allow(dir, and(f.port+" == @"+t.pg, resolved, peerMatch, fmt.Sprintf("%s.dst == %d", l4, n)))
	}
}

// namedPortOfSelectors adds the ACLs of an egress named port whose peers
// are all selectors: per number the name resolves to among the peers, the
// shared sets of the peers resolving it so (PeerSelector.Resolving). A
// pod coming or going among them changes those sets alone; only a number
// new to the policy, or no longer resolved, changes its ACLs.
func (t *translator) namedPortOfSelectors(np namedPortRef, peer peerSet) {
	f := fieldsOf(Egress)
	numbers := map[int32]bool{}
	for _, pod := range peer.podsAmong(t.cluster) {
		if n, ok := namedPort(pod, np.name, np.protocol); ok {
			numbers[n] = true
		}
	}
	for _, n := range slices.Sorted(maps.Keys(numbers)) {
		sels := make([]PeerSelector, len(peer.selectors))
		for i, s := range peer.selectors {
			sels[i] = s.Resolving(np.name, np.protocol, n)
		}
		t.usePeers(sels)
		t.allow(Egress, and(f.port+" == @"+t.pg, peerMatch(f.peerSide, sels),
			fmt.Sprintf("%s.dst == %d", strings.ToLower(string(np.protocol)), n)))
	}
}

// selectorsOnly reports whether every peer is a selector: no ipBlock, and
// not the "every address" of a rule without peers.
func (s peerSet) selectorsOnly() bool { return !s.any && len(s.blocks) == 0 && len(s.selectors) > 0 }

// allow adds an allow-related ACL of the policy.
func (t *translator) allow(dir Direction, match string) {
	acl := ACL{Name: ovnname.PolicyACL(t.policy.Namespace, t.policy.Name), Priority: PriorityPolicyAllow,
		Match: match, Action: ActionAllowRelated, Severity: t.log.Allow}
	if dir == Ingress {
		acl.Direction = ToLport
	} else {
		acl.Direction = FromLport
		acl.Options = map[string]string{OptionApplyAfterLB: "true"}
	}
	t.acls = append(t.acls, acl)
}

// and joins non-empty terms, each parenthesized when it holds an "||".
func and(terms ...string) string {
	var kept []string
	for _, term := range terms {
		if term == "" {
			continue
		}
		if strings.Contains(term, "||") {
			term = "(" + term + ")"
		}
		kept = append(kept, term)
	}
	return strings.Join(kept, " && ")
}

// or joins terms; none gives "" (no restriction).
func or(terms []string) string { return strings.Join(terms, " || ") }

// ipsOf returns the pods' addresses of family f.
func ipsOf(pods []Pod, f Family) []netip.Addr {
	var ips []netip.Addr
	for _, p := range pods {
		if ip, ok := p.AddrOf(f); ok {
			ips = append(ips, ip)
		}
	}
	return ips
}

// filterFamily returns the addresses of family f.
func filterFamily(ips []netip.Addr, f Family) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if FamilyOf(ip) == f {
			out = append(out, ip)
		}
	}
	return out
}

// addresses returns the distinct IPs, sorted.
func addresses(ips []netip.Addr) []string {
	sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	out := make([]string, 0, len(ips))
	for i, ip := range ips {
		if i > 0 && ip == ips[i-1] {
			continue
		}
		out = append(out, ip.String())
	}
	return out
}

// portNames returns the pods' logical switch ports, sorted.
func portNames(pods []Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = ovnname.PodPort(p.Namespace, p.Name)
	}
	sort.Strings(names)
	return names
}
