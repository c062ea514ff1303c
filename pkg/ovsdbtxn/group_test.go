package ovsdbtxn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// gatedGroup holds the first groupInFlight transactions sent until the
// gate opens, so that the transactions made meanwhile queue behind them,
// and records the size of every transaction sent to the server.
type gatedGroup struct {
	mu    sync.Mutex
	sizes []int
	// errs are the errors of the sends, in the order they returned.
	errs []error
	gate chan struct{}
}

func (g *gatedGroup) wrap(send func(context.Context, []ovsdb.Operation) ([]ovsdb.OperationResult, error)) func(
	context.Context, []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	return func(ctx context.Context, ops []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
		g.mu.Lock()
		g.sizes = append(g.sizes, len(ops))
		first := len(g.sizes) <= groupInFlight
		g.mu.Unlock()
		if first {
			select {
			case <-g.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		results, err := send(ctx, ops)
		g.mu.Lock()
		g.errs = append(g.errs, err)
		g.mu.Unlock()
		return results, err
	}
}

func (g *gatedGroup) returned() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.errs)
}

func (g *gatedGroup) sent() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

// groupMemberSpec is one transaction of a test: an address set inserted,
// or ops of its own.
type groupMemberSpec struct {
	set string
	ops []ovsdb.Operation
	// cancel ends its context once it is queued.
	cancel bool
	// wantErr is nil for a commit.
	wantErr error
}

// TestGroupCommit runs against a real ovsdb-server: the transactions made
// while one is in flight are sent together, each gets its own results
// (read back from the cache, as every caller does), and the ones at fault
// fail alone.
func TestGroupCommit(t *testing.T) {
	badTable := []ovsdb.Operation{{Op: ovsdb.OperationInsert, Table: "No_Such_Table", Row: ovsdb.Row{"name": "x"}}}
	tests := []struct {
		name    string
		queued  []groupMemberSpec
		wantOps []int // the size of each transaction sent, after the first's
	}{
		{"made while one is in flight, sent together",
			[]groupMemberSpec{{set: "a"}, {set: "b"}, {set: "c"}}, []int{3}},
		// The set "first0" exists once the first transactions commit: the
		// grouped transaction violates the name index, the server refuses
		// it whole, and its parts are sent again one by one.
		{"a part the server refuses fails alone",
			[]groupMemberSpec{{set: "a"}, {set: "first0", wantErr: ErrRefused}, {set: "b"}}, []int{3, 1, 1, 1}},
		{"a part not fitting the schema fails alone, unsent with the others",
			[]groupMemberSpec{{set: "a"}, {ops: badTable, wantErr: errAny}, {set: "b"}}, []int{1, 2}},
		{"a part whose context ended is left out",
			[]groupMemberSpec{{set: "a"}, {set: "gone", cancel: true, wantErr: context.Canceled}, {set: "b"}}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema})
			c := connectGroupTest(t, server.Endpoint)
			gated := &gatedGroup{gate: make(chan struct{})}
			c.group.send = gated.wrap(c.group.send)
			first := make(chan error, groupInFlight)
			for i := range groupInFlight {
				ops := insertSet(t, c, fmt.Sprintf("first%d", i))
				go func() { first <- c.Transact(context.Background(), ops) }()
			}
			waitFor(t, "the first transactions in flight", func() bool { return len(gated.sent()) == groupInFlight })

			errs := make([]chan error, len(tt.queued))
			for i, m := range tt.queued {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ops := m.ops
				if m.set != "" {
					ops = insertSet(t, c, m.set)
				}
				errs[i] = make(chan error, 1)
				go func() { errs[i] <- c.Transact(ctx, ops) }()
				waitFor(t, "the transaction queued", func() bool { return c.queued() == i+1 })
				if m.cancel {
					cancel()
				}
			}
			close(gated.gate)
			for range groupInFlight {
				if err := <-first; err != nil {
					t.Fatalf("first transactions: %v", err)
				}
			}
			for i, m := range tt.queued {
				err := <-errs[i]
				switch {
				case m.wantErr == nil && err != nil:
					t.Errorf("transaction %d: %v, want it committed", i, err)
				case m.wantErr == errAny && err == nil, m.wantErr != nil && m.wantErr != errAny && !errors.Is(err, m.wantErr):
					t.Errorf("transaction %d: %v, want %v", i, err, m.wantErr)
				}
				if m.set == "" || m.set == "first0" {
					continue
				}
				// Read right after Transact returned: each caller reads its own write.
				if _, found, _ := Get(c, &nbdb.AddressSet{Name: m.set}); found != (m.wantErr == nil) {
					t.Errorf("address set %s in the cache: %v, want %v", m.set, found, m.wantErr == nil)
				}
			}
			if got := gated.sent()[groupInFlight:]; !slices.Equal(got, tt.wantOps) {
				t.Errorf("after the first ones, transactions of %v ops sent, want %v", got, tt.wantOps)
			}
		})
	}
}

