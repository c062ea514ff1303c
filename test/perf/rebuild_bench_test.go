package perf

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// rebuildPodsEnv and rebuildServicesEnv size BenchmarkNorthboundRebuild;
	// the defaults are the 5000 pods and 500 Services.
	rebuildPodsEnv     = "OVNET_REBUILD_PODS"
	rebuildServicesEnv = "OVNET_REBUILD_SERVICES"
	// dumpPoll spaces the row-by-row comparisons once the counts match: a
	// dump of thousands of rows takes CPU the controller would otherwise get.
	dumpPoll = 250 * time.Millisecond
)

// BenchmarkNorthboundRebuild builds N pods over 10 namespaces and M
// Services with EndpointSlices through the controller, snapshots NB, then
// deletes the database and serves it again empty under the running
// controller. It times the rebuild from the empty database's start until
// NB holds every pod port and Service load balancer again and every row
// equals the snapshot (UUIDs aside). The baseline, in the same run, is
// the initial build of the same objects: from their first creation until
// NB held the same ports and load balancers.
func BenchmarkNorthboundRebuild(b *testing.B) {
	pods, services := envSize(b, rebuildPodsEnv, 5000), envSize(b, rebuildServicesEnv, 500)
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	namespaces := makeNamespaces(b, cl, "rb", cidrOnly)
	watcher := watchAddressed(b, cl.cfg)

	start := time.Now()
	if err := forEach(podKeys(namespaces, pods), func(_ int, k podKey) error { return createPod(b.Context(), cl.c, k) }); err != nil {
		b.Fatal(err)
	}
	createServices(b, cl, 0, services)
	waitAddressed(b, watcher, viewPorts(b, cl.view), pods)
	built := waitServiceLBs(b, cl.view, services).Sub(start)
	waitSubnets(b, cl, namespaces, int64(pods/len(namespaces)))
	snapshot := settledDump(b, cl.view)
	versions := resourceVersions(b, cl)
	tx := ctrl.NBTransactions(b)

	b.ResetTimer()
	cl.nb.RestartEmpty(b)
	restarted := time.Now()
	cl.view = harness.WatchNorthbound(b, cl.nb.Endpoint, harness.WithoutPortLists())
	noticed := waitIdentity(b, cl.view).Sub(restarted)
	counted := waitCounts(b, cl.view, snapshot.Tables()).Sub(restarted)
	rebuilt := waitDump(b, cl.view, snapshot).Sub(restarted)
	b.StopTimer()

	changed := 0
	for key, rv := range resourceVersions(b, cl) {
		if versions[key] != rv {
			changed++
		}
	}
	if changed > 0 {
		b.Errorf("%d pods changed across the rebuild, want 0 (their records are the truth)", changed)
	}
	b.ReportMetric(noticed.Seconds(), "noticed-s")
	b.ReportMetric(rebuilt.Seconds(), "rebuild-s")
	b.ReportMetric(built.Seconds(), "baseline-build-s")
	b.ReportMetric(rebuilt.Seconds()/built.Seconds(), "ratio")
	b.Logf("%d pods, %d services, %d NB rows: rebuilt row by row %.2fs after the empty database started "+
		"(loss noticed, identity written after %.2fs; as many rows as before in every table after %.2fs; %d NB transactions; %d pods changed); "+
		"baseline, the initial build of the same objects: %.2fs; ratio %.2f",
		pods, services, len(snapshot), rebuilt.Seconds(), noticed.Seconds(), counted.Seconds(), ctrl.NBTransactions(b)-tx, changed,
		built.Seconds(), rebuilt.Seconds()/built.Seconds())
}

// waitIdentity waits until NB_Global carries the identity a controller
// gives the database when it notices the loss, and returns when it did.
func waitIdentity(b *testing.B, view *harness.NBView) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, "database identity written", func() error {
		for _, g := range harness.List[nbdb.NBGlobal](b, view, nil) {
			if g.ExternalIDs[ovn.ExternalIDDatabase] != "" {
				return nil
			}
		}
		return fmt.Errorf("no identity in NB_Global")
	})
	return time.Now()
}

// envSize reads a size from the environment, or returns def.
func envSize(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// settledDump returns the rows once a second passes without a change.
func settledDump(b *testing.B, view *harness.NBView) harness.NBDump {
	b.Helper()
	var d harness.NBDump
	converge.For(b, convergeTimeout, "northbound settled", func() error {
		view.ResetChanges()
		d = view.Dump(b)
		time.Sleep(time.Second)
		if n := view.Changes(); n > 0 {
			return fmt.Errorf("%d row changes", n)
		}
		return nil
	})
	return d
}

// waitCounts waits until every table holds as many rows as counts says
// (read without copying rows, so polling does not slow the controller) and
// returns when it first did.
func waitCounts(b *testing.B, view *harness.NBView, counts map[string]int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, "as many rows as before", func() error {
		for table, n := range counts {
			if got := view.Count(table); got != n {
				return fmt.Errorf("%s: %d rows, want %d", table, got, n)
			}
		}
		return nil
	})
	return time.Now()
}

// waitDump waits until the view's rows equal want and returns when that
// was first seen.
func waitDump(b *testing.B, view *harness.NBView, want harness.NBDump) time.Time {
	b.Helper()
	wait.Every(dumpPoll).For(b, convergeTimeout, "northbound rows equal the snapshot", func() error {
		if diff := view.Dump(b).Diff(want); len(diff) > 0 {
			return fmt.Errorf("%d rows differ, first %s", len(diff), diff[0])
		}
		return nil
	})
	return time.Now()
}
