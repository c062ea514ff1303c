package nodenat

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/pkg/ipam"
)

// sampleState has every kind of element: two NAT ranges and a node port
// of each policy.
func sampleState() State {
	return State{
		NATSubnets: []Range{rangeOf("10.16.0.0/16"), rangeOf("10.66.0.0/24")},
		NodePorts: []NodePort{
			{Service: "a/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, ClusterIP: netip.MustParseAddrPort("10.96.0.10:80")},
			{Service: "a/local:http", Protocol: corev1.ProtocolTCP, Port: 30081, Local: true,
				Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.16.0.5:8080"), netip.MustParseAddrPort("10.16.0.6:8080")}},
			{Service: "a/dns:dns", Protocol: corev1.ProtocolUDP, Port: 30053, Local: true},
		},
	}
}

func rangeOf(cidr string) Range {
	p := netip.MustParsePrefix(cidr)
	return Range{From: p.Addr(), To: ipam.LastAddr(p)}
}

// newTestTable is the table of a fresh namespace, deleted at the end.
func newTestTable(t *testing.T) (*Table, *testNS) {
	ns := newNS(t, "t")
	tbl := NewTable(int(ns.fd), "ovn0", IPv4)
	t.Cleanup(func() {
		if err := tbl.Delete(); err != nil {
			t.Errorf("delete table: %v", err)
		}
	})
	return tbl, ns
}

func mustConverge(t *testing.T, tbl *Table, s State) Changes {
	t.Helper()
	c, err := tbl.Converge(s)
	if err != nil {
		t.Fatalf("Converge: %v", err)
	}
	return c
}

// dump lists an ip table's chains with every rule's handle and comment
// and every named set's elements, one line each, sorted: what must (or
// must not) change between two converges.
func dump(t *testing.T, ns *testNS, table string) []string {
	t.Helper()
	return dumpFamily(t, ns, table, IPv4)
}

// dumpFamily is dump for the table of family f.
func dumpFamily(t *testing.T, ns *testNS, table string, f Family) []string {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.fd)))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: table, Family: f.table}
	if _, err := conn.ListTableOfFamily(table, f.table); errors.Is(err, unix.ENOENT) {
		return nil
	}
	chains, err := conn.ListChainsOfTableFamily(f.table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != table {
			continue
		}
		out = append(out, "chain "+ch.Name)
		rules, err := conn.GetRules(tbl, ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			out = append(out, fmt.Sprintf("rule %s #%d %q (%d exprs)", ch.Name, r.Handle, ruleComment(r), len(r.Exprs)))
		}
	}
	sets, err := conn.GetSets(tbl)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			out = append(out, fmt.Sprintf("element %s %s", s.Name, elementKey(e)))
		}
	}
	sort.Strings(out)
	return out
}

