package netpol

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

// testCluster: namespace "a" (team=x) holds web (10.16.0.10, http=8080) and
// db (10.16.0.11, http=9090, dns UDP 53); namespace "b" (team=y) holds
// client (10.16.1.10) and web2 (10.16.1.11, http=8081).
func testCluster() Cluster {
	http := func(n int32) []corev1.ContainerPort { return []corev1.ContainerPort{{Name: "http", ContainerPort: n}} }
	return Cluster{
		Namespaces: map[string]Namespace{
			"a": {Name: "a", Labels: map[string]string{"team": "x"}},
			"b": {Name: "b", Labels: map[string]string{"team": "y"}},
		},
		Pods: map[string][]Pod{
			"a": {
				{Namespace: "a", Name: "web", Labels: map[string]string{"app": "web"}, IPs: ips("10.16.0.10"), Ports: http(8080)},
				{Namespace: "a", Name: "db", Labels: map[string]string{"app": "db"}, IPs: ips("10.16.0.11"),
					Ports: append(http(9090), corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP})},
			},
			"b": {
				{Namespace: "b", Name: "client", Labels: map[string]string{"app": "client"}, IPs: ips("10.16.1.10")},
				{Namespace: "b", Name: "web2", Labels: map[string]string{"app": "web"}, IPs: ips("10.16.1.11"), Ports: http(8081)},
			},
		},
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = ip(s)
	}
	return out
}

func policy(spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"}, Spec: spec}
}

func labelSel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func port(proto corev1.Protocol, p intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}

func i32(v int32) *int32 { return &v }

var (
	pg      = ovnname.PolicyPortGroup("a", "p")
	webOnly = metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	// egressOnly isolates egress only, as the API's policyTypes say.
	egressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
)

// shared is the name of the shared address set of a peer of a policy of
// namespace "a".
func shared(peer networkingv1.NetworkPolicyPeer) string {
	s, err := NewPeerSelector("a", peer)
	if err != nil {
		panic(err)
	}
	return s.Name
}

// sharedMatch is the match of side ("src" or "dst") against the shared
// sets of peers of a policy of namespace "a", both families.
func sharedMatch(side string, peers ...networkingv1.NetworkPolicyPeer) string {
	var v4, v6 []string
	for _, p := range peers {
		v4 = append(v4, "$"+shared(p))
		v6 = append(v6, "$"+shared(p)+"_ip6")
	}
	set := func(names []string) string {
		if len(names) == 1 {
			return names[0]
		}
		return "{" + strings.Join(names, ", ") + "}"
	}
	return "ip4." + side + " == " + set(v4) + " || ip6." + side + " == " + set(v6)
}

var (
	everyNamespace = networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}
	dbPeer         = networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}
	webPeer        = networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "web")}
)

// resolving is the name of the shared set of the pods of a peer (of a
// policy of namespace "a") whose TCP port "http" is n.
func resolving(peer networkingv1.NetworkPolicyPeer, n int32) string {
	s, err := NewPeerSelector("a", peer)
	if err != nil {
		panic(err)
	}
	return s.Resolving("http", corev1.ProtocolTCP, n).Name
}

// resolvingMatch is the egress match against the resolving sets of peers
// for port number n, both families.
func resolvingMatch(n int32, peers ...networkingv1.NetworkPolicyPeer) string {
	var v4, v6 []string
	for _, p := range peers {
		v4 = append(v4, "$"+resolving(p, n))
		v6 = append(v6, "$"+resolving(p, n)+"_ip6")
	}
	if len(peers) == 1 {
		return "ip4.dst == " + v4[0] + " || ip6.dst == " + v6[0]
	}
	return "ip4.dst == {" + strings.Join(v4, ", ") + "} || ip6.dst == {" + strings.Join(v6, ", ") + "}"
}

// asEgHTTP is the address set of the pods whose port "http" (TCP) is n,
// for the first egress rule.
func asEgHTTP(n int) string {
	return ovnname.PolicyAddressSet("a", "p", fmt.Sprintf("egress/0/tcp/http/%d", n))
}

