package ovsdbtxn_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// reconnectWait bounds the wait for the client to follow its server; its
// reconnection backoff is at most 2 s.
const reconnectWait = 15 * time.Second

// The server stopped: Connected and ovnet_test_connected say so, and a
// transaction waits for the connection instead of failing at once; the
// server back on its data: both say so again, and the waiting
// transaction commits.
func TestConnectedFollowsTheServer(t *testing.T) {
	server, cfg := startNorthbound(t, ovsdbtxn.Table{Model: &nbdb.LogicalSwitch{}})
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	c, err := ovsdbtxn.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	connected := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(reconnectWait)
		for c.Connected() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Connected() stayed %v for %s", !want, reconnectWait)
			}
			time.Sleep(50 * time.Millisecond)
		}
		wantGauge := map[bool]float64{false: 0, true: 1}[want]
		if got := gaugeValue(t, reg, "ovnet_test_connected"); got != wantGauge {
			t.Errorf("ovnet_test_connected %v, want %v", got, wantGauge)
		}
	}
	connected(true)
	server.Stop(t)
	connected(false)

	ls := &nbdb.LogicalSwitch{Name: "written-during-the-outage"}
	ops, err := c.DB().Create(ls)
	if err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() { committed <- c.Transact(context.Background(), ops) }()
	select {
	case err := <-committed:
		t.Fatalf("a transaction while the server is away returned at once: %v", err)
	case <-time.After(time.Second):
	}
	server.Restart(t)
	connected(true)
	if err := <-committed; err != nil {
		t.Fatalf("the transaction that waited for the server: %v", err)
	}
	var rows []nbdb.LogicalSwitch
	if err := c.DB().WhereCache(func(*nbdb.LogicalSwitch) bool { return true }).List(context.Background(), &rows); err != nil || len(rows) != 1 {
		t.Errorf("switches after the restart %v (%v), want the one written while it was away", rows, err)
	}
}

// gaugeValue is the value of the label-less gauge name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
