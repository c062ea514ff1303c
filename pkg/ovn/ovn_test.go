package ovn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// These run against a real ovsdb-server with the OVN northbound schema.

func connect(t *testing.T) (*ovn.Client, *harness.NBView) {
	t.Helper()
	nb := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema, Name: "ovnnb_db"})
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
	wait.For(t, 5*time.Second, what, func() error {
		if !cond() {
			return errors.New("not reached")
		}
		return nil
	})
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

func TestLoadBalancerOps(t *testing.T) {
	c, view := connect(t)
	const group = "services"
	ops, err := c.LoadBalancerGroupOps(group)
	commit(t, c, ops, err)
	want := ovn.LoadBalancer{Name: "Service_ns/web_tcp", Protocol: "tcp",
		Vips: map[string]string{"10.96.0.10:80": "10.16.0.5:8080"}, Options: map[string]string{"reject": "true"},
		Owner: ovn.Owner{Kind: ovn.KindService, Namespace: "ns", Name: "web"}}
	ops, err = c.LoadBalancerOps(group, want)
	commit(t, c, ops, err)
	waitFor(t, "load balancer in its group", func() bool {
		lb, g := view.LoadBalancer(t, want.Name), view.LoadBalancerGroup(t, group)
		return lb != nil && g != nil && len(g.LoadBalancer) == 1 && g.LoadBalancer[0] == lb.UUID
	})

	t.Run("unchanged: no ops", func(t *testing.T) {
		if ops, err := c.LoadBalancerOps(group, want); err != nil || len(ops) != 0 {
			t.Fatalf("second ensure gave %d ops (err %v), want none", len(ops), err)
		}
		if ops, err := c.LoadBalancerGroupOps(group); err != nil || len(ops) != 0 {
			t.Fatalf("group ensure gave %d ops (err %v), want none", len(ops), err)
		}
	})
	t.Run("new backends: one update of the vips column", func(t *testing.T) {
		want.Vips = map[string]string{"10.96.0.10:80": "10.16.0.5:8080,10.16.0.6:8080"}
		ops, err := c.LoadBalancerOps(group, want)
		if err != nil || len(ops) != 1 || ops[0].Op != ovsdb.OperationUpdate || len(ops[0].Row) != 1 || ops[0].Row["vips"] == nil {
			t.Fatalf("ops %+v (err %v), want one update of vips only", ops, err)
		}
		commit(t, c, ops, err)
		waitFor(t, "new backends", func() bool {
			lb := view.LoadBalancer(t, want.Name)
			return lb != nil && lb.Vips["10.96.0.10:80"] == want.Vips["10.96.0.10:80"]
		})
	})
	t.Run("delete leaves the group and the table", func(t *testing.T) {
		ops, err := c.DeleteLoadBalancerOps(group, want.Name)
		commit(t, c, ops, err)
		waitFor(t, "load balancer gone", func() bool {
			g := view.LoadBalancerGroup(t, group)
			return view.LoadBalancer(t, want.Name) == nil && g != nil && len(g.LoadBalancer) == 0
		})
	})
	t.Run("a switch carries the group", func(t *testing.T) {
		ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner, LoadBalancerGroup: group})
		commit(t, c, ops, err)
		waitFor(t, "switch with group", func() bool {
			ls, g := view.Switch(t, "s1"), view.LoadBalancerGroup(t, group)
			return ls != nil && g != nil && len(ls.LoadBalancerGroup) == 1 && ls.LoadBalancerGroup[0] == g.UUID
		})
		if _, err := c.SwitchOps(ovn.Switch{Name: "s2", Owner: subnetOwner, LoadBalancerGroup: "missing"}); !errors.Is(err, ovn.ErrGroupMissing) {
			t.Fatalf("switch with a missing group: %v, want ErrGroupMissing", err)
		}
	})
}

func TestGarbageOpsRemoveLoadBalancersOfGoneServices(t *testing.T) {
	c, view := connect(t)
	ops, err := c.LoadBalancerGroupOps("services")
	commit(t, c, ops, err)
	for _, name := range []string{"live", "gone"} {
		ops, err := c.LoadBalancerOps("services", ovn.LoadBalancer{Name: name, Protocol: "tcp",
			Vips: map[string]string{"10.96.0.10:80": ""}, Owner: ovn.Owner{Kind: ovn.KindService, Namespace: "ns", Name: name}})
		commit(t, c, ops, err)
	}
	waitFor(t, "two load balancers", func() bool { return len(harness.List[nbdb.LoadBalancer](t, view, nil)) == 2 })
	ops, err = c.GarbageOps(func(o ovn.Owner) bool { return o.Name != "gone" })
	commit(t, c, ops, err)
	waitFor(t, "gone service's load balancer removed", func() bool {
		g := view.LoadBalancerGroup(t, "services")
		return view.LoadBalancer(t, "gone") == nil && g != nil && len(g.LoadBalancer) == 1
	})
	if view.LoadBalancer(t, "live") == nil {
		t.Fatal("garbage collection removed a live service's load balancer")
	}
}