// want is a compact expectation: ACL direction+match, and address sets by name.
type want struct {
	ports    []string
	acls     []string // "<direction> <match>"
	sets     map[string][]string
	problems []string // substrings, one per problem
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name string
		spec networkingv1.NetworkPolicySpec
		want want
	}{
		{
			name: "deny all ingress: selected pods, no ACL",
			spec: networkingv1.NetworkPolicySpec{},
			want: want{ports: []string{"db.a", "web.a"}},
		},
		{
			name: "allow all ingress: empty rule",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}},
			want: want{ports: []string{"web.a"}, acls: []string{"to-lport outport == @" + pg}},
		},
		{
			name: "podSelector peer: pods of the policy's namespace",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")}}}}},
			want: want{ports: []string{"web.a"}, acls: []string{"to-lport outport == @" + pg + " && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}) + ")"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}): {"10.16.0.11"}}},
		},
		{
			name: "namespaceSelector peer: every pod of the selected namespaces",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: labelSel("team", "y")}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"to-lport outport == @" + pg + " && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y")}) + ")"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y")}): {"10.16.1.10", "10.16.1.11"}}},
		},
		{
			name: "both selectors in one peer: intersection",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: labelSel("app", "web")}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"to-lport outport == @" + pg + " && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: labelSel("app", "web")}) + ")"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: labelSel("app", "web")}): {"10.16.0.10", "10.16.1.11"}}},
		},
		{
			name: "selectors as two peers: union",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")}, {NamespaceSelector: labelSel("team", "y"), PodSelector: labelSel("app", "client")}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"to-lport outport == @" + pg + " && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}, networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y"), PodSelector: labelSel("app", "client")}) + ")"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}): {"10.16.0.11"}, shared(networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y"), PodSelector: labelSel("app", "client")}): {"10.16.1.10"}}},
		},
		{
			name: "ipBlock with except, beside a selector",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16", Except: []string{"172.17.1.0/24", "172.17.0.0/24"}}},
					{PodSelector: labelSel("app", "none")}}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{"to-lport outport == @" + pg + " && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "none")}) + " || (ip4.src == 172.17.0.0/16 && ip4.src != {172.17.0.0/24, 172.17.1.0/24}))"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "none")}): {}}},
		},
		{
			name: "ports: TCP, UDP, SCTP, protocol only, endPort",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
				port(corev1.ProtocolTCP, intstr.FromInt32(80)), port(corev1.ProtocolUDP, intstr.FromInt32(53)),
				port(corev1.ProtocolSCTP, intstr.FromInt32(9)), {Protocol: ptrProto(corev1.ProtocolUDP)},
				{Port: ptrIntstr(intstr.FromInt32(1000)), EndPort: i32(2000)}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"to-lport outport == @" + pg +
				" && (tcp.dst == 80 || udp.dst == 53 || sctp.dst == 9 || udp || (tcp.dst >= 1000 && tcp.dst <= 2000))"}},
		},
		{
			name: "ingress named port resolves on the selected pods, per number",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http")), port(corev1.ProtocolTCP, intstr.FromInt32(22))}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{
					"to-lport outport == @" + pg + " && tcp.dst == 22",
					"to-lport outport == @" + pg + " && ip4.dst == $" + ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080") + " && tcp.dst == 8080",
					"to-lport outport == @" + pg + " && ip4.dst == $" + ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/9090") + " && tcp.dst == 9090",
				},
				sets: map[string][]string{
					ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080"): {"10.16.0.10"},
					ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/9090"): {"10.16.0.11"},
				}},
		},
		{
			name: "named port of another protocol resolves on nothing",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"db.a", "web.a"}},
		},
		{
			name: "egress: from-lport, peers as destination",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")}}, Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromInt32(53))}}}},
			want: want{ports: []string{"web.a"}, acls: []string{"from-lport inport == @" + pg + " && (" + sharedMatch("dst", networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}) + ") && udp.dst == 53"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}): {"10.16.0.11"}}},
		},
		{
			name: "egress named port resolves on the peers",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"web.a"},
				acls: []string{
					"from-lport inport == @" + pg + " && (" + resolvingMatch(8080, everyNamespace) + ") && tcp.dst == 8080",
					"from-lport inport == @" + pg + " && (" + resolvingMatch(8081, everyNamespace) + ") && tcp.dst == 8081",
					"from-lport inport == @" + pg + " && (" + resolvingMatch(9090, everyNamespace) + ") && tcp.dst == 9090",
				},
				sets: map[string][]string{
					resolving(everyNamespace, 8080): {"10.16.0.10"},
					resolving(everyNamespace, 8081): {"10.16.1.11"},
					resolving(everyNamespace, 9090): {"10.16.0.11"},
				}},
		},
		{
			name: "egress named port of two selector peers: per number, both peers' sets of pods resolving it",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")}, {PodSelector: labelSel("app", "web")}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"web.a"},
				acls: []string{
					"from-lport inport == @" + pg + " && (" + resolvingMatch(8080, dbPeer, webPeer) + ") && tcp.dst == 8080",
					"from-lport inport == @" + pg + " && (" + resolvingMatch(9090, dbPeer, webPeer) + ") && tcp.dst == 9090",
				},
				sets: map[string][]string{
					resolving(dbPeer, 8080): {}, resolving(webPeer, 8080): {"10.16.0.10"},
					resolving(dbPeer, 9090): {"10.16.0.11"}, resolving(webPeer, 9090): {},
				}},
		},
		{
			name: "egress named port to an ipBlock resolves on the pods the block holds",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(8080) + " && tcp.dst == 8080",
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(8081) + " && tcp.dst == 8081",
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(9090) + " && tcp.dst == 9090",
				},
				sets: map[string][]string{asEgHTTP(8080): {"10.16.0.10"}, asEgHTTP(8081): {"10.16.1.11"}, asEgHTTP(9090): {"10.16.0.11"}}},
		},
		{
			name: "egress named port to an ipBlock with except leaves the excepted pods out",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.0.0/16", Except: []string{"10.16.0.11/32"}}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(8080) + " && tcp.dst == 8080",
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(8081) + " && tcp.dst == 8081",
				},
				sets: map[string][]string{asEgHTTP(8080): {"10.16.0.10"}, asEgHTTP(8081): {"10.16.1.11"}}},
		},
		{
			name: "egress named port to an ipBlock beside a pod selector resolves on both",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.1.0/24"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(8081) + " && tcp.dst == 8081",
					"from-lport inport == @" + pg + " && ip4.dst == $" + asEgHTTP(9090) + " && tcp.dst == 9090",
				},
				sets: map[string][]string{asEgHTTP(8081): {"10.16.1.11"}, asEgHTTP(9090): {"10.16.0.11"}}},
		},
		{
			name: "egress named port to an ipBlock holding no pod resolves on nothing",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"db.a", "web.a"}},
		},
		{
			name: "egress named port without peers resolves on every pod",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromString("dns"))}}}},
			want: want{ports: []string{"db.a", "web.a"},
				acls: []string{"from-lport inport == @" + pg + " && ip4.dst == $" + ovnname.PolicyAddressSet("a", "p", "egress/0/udp/dns/53") + " && udp.dst == 53"},
				sets: map[string][]string{ovnname.PolicyAddressSet("a", "p", "egress/0/udp/dns/53"): {"10.16.0.11"}}},
		},
		{
			name: "ingress named port from an ipBlock with except: the name on the selected pods, the block on the source",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.1.0/24", Except: []string{"10.16.1.10/32"}}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"web.a"},
				acls: []string{"to-lport outport == @" + pg + " && ip4.dst == $" + ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080") +
					" && (ip4.src == 10.16.1.0/24 && ip4.src != {10.16.1.10/32}) && tcp.dst == 8080"},
				sets: map[string][]string{ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080"): {"10.16.0.10"}}},
		},
		{
			name: "ingress named port from an ipBlock beside a pod selector",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: labelSel("app", "db")},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.1.0/24"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}},
			want: want{ports: []string{"web.a"},
				acls: []string{"to-lport outport == @" + pg + " && ip4.dst == $" + ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080") +
					" && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}) + " || ip4.src == 10.16.1.0/24) && tcp.dst == 8080"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "db")}): {"10.16.0.11"}, ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080"): {"10.16.0.10"}}},
		},
		{
			name: "egress endPort range and bare protocol to an ipBlock",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.0.0/16", Except: []string{"10.16.1.0/24"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptrIntstr(intstr.FromInt32(8000)), EndPort: i32(9000)},
					{Protocol: ptrProto(corev1.ProtocolSCTP)}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"from-lport inport == @" + pg +
				" && (ip4.dst == 10.16.0.0/16 && ip4.dst != {10.16.1.0/24}) && ((tcp.dst >= 8000 && tcp.dst <= 9000) || sctp)"}},
		},
		{
			name: "ingress endPort range of UDP from a namespace and an ipBlock",
			spec: networkingv1.NetworkPolicySpec{PodSelector: webOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: labelSel("team", "y")}, {IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptrProto(corev1.ProtocolUDP), Port: ptrIntstr(intstr.FromInt32(50)), EndPort: i32(60)}}}}},
			want: want{ports: []string{"web.a"}, acls: []string{"to-lport outport == @" + pg +
				" && (" + sharedMatch("src", networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y")}) + " || ip4.src == 172.17.0.0/16) && (udp.dst >= 50 && udp.dst <= 60)"},
				sets: map[string][]string{shared(networkingv1.NetworkPolicyPeer{NamespaceSelector: labelSel("team", "y")}): {"10.16.1.10", "10.16.1.11"}}},
		},
		{
			name: "policyTypes Egress only: ingress rules ignored",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{}}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"from-lport inport == @" + pg}},
		},
		{
			name: "ipBlocks of both families, each matched by its family's field",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "fd00:10::/48", Except: []string{"fd00:10:0:1::/64"}}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.0.0/16"}}}}}},
			want: want{ports: []string{"db.a", "web.a"}, acls: []string{"to-lport outport == @" + pg +
				" && ((ip6.src == fd00:10::/48 && ip6.src != {fd00:10:0:1::/64}) || ip4.src == 10.1.0.0/16)"}},
		},
		{
			name: "an IPv6 except outside its IPv6 block, or of the other family, is refused",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "fd00:10::/48", Except: []string{"fd00:11::/64"}}}}},
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"10.0.0.0/8"}}}}},
			}},
			want: want{ports: []string{"db.a", "web.a"}, problems: []string{"fd00:11::/64 is not inside", "10.0.0.0/8 is not inside"}},
		},
		{
			name: "a rule whose only peer is refused allows nothing",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}}}},
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"11.0.0.0/16"}}}}},
			}},
			want: want{ports: []string{"db.a", "web.a"}, problems: []string{`"10.0.0.0/33"`, "11.0.0.0/16 is not inside"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Translate(policy(tt.spec), testCluster(), Logging{})
			if !reflect.DeepEqual(got.PortGroup.Ports, tt.want.ports) && !(len(got.PortGroup.Ports) == 0 && len(tt.want.ports) == 0) {
				t.Errorf("ports %v, want %v", got.PortGroup.Ports, tt.want.ports)
			}
			var acls []string
			for _, a := range got.PortGroup.ACLs {
				acls = append(acls, a.Direction+" "+a.Match)
				checkPolicyACL(t, a)
			}
			if !reflect.DeepEqual(acls, tt.want.acls) {
				t.Errorf("acls\n got %q\nwant %q", acls, tt.want.acls)
			}
			sets := map[string][]string{}
			for _, s := range got.AddressSets {
				sets[s.Name] = s.Addresses
			}
			for _, s := range got.Peers {
				// The IPv4-only cluster's IPv6 sets exist and are empty.
				if addrs := Addresses(s.PodsIn(testCluster()), s.Family); s.Family == IPv4 || len(addrs) > 0 {
					sets[s.Name] = addrs
				}
			}
			if len(sets) != len(tt.want.sets) {
				t.Errorf("address sets %v, want %v", sets, tt.want.sets)
			}
			for name, addrs := range tt.want.sets {
				if !reflect.DeepEqual(sets[name], addrs) {
					t.Errorf("address set %s = %v, want %v", name, sets[name], addrs)
				}
			}
			if len(got.Problems) != len(tt.want.problems) {
				t.Fatalf("problems %q, want %d", got.Problems, len(tt.want.problems))
			}
			for i, p := range tt.want.problems {
				if !strings.Contains(got.Problems[i], p) {
					t.Errorf("problem %q does not mention %q", got.Problems[i], p)
				}
			}
		})
	}
}