func TestConvergeTwiceChangesNothing(t *testing.T) {
	tbl, ns := newTestTable(t)
	if c := mustConverge(t, tbl, sampleState()); !c.Created {
		t.Fatalf("first converge: %v, want the table created", c)
	}
	before := dump(t, ns, TableName)
	if c := mustConverge(t, tbl, sampleState()); !c.Empty() {
		t.Fatalf("second converge changed %v, want nothing", c)
	}
	if after := dump(t, ns, TableName); !slices.Equal(before, after) {
		t.Fatalf("table changed by a converge with the same state:\nbefore %s\nafter  %s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// sampleState6 is sampleState's IPv6 twin.
func sampleState6() State {
	return State{
		NATSubnets: []Range{rangeOf("fd00:10:16::/64")},
		NodePorts: []NodePort{
			{Service: "a/web:http", Protocol: corev1.ProtocolTCP, Port: 30080, ClusterIP: netip.MustParseAddrPort("[fd00:96::10]:80")},
			{Service: "a/local:http", Protocol: corev1.ProtocolTCP, Port: 30081, Local: true,
				Endpoints: []netip.AddrPort{netip.MustParseAddrPort("[fd00:10:16::5]:8080"), netip.MustParseAddrPort("[fd00:10:16::6]:8080")}},
			{Service: "a/dns:dns", Protocol: corev1.ProtocolUDP, Port: 30053, Local: true},
		},
		PeerNodes:   []netip.Addr{netip.MustParseAddr("2001:db8::3")},
		ServiceCIDR: []Range{rangeOf("fd00:96::/112")},
	}
}

// TestIPv6TableBesideIPv4: the ip6 table takes IPv6 elements, converges
// to no change a second time, and lives and dies apart from the ip one.
func TestIPv6TableBesideIPv4(t *testing.T) {
	tbl4, ns := newTestTable(t)
	tbl6 := NewTable(int(ns.fd), "ovn0", IPv6)
	t.Cleanup(func() {
		if err := tbl6.Delete(); err != nil {
			t.Errorf("delete ip6 table: %v", err)
		}
	})
	mustConverge(t, tbl4, sampleState())
	if c := mustConverge(t, tbl6, sampleState6()); !c.Created {
		t.Fatalf("first converge of the ip6 table: %v, want it created", c)
	}
	before4, before6 := dump(t, ns, TableName), dumpFamily(t, ns, TableName, IPv6)
	for _, want := range []string{"element nat-subnets fd000010001600000000000000000000", "element peer-nodes 20010db8000000000000000000000003",
		`"node port tcp/30080 a/web:http -> cluster [fd00:96::10]:80"`, "[fd00:10:16::5]:8080,[fd00:10:16::6]:8080"} {
		if _, ok := findLine(before6, want); !ok {
			t.Errorf("no %q in the ip6 table:\n%s", want, strings.Join(before6, "\n"))
		}
	}
	if c := mustConverge(t, tbl6, sampleState6()); !c.Empty() {
		t.Fatalf("second converge of the ip6 table changed %v, want nothing", c)
	}
	s := sampleState6()
	s.NodePorts = s.NodePorts[1:]
	if c := mustConverge(t, tbl6, s); c.Created || !slices.Equal(c.Chains, []string{chainNodePorts}) {
		t.Fatalf("removing a node port changed %+v, want the nodeports chain in place", c)
	}
	if err := tbl6.Delete(); err != nil {
		t.Fatal(err)
	}
	if after := dumpFamily(t, ns, TableName, IPv6); after != nil {
		t.Fatalf("ip6 table left after Delete: %v", after)
	}
	if after := dump(t, ns, TableName); !slices.Equal(before4, after) {
		t.Fatalf("the ip table changed with the ip6 one:\nbefore %s\nafter  %s", strings.Join(before4, "\n"), strings.Join(after, "\n"))
	}
}

func TestConvergeUpdatesInPlace(t *testing.T) {
	tests := []struct {
		name   string
		change func(*State)
		// gone and kept are substrings of dump lines.
		gone, kept   []string
		sets, chains []string
	}{
		{"subnet removed", func(s *State) { s.NATSubnets = s.NATSubnets[:1] },
			[]string{"element nat-subnets 0a420000"}, []string{"element nat-subnets 0a100000", `"node port tcp/30080`},
			[]string{setNATSubnets}, nil},
		{"Cluster service removed", func(s *State) { s.NodePorts = s.NodePorts[1:] },
			[]string{"tcp/30080", "element nodeport-cluster"}, []string{`"node port tcp/30081`, `"node port udp/30053`},
			[]string{setClusterTargets}, []string{chainNodePorts}},
		{"Local endpoint gone", func(s *State) { s.NodePorts[1].Endpoints = s.NodePorts[1].Endpoints[:1] },
			[]string{"10.16.0.6:8080"}, []string{`"node port tcp/30080`, `"node port udp/30053`},
			nil, []string{chainNodePorts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, ns := newTestTable(t)
			mustConverge(t, tbl, sampleState())
			before := dump(t, ns, TableName)
			s := sampleState()
			tt.change(&s)
			c := mustConverge(t, tbl, s)
			if c.Created || !slices.Equal(c.Sets, tt.sets) || !slices.Equal(c.Chains, tt.chains) {
				t.Fatalf("changes %+v, want sets %v chains %v in place", c, tt.sets, tt.chains)
			}
			after := dump(t, ns, TableName)
			for _, g := range tt.gone {
				if line, ok := findLine(after, g); ok {
					t.Errorf("%q still there: %s", g, line)
				}
			}
			// A kept rule keeps its handle: it was not deleted and re-added.
			for _, k := range tt.kept {
				line, ok := findLine(before, k)
				if _, still := findLine(after, line); !ok || !still {
					t.Errorf("%q not kept as it was (%q):\n%s", k, line, strings.Join(after, "\n"))
				}
			}
			if c := mustConverge(t, tbl, s); !c.Empty() {
				t.Fatalf("converge after the change changed %v again", c)
			}
		})
	}
}

func findLine(lines []string, part string) (string, bool) {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return l, true
		}
	}
	return "", false
}

func TestConvergeRebuildsForeignShape(t *testing.T) {
	tbl, ns := newTestTable(t)
	mustConverge(t, tbl, sampleState())
	// Someone adds a chain to our table: the next converge replaces the
	// table whole rather than guessing.
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.fd)))
	if err != nil {
		t.Fatal(err)
	}
	conn.AddChain(&nftables.Chain{Name: "intruder", Table: tbl.table})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if c := mustConverge(t, tbl, sampleState()); !c.Created {
		t.Fatalf("converge after a foreign chain: %v, want a rebuild", c)
	}
	if _, ok := findLine(dump(t, ns, TableName), "intruder"); ok {
		t.Fatal("foreign chain survived the rebuild")
	}
}

