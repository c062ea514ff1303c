package ovsdbtxn_test

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// TestCloseLetsGo: libovsdb leaves a goroutine holding a client that
// follows the leader (as ovnet's NB client does) for good after Close, so a closed
// client must hold neither its cache's rows, nor what its handlers refer
// to, nor the registry it was given (a controller's holds collectors that
// reach all its state). Against a real ovsdb-server.
func TestCloseLetsGo(t *testing.T) {
	_, cfg := startNorthbound(t, ovsdbtxn.Table{Model: &nbdb.AddressSet{}})
	cfg.LeaderOnly = true
	ctx := context.Background()
	c, collected := connectWithCollector(t, cfg)
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
	if collected.Value() != nil {
		t.Error("the closed client still holds its registry's collectors")
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

// connectWithCollector connects with a registry of its own holding a
// collector that refers to a value, and returns a weak pointer to it.
func connectWithCollector(t *testing.T, cfg ovsdbtxn.Config) (*ovsdbtxn.Client, weak.Pointer[[1 << 16]byte]) {
	t.Helper()
	referred := new([1 << 16]byte)
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "referring"},
		func() float64 { return float64(referred[0]) }))
	c, err := ovsdbtxn.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, weak.Make(referred)
}
