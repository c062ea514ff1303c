package harness

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/gatewayhealth"
)

// Heartbeats renews gateway Leases as nodes' daemons would, for suites
// that run no daemon, with the reports the test sets; a node set to nil
// stops being renewed, as a dead daemon's.
type Heartbeats struct {
	mu      sync.Mutex
	reports map[string]*gatewayhealth.Report
}

// StartHeartbeats renews every RenewInterval until tb's test ends.
func StartHeartbeats(tb T, c client.Client) *Heartbeats {
	h := &Heartbeats{reports: map[string]*gatewayhealth.Report{}}
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	tb.Cleanup(func() { cancel(); done.Wait() })
	w := gatewayhealth.Writer{Client: c, API: c, Namespace: gatewayhealth.DefaultNamespace}
	done.Go(func() {
		leases := map[string]*coordinationv1.Lease{}
		tick := time.NewTicker(gatewayhealth.RenewInterval)
		defer tick.Stop()
		for {
			h.renew(ctx, tb, w, leases)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return h
}

func (h *Heartbeats) renew(ctx context.Context, tb T, w gatewayhealth.Writer, leases map[string]*coordinationv1.Lease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for node, r := range h.reports {
		if r == nil {
			continue
		}
		lease, err := gatewayhealth.Renew(ctx, w, leases[node], node, *r, time.Now())
		if err != nil && ctx.Err() == nil {
			tb.Logf("heartbeat of %s: %v", node, err)
		}
		leases[node] = lease
	}
}

// Set makes the node's next renewals report r; nil stops them.
func (h *Heartbeats) Set(node string, r *gatewayhealth.Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports[node] = r
}
