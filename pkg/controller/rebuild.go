package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

const (
	// lossCheckInterval is how often the cache is checked for a lost
	// database. A timer, not a change event: reconnecting to an empty
	// database refills the cache with nothing, which raises no event. The
	// check reads the cache only, so it costs next to nothing.
	lossCheckInterval = time.Second
	// waveTimeout bounds the wait for one wave of a rebuild; a wave not
	// done by then (a subnet whose switch cannot be written) is left to its
	// reconcilers' retries and the next wave goes on without it.
	waveTimeout = 2 * time.Minute
	// wavePoll is how often a wave's progress is read from the cache.
	wavePoll = 100 * time.Millisecond
)

// Rebuilder notices that the northbound database lost ovnet's rows (it
// was deleted and recreated empty, or replaced by another) and has every
// reconciler write them again from the Kubernetes state. Addresses are not
// touched: IPAM and the pods' records are the truth, and the rows follow.
//
// It gives the database an identity in NB_Global's external_ids and
// keeps it; a database without it, or with another, or without the
// cluster router, is not the one the rows were written to.
type Rebuilder struct {
	// Client lists what the reconcilers are asked to resync, from the cache.
	Client client.Client
	// Network holds the northbound client, IPAM and the reconcilers' resyncs.
	Network *Network
	// rebuilds counts rebuilds, by the reason that set them off.
	rebuilds *prometheus.CounterVec
	// id is the identity this controller gave the database or found in it.
	id string
	// unfinished says the last rebuild failed half way: the next check
	// runs it again whatever the database holds.
	unfinished bool
}

// NewRebuilder registers the rebuild counter with reg.
func NewRebuilder(c client.Client, n *Network, reg prometheus.Registerer) *Rebuilder {
	r := &Rebuilder{Client: c, Network: n, rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ovnet_nb_rebuilds_total",
		Help: "Rebuilds of every northbound row ovnet owns, by what showed the database was not the one written to.",
	}, []string{"reason"})}
	reg.MustRegister(r.rebuilds)
	return r
}

// NeedLeaderElection: only the leader writes.
func (r *Rebuilder) NeedLeaderElection() bool { return true }