func checkPolicyACL(t *testing.T, a ACL) {
	t.Helper()
	if a.Action != ActionAllowRelated || a.Priority != PriorityPolicyAllow || a.Name != "a/p" {
		t.Errorf("acl %+v: want allow-related at %d named a/p", a, PriorityPolicyAllow)
	}
	if after := a.Options[OptionApplyAfterLB] == "true"; after != (a.Direction == FromLport) {
		t.Errorf("acl %+v: apply-after-lb must be set exactly on from-lport ACLs", a)
	}
}

func ptrProto(p corev1.Protocol) *corev1.Protocol        { return &p }
func ptrIntstr(v intstr.IntOrString) *intstr.IntOrString { return &v }

func TestTranslateLogging(t *testing.T) {
	got := Translate(policy(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}), testCluster(),
		Logging{Allow: "notice", Deny: "alert"})
	if len(got.PortGroup.ACLs) != 1 || got.PortGroup.ACLs[0].Severity != "notice" {
		t.Fatalf("acls %+v: want one logged at notice", got.PortGroup.ACLs)
	}
}

func TestPolicyTypes(t *testing.T) {
	tests := []struct {
		name          string
		spec          networkingv1.NetworkPolicySpec
		wantIn, wantE bool
	}{
		{"no types, no egress rules", networkingv1.NetworkPolicySpec{}, true, false},
		{"no types, egress rules", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{}}}, true, true},
		{"egress only", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}, false, true},
		{"both", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, e := PolicyTypes(policy(tt.spec))
			if in != tt.wantIn || e != tt.wantE {
				t.Errorf("got ingress=%v egress=%v, want %v %v", in, e, tt.wantIn, tt.wantE)
			}
		})
	}
}

