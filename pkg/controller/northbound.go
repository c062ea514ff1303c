package controller

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// connectionCheckInterval is how often the NB connection is asked
	// (one echo): a pod created during an outage waits at most this long
	// in a transaction before it is told why, and one woken at the
	// reconnection waits at most this long after it.
	connectionCheckInterval = time.Second
	// northboundWaitKey is the waiters' key of pods waiting for NB. No
	// Subnet can have it: Kubernetes names hold no space.
	northboundWaitKey = "northbound database"
)

// errNorthboundDown: the pod's port cannot be written now. It is a wait,
// not a failure: the pod is retried as soon as the connection is back.
var errNorthboundDown = errors.New("the northbound database does not answer; retried as soon as it does")

// northbound is what the reconcilers, the Rebuilder and /readyz know of
// the NB connection between two checks, so that a pod does not pay a
// round trip to learn it and the whole controller holds one verdict.
type northbound struct {
	// down is set while the last check found no connection.
	down atomic.Bool
	// mu guards lost.
	mu sync.Mutex
	// lost is cancelled when a check finds the connection gone, and
	// replaced by a live one when it is back: transactions started
	// before the outage was noticed end with it instead of waiting for
	// the reconnection until their timeout.
	lost context.Context
	// declareLost cancels lost.
	declareLost context.CancelFunc
}

// setDown records a check's verdict.
func (nb *northbound) setDown(down bool) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	nb.down.Store(down)
	if down {
		if nb.declareLost != nil {
			nb.declareLost()
		}
		return
	}
	nb.lost, nb.declareLost = nil, nil
}

// lostSignal is a context that ends when the connection is next declared
// lost (at once while it is).
func (nb *northbound) lostSignal() context.Context {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	if nb.lost == nil {
		nb.lost, nb.declareLost = context.WithCancel(context.Background())
		if nb.down.Load() {
			nb.declareLost()
		}
	}
	return nb.lost
}

// transact commits ops as NB.Transact does, but gives up with
// errNorthboundDown when NorthboundMonitor declares the connection lost
// meanwhile: libovsdb holds a transaction on a lost connection until it
// is back, and a pod waiting there for the 30 s timeout would neither be
// told why nor woken with the others when NB returns. A transaction so
// abandoned may still have been committed; its retry converges either way.
func (n *Network) transact(ctx context.Context, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	if n.northbound.down.Load() {
		return errNorthboundDown
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(n.northbound.lostSignal(), func() { cancel(errNorthboundDown) })
	defer stop()
	err := n.NB.Transact(tctx, ops)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), errNorthboundDown) {
		return errNorthboundDown // the cancellation's own error says nothing more
	}
	return err
}

// NorthboundMonitor asks the NB connection every connectionCheckInterval
// and, when it is lost or back, logs it and has every Subnet reconciled
// (their Ready condition says NorthboundError while it is lost), and once
// it is back retries the pods that waited for it. The client reconnects by
// itself; this makes the outage visible and its end prompt.
type NorthboundMonitor struct {
	// Client lists the Subnets to reconcile, from the cache.
	Client client.Reader
	// Network holds the northbound client, its last known state, the
	// waiting pods and the Subnet reconciler's resync channel.
	Network *Network
}

// NeedLeaderElection: only the leader addresses pods.
func (m *NorthboundMonitor) NeedLeaderElection() bool { return true }

// Start checks the connection until ctx ends.
func (m *NorthboundMonitor) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("northbound")
	ticker := time.NewTicker(connectionCheckInterval)
	defer ticker.Stop()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		up := m.Network.NB.Connected()
		wasDown := m.Network.northbound.down.Load()
		if up != wasDown {
			continue
		}
		m.Network.northbound.setDown(!up)
		if up {
			logger.Info("northbound database reachable again; retrying what waited for it", "seconds", time.Since(since).Seconds())
			m.Network.waiters.wakeAll(northboundWaitKey)
		} else {
			since = time.Now()
			logger.Info("northbound database unreachable; new pods wait for it, running pods keep their traffic")
		}
		if _, err := m.Network.resyncs.requeue(ctx, m.Client, resyncSubnet); err != nil && ctx.Err() == nil {
			logger.Error(err, "requeue Subnets for their Ready condition")
		}
	}
}
