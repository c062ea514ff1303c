package ovsdbtxn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	// connectTimeout bounds one connection attempt; a Raft cluster member
	// that is not the leader is skipped and the next endpoint tried.
	connectTimeout = 10 * time.Second
	// transactTimeout bounds one transaction so a wedged server surfaces as
	// an error (and a retry) instead of a stuck worker or CNI request.
	transactTimeout = 30 * time.Second
	// pingTimeout bounds Ping; a healthy server answers in microseconds.
	pingTimeout = 2 * time.Second
	// reconnectFirst is the wait before the first reconnection attempt: a
	// Raft cluster elects a new leader about a second after the old one
	// dies, so a short first wait adds little to that gap.
	reconnectFirst = 100 * time.Millisecond
	// reconnectMax caps the wait between attempts, so a server back after
	// a long outage is found again within seconds.
	reconnectMax = 2 * time.Second
)

// reconnectBackoff is the schedule of reconnection attempts. It never
// gives up: libovsdb panics when its backoff stops, and an outage of the
// database, however long, must end in a reconnection, not a crash.
func reconnectBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = reconnectFirst
	b.MaxInterval = reconnectMax
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// Table is one table the cache mirrors.
type Table struct {
	// Model is a pointer to the table's model type, e.g. &nbdb.ACL{}.
	Model model.Model
	// Columns point into Model at the mirrored columns; none means all.
	// Columns that grow with the cluster (a switch's port list) or that
	// another writer rewrites every few seconds (statistics) are left out,
	// as every change of them would be copied into the cache.
	Columns []any
}

// Config says how to reach one database and what to mirror of it.
type Config struct {
	// Name is the database's human name, for errors and metric help texts.
	Name string
	// MetricPrefix names the metrics: ovnet_<prefix>_transaction_....
	MetricPrefix string
	// Endpoints are OVSDB connection strings ("unix:/run/ovn/ovnnb_db.sock",
	// "tcp:127.0.0.1:6641", "ssl:10.0.0.1:6641"); several name the members
	// of a Raft cluster.
	Endpoints []string
	// TLS is the configuration of ssl: endpoints (pkg/ovntls); nil for none.
	TLS *tls.Config
	// LeaderOnly connects to a Raft cluster's leader only, so that every
	// write is seen by the next read.
	LeaderOnly bool
	// Model is the database's client model (generated in pkg/ovsdb).
	Model model.ClientDBModel
	// Indexes are lookups by columns the schema does not index, such as
	// the names of logical switches, added to the cache.
	Indexes map[string][]model.ClientIndex
	// Tables are the tables the cache mirrors.
	Tables []Table
	// Registerer receives the transaction metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives libovsdb's connection messages.
	Logger logr.Logger
	// Ungrouped sends every transaction on its own, as the client did
	// before it grouped them: the baseline grouping is measured against.
	Ungrouped bool
}

// Client is a connected OVSDB client whose cache mirrors Config.Tables;
// every read comes from that cache.
type Client struct {
	// db is the libovsdb client, which builds operations and holds the cache.
	db client.Client
	// name is the database's human name, for errors.
	name string
	// metrics times and counts transactions.
	metrics *Metrics
	// changes wakes waiters whenever the cache changes.
	changes *ChangeSignal
	// mirrored holds, per table, the mirrored columns (nil: all of them),
	// so a wait for a change never waits for a column the cache lacks.
	mirrored map[string]map[string]bool
	// group sends transactions made while one is in flight together.
	group *group
	// handlers are the functions given to OnRowsAddedOrDeleted, let go
	// of at Close.
	handlers handlers
	// cache is the client's cache, made at its first connection and kept
	// for its life. libovsdb's client drops its own reference once closed,
	// but not the one its API keeps; Close empties it.
	cache *cache.TableCache
}

