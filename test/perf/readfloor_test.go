package perf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/client"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// readFloor is what any controller must read before it can write a
// policy's rows, read by plain clients: the pods' switch ports from NB
// (a port group lists ports by UUID) and the policy rows already there,
// and the pods, namespaces and policies from the API server. None of it
// is ovnet's code: libovsdb, client-go, the API server and ovsdb-server.
type readFloor struct {
	elapsed time.Duration
	cpu     cpuUse
	// ports, pods and policies are what was read, to show it was.
	ports, pods, policies int
}

// nbReading is what a read floor reads of NB.
type nbReading int

const (
	// portNames are the switch ports' names and the policy tables: the
	// least a policy controller reads.
	portNames nbReading = iota
	// ovnetColumns are the tables and columns ovnet's NB client mirrors
	// (ovn.MonitoredTables): what ovnet's controller reads, as it also
	// compares its pods' ports at a start.
	ovnetColumns
)

// measureReadFloor reads it all at once, as a controller starting would,
// each part over a connection of its own, the API's objects as protobuf
// and NB's rows as nb says.
func measureReadFloor(b *testing.B, cl *cluster, nb nbReading) readFloor {
	b.Helper()
	cfg := rest.CopyConfig(cl.cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var f readFloor
	ctx := context.Background()
	cpu := measureCPU()
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		n, err := readPorts(ctx, cl.nb.Endpoint, nb)
		f.ports = n
		return err
	})
	g.Go(func() error {
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil {
			f.pods = len(pods.Items)
		}
		return err
	})
	g.Go(func() error {
		_, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		return err
	})
	g.Go(func() error {
		policies, err := cs.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
		if err == nil {
			f.policies = len(policies.Items)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		b.Fatalf("read floor: %v", err)
	}
	f.elapsed, f.cpu = time.Since(start), cpu()
	return f
}

// readPorts connects to NB, monitors what reading says, and returns the
// number of switch ports once the snapshot is in.
func readPorts(ctx context.Context, endpoint string, reading nbReading) (int, error) {
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		return 0, err
	}
	quiet := logr.Discard()
	nb, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint), client.WithLogger(&quiet))
	if err != nil {
		return 0, err
	}
	if err := nb.Connect(ctx); err != nil {
		return 0, fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	defer nb.Close()
	if _, err := nb.Monitor(ctx, nb.NewMonitor(monitorOf(reading)...)); err != nil {
		return 0, fmt.Errorf("monitor %s: %w", endpoint, err)
	}
	var ports []nbdb.LogicalSwitchPort
	if err := nb.List(ctx, &ports); err != nil {
		return 0, err
	}
	return len(ports), nil
}

func monitorOf(reading nbReading) []client.MonitorOption {
	if reading == ovnetColumns {
		var opts []client.MonitorOption
		for _, t := range ovn.MonitoredTables() {
			opts = append(opts, client.WithTable(t.Model, t.Columns...))
		}
		return opts
	}
	lsp := &nbdb.LogicalSwitchPort{}
	return []client.MonitorOption{client.WithTable(lsp, &lsp.Name),
		client.WithTable(&nbdb.PortGroup{}), client.WithTable(&nbdb.ACL{}), client.WithTable(&nbdb.AddressSet{})}
}