// Start checks the database every lossCheckInterval once the bootstrap is
// done, until ctx ends.
func (r *Rebuilder) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("rebuild")
	if err := r.Network.waitReady(ctx); err != nil {
		return nil
	}
	ticker := time.NewTicker(lossCheckInterval)
	defer ticker.Stop()
	for {
		if err := r.check(ctx, logger); err != nil && ctx.Err() == nil {
			logger.Error(err, "northbound rebuild failed; the next check retries")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// check rebuilds when the cache hints at a lost database and the server
// confirms it.
func (r *Rebuilder) check(ctx context.Context, logger logr.Logger) error {
	router := r.Network.Config.ClusterRouter
	if st, err := r.Network.NB.CachedState(router); err != nil || r.intact(st) {
		return err
	}
	if r.Network.northbound.down.Load() {
		// NorthboundMonitor's last echo found no connection: the cache is
		// the last connection's, and the reconnect refills it. Asking the
		// monitor rather than echoing here keeps one verdict on the
		// connection; should it be a second stale, the server read below
		// waits for the reconnect (at most a transaction's timeout).
		return nil
	}
	st, err := r.Network.NB.ServerState(ctx, router)
	if err != nil || r.intact(st) {
		return err
	}
	reason := r.reason(st)
	if reason == "" {
		r.id = st.ID // the first check: this is the database the rows are in
		return nil
	}
	return r.rebuild(ctx, logger, reason)
}

// intact: the database is the one the rows were written to.
func (r *Rebuilder) intact(st ovn.DatabaseState) bool {
	return !r.unfinished && r.id != "" && st.ID == r.id && st.Router
}

// reason names why the database is not the one written to, or is empty
// when it is the one this controller found at start.
func (r *Rebuilder) reason(st ovn.DatabaseState) string {
	switch {
	case r.unfinished:
		return "rebuild unfinished"
	case st.ID == "":
		// At start: a new database, or one lost while no controller ran.
		return "identity missing"
	case r.id != "" && st.ID != r.id:
		return "identity changed"
	case !st.Router:
		return "cluster router missing"
	}
	return ""
}

// rebuild marks the database as ovnet's, writes the cluster's rows, then
// has the reconcilers write everything else in waves, each after what its
// rows hang from: switches before ports, ports before the port groups
// that list them (a policy leaves out ports not yet written, and nothing
// would ask it again, as no pod changes in a rebuild).
func (r *Rebuilder) rebuild(ctx context.Context, logger logr.Logger, reason string) error {
	start := time.Now()
	logger.Info("northbound database is not the one ovnet wrote to; rebuilding its rows from the cluster", "reason", reason)
	r.unfinished = true
	id := string(uuid.NewUUID())
	ops, err := r.Network.NB.DatabaseIDOps(id)
	if err == nil {
		err = r.Network.NB.Transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("record database identity: %w", err)
	}
	if err := r.Network.ensureClusterRows(ctx); err != nil {
		return err
	}
	waves := []struct {
		reconcilers []string
		// awaited lists the rows the next wave hangs from; nil: none.
		awaited func(context.Context) (*awaitedRows, error)
	}{
		{[]string{resyncSubnet, resyncNamespace, resyncService}, r.switches},
		{[]string{resyncNode, resyncPod}, r.ports},
		{[]string{resyncNetworkPolicy, resyncIsolation}, nil},
	}
	for _, w := range waves {
		var awaited *awaitedRows
		if w.awaited != nil {
			// Listed before the requeue, so rows written meanwhile count.
			if awaited, err = w.awaited(ctx); err != nil {
				return err
			}
		}
		n, err := r.Network.resyncs.requeue(ctx, r.Client, w.reconcilers...)
		if err != nil {
			return err
		}
		logger.V(1).Info("wave requeued", "reconcilers", w.reconcilers, "objects", n)
		if awaited != nil {
			awaited.wait(ctx, logger, w.reconcilers)
		}
	}
	r.id, r.unfinished = id, false
	r.rebuilds.WithLabelValues(reason).Inc()
	logger.Info("northbound rows requeued", "reason", reason, "seconds", time.Since(start).Seconds())
	return nil
}

// awaitedRows are rows a wave of a rebuild waits for, by name.
type awaitedRows struct {
	// names are the rows not seen yet.
	names map[string]bool
	// exists finds a row in the cache.
	exists func(name string) (bool, error)
}

// missing forgets the rows now in the cache and counts the others.
func (a *awaitedRows) missing() (int, error) {
	for name := range a.names {
		ok, err := a.exists(name)
		if err != nil {
			return len(a.names), err
		}
		if ok {
			delete(a.names, name)
		}
	}
	return len(a.names), nil
}

// wait returns once every row is there, or after waveTimeout.
func (a *awaitedRows) wait(ctx context.Context, logger logr.Logger, wave []string) {
	deadline := time.Now().Add(waveTimeout)
	for {
		n, err := a.missing()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			logger.Info("wave not done in time; its reconcilers retry on their own", "reconcilers", wave,
				"missing", n, "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wavePoll):
		}
	}
}

// switches are the switches of the subnets IPAM accepted.
func (r *Rebuilder) switches(context.Context) (*awaitedRows, error) {
	a := &awaitedRows{names: map[string]bool{}, exists: r.Network.NB.SwitchExists}
	for _, s := range r.Network.IPAM.Subnets() {
		a.names[s] = true
	}
	return a, nil
}

// ports are the ports of the pods and nodes that exist and hold an
// address on a subnet whose switch exists. An allocation kept for a pod
// that is gone (a StatefulSet's, while it recreates the pod) has no
// object to rebuild its port from.
func (r *Rebuilder) ports(ctx context.Context) (*awaitedRows, error) {
	owners := map[string]ipam.Owner{}
	a := &awaitedRows{names: map[string]bool{}, exists: func(name string) (bool, error) {
		if _, held := r.Network.IPAM.Lookup(owners[name]); !held {
			return true, nil // released meanwhile (a pod that finished): no port to wait for
		}
		_, found, err := r.Network.NB.SwitchPort(name)
		return found, err
	}}
	live, err := listOwners(ctx, r.Client)
	if err != nil {
		return nil, err
	}
	for _, s := range r.Network.IPAM.Subnets() {
		if ok, err := r.Network.NB.SwitchExists(s); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		for _, alloc := range r.Network.IPAM.Allocations(s) {
			if _, present := live[alloc.Owner]; present {
				a.names[portOf(alloc.Owner)] = true
				owners[portOf(alloc.Owner)] = alloc.Owner
			}
		}
	}
	return a, nil
}

// portOf names an allocation's logical switch port.
func portOf(o ipam.Owner) string {
	if o.Kind == ipam.OwnerNode {
		return ovnname.NodePort(o.Name)
	}
	return ovnname.PodPort(o.Namespace, o.Name)
}
