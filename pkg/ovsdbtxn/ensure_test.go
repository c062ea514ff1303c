package ovsdbtxn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// These run against a real ovsdb-server with the OVN northbound schema.

// startNorthbound starts an ovsdb-server with the OVN northbound schema
// and returns it with a client configuration mirroring tables from it.
func startNorthbound(t *testing.T, tables ...ovsdbtxn.Table) (*ovsdbserver.Server, ovsdbtxn.Config) {
	t.Helper()
	server := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema})
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	return server, ovsdbtxn.Config{Name: "northbound", MetricPrefix: "test", Endpoints: []string{server.Endpoint},
		Model: dbModel, Tables: tables}
}

func connect(t *testing.T) *ovsdbtxn.Client {
	t.Helper()
	ls := &nbdb.LogicalSwitch{}
	_, cfg := startNorthbound(t,
		// The port list is left out, as pkg/ovn does: waits must not
		// wait for a column the cache does not hold.
		ovsdbtxn.Table{Model: ls, Columns: []any{&ls.Name, &ls.ExternalIDs, &ls.OtherConfig, &ls.ACLs}},
		ovsdbtxn.Table{Model: &nbdb.LogicalSwitchPort{}},
		ovsdbtxn.Table{Model: &nbdb.AddressSet{}})
	cfg.Indexes = map[string][]model.ClientIndex{nbdb.LogicalSwitchTable: {{Columns: []model.ColumnKey{{Column: "name"}}}}}
	c, err := ovsdbtxn.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// commitBound is far below the bound of the wait for the cache: a commit
// that takes longer waited for something the cache can never show (a
// column it does not mirror) instead of for its result.
const commitBound = 2 * time.Second

func commit(t *testing.T, c *ovsdbtxn.Client, res ovsdbtxn.Ensured, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Transact(context.Background(), res.Ops); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > commitBound {
		t.Fatalf("commit of %d ops took %s, want under %s", len(res.Ops), took, commitBound)
	}
}

func switchRow(name string, config map[string]string) ovsdbtxn.Row[*nbdb.LogicalSwitch] {
	ls := &nbdb.LogicalSwitch{Name: name, OtherConfig: config, ExternalIDs: map[string]string{"owner": "test"}}
	return ovsdbtxn.Row[*nbdb.LogicalSwitch]{Model: ls, Fields: []any{&ls.OtherConfig, &ls.ExternalIDs}, Unique: &ls.Name}
}

func portRow(name, sw string, addresses []string, byName bool) ovsdbtxn.Row[*nbdb.LogicalSwitchPort] {
	lsp := &nbdb.LogicalSwitchPort{Name: name, Addresses: addresses}
	parent := &nbdb.LogicalSwitch{Name: sw}
	return ovsdbtxn.Row[*nbdb.LogicalSwitchPort]{Model: lsp, Fields: []any{&lsp.Addresses},
		Parent: &ovsdbtxn.Parent{Model: parent, Refs: &parent.Ports, Name: &parent.Name, ByName: byName}}
}

func TestEnsureOps(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	res, err := ovsdbtxn.EnsureOps(c, switchRow("s1", map[string]string{"subnet": "10.0.0.0/24"}))
	commit(t, c, res, err)

	tests := []struct {
		name string
		ops  func() (ovsdbtxn.Ensured, error)
		// want lists the kinds of the ops, in order; for updates, the
		// columns written.
		want    []string
		columns []string
		wantErr error
	}{
		{"unchanged switch: no op", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, switchRow("s1", map[string]string{"subnet": "10.0.0.0/24"}))
		}, nil, nil, nil},
		{"one changed column: one update of it", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, switchRow("s1", map[string]string{"subnet": "10.0.1.0/24"}))
		}, []string{ovsdb.OperationUpdate}, []string{"other_config"}, nil},
		{"missing switch: guarded insert", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, switchRow("s2", nil))
		}, []string{ovsdb.OperationWait, ovsdb.OperationInsert}, nil, nil},
		{"missing port: insert attached to its switch", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, portRow("p1", "s1", []string{"0a:00:00:00:00:01 10.0.0.2"}, false))
		}, []string{ovsdb.OperationInsert, ovsdb.OperationMutate}, nil, nil},
		{"port of a missing switch: ErrParentMissing", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, portRow("p1", "nowhere", nil, false))
		}, nil, nil, ovsdbtxn.ErrParentMissing},
		{"port of a switch made in the same transaction: attached by name", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, portRow("p1", "nowhere", nil, true))
		}, []string{ovsdb.OperationInsert, ovsdb.OperationMutate}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.ops()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(res.Ops) != len(tt.want) {
				t.Fatalf("ops %+v, want kinds %v", res.Ops, tt.want)
			}
			for i, op := range res.Ops {
				if op.Op != tt.want[i] {
					t.Errorf("op %d is %s, want %s", i, op.Op, tt.want[i])
				}
				if op.Op == ovsdb.OperationUpdate && len(op.Row) != len(tt.columns) {
					t.Errorf("update writes %v, want only %v", op.Row, tt.columns)
				}
				for _, col := range tt.columns {
					if _, ok := op.Row[col]; op.Op == ovsdb.OperationUpdate && !ok {
						t.Errorf("update lacks %s: %v", col, op.Row)
					}
				}
			}
		})
	}
	if err := c.Transact(ctx, nil); err != nil {
		t.Fatalf("no ops: %v", err)
	}
}

