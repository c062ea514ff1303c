package ovn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Config says how to reach the northbound database.
type Config struct {
	// Endpoints are OVSDB connection strings ("tcp:127.0.0.1:6641",
	// "unix:/run/ovn/ovnnb_db.sock", "ssl:10.0.0.1:6641"); several name the
	// members of a Raft cluster.
	Endpoints []string
	// TLS is the configuration of ssl: endpoints (ovntls.ClientConfig);
	// nil for none.
	TLS *tls.Config
	// Registerer receives the transaction metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives libovsdb's connection messages.
	Logger logr.Logger
}

// ParseEndpoints splits a comma-separated endpoint list, as given on the command line.
func ParseEndpoints(s string) []string { return annotation.SplitList(s) }

// Client is a connected northbound client whose cache mirrors the tables
// ovnet manages.
type Client struct {
	db *ovsdbtxn.Client
	// knownPorts remembers the UUID of each switch port a port group named,
	// by port name (see portUUIDs).
	knownPorts sync.Map
}

// Connect dials the northbound database, waits for the initial monitor
// snapshot, and keeps reconnecting in the background. Only a Raft
// cluster's leader is used, so every write is seen by the next read.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no northbound endpoint given")
	}
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("load northbound model: %w", err)
	}
	db, err := ovsdbtxn.Connect(ctx, ovsdbtxn.Config{
		Name: "northbound", MetricPrefix: "nb", Endpoints: cfg.Endpoints, LeaderOnly: true, TLS: cfg.TLS,
		Model: dbModel, Indexes: clientIndexes(), Tables: MonitoredTables(),
		Registerer: cfg.Registerer, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{db: db}, nil
}

// clientIndexes lets the cache find switches, routers and load balancers
// by name; the schema indexes none of them, and ovnet never creates two of
// the same name.
func clientIndexes() map[string][]model.ClientIndex {
	return map[string][]model.ClientIndex{
		nbdb.LogicalSwitchTable: {{Columns: []model.ColumnKey{{Column: "name"}}}},
		nbdb.LogicalRouterTable: {{Columns: []model.ColumnKey{{Column: "name"}}}},
		nbdb.LoadBalancerTable:  {{Columns: []model.ColumnKey{{Column: "name"}}}},
	}
}

// MonitoredTables are the tables and columns the cache mirrors (the
// benchmarks read the same to measure what reading them costs alone). A
// switch's port list is left out on purpose: it grows with every pod, and
// each change would make the cache copy the whole list, turning N pod
// creations into O(N²) work. Ports record their switch instead. A switch
// port, the table with a row per pod, is mirrored in the columns ovnet
// writes and compares (SwitchPortOps) and no others, so that ovn-northd's
// writes to a port as its pod starts (up, dynamic_addresses) are not sent
// to the controller. The snapshot a restart decodes does not shrink with
// them: ovsdb-server leaves columns at their defaults out of it anyway.
func MonitoredTables() []ovsdbtxn.Table {
	ls := &nbdb.LogicalSwitch{}
	lsp := &nbdb.LogicalSwitchPort{}
	return []ovsdbtxn.Table{
		{Model: &nbdb.NBGlobal{}},
		{Model: ls, Columns: []any{&ls.Name, &ls.ExternalIDs, &ls.OtherConfig, &ls.ACLs, &ls.LoadBalancerGroup}},
		{Model: lsp, Columns: []any{&lsp.Name, &lsp.Type, &lsp.Addresses, &lsp.PortSecurity, &lsp.Options, &lsp.ExternalIDs, &lsp.Tag}},
		{Model: &nbdb.LogicalRouter{}},
		{Model: &nbdb.LogicalRouterPort{}},
		{Model: &nbdb.LogicalRouterStaticRoute{}},
		{Model: &nbdb.LogicalRouterPolicy{}},
		{Model: &nbdb.LoadBalancer{}},
		{Model: &nbdb.LoadBalancerGroup{}},
		{Model: &nbdb.PortGroup{}},
		{Model: &nbdb.AddressSet{}},
		{Model: &nbdb.ACL{}},
	}
}

// Close disconnects from the database.
func (c *Client) Close() { c.db.Close() }

// Connected reports whether the client currently holds a connection that
// answers (one echo); the controller's NorthboundMonitor asks it.
func (c *Client) Connected() bool { return c.db.Connected() }

// Transact commits ops as one transaction and returns once the cache
// shows its result. No ops means nothing to change, and no round trip is
// made: that is how a restart with nothing changed writes nothing.
func (c *Client) Transact(ctx context.Context, ops []ovsdb.Operation) error {
	return c.db.Transact(ctx, ops)
}
