package ovsdbtxn_test

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// TestCloseLetsGo: libovsdb leaves a goroutine holding a client that
// follows the leader (as ovnet's are) for good after Close, so a closed
// client must hold neither its cache's rows nor what its handlers refer
// to. Against a real ovsdb-server.
func TestCloseLetsGo(t *testing.T) {
	server := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema})
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := ovsdbtxn.Connect(ctx, ovsdbtxn.Config{Name: "northbound", MetricPrefix: "test",
		Endpoints: []string{server.Endpoint}, Model: dbModel, LeaderOnly: true,
		Tables: []ovsdbtxn.Table{{Model: &nbdb.AddressSet{}}}})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := c.DB().Create(&nbdb.AddressSet{Name: "a", Addresses: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Transact(ctx, ops); err != nil {
		t.Fatal(err)
	}
	rows := weak.Make(c.DB().Cache().Table(nbdb.AddressSetTable))
	if rows.Value() == nil || rows.Value().Len() != 1 {
		t.Fatal("the committed row is not in the cache")
	}
	held := watchRows(c)
	c.Close()
	runtime.GC()
	runtime.GC()
	if rows.Value() != nil {
		t.Error("the closed client still holds its cache's rows")
	}
	if held.Value() != nil {
		t.Error("the closed client still holds what its handler refers to")
	}
	c.Close() // again, as deferred closes and cleanups do: no panic
}

// watchRows registers a handler referring to a value of its own and
// returns a weak pointer to that value.
func watchRows(c *ovsdbtxn.Client) weak.Pointer[[1 << 16]byte] {
	referred := new([1 << 16]byte)
	c.OnRowsAddedOrDeleted(nbdb.AddressSetTable, func() { referred[0]++ })
	return weak.Make(referred)
}
