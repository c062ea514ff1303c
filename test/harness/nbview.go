package harness

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// NBView is a test's own read-only window on a northbound database: an
// independent client monitoring every table, as ovn-nbctl would see it,
// which also counts every change the server reports.
type NBView struct {
	nb      client.Client
	changes atomic.Int64
}

// ViewOption adjusts what a view monitors.
type ViewOption func(*viewOptions)

type viewOptions struct{ withoutPortLists bool }

// WithoutPortLists leaves the switches' and routers' port lists out of the
// view, for benchmarks with thousands of ports: each port added makes a
// monitoring client copy the whole list, which would bill the benchmark
// process O(N²) work of the view's own. Port rows themselves are still seen;
// PortsOf does not work on such a view.
func WithoutPortLists() ViewOption { return func(o *viewOptions) { o.withoutPortLists = true } }

// The view's reconnection to a Raft cluster: each try is short, and tries
// are frequent, so a test sees a new leader within moments of its election.
const (
	viewReconnectTimeout  = 2 * time.Second
	viewReconnectInterval = 100 * time.Millisecond
)

// WatchNorthbound connects a view to the database at endpoint, or to the
// leader of the Raft cluster whose members a comma-separated endpoint
// lists (following it to the next leader).
func WatchNorthbound(tb testing.TB, endpoint string, opts ...ViewOption) *NBView {
	tb.Helper()
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		tb.Fatal(err)
	}
	// Load balancers are found by name through an index: a benchmark polls
	// one among thousands.
	dbModel.SetIndexes(map[string][]model.ClientIndex{
		nbdb.LoadBalancerTable: {{Columns: []model.ColumnKey{{Column: "name"}}}},
	})
	quiet := logr.Discard()
	clientOpts := []client.Option{client.WithLogger(&quiet)}
	eps := ovn.ParseEndpoints(endpoint)
	for _, ep := range eps {
		clientOpts = append(clientOpts, client.WithEndpoint(ep))
	}
	if len(eps) > 1 {
		// A Raft cluster's members die under the tests that start one:
		// follow the leader, which is the first to see every commit.
		clientOpts = append(clientOpts, client.WithLeaderOnly(true),
			client.WithReconnect(viewReconnectTimeout, backoff.NewConstantBackOff(viewReconnectInterval)))
	}
	nb, err := client.NewOVSDBClient(dbModel, clientOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := nb.Connect(ctx); err != nil {
		tb.Fatalf("connect to %s: %v", endpoint, err)
	}
	tb.Cleanup(nb.Close)
	v := &NBView{nb: nb}
	count := func(string, model.Model) { v.changes.Add(1) }
	nb.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    count,
		DeleteFunc: count,
		UpdateFunc: func(table string, _, _ model.Model) { v.changes.Add(1) },
	})
	var o viewOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := monitor(ctx, nb, o); err != nil {
		tb.Fatalf("monitor %s: %v", endpoint, err)
	}
	v.changes.Store(0) // the initial snapshot is not a change
	return v
}

// Close disconnects the view: what it holds stays readable, nothing new
// arrives. A benchmark closes it before its clock starts, so that decoding
// every row the code under test writes is not billed to that code.
func (v *NBView) Close() { v.nb.Close() }

// Changes is the number of rows added, updated or deleted since the view
// connected or since the last ResetChanges.
func (v *NBView) Changes() int64 { return v.changes.Load() }

// ResetChanges starts counting anew.
func (v *NBView) ResetChanges() { v.changes.Store(0) }

// List fills result (a pointer to a slice of model structs) with every row
// of that table that pred accepts; pred may be nil.
func List[T any](tb testing.TB, v *NBView, pred func(*T) bool) []T {
	tb.Helper()
	var rows []T
	var err error
	if pred == nil {
		err = v.nb.List(context.Background(), &rows)
	} else {
		err = v.nb.WhereCache(pred).List(context.Background(), &rows)
	}
	if err != nil {
		tb.Fatalf("list northbound rows: %v", err)
	}
	return rows
}

// Switch returns the logical switch with that name, or nil.
func (v *NBView) Switch(tb testing.TB, name string) *nbdb.LogicalSwitch {
	tb.Helper()
	rows := List(tb, v, func(ls *nbdb.LogicalSwitch) bool { return ls.Name == name })
	if len(rows) == 0 {
		return nil
	}
	if len(rows) > 1 {
		tb.Fatalf("%d logical switches named %s", len(rows), name)
	}
	return &rows[0]
}

// Router returns the logical router with that name, or nil.
func (v *NBView) Router(tb testing.TB, name string) *nbdb.LogicalRouter {
	tb.Helper()
	rows := List(tb, v, func(lr *nbdb.LogicalRouter) bool { return lr.Name == name })
	if len(rows) == 0 {
		return nil
	}
	if len(rows) > 1 {
		tb.Fatalf("%d logical routers named %s", len(rows), name)
	}
	return &rows[0]
}