// A rule the library cannot decode (ct original proto-dst, whose direction
// attribute it reads back wrongly) makes the table unreadable: converge
// replaces it whole instead of failing for ever.
func TestConvergeReplacesUnreadableTable(t *testing.T) {
	tbl, ns := newTestTable(t)
	mustConverge(t, tbl, sampleState())
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.fd)))
	if err != nil {
		t.Fatal(err)
	}
	conn.AddRule(&nftables.Rule{Table: tbl.table, Chain: &nftables.Chain{Name: chainPostrouting, Table: tbl.table},
		Exprs: []expr.Any{&expr.Ct{Register: reg1, Key: expr.CtKeyPROTODST}, &expr.Counter{}}})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	c := mustConverge(t, tbl, sampleState())
	if !c.Created || !strings.Contains(c.Reason, "unreadable") {
		t.Fatalf("converge over an unreadable table: %+v, want it replaced", c)
	}
	if c := mustConverge(t, tbl, sampleState()); !c.Empty() {
		t.Fatalf("converge after the replacement changed %v", c)
	}
}

// addForeignTables makes what a host firewall or Docker would have: a nat
// table with a postrouting masquerade and an accept in the same hook as
// ours, and a filter table with a forward chain.
func addForeignTables(t *testing.T, ns *testNS) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.fd)))
	if err != nil {
		t.Fatal(err)
	}
	nat := conn.AddTable(&nftables.Table{Name: "nat", Family: nftables.TableFamilyIPv4})
	post := conn.AddChain(&nftables.Chain{Name: "postrouting", Table: nat, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	conn.AddRule(&nftables.Rule{Table: nat, Chain: post, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, "eth9"), []expr.Any{&expr.Masq{}})})
	conn.AddRule(&nftables.Rule{Table: nat, Chain: post, Exprs: []expr.Any{verdict(expr.VerdictAccept, "")}})
	filter := conn.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
	fwd := conn.AddChain(&nftables.Chain{Name: "forward", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	conn.AddRule(&nftables.Rule{Table: filter, Chain: fwd, Exprs: []expr.Any{&expr.Counter{}}})
	if err := conn.Flush(); err != nil {
		t.Fatalf("foreign tables: %v", err)
	}
}

func TestForeignTablesUntouched(t *testing.T) {
	tbl, ns := newTestTable(t)
	addForeignTables(t, ns)
	foreign := func() []string { return append(dump(t, ns, "nat"), dump(t, ns, "filter")...) }
	before := foreign()
	if len(before) != 5 {
		t.Fatalf("foreign tables: %v, want 2 chains and 3 rules", before)
	}
	steps := []State{sampleState(), {NATSubnets: sampleState().NATSubnets[:1]}, {}}
	for i, s := range steps {
		mustConverge(t, tbl, s)
		if after := foreign(); !slices.Equal(before, after) {
			t.Fatalf("step %d changed the foreign tables:\nbefore %v\nafter  %v", i, before, after)
		}
	}
	if err := tbl.Delete(); err != nil {
		t.Fatal(err)
	}
	if after := foreign(); !slices.Equal(before, after) {
		t.Fatalf("deleting our table changed the foreign tables:\nbefore %v\nafter  %v", before, after)
	}
	if lines := dump(t, ns, TableName); len(lines) != 0 {
		t.Fatalf("our table still there after Delete: %v", lines)
	}
}