// Pods of both families (dual-stack, IPv6-only): every address set holds
// one family, and each is matched by its family's field.
func TestTranslateDualStack(t *testing.T) {
	http := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c := Cluster{
		Namespaces: map[string]Namespace{"a": {Name: "a"}},
		Pods: map[string][]Pod{"a": {
			{Namespace: "a", Name: "web", Labels: map[string]string{"app": "web"}, IPs: ips("10.16.0.10", "fd00:16::10"), Ports: http},
			{Namespace: "a", Name: "web6", Labels: map[string]string{"app": "web"}, IPs: ips("fd00:16::11"), Ports: http},
			{Namespace: "a", Name: "client", Labels: map[string]string{"app": "client"}, IPs: ips("10.16.0.12", "fd00:16::12")},
		}},
	}
	client := networkingv1.NetworkPolicyPeer{PodSelector: labelSel("app", "client")}
	got := Translate(policy(networkingv1.NetworkPolicySpec{PodSelector: webOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{client},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}}), c, Logging{})
	named4 := ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080")
	named6 := ovnname.PolicyAddressSet("a", "p", "ingress/0/tcp/http/8080/ip6")
	wantACL := "outport == @" + pg + " && (ip4.dst == $" + named4 + " || ip6.dst == $" + named6 + ") && (" +
		sharedMatch("src", client) + ") && tcp.dst == 8080"
	if len(got.PortGroup.ACLs) != 1 || got.PortGroup.ACLs[0].Match != wantACL {
		t.Fatalf("acls %+v\nwant one with %q", got.PortGroup.ACLs, wantACL)
	}
	sets := map[string][]string{}
	for _, s := range got.AddressSets {
		sets[s.Name] = s.Addresses
	}
	for _, s := range got.Peers {
		sets[s.Name] = Addresses(s.PodsIn(c), s.Family)
	}
	want := map[string][]string{
		named4: {"10.16.0.10"}, named6: {"fd00:16::10", "fd00:16::11"},
		shared(client): {"10.16.0.12"}, shared(client) + "_ip6": {"fd00:16::12"},
	}
	if !reflect.DeepEqual(sets, want) {
		t.Errorf("sets\n got %v\nwant %v", sets, want)
	}
	if len(got.Problems) != 0 {
		t.Errorf("problems %q", got.Problems)
	}
}