// TestGroupEndsWithItsCallers: a grouped transaction sent to a server
// that does not answer (stopped) ends once none of its callers waits for
// it, not at the client's transaction timeout, so the next transaction
// goes as soon as the server is back.
func TestGroupEndsWithItsCallers(t *testing.T) {
	server := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema})
	c := connectGroupTest(t, server.Endpoint)
	gated := &gatedGroup{gate: make(chan struct{})}
	c.group.send = gated.wrap(c.group.send)
	firstCtx, endFirst := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- c.Transact(firstCtx, insertSet(t, c, "first")) }()
	waitFor(t, "the first transaction in flight", func() bool { return len(gated.sent()) == 1 })
	var ends []context.CancelFunc
	queued := make(chan error, 2)
	for i, name := range []string{"a", "b"} {
		ctx, cancel := context.WithCancel(context.Background())
		ends = append(ends, cancel)
		ops := insertSet(t, c, name)
		go func() { queued <- c.Transact(ctx, ops) }()
		waitFor(t, "the transaction queued", func() bool { return c.queued() == i+1 })
	}
	signal(t, server, syscall.SIGSTOP)
	endFirst() // the queued two go together, to the stopped server
	waitFor(t, "the grouped transaction sent", func() bool { return len(gated.sent()) == 2 })
	for _, end := range ends {
		end()
	}
	for range ends {
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("queued transaction: %v, want context.Canceled", err)
		}
	}
	waitFor(t, "the grouped transaction to end", func() bool { return len(gated.returned()) == 1 })
	if err := gated.returned()[0]; !errors.Is(err, context.Canceled) {
		t.Fatalf("grouped transaction ended with %v, want context.Canceled", err)
	}
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first transaction: %v, want context.Canceled", err)
	}
	signal(t, server, syscall.SIGCONT)
	if err := c.Transact(context.Background(), insertSet(t, c, "c")); err != nil {
		t.Fatalf("a transaction once the server is back: %v", err)
	}
	if _, found, _ := Get(c, &nbdb.AddressSet{Name: "c"}); !found {
		t.Fatal("address set c not in the cache after its commit")
	}
}

func signal(t *testing.T, srv *ovsdbserver.Server, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(srv.PID, sig); err != nil {
		t.Fatalf("signal ovsdb-server %d: %v", srv.PID, err)
	}
	if sig == syscall.SIGSTOP {
		t.Cleanup(func() { _ = syscall.Kill(srv.PID, syscall.SIGCONT) })
	}
}

// errAny stands for an error of any kind.
var errAny = errors.New("any error")

func connectGroupTest(t *testing.T, endpoint string) *Client {
	t.Helper()
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(context.Background(), Config{Name: "northbound", MetricPrefix: "test",
		Endpoints: []string{endpoint}, Model: dbModel, Tables: []Table{{Model: &nbdb.AddressSet{}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func insertSet(t *testing.T, c *Client, name string) []ovsdb.Operation {
	t.Helper()
	ops, err := c.DB().Create(&nbdb.AddressSet{Name: name, Addresses: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// queued is the number of transactions waiting for the one in flight.
func (c *Client) queued() int {
	c.group.mu.Lock()
	defer c.group.mu.Unlock()
	return len(c.group.queue)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTakeCapsGroupOps: the queue leaves in order, in groups of at most
// maxGroupOps operations, each of at least one transaction however large.
func TestTakeCapsGroupOps(t *testing.T) {
	tests := []struct {
		name   string
		queued []int // operations per queued transaction
		want   [][]int
	}{
		{"all fit", []int{3, 3, 3}, [][]int{{3, 3, 3}}},
		{"split where the cap is passed", []int{1000, 1000, 100, 5}, [][]int{{1000, 1000}, {100, 5}}},
		{"one larger than the cap goes alone", []int{10, maxGroupOps + 1, 10}, [][]int{{10}, {maxGroupOps + 1}, {10}}},
		{"exactly the cap", []int{maxGroupOps - 1, 1, 1}, [][]int{{maxGroupOps - 1, 1}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &group{}
			for _, n := range tt.queued {
				g.queue = append(g.queue, &groupMember{ops: make([]ovsdb.Operation, n)})
			}
			var got [][]int
			for len(g.queue) > 0 {
				var sizes []int
				for _, m := range g.take() {
					sizes = append(sizes, len(m.ops))
				}
				got = append(got, sizes)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("groups %v, want %v", got, tt.want)
			}
		})
	}
}