// Connect dials the database, waits for the initial monitor snapshot, and
// keeps reconnecting (with exponential backoff) in the background.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("no %s endpoint given", cfg.Name)
	}
	if cfg.Indexes != nil {
		cfg.Model.SetIndexes(cfg.Indexes)
	}
	// A copy: libovsdb keeps the pointer for good (see Close), and one
	// into cfg kept cfg.Registerer and all its collectors alive with it.
	logger := cfg.Logger
	opts := []client.Option{
		client.WithLeaderOnly(cfg.LeaderOnly),
		client.WithReconnect(connectTimeout, reconnectBackoff()),
		client.WithLogger(&logger),
	}
	if cfg.TLS != nil {
		opts = append(opts, client.WithTLSConfig(cfg.TLS))
	}
	for _, ep := range cfg.Endpoints {
		opts = append(opts, client.WithEndpoint(ep))
	}
	db, err := client.NewOVSDBClient(cfg.Model, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", cfg.Name, err)
	}
	if err := db.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s %v: %w", cfg.Name, cfg.Endpoints, err)
	}
	c := &Client{db: db, cache: db.Cache(), name: cfg.Name, changes: WatchCache(db),
		metrics: NewMetrics(cfg.Registerer, cfg.MetricPrefix, cfg.Name)}
	c.group = &group{limit: groupInFlight, send: c.send,
		fits: func(ops []ovsdb.Operation) bool { return db.Schema().ValidateOperations(ops...) }}
	if cfg.Ungrouped {
		c.group.limit = math.MaxInt
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(connectedGauge(cfg.MetricPrefix, cfg.Name, c.Connected))
	}
	if err := c.monitor(ctx, cfg.Tables); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// monitor starts mirroring tables and records which columns are mirrored.
func (c *Client) monitor(ctx context.Context, tables []Table) error {
	dbModel := c.db.Cache().DatabaseModel()
	c.mirrored = map[string]map[string]bool{}
	opts := make([]client.MonitorOption, 0, len(tables))
	for _, t := range tables {
		opts = append(opts, client.WithTable(t.Model, t.Columns...))
		name := tableName(dbModel, t.Model)
		if len(t.Columns) == 0 {
			c.mirrored[name] = nil
			continue
		}
		info, err := dbModel.NewModelInfo(t.Model)
		if err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
		cols := map[string]bool{"_uuid": true}
		for _, ptr := range t.Columns {
			col, err := info.ColumnByPtr(ptr)
			if err != nil {
				return fmt.Errorf("table %s: %w", name, err)
			}
			cols[col] = true
		}
		c.mirrored[name] = cols
	}
	if _, err := c.db.Monitor(ctx, c.db.NewMonitor(opts...)); err != nil {
		return fmt.Errorf("monitor %s: %w", c.name, err)
	}
	return nil
}

// send commits ops as one transaction of the server's, within
// transactTimeout.
func (c *Client) send(ctx context.Context, ops []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	ctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	c.metrics.commits.Inc()
	return c.db.Transact(ctx, ops...)
}

// isMirrored reports whether the cache holds the column of the table.
func (c *Client) isMirrored(table, column string) bool {
	cols, ok := c.mirrored[table]
	return ok && (cols == nil || cols[column])
}

// DB is the libovsdb client, to build operations with (Create, Where,
// WhereAny, WhereCache); commit them with Transact.
func (c *Client) DB() client.Client { return c.db }

// Close disconnects from the database and lets go of the cache's rows and
// of what the handlers given to OnRowsAddedOrDeleted reach. A client
// following the leader (libovsdb's WithLeaderOnly) leaves a goroutine
// behind that never ends and holds the client; without this, it kept the
// whole cache alive after Close, and through the handlers whatever they
// refer to (in one test process, every controller a test had stopped).
func (c *Client) Close() {
	c.db.Close()
	c.handlers.detach()
	c.cache.Purge(c.cache.DatabaseModel())
}

// Connected reports whether the client holds a connection whose server
// answers. libovsdb's own flag is not enough: it is cleared only when the
// client disconnects itself, and stays true while it reconnects after the
// server went away, so an echo tells.
func (c *Client) Connected() bool { return c.Ping(context.Background()) == nil }

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

// Transact commits ops as one transaction and returns once the cache shows
// its result, so the caller's next read sees its own writes. No ops means
// nothing to change, and no round trip is made: that is how a restart with
// nothing changed writes nothing. Transactions made while another is in
// flight go to the server together, in one of its transactions (group):
// at a cold start or a burst of pods, the server then commits, and every
// client's cache decodes, a few large updates instead of hundreds.
func (c *Client) Transact(ctx context.Context, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	start := time.Now()
	results, err := c.group.commit(tctx, ops)
	if err == nil {
		err = CheckResults(results, ops)
	}
	c.metrics.Observe(time.Since(start), err)
	if err != nil {
		return fmt.Errorf("%s transaction of %d ops: %w", c.name, len(ops), err)
	}
	c.awaitResults(ctx, ops, results)
	return nil
}