// An egress named port towards an IPv4 ipBlock resolves on the dual-stack
// pods the block holds, by their IPv4 address only: their IPv6 address is
// not in the block.
func TestTranslateDualStackEgressNamedPortToBlock(t *testing.T) {
	http := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c := Cluster{
		Namespaces: map[string]Namespace{"a": {Name: "a"}},
		Pods: map[string][]Pod{"a": {
			{Namespace: "a", Name: "web", Labels: map[string]string{"app": "web"}, IPs: ips("10.16.0.10", "fd00:16::10"), Ports: http},
			{Namespace: "a", Name: "client", Labels: map[string]string{"app": "client"}, IPs: ips("10.16.0.12", "fd00:16::12")},
		}},
	}
	got := Translate(policy(networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}},
		PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.16.0.0/24"}}},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromString("http"))}}}}), c, Logging{})
	want := map[string][]string{asEgHTTP(8080): {"10.16.0.10"}}
	sets := map[string][]string{}
	for _, s := range got.AddressSets {
		sets[s.Name] = s.Addresses
	}
	if !reflect.DeepEqual(sets, want) {
		t.Errorf("sets %v, want %v", sets, want)
	}
	if len(got.PortGroup.ACLs) != 1 || !strings.Contains(got.PortGroup.ACLs[0].Match, "ip4.dst == $"+asEgHTTP(8080)) ||
		strings.Contains(got.PortGroup.ACLs[0].Match, "ip6") {
		t.Errorf("acls %+v, want one on the IPv4 set only", got.PortGroup.ACLs)
	}
}
