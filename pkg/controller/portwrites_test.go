package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// TestPortWritesGroupCommit runs against a real ovsdb-server with the OVN
// northbound schema, stopped (SIGSTOP) under a first write so that the
// others queue behind it and go as one transaction when it resumes.
func TestPortWritesGroupCommit(t *testing.T) {
	tests := []struct {
		name string
		// writes is the number of ports created.
		writes int
		// refused is how many more writes insert a port that already
		// exists, which the server refuses.
		refused int
		// wantTransactions: the first write alone, the rest together,
		// and after a refusal each of the rest alone.
		wantTransactions int
	}{
		{"a burst shares one transaction", 20, 0, 2},
		{"a refused write fails alone", 20, 1, 2 + 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema, Name: "ovnnb_db"})
			reg := prometheus.NewRegistry()
			nb, err := ovn.Connect(context.Background(), ovn.Config{Endpoints: []string{srv.Endpoint}, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nb.Close)
			ops, err := nb.SwitchOps(ovn.Switch{Name: "s1", Owner: ovn.Owner{Kind: ovn.KindSubnet, Name: "s1"}})
			must(t, err, nb.Transact(context.Background(), ops))
			n := NewNetwork(Config{}, nb)

			var writes [][]ovsdb.Operation
			for i := range tt.writes {
				ops, err := nb.SwitchPortOps(testPort(fmt.Sprintf("p%d", i)))
				must(t, err, nil)
				writes = append(writes, ops)
			}
			for i := range tt.refused {
				// Built while the port is missing, committed once: the
				// second insert of the name is refused.
				ops, err := nb.SwitchPortOps(testPort(fmt.Sprintf("dup%d", i)))
				must(t, err, nb.Transact(context.Background(), ops))
				writes = append(writes, ops)
			}
			before := transactions(t, reg)

			errs := commitStopped(t, n, srv, writes)

			for i, err := range errs {
				switch refused := i >= tt.writes; {
				case refused && !errors.Is(err, ovsdbtxn.ErrRefused):
					t.Errorf("write %d (a port that exists): err = %v, want a refusal", i, err)
				case !refused && err != nil:
					t.Errorf("write %d: %v", i, err)
				case !refused:
					if _, found, err := nb.SwitchPort(fmt.Sprintf("p%d", i)); !found || err != nil {
						t.Errorf("port p%d not in NB after its write (err %v)", i, err)
					}
				}
			}
			if got := transactions(t, reg) - before; got != tt.wantTransactions {
				t.Errorf("%d writes took %d transactions, want %d", len(writes), got, tt.wantTransactions)
			}
		})
	}
}

// commitStopped commits the first write while the server is stopped, the
// others once they queue behind it, resumes the server and returns each
// write's error.
func commitStopped(t *testing.T, n *Network, srv *ovsdbserver.Server, writes [][]ovsdb.Operation) []error {
	t.Helper()
	signal(t, srv, syscall.SIGSTOP)
	resumed := false
	defer func() {
		if !resumed {
			signal(t, srv, syscall.SIGCONT)
		}
	}()
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	commit := func(i int) {
		wg.Go(func() { errs[i] = n.ports.commit(context.Background(), writes[i]) })
	}
	commit(0)
	waitQueue(t, n.ports, 0) // the first write in flight, alone
	for i := 1; i < len(writes); i++ {
		commit(i)
	}
	waitQueue(t, n.ports, len(writes)-1)
	signal(t, srv, syscall.SIGCONT)
	resumed = true
	wg.Wait()
	return errs
}

// waitQueue waits until a transaction is in flight and want writes wait
// for the next.
func waitQueue(t *testing.T, w *portWrites, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		queued, committing := len(w.queue), w.committing
		w.mu.Unlock()
		if committing && queued == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d writes (committing %v), want %d behind a transaction", queued, committing, want)
		}
		time.Sleep(time.Millisecond) // polling a queue no event announces
	}
}

func testPort(name string) ovn.SwitchPort {
	return ovn.SwitchPort{Switch: "s1", Name: name, Addresses: []string{"0a:00:00:00:00:01 10.0.0.2"},
		Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: name}}
}

func signal(t *testing.T, srv *ovsdbserver.Server, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(srv.PID, sig); err != nil {
		t.Fatalf("signal ovsdb-server %d: %v", srv.PID, err)
	}
}

func must(t *testing.T, errs ...error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// transactions reads how many NB transactions the client has made.
func transactions(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "ovnet_nb_transaction_duration_seconds" {
			return int(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("no ovnet_nb_transaction_duration_seconds metric")
	return 0
}
