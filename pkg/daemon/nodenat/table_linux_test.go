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
	return Range{From: p.Addr(), To: lastAddr(p)}
}

// newTestTable is the table of a fresh namespace, deleted at the end.
func newTestTable(t *testing.T) (*Table, *testNS) {
	ns := newNS(t, "t")
	tbl := NewTable(int(ns.fd), "ovn0")
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

// dump lists a table's chains with every rule's handle and comment and
// every named set's elements, one line each, sorted: what must (or must
// not) change between two converges.
func dump(t *testing.T, ns *testNS, table string) []string {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.fd)))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	if _, err := conn.ListTableOfFamily(table, nftables.TableFamilyIPv4); errors.Is(err, unix.ENOENT) {
		return nil
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
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
