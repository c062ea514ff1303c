package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

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

// northbound is what the reconcilers and the Rebuilder know of the NB
// connection between two checks, so that a pod does not pay a round trip
// to learn it and the whole controller holds one verdict.
type northbound struct {
	// down is set while the last check found no connection.
	down atomic.Bool
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
		m.Network.northbound.down.Store(!up)
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
