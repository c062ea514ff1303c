package ovs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

const (
	// connectTimeout bounds one connection attempt to the local server.
	connectTimeout = 10 * time.Second
	// transactTimeout bounds one transaction so a wedged ovsdb-server
	// surfaces as an error (and a CNI retry) instead of a stuck request.
	transactTimeout = 30 * time.Second
	// cacheWaitTimeout bounds the wait for a committed change to reach the
	// cache; it arrives within milliseconds unless another writer keeps
	// undoing it.
	cacheWaitTimeout = 5 * time.Second
	// recheckInterval re-reads the cache while waiting in case a change
	// notification was lost (libovsdb drops events when its buffer is full).
	recheckInterval = 500 * time.Millisecond
	// pingTimeout bounds Ping; a local server answers in microseconds.
	pingTimeout = 2 * time.Second
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
	// db is the libovsdb client; its cache is where every read comes from.
	db client.Client
	// metrics times and counts transactions.
	metrics *ovsdbtxn.Metrics
	// changes wakes waiters whenever the cache changes.
	changes *ovsdbtxn.ChangeSignal
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
	db, err := client.NewOVSDBClient(dbModel,
		client.WithEndpoint(cfg.Endpoint),
		client.WithReconnect(connectTimeout, backoff.NewExponentialBackOff()),
		client.WithLogger(&cfg.Logger),
	)
	if err != nil {
		return nil, fmt.Errorf("vswitch client: %w", err)
	}
	if err := db.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Endpoint, err)
	}
	c := &Client{db: db, metrics: ovsdbtxn.NewMetrics(cfg.Registerer, "ovs", "Open_vSwitch database"),
		changes: ovsdbtxn.WatchCache(db)}
	if _, err := db.Monitor(ctx, db.NewMonitor(monitoredTables()...)); err != nil {
		db.Close()
		return nil, fmt.Errorf("monitor %s: %w", cfg.Endpoint, err)
	}
	return c, nil
}

// monitoredTables are the tables and columns the cache mirrors. Statistics
// columns are left out on purpose: ovs-vswitchd rewrites them every few
// seconds, and each rewrite would be a cache update and a wake-up for
// every waiter.
func monitoredTables() []client.MonitorOption {
	ovs := &vswitch.OpenvSwitch{}
	br := &vswitch.Bridge{}
	port := &vswitch.Port{}
	iface := &vswitch.Interface{}
	mirror := &vswitch.Mirror{}
	return []client.MonitorOption{
		client.WithTable(ovs, &ovs.Bridges, &ovs.ExternalIDs, &ovs.OtherConfig),
		client.WithTable(br, &br.Name, &br.DatapathType, &br.FailMode, &br.ExternalIDs, &br.OtherConfig,
			&br.Ports, &br.Mirrors),
		client.WithTable(port, &port.Name, &port.Interfaces, &port.ExternalIDs, &port.QOS),
		client.WithTable(iface, &iface.Name, &iface.Type, &iface.ExternalIDs, &iface.MTURequest,
			&iface.IngressPolicingRate, &iface.IngressPolicingBurst, &iface.Ofport, &iface.LinkState, &iface.Error),
		client.WithTable(&vswitch.QoS{}),
		client.WithTable(&vswitch.Queue{}),
		client.WithTable(mirror, &mirror.Name, &mirror.ExternalIDs, &mirror.OutputPort, &mirror.SelectAll,
			&mirror.SelectSrcPort, &mirror.SelectDstPort),
	}
}

// Close disconnects from the database.
func (c *Client) Close() { c.db.Close() }

// Connected reports whether the client currently holds a connection.
func (c *Client) Connected() bool { return c.db.Connected() }

// Ping makes a round trip to the server: a connection that is up but
// whose server does not answer (hung, stopped) fails it.
func (c *Client) Ping(ctx context.Context) error {
	if !c.db.Connected() {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.db.Echo(ctx); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	return nil
}

// converge makes the database match what build describes: build reads the
// cache and returns the ops still needed, none once the database is as
// desired. After committing, converge waits until the cache shows the
// result, so the next call reads its own writes and sends nothing.
func (c *Client) converge(ctx context.Context, build func() ([]ovsdb.Operation, error)) error {
	ops, err := build()
	if err != nil || len(ops) == 0 {
		return err
	}
	if err := c.transact(ctx, ops); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWaitTimeout)
	defer cancel()
	// A timeout is no error: the commit succeeded, and the next call
	// converges again from whatever the cache then holds.
	_ = c.waitCache(ctx, func() (bool, error) {
		ops, err := build()
		return err != nil || len(ops) == 0, nil
	})
	return nil
}

// transact commits ops as one transaction.
func (c *Client) transact(ctx context.Context, ops []ovsdb.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	start := time.Now()
	results, err := c.db.Transact(ctx, ops...)
	if err == nil {
		err = ovsdbtxn.CheckResults(results, ops)
	}
	c.metrics.Observe(time.Since(start), err)
	if err != nil {
		return fmt.Errorf("Open_vSwitch transaction of %d ops: %w", len(ops), err)
	}
	return nil
}

// waitCache returns once done reports true or an error, re-evaluating it
// on every cache change, or ctx's error when ctx ends first.
func (c *Client) waitCache(ctx context.Context, done func() (bool, error)) error {
	recheck := time.NewTicker(recheckInterval)
	defer recheck.Stop()
	for {
		changed := c.changes.Next()
		if ok, err := done(); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-recheck.C:
		}
	}
}
