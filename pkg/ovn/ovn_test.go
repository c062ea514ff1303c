package ovn_test

import (
	"context"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// These run against a real ovsdb-server with the OVN northbound schema.

func connect(t *testing.T) (*ovn.Client, *harness.NBView) {
	t.Helper()
	nb := harness.StartNorthbound(t)
	c, err := ovn.Connect(context.Background(), ovn.Config{Endpoints: []string{nb.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, harness.WatchNorthbound(t, nb.Endpoint)
}

func commit(t *testing.T, c *ovn.Client, ops []ovsdb.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Transact(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond: the test's view of the database is a client of its
// own, which receives each commit a moment after the writer does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not reached within 5s", what)
}

var subnetOwner = ovn.Owner{Kind: ovn.KindSubnet, Name: "s1"}

func TestEnsureIsIdempotent(t *testing.T) {
	c, view := connect(t)
	sw := ovn.Switch{Name: "s1", Owner: subnetOwner, OtherConfig: map[string]string{"subnet": "10.0.0.0/24"}}
	port := ovn.SwitchPort{Switch: "s1", Name: "p.ns", Addresses: []string{"0a:00:00:00:00:01 10.0.0.2"},
		PortSecurity: []string{"0a:00:00:00:00:01 10.0.0.2"}, Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: "p"}}
	ops, err := c.SwitchOps(sw)
	commit(t, c, ops, err)
	ops, err = c.SwitchPortOps(port)
	commit(t, c, ops, err)

	tests := []struct {
		name string
		ops  func() ([]ovsdb.Operation, error)
	}{
		{"switch", func() ([]ovsdb.Operation, error) { return c.SwitchOps(sw) }},
		{"port", func() ([]ovsdb.Operation, error) { return c.SwitchPortOps(port) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := tt.ops()
			if err != nil || len(ops) != 0 {
				t.Fatalf("second ensure gave %d ops (err %v), want none", len(ops), err)
			}
		})
	}
	waitFor(t, "one switch", func() bool { return len(harness.List[nbdb.LogicalSwitch](t, view, nil)) == 1 })
}

func TestSwitchPortMovesBetweenSwitches(t *testing.T) {
	c, view := connect(t)
	for _, name := range []string{"a", "b"} {
		ops, err := c.SwitchOps(ovn.Switch{Name: name, Owner: ovn.Owner{Kind: ovn.KindSubnet, Name: name}})
		commit(t, c, ops, err)
	}
	port := ovn.SwitchPort{Switch: "a", Name: "p.ns", Addresses: []string{"0a:00:00:00:00:01 10.0.0.2"},
		Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: "p"}}
	ops, err := c.SwitchPortOps(port)
	commit(t, c, ops, err)
	port.Switch = "b"
	ops, err = c.SwitchPortOps(port)
	commit(t, c, ops, err)
	waitFor(t, "port on b only", func() bool {
		a, b := view.PortsOf(t, view.Switch(t, "a")), view.PortsOf(t, view.Switch(t, "b"))
		return len(a) == 0 && len(b) == 1 && b[0] == "p.ns"
	})
}

func TestGarbageOpsRemoveOnlyDeadOwnedRows(t *testing.T) {
	c, view := connect(t)
	ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner})
	commit(t, c, ops, err)
	ops, err = c.SwitchOps(ovn.Switch{Name: "dead", Owner: ovn.Owner{Kind: ovn.KindSubnet, Name: "dead"}})
	commit(t, c, ops, err)
	for _, name := range []string{"live", "gone"} {
		ops, err := c.SwitchPortOps(ovn.SwitchPort{Switch: "s1", Name: name + ".ns", Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: name}})
		commit(t, c, ops, err)
	}
	// A row without ovnet's mark, on ovnet's switch.
	sw := view.Switch(t, "s1")
	foreign := &nbdb.LogicalSwitchPort{UUID: "foreign", Name: "foreign"}
	mutate := ovsdb.Operation{Op: ovsdb.OperationMutate, Table: nbdb.LogicalSwitchTable,
		Where:     []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: sw.UUID})},
		Mutations: []ovsdb.Mutation{*ovsdb.NewMutation("ports", ovsdb.MutateOperationInsert, ovsdb.UUID{GoUUID: "foreign"})}}
	insert := ovsdb.Operation{Op: ovsdb.OperationInsert, Table: nbdb.LogicalSwitchPortTable, UUIDName: foreign.UUID,
		Row: ovsdb.Row{"name": foreign.Name}}
	commit(t, c, []ovsdb.Operation{insert, mutate}, nil)

	alive := func(o ovn.Owner) bool { return o.Name != "gone" && o.Name != "dead" }
	ops, err = c.GarbageOps(alive)
	commit(t, c, ops, err)
	waitFor(t, "dead owned rows removed", func() bool {
		return view.Switch(t, "dead") == nil && view.SwitchPort(t, "gone.ns") == nil
	})
	if view.SwitchPort(t, "live.ns") == nil || view.SwitchPort(t, "foreign") == nil {
		t.Fatal("garbage collection removed a live or foreign row")
	}
}
