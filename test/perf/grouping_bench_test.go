package perf

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
	"github.com/ovnet/ovnet/test/harness"
)

// groupingTransactions is the number of transactions each run makes.
const groupingTransactions = 1000

// BenchmarkGroupedTransactions times 1000 small NB transactions (an
// address set of 20 addresses each) made by the benchmark's 16 writers at
// once, as the reconcilers make them in a burst, against one ovsdb-server
// and against a 3-member Raft cluster: sent as the client sends them,
// those made while one is in flight grouped into one, and, the baseline in
// the same run on a fresh database, each sent on its own.
func BenchmarkGroupedTransactions(b *testing.B) {
	topologies := []struct {
		name  string
		start func(testing.TB) harness.Database
	}{
		{"server", func(tb testing.TB) harness.Database { return harness.StartNorthbound(tb) }},
		{"raft", func(tb testing.TB) harness.Database { return harness.StartNorthboundCluster(tb) }},
	}
	for _, topo := range topologies {
		b.Run(topo.name, func(b *testing.B) {
			alone := measureTransactions(b, topo.start(b), true)
			grouped := measureTransactions(b, topo.start(b), false)
			b.ReportMetric(grouped.elapsed.Seconds(), "grouped-s")
			b.ReportMetric(alone.elapsed.Seconds(), "alone-s")
			b.ReportMetric(alone.elapsed.Seconds()/grouped.elapsed.Seconds(), "speedup")
			b.Logf("%s: %d transactions from %d writers: grouped %.3fs (%.0f sent), each alone %.3fs; %.2f times as fast",
				topo.name, groupingTransactions, benchWorkers, grouped.elapsed.Seconds(), grouped.commits,
				alone.elapsed.Seconds(), alone.elapsed.Seconds()/grouped.elapsed.Seconds())
		})
	}
}

// transactionRun is one timed run of groupingTransactions.
type transactionRun struct {
	elapsed time.Duration
	// commits are the transactions sent to the server.
	commits float64
}

func measureTransactions(b *testing.B, db harness.Database, ungrouped bool) transactionRun {
	b.Helper()
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c, err := ovsdbtxn.Connect(context.Background(), ovsdbtxn.Config{Name: "northbound", MetricPrefix: "nb",
		Endpoints: strings.Split(db.Remote(), ","), LeaderOnly: true, Model: dbModel,
		Tables: []ovsdbtxn.Table{{Model: &nbdb.AddressSet{}}}, Registerer: reg, Ungrouped: ungrouped})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addrs := make([]string, 20)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.0.%d", i+1)
	}
	start := time.Now()
	if err := forEach(make([]podKey, groupingTransactions), func(i int, _ podKey) error {
		ops, err := c.DB().Create(&nbdb.AddressSet{Name: fmt.Sprintf("set%d", i), Addresses: addrs})
		if err != nil {
			return err
		}
		return c.Transact(context.Background(), ops)
	}); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	var sets []nbdb.AddressSet
	if err := c.DB().List(context.Background(), &sets); err != nil || len(sets) != groupingTransactions {
		b.Fatalf("%d address sets in the cache (err %v), want %d", len(sets), err, groupingTransactions)
	}
	return transactionRun{elapsed: elapsed, commits: counterOf(b, reg, "ovnet_nb_commits_total")}
}
