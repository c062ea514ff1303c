package harness

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestNBDumpDiff(t *testing.T) {
	tests := []struct {
		name      string
		have, ref NBDump
		want      []string
	}{
		{"same", NBDump{"A x", "B y"}, NBDump{"A x", "B y"}, nil},
		{"missing", NBDump{"A x"}, NBDump{"A x", "B y"}, []string{"- B y"}},
		{"extra", NBDump{"A x", "C z"}, NBDump{"A x"}, []string{"+ C z"}},
		{"a row twice", NBDump{"A x", "A x"}, NBDump{"A x"}, []string{"+ A x"}},
		{"changed", NBDump{"A x2"}, NBDump{"A x"}, []string{"+ A x2", "- A x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.have.Diff(tt.ref); !slices.Equal(got, tt.want) {
				t.Errorf("Diff = %q, want %q", got, tt.want)
			}
		})
	}
}

// Two databases holding the same rows under other UUIDs, written in
// another order, dump the same; a changed row shows in the diff.
func TestNBDumpIgnoresUUIDs(t *testing.T) {
	switchWithPort := func(sw, port, addr string) string {
		return `["OVN_Northbound",` +
			`{"op":"insert","table":"Logical_Switch_Port","row":{"name":"` + port + `","addresses":"` + addr + `"},"uuid-name":"p"},` +
			`{"op":"insert","table":"Logical_Switch","row":{"name":"` + sw + `","ports":["named-uuid","p"]}}]`
	}
	transact := func(nb *OVSDB, txns ...string) {
		for _, txn := range txns {
			if out, err := exec.Command("ovsdb-client", "transact", nb.Endpoint, txn).CombinedOutput(); err != nil {
				t.Fatalf("transact %s: %v: %s", txn, err, out)
			}
		}
	}
	a, b := StartNorthbound(t), StartNorthbound(t)
	transact(a, switchWithPort("s1", "p1", "0a:00:00:00:00:01 10.0.0.1"), switchWithPort("s2", "p2", "0a:00:00:00:00:02 10.0.0.2"))
	transact(b, switchWithPort("s2", "p2", "0a:00:00:00:00:02 10.0.0.2"), switchWithPort("s1", "p1", "0a:00:00:00:00:01 10.0.0.1"))
	da, db := WatchNorthbound(t, a.Endpoint).Dump(t), WatchNorthbound(t, b.Endpoint).Dump(t)
	if diff := da.Diff(db); len(diff) > 0 || len(da) != 4 {
		t.Fatalf("dumps of the same rows differ (%d rows): %q", len(da), diff)
	}
	if !slices.ContainsFunc(da, func(line string) bool {
		return strings.HasPrefix(line, "Logical_Switch ") && strings.Contains(line, "ports=[Logical_Switch_Port[p1]]")
	}) {
		t.Errorf("no switch row naming its port p1 in %q", da)
	}

	c := StartNorthbound(t)
	transact(c, switchWithPort("s1", "p1", "0a:00:00:00:00:01 10.0.0.1"), switchWithPort("s2", "p2", "0a:00:00:00:00:09 10.0.0.9"))
	if diff := WatchNorthbound(t, c.Endpoint).Dump(t).Diff(da); len(diff) != 2 {
		t.Errorf("a changed port: diff %q, want its row missing and another extra", diff)
	}
}
