package ovs

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Config says how to reach the Open_vSwitch database.
type Config struct {
	// Endpoint is an OVSDB connection string, normally
	// "unix:/var/run/openvswitch/db.sock".
	Endpoint string
	// Registerer receives the transaction metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives libovsdb's connection messages.
	Logger logr.Logger
}

// Client is a connected Open_vSwitch database client whose cache mirrors
// the tables the node daemon manages.
type Client struct {
	db *ovsdbtxn.Client
}

// Connect dials the Open_vSwitch database, waits for the initial monitor
// snapshot, and keeps reconnecting in the background.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("no Open_vSwitch database endpoint given")
	}
	dbModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("load vswitch model: %w", err)
	}
	db, err := ovsdbtxn.Connect(ctx, ovsdbtxn.Config{
		Name: "Open_vSwitch database", MetricPrefix: "ovs", Endpoints: []string{cfg.Endpoint},
		Model: dbModel, Tables: monitoredTables(), Registerer: cfg.Registerer, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{db: db}, nil
}

// monitoredTables are the tables and columns the cache mirrors. Statistics
// columns are left out on purpose: ovs-vswitchd rewrites them every few
// seconds, and each rewrite would be a cache update and a wake-up for
// every waiter.
func monitoredTables() []ovsdbtxn.Table {
	ovs := &vswitch.OpenvSwitch{}
	br := &vswitch.Bridge{}
	port := &vswitch.Port{}
	iface := &vswitch.Interface{}
	mirror := &vswitch.Mirror{}
	return []ovsdbtxn.Table{
		{Model: ovs, Columns: []any{&ovs.Bridges, &ovs.ExternalIDs, &ovs.OtherConfig, &ovs.SSL}},
		{Model: br, Columns: []any{&br.Name, &br.DatapathType, &br.FailMode, &br.ExternalIDs, &br.OtherConfig,
			&br.Ports, &br.Mirrors, &br.IPFIX, &br.Sflow}},
		{Model: port, Columns: []any{&port.Name, &port.Interfaces, &port.ExternalIDs, &port.QOS}},
		{Model: iface, Columns: []any{&iface.Name, &iface.Type, &iface.ExternalIDs, &iface.MTURequest,
			&iface.IngressPolicingRate, &iface.IngressPolicingBurst, &iface.Ofport, &iface.LinkState, &iface.Error}},
		{Model: &vswitch.QoS{}},
		{Model: &vswitch.Queue{}},
		{Model: &vswitch.SSL{}},
		{Model: &vswitch.IPFIX{}},
		{Model: &vswitch.SFlow{}},
		{Model: mirror, Columns: []any{&mirror.Name, &mirror.ExternalIDs, &mirror.OutputPort, &mirror.SelectAll,
			&mirror.SelectSrcPort, &mirror.SelectDstPort}},
	}
}

// OnBridgesChanged calls fn after each bridge the database gains or
// loses; fn must not block.
func (c *Client) OnBridgesChanged(fn func()) {
	c.db.OnRowsAddedOrDeleted(vswitch.BridgeTable, fn)
}

// Close disconnects from the database.
func (c *Client) Close() { c.db.Close() }

// Connected reports whether the client currently holds a connection.
func (c *Client) Connected() bool { return c.db.Connected() }

// Ping makes a round trip to the server: a connection that is up but
// whose server does not answer (hung, stopped) fails it.
func (c *Client) Ping(ctx context.Context) error { return c.db.Ping(ctx) }

// converge makes the database match what build describes: build reads the
// cache and returns the ops still needed, none once the database is as
// desired. The commit returns once the cache shows its result, so the
// next call reads its own writes and sends nothing.
func (c *Client) converge(ctx context.Context, build func() ([]ovsdb.Operation, error)) error {
	ops, err := build()
	if err != nil {
		return err
	}
	return c.db.Transact(ctx, ops)
}
