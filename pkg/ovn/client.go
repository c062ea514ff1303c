package ovn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

const (
	// connectTimeout bounds one connection attempt; a Raft cluster member
	// that is not the leader is skipped and the next endpoint tried.
	connectTimeout = 10 * time.Second
	// transactTimeout bounds one transaction so a wedged server surfaces as
	// a reconcile error (and a retry) instead of a stuck worker.
	transactTimeout = 30 * time.Second
	// cacheWaitTimeout bounds the wait for a transaction's inserts to reach
	// the cache; they arrive within milliseconds.
	cacheWaitTimeout = 5 * time.Second
	// recheckInterval re-reads the cache while waiting, in case a change
	// notification was lost (libovsdb drops events when its buffer is full).
	recheckInterval = 100 * time.Millisecond
)

// Config says how to reach the northbound database.
type Config struct {
	// Endpoints are OVSDB connection strings ("tcp:127.0.0.1:6641",
	// "unix:/run/ovn/ovnnb_db.sock"); several name the members of a Raft cluster.
	Endpoints []string
	// Registerer receives the transaction metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives libovsdb's connection messages.
	Logger logr.Logger
}

// ParseEndpoints splits a comma-separated endpoint list, as given on the command line.
func ParseEndpoints(s string) []string {
	var eps []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	return eps
}

// Client is a connected northbound client whose cache mirrors the tables
// ovnet manages.
type Client struct {
	nb      client.Client
	metrics *ovsdbtxn.Metrics
	// changes wakes waiters for a transaction's rows to reach the cache.
	changes *ovsdbtxn.ChangeSignal
}

// Connect dials the northbound database, waits for the initial monitor
// snapshot, and keeps reconnecting in the background.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no northbound endpoint given")
	}
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("load northbound model: %w", err)
	}
	dbModel.SetIndexes(clientIndexes())
	opts := []client.Option{
		client.WithLeaderOnly(true),
		client.WithReconnect(connectTimeout, backoff.NewExponentialBackOff()),
		client.WithLogger(&cfg.Logger),
	}
	for _, ep := range cfg.Endpoints {
		opts = append(opts, client.WithEndpoint(ep))
	}
	nb, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("northbound client: %w", err)
	}
	if err := nb.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to northbound %v: %w", cfg.Endpoints, err)
	}
	changes := ovsdbtxn.WatchCache(nb)
	if _, err := nb.Monitor(ctx, nb.NewMonitor(monitoredTables()...)); err != nil {
		nb.Close()
		return nil, fmt.Errorf("monitor northbound: %w", err)
	}
	return &Client{nb: nb, metrics: ovsdbtxn.NewMetrics(cfg.Registerer, "nb", "northbound"), changes: changes}, nil
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

// monitoredTables are the tables and columns the cache mirrors. A
// switch's port list is left out on purpose: it grows with every pod, and
// each change would make the cache copy the whole list, turning N pod
// creations into O(N²) work. Ports record their switch instead.
func monitoredTables() []client.MonitorOption {
	ls := &nbdb.LogicalSwitch{}
	return []client.MonitorOption{
		client.WithTable(&nbdb.NBGlobal{}),
		client.WithTable(ls, &ls.Name, &ls.ExternalIDs, &ls.OtherConfig, &ls.ACLs, &ls.LoadBalancerGroup),
		client.WithTable(&nbdb.LogicalSwitchPort{}),
		client.WithTable(&nbdb.LogicalRouter{}),
		client.WithTable(&nbdb.LogicalRouterPort{}),
		client.WithTable(&nbdb.LogicalRouterStaticRoute{}),
		client.WithTable(&nbdb.LoadBalancer{}),
		client.WithTable(&nbdb.LoadBalancerGroup{}),
		client.WithTable(&nbdb.PortGroup{}),
		client.WithTable(&nbdb.AddressSet{}),
		client.WithTable(&nbdb.ACL{}),
	}
}

// Close disconnects from the database.
func (c *Client) Close() { c.nb.Close() }

// Connected reports whether the client currently holds a connection; the
// controller's readiness probe uses it.
func (c *Client) Connected() bool { return c.nb.Connected() }

// Transact commits ops as one transaction. No ops means nothing to change,
// and no round trip is made: that is how a restart with nothing changed
// writes nothing.
func (c *Client) Transact(ctx context.Context, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	start := time.Now()
	results, err := c.nb.Transact(ctx, ops...)
	if err == nil {
		err = ovsdbtxn.CheckResults(results, ops)
	}
	c.metrics.Observe(time.Since(start), err)
	if err != nil {
		return fmt.Errorf("northbound transaction of %d ops: %w", len(ops), err)
	}
	c.awaitInserts(ctx, ops, results)
	return nil
}

// awaitInserts waits until the rows a transaction inserted are in the
// cache. The server's update reaches the cache independently of the
// transaction's reply; without this wait the next reconcile of the same
// object could read the cache before the update and create the rows again.
func (c *Client) awaitInserts(ctx context.Context, ops []ovsdb.Operation, results []ovsdb.OperationResult) {
	// Bounded: a row OVSDB dropped at commit (unreferenced) never arrives.
	ctx, cancel := context.WithTimeout(ctx, cacheWaitTimeout)
	defer cancel()
	cache := c.nb.Cache()
	for i, op := range ops {
		if op.Op != ovsdb.OperationInsert || i >= len(results) {
			continue
		}
		uuid := results[i].UUID.GoUUID
		table := cache.Table(op.Table)
		for table != nil {
			changed := c.changes.Next()
			if table.Row(uuid) != nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-time.After(recheckInterval):
			}
		}
	}
}