// After Transact returns, the cache shows every kind of write, so building
// the same change again yields nothing: no second transaction.
func TestTransactReadsItsOwnWrites(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	res, err := ovsdbtxn.EnsureOps(c, switchRow("s1", nil))
	commit(t, c, res, err)
	for i, addrs := range [][]string{{"10.0.0.1"}, {"10.0.0.1", "10.0.0.2"}, {"10.0.0.3"}, nil, {"10.0.0.4"}} {
		as := &nbdb.AddressSet{Name: "as1", Addresses: addrs}
		set := ovsdbtxn.Row[*nbdb.AddressSet]{Model: as, MutatedSets: []*[]string{&as.Addresses}}
		sw := switchRow("s1", map[string]string{"step": string(rune('a' + i))})
		port := portRow("p1", "s1", addrs, false)
		steps := []struct {
			what  string
			build func() (ovsdbtxn.Ensured, error)
		}{
			{"address set (insert, then mutations)", func() (ovsdbtxn.Ensured, error) { return ovsdbtxn.EnsureOps(c, set) }},
			{"switch (update)", func() (ovsdbtxn.Ensured, error) { return ovsdbtxn.EnsureOps(c, sw) }},
			// Attached by a mutation of the switch's port list, which the
			// cache does not mirror.
			{"port (insert and attach, then updates)", func() (ovsdbtxn.Ensured, error) { return ovsdbtxn.EnsureOps(c, port) }},
		}
		for _, step := range steps {
			res, err := step.build()
			commit(t, c, res, err)
			again, err := step.build()
			if err != nil || len(again.Ops) != 0 {
				t.Fatalf("round %d, %s: right after the commit, %d ops again (err %v): the cache missed the write",
					i, step.what, len(again.Ops), err)
			}
		}
	}
	have, found, err := ovsdbtxn.Get(c, &nbdb.LogicalSwitch{Name: "s1"})
	if err != nil || !found {
		t.Fatalf("switch s1: found %v, err %v", found, err)
	}
	del, err := c.DB().Where(have).Delete()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Transact(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := ovsdbtxn.Get(c, &nbdb.LogicalSwitch{Name: "s1"}); found {
		t.Fatal("right after the delete, the cache still holds switch s1")
	}
}

// TestTransactRefusesWritesToRowsGone: ops built from the cache before
// their row was deleted (a cache behind the database) are committed by the
// server as if they worked; Transact says they did nothing, so that the
// caller retries instead of losing the write.
func TestTransactRefusesWritesToRowsGone(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	res, err := ovsdbtxn.EnsureOps(c, switchRow("s1", nil))
	commit(t, c, res, err)
	as := &nbdb.AddressSet{Name: "as1", Addresses: []string{"10.0.0.1"}}
	set := ovsdbtxn.Row[*nbdb.AddressSet]{Model: as, MutatedSets: []*[]string{&as.Addresses}}
	res, err = ovsdbtxn.EnsureOps(c, set)
	commit(t, c, res, err)

	tests := []struct {
		name  string
		build func() (ovsdbtxn.Ensured, error)
		drop  model.Model
	}{
		{"update", func() (ovsdbtxn.Ensured, error) {
			return ovsdbtxn.EnsureOps(c, switchRow("s1", map[string]string{"k": "v"}))
		},
			&nbdb.LogicalSwitch{Name: "s1"}},
		{"mutation", func() (ovsdbtxn.Ensured, error) {
			as := &nbdb.AddressSet{Name: "as1", Addresses: []string{"10.0.0.1", "10.0.0.2"}}
			return ovsdbtxn.EnsureOps(c, ovsdbtxn.Row[*nbdb.AddressSet]{Model: as, MutatedSets: []*[]string{&as.Addresses}})
		}, &nbdb.AddressSet{Name: "as1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale, err := tt.build()
			if err != nil || len(stale.Ops) == 0 {
				t.Fatalf("%d ops, err %v: want a write to the existing row", len(stale.Ops), err)
			}
			have, found, err := ovsdbtxn.Get(c, tt.drop)
			if err != nil || !found {
				t.Fatalf("found %v, err %v", found, err)
			}
			del, err := c.DB().Where(have).Delete()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Transact(ctx, del); err != nil {
				t.Fatal(err)
			}
			if err := c.Transact(ctx, stale.Ops); !errors.Is(err, ovsdbtxn.ErrRowGone) {
				t.Fatalf("commit of ops built before the row was deleted: %v, want ErrRowGone", err)
			}
		})
	}
}