// SwitchPort returns the logical switch port with that name, or nil.
func (v *NBView) SwitchPort(tb testing.TB, name string) *nbdb.LogicalSwitchPort {
	tb.Helper()
	rows := List(tb, v, func(p *nbdb.LogicalSwitchPort) bool { return p.Name == name })
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// RouterPort returns the logical router port with that name, or nil.
func (v *NBView) RouterPort(tb testing.TB, name string) *nbdb.LogicalRouterPort {
	tb.Helper()
	rows := List(tb, v, func(p *nbdb.LogicalRouterPort) bool { return p.Name == name })
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// LoadBalancer returns the load balancer with that name, or nil; it reads
// one row, however many there are.
func (v *NBView) LoadBalancer(tb testing.TB, name string) *nbdb.LoadBalancer {
	tb.Helper()
	table := v.nb.Cache().Table(nbdb.LoadBalancerTable)
	if table == nil {
		return nil
	}
	rows, err := table.RowsByModels([]model.Model{&nbdb.LoadBalancer{Name: name}})
	if err != nil {
		tb.Fatalf("look up load balancer %s: %v", name, err)
	}
	if len(rows) > 1 {
		tb.Fatalf("%d load balancers named %s", len(rows), name)
	}
	for _, row := range rows {
		lb := &nbdb.LoadBalancer{}
		model.CloneInto(row, lb)
		return lb
	}
	return nil
}

// LoadBalancerGroup returns the load balancer group with that name, or nil.
func (v *NBView) LoadBalancerGroup(tb testing.TB, name string) *nbdb.LoadBalancerGroup {
	tb.Helper()
	rows := List(tb, v, func(g *nbdb.LoadBalancerGroup) bool { return g.Name == name })
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// PortsOf returns the names of the ports on a switch; none for a switch
// the view does not show (yet).
func (v *NBView) PortsOf(tb testing.TB, ls *nbdb.LogicalSwitch) []string {
	tb.Helper()
	if ls == nil {
		return nil
	}
	names := make([]string, 0, len(ls.Ports))
	for _, uuid := range ls.Ports {
		p := &nbdb.LogicalSwitchPort{UUID: uuid}
		if err := v.nb.Get(context.Background(), p); err == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

func monitor(ctx context.Context, nb client.Client, o viewOptions) error {
	if !o.withoutPortLists {
		_, err := nb.MonitorAll(ctx)
		return err
	}
	ls, lr := &nbdb.LogicalSwitch{}, &nbdb.LogicalRouter{}
	tables := []client.MonitorOption{
		client.WithTable(ls, &ls.Name, &ls.ExternalIDs, &ls.OtherConfig),
		client.WithTable(lr, &lr.Name, &lr.ExternalIDs, &lr.StaticRoutes),
	}
	for _, m := range []model.Model{&nbdb.NBGlobal{}, &nbdb.LogicalSwitchPort{}, &nbdb.LogicalRouterPort{},
		&nbdb.LogicalRouterStaticRoute{}, &nbdb.LogicalRouterPolicy{}, &nbdb.NAT{}, &nbdb.ACL{}, &nbdb.PortGroup{},
		&nbdb.AddressSet{}, &nbdb.LoadBalancer{}, &nbdb.LoadBalancerGroup{}, &nbdb.QoS{}} {
		tables = append(tables, client.WithTable(m))
	}
	_, err := nb.Monitor(ctx, nb.NewMonitor(tables...))
	return err
}

// PodPortsMatch returns nil when NB holds exactly one ovnet pod port per
// pod of pods (keyed "namespace/name"), named <pod>.<namespace> with the
// pod's recorded "MAC IP", and none for any other pod.
func PodPortsMatch(tb testing.TB, v *NBView, pods map[string]metav1.PartialObjectMetadata) error {
	tb.Helper()
	ports := List(tb, v, func(p *nbdb.LogicalSwitchPort) bool {
		owner, owned := ovn.OwnerOf(p.ExternalIDs)
		return owned && owner.Kind == ovn.KindPod
	})
	seen := map[string]bool{}
	for _, p := range ports {
		owner, _ := ovn.OwnerOf(p.ExternalIDs)
		key := owner.Namespace + "/" + owner.Name
		pod, live := pods[key]
		switch {
		case seen[key]:
			return fmt.Errorf("two ports for pod %s", key)
		case !live:
			return fmt.Errorf("port %s left for deleted pod %s", p.Name, key)
		}
		seen[key] = true
		want := pod.Annotations[annotation.MACAddress] + " " + pod.Annotations[annotation.IPAddress]
		if p.Name != pod.Name+"."+pod.Namespace || len(p.Addresses) != 1 || p.Addresses[0] != want {
			return fmt.Errorf("port %s addresses %v, want %s [%s]", p.Name, p.Addresses, pod.Name+"."+pod.Namespace, want)
		}
	}
	if len(seen) != len(pods) {
		return fmt.Errorf("%d pod ports, want %d", len(seen), len(pods))
	}
	return nil
}
